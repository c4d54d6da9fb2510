"""mxopt's operator layer: the registry of MXNet operators (``registry``) and their definitions,
one module per family. ``mx.sym.X`` and ``mx.nd.X`` are both generated from it."""

from . import custom, nn, sparse, tensor  # noqa: F401  (each module registers its operators)
from .registry import ALIASES, OPS, OpDef, lookup

__all__ = ["OPS", "ALIASES", "OpDef", "lookup"]
