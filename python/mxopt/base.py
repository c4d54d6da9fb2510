"""Errors shared by the whole package (``mx.base``)."""

from __future__ import annotations

__all__ = ["MXNetError"]


class MXNetError(RuntimeError):
    """Raised where MXNet 1.9.1 raises ``mxnet.base.MXNetError`` (a ``RuntimeError``): corrupt
    files, inconsistent shapes, invalid operator parameters."""
