"""``mx.nd``: CPU NDArrays backed by numpy buffers, plus row-sparse and CSR arrays (``mx.nd.sparse``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import sparse
from .ndarray import (NDArray, _as_nd, _buffer, arange, array, clip, concat, empty, full, ones,
                      waitall, zeros)
from .sparse import CSRNDArray, RowSparseNDArray
from .utils import load, load_frombuffer, save

__all__ = ["NDArray", "RowSparseNDArray", "CSRNDArray", "array", "zeros", "ones", "empty", "full", "arange",
           "concat", "clip", "waitall", "sparse", "sqrt", "square", "abs", "sign", "exp", "log",
           "maximum", "minimum", "dot", "sum", "mean", "norm", "zeros_like", "ones_like",
           "argmax", "save", "load", "load_frombuffer"]


def _unary(fn: Any, name: str) -> Any:
    def op(data: Any, out: Any = None) -> NDArray:
        res = fn(_buffer(data))
        if out is not None:
            _buffer(out)[...] = res
            return out
        return _as_nd(res)
    op.__name__ = name
    op.__doc__ = f"Element-wise {name} (numpy semantics, same dtype)."
    return op


sqrt = _unary(np.sqrt, "sqrt")
square = _unary(np.square, "square")
abs = _unary(np.abs, "abs")  # noqa: A001 - MXNet's name
sign = _unary(np.sign, "sign")
exp = _unary(np.exp, "exp")
log = _unary(np.log, "log")
zeros_like = _unary(np.zeros_like, "zeros_like")
ones_like = _unary(np.ones_like, "ones_like")


def _operand(x: Any) -> Any:
    return _buffer(x) if isinstance(x, (NDArray, np.ndarray)) else x


def maximum(lhs: Any, rhs: Any) -> NDArray:
    return _as_nd(np.maximum(_operand(lhs), _operand(rhs)))


def minimum(lhs: Any, rhs: Any) -> NDArray:
    return _as_nd(np.minimum(_operand(lhs), _operand(rhs)))


def dot(lhs: NDArray, rhs: NDArray, transpose_a: bool = False, transpose_b: bool = False) -> NDArray:
    a, b = _buffer(lhs), _buffer(rhs)
    return _as_nd((a.T if transpose_a else a) @ (b.T if transpose_b else b))


def sum(data: NDArray, axis: Any = None, keepdims: bool = False) -> NDArray:  # noqa: A001
    return data.sum(axis=axis, keepdims=keepdims)


def mean(data: NDArray, axis: Any = None, keepdims: bool = False) -> NDArray:
    return data.mean(axis=axis, keepdims=keepdims)


def norm(data: NDArray) -> NDArray:
    return data.norm()


def argmax(data: NDArray, axis: Any = None) -> NDArray:
    return data.argmax(axis=axis)


def _install_operators() -> None:
    """``mx.nd.<op>`` for every registered operator and alias (these take precedence over the
    numpy-based helpers above of the same name: they are MXNet's operators)."""
    from .._ops.registry import ALIASES, OPS, SPARSE_NAMESPACE, lookup
    from .op import imperative
    for name, op in sorted(OPS.items()):
        globals()[name] = imperative(op, name)
        __all__.append(name)
    for alias, target in sorted(ALIASES.items()):
        globals()[alias] = imperative(OPS[target], alias)
        __all__.append(alias)
    for name in SPARSE_NAMESPACE:  # mx.nd.sparse.dot etc.
        setattr(sparse, name, imperative(lookup(name), name))
        sparse.__all__.append(name)


_install_operators()
