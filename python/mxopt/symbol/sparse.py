"""``mx.sym.sparse``: the operators that take csr / row_sparse inputs (the same operators as in
``mx.sym``, e.g. ``mx.sym.sparse.dot(csr_data, row_sparse_weight)``)."""

from __future__ import annotations

from .._ops import OPS
from .symbol import _creator

__all__ = []  # type: ignore[var-annotated]

for _name, _op in sorted(OPS.items()):
    if _op.sparse_inputs:
        globals()[_name] = _creator(_op, _name)
        __all__.append(_name)
