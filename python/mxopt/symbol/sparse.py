"""``mx.sym.sparse``: the operators MXNet also lists for sparse inputs (the same operators as in
``mx.sym``, e.g. ``mx.sym.sparse.dot(csr_data, row_sparse_weight)``)."""

from __future__ import annotations

from .._ops.registry import SPARSE_NAMESPACE, lookup
from .symbol import _creator

__all__ = list(SPARSE_NAMESPACE)

for _name in SPARSE_NAMESPACE:
    globals()[_name] = _creator(lookup(_name), _name)
