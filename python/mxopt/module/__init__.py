"""``mx.mod``: modules (a symbol + its parameters + an optimizer) with MXNet 1.9.1's API."""

from __future__ import annotations

from .base_module import BaseModule
from .module import Module

__all__ = ["BaseModule", "Module"]
