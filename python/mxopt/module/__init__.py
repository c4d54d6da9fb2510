"""``mx.mod``: modules (a symbol + its parameters + an optimizer) with MXNet 1.9.1's API:
``Module`` (one or several contexts), ``SequentialModule``, ``PythonModule`` and
``PythonLossModule``."""

from __future__ import annotations

from .base_module import BaseModule
from .executor_group import DataParallelExecutorGroup
from .module import Module
from .python_module import PythonLossModule, PythonModule
from .sequential_module import SequentialModule

__all__ = ["BaseModule", "Module", "SequentialModule", "PythonModule", "PythonLossModule",
           "DataParallelExecutorGroup"]
