"""Row-sparse arrays (``mx.nd.sparse``): the gradient format of lazy optimizer updates.

A ``RowSparseNDArray`` of shape ``(rows, ...)`` stores only some rows: ``data`` has shape
``(k, ...)`` and ``indices`` (int64, sorted, unique) says which rows they are.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..context import Context, cpu
from .ndarray import NDArray, _buffer, _shape

__all__ = ["RowSparseNDArray", "row_sparse_array", "zeros", "array"]


class RowSparseNDArray:
    """Rows ``indices`` of a ``shape``-shaped array hold ``data``; every other row is zero."""

    __slots__ = ("_data", "_indices", "_shape", "__weakref__")

    def __init__(self, data: np.ndarray, indices: np.ndarray, shape: Tuple[int, ...]) -> None:
        self._data = data
        self._indices = indices
        self._shape = tuple(shape)

    stype = "row_sparse"

    @property
    def data(self) -> NDArray:
        return NDArray(self._data)

    @property
    def indices(self) -> NDArray:
        return NDArray(self._indices)

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> type:
        return self._data.dtype.type

    @property
    def size(self) -> int:
        return int(np.prod(self._shape))

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def context(self) -> Context:
        return cpu(0)

    ctx = context

    def asnumpy(self) -> np.ndarray:
        out = np.zeros(self._shape, dtype=self._data.dtype)
        if self._indices.size:
            out[self._indices] = self._data
        return out

    def tostype(self, stype: str) -> Any:
        if stype == "default":
            return NDArray(self.asnumpy())
        if stype == "row_sparse":
            return self
        raise ValueError(f"tostype: unknown storage type {stype!r}")

    def copy(self) -> "RowSparseNDArray":
        return RowSparseNDArray(self._data.copy(), self._indices.copy(), self._shape)

    def astype(self, dtype: Any, copy: bool = True) -> "RowSparseNDArray":
        return RowSparseNDArray(self._data.astype(dtype), self._indices.copy(), self._shape)

    def as_in_context(self, context: Context) -> "RowSparseNDArray":
        return self

    def copyto(self, other: Any) -> Any:
        if isinstance(other, Context):
            return self.copy()
        if isinstance(other, RowSparseNDArray):
            other._data, other._indices, other._shape = (self._data.copy(), self._indices.copy(),
                                                         self._shape)
            return other
        if isinstance(other, NDArray):
            other._data[...] = self.asnumpy()
            return other
        raise TypeError(f"copyto does not support type {type(other).__name__}")

    def wait_to_read(self) -> None:
        return None

    def __getstate__(self) -> dict:
        return {"data": self._data, "indices": self._indices, "shape": self._shape}

    def __setstate__(self, state: dict) -> None:
        self._data, self._indices, self._shape = state["data"], state["indices"], state["shape"]

    def __repr__(self) -> str:
        return f"\n<RowSparseNDArray {'x'.join(map(str, self._shape))} @{self.context}>"


def row_sparse_array(arg1: Any, shape: Optional[Sequence[int]] = None,
                     ctx: Optional[Context] = None, dtype: Any = None) -> RowSparseNDArray:
    """``row_sparse_array((data, indices), shape=...)``, or from a dense array.

    ``data`` keeps its dtype (float32 for lists) unless ``dtype`` is given; ``indices``
    become int64. The indices are stored as given: lazy optimizer updates reject unsorted,
    duplicated or out-of-range indices before touching any weight.
    """
    if isinstance(arg1, RowSparseNDArray):
        return arg1.astype(dtype or arg1._data.dtype)
    if isinstance(arg1, tuple) and len(arg1) == 2:
        data, indices = arg1
        data = _buffer(data) if isinstance(data, NDArray) else data
        if dtype is None:
            dtype = data.dtype if isinstance(data, np.ndarray) else np.float32
        data = np.array(data, dtype=dtype, order="C", copy=True)
        indices = np.array(_buffer(indices) if isinstance(indices, NDArray) else indices,
                           dtype=np.int64, copy=True).reshape(-1)
        if data.ndim == 0 or data.shape[0] != indices.shape[0]:
            raise ValueError(
                f"row_sparse_array: data has shape {data.shape} but indices has "
                f"{indices.shape[0]} entries (data.shape[0] must equal len(indices))")
        if shape is None:
            rows = int(indices.max()) + 1 if indices.size else 0
            shape = (rows,) + data.shape[1:]
        shape = _shape(shape)
        if tuple(shape[1:]) != data.shape[1:]:
            raise ValueError(f"row_sparse_array: data row shape {data.shape[1:]} does not "
                             f"match shape {tuple(shape)}")
        return RowSparseNDArray(data, indices, shape)
    dense = _buffer(arg1) if isinstance(arg1, NDArray) else np.asarray(arg1)
    return _dense_to_row_sparse(dense.astype(dtype or dense.dtype))


def _dense_to_row_sparse(dense: np.ndarray) -> RowSparseNDArray:
    flat = dense.reshape(dense.shape[0], -1) if dense.ndim > 1 else dense.reshape(-1, 1)
    rows = np.flatnonzero(np.any(flat != 0, axis=1)).astype(np.int64)
    return RowSparseNDArray(np.ascontiguousarray(dense[rows]), rows, dense.shape)


def zeros(stype: str, shape: Sequence[int], ctx: Optional[Context] = None,
          dtype: Any = None, **kwargs: Any) -> Union[RowSparseNDArray, NDArray]:
    shape = _shape(shape)
    dtype = dtype or np.float32
    if stype == "row_sparse":
        return RowSparseNDArray(np.zeros((0,) + shape[1:], dtype=dtype),
                                np.zeros((0,), dtype=np.int64), shape)
    if stype == "default":
        return NDArray(np.zeros(shape, dtype=dtype))
    raise ValueError(f"zeros: unknown storage type {stype!r}")


def array(source_array: Any, ctx: Optional[Context] = None, dtype: Any = None) -> RowSparseNDArray:
    return row_sparse_array(source_array, ctx=ctx, dtype=dtype)
