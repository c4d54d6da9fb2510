"""Sparse arrays (``mx.nd.sparse``): row-sparse and compressed-sparse-row (CSR) arrays.

A ``RowSparseNDArray`` of shape ``(rows, ...)`` stores only some rows: ``data`` has shape
``(k, ...)`` and ``indices`` (int64, sorted, unique) says which rows they are; it is the gradient
format of lazy optimizer updates.

A ``CSRNDArray`` is a 2-D array in MXNet's CSR layout: the column indices of row ``i`` are
``indices[indptr[i]:indptr[i+1]]`` (int64, strictly increasing within a row) and their values
``data[indptr[i]:indptr[i+1]]``. It is what ``mx.io.LibSVMIter`` yields and what
``mx.nd.load`` returns for csr records. scipy is optional: only ``asscipy()`` and scipy inputs
need it.

Example::

    >>> import mxopt as mx
    >>> a = mx.nd.sparse.csr_matrix(([1, 2, 3], [1, 0, 2], [0, 1, 2, 2, 3]), shape=(4, 3))
    >>> a.asnumpy()[1]
    array([2., 0., 0.], dtype=float32)
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..base import MXNetError
from ..context import Context, cpu
from .ndarray import NDArray, _buffer, _dtype, _shape

__all__ = ["RowSparseNDArray", "CSRNDArray", "BaseSparseNDArray", "row_sparse_array",
           "csr_matrix", "zeros", "empty", "array", "NotSupportedForSparseNDArray"]


class NotSupportedForSparseNDArray(MXNetError):
    """An NDArray method that sparse arrays do not have (``reshape``, ...), as in MXNet."""

    def __init__(self, function: Any, alias: Any, *args: Any) -> None:
        name = getattr(function, "__name__", str(function))
        arg_types = ", ".join(str(type(a)) for a in args)
        super().__init__(f"Function {name}" + (f" (namely operator \"{alias}\")" if alias else "")
                         + (f" with arguments ({arg_types})" if args else "")
                         + " is not supported for SparseNDArray and only available in NDArray.")


class BaseSparseNDArray:
    """Common base of the sparse array classes (``isinstance`` checks, as in MXNet)."""

    __slots__ = ()


class RowSparseNDArray(BaseSparseNDArray):
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


_INDEX = np.int64


def _csr_problem(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 shape: Tuple[int, ...], sorted_rows: bool = True) -> Optional[str]:
    """Why (data, indices, indptr, shape) is not a valid CSR array, or None. O(nnz), numpy."""
    if len(shape) != 2:
        return f"a csr array is 2-D, got shape {tuple(shape)}"
    rows, cols = shape
    if rows < 0 or cols < 0:
        return f"shape {tuple(shape)} has a negative dimension"
    if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1:
        return (f"data, indices and indptr must be 1-D (got {data.ndim}-D, {indices.ndim}-D and "
                f"{indptr.ndim}-D)")
    if indices.shape[0] != data.shape[0]:
        return (f"indices has {indices.shape[0]} entries but data has {data.shape[0]} "
                "(one column index per stored value)")
    if indptr.shape[0] != rows + 1:
        return f"indptr has {indptr.shape[0]} entries, expected rows + 1 = {rows + 1}"
    nnz = data.shape[0]
    if int(indptr[0]) != 0:
        return f"indptr must start at 0, got indptr[0] = {int(indptr[0])}"
    steps = np.diff(indptr)
    if steps.size and int(steps.min()) < 0:
        at = int(np.argmax(steps < 0))
        return (f"indptr must be non-decreasing, got indptr[{at}] = {int(indptr[at])} > "
                f"indptr[{at + 1}] = {int(indptr[at + 1])}")
    if int(indptr[-1]) != nnz:
        return (f"indptr must end at the number of stored values {nnz}, got indptr[-1] = "
                f"{int(indptr[-1])}")
    if nnz:
        bad = (indices < 0) | (indices >= cols)
        if bad.any():
            at = int(np.argmax(bad))
            return (f"column index indices[{at}] = {int(indices[at])} is out of range "
                    f"[0, {cols})")
        if sorted_rows and nnz > 1:
            down = np.diff(indices) <= 0
            starts = indptr[1:-1]
            starts = starts[(starts > 0) & (starts < nnz)]
            down[starts - 1] = False  # a new row may start at any column
            if down.any():
                at = int(np.argmax(down))
                row = int(np.searchsorted(indptr, at, side="right")) - 1
                return (f"column indices of row {row} must be strictly increasing (sorted, no "
                        f"duplicates), got indices[{at}] = {int(indices[at])} then "
                        f"indices[{at + 1}] = {int(indices[at + 1])}")
    return None


def _csr_rows(indptr: np.ndarray) -> np.ndarray:
    """The row of every stored value."""
    return np.repeat(np.arange(indptr.shape[0] - 1, dtype=_INDEX), np.diff(indptr))


def _dense_to_csr(dense: np.ndarray) -> "CSRNDArray":
    """The CSR form of a 2-D numpy array (non-zero entries only; NaN counts as non-zero)."""
    if dense.ndim != 2:
        raise ValueError("To convert to a CSR, the NDArray should be 2 Dimensional. Current "
                         f"shape is {tuple(dense.shape)}")
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, _INDEX)
    np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
    return CSRNDArray(np.ascontiguousarray(dense[rows, cols]), cols.astype(_INDEX),
                      indptr, dense.shape)


class CSRNDArray(BaseSparseNDArray):
    """A 2-D array in compressed sparse row format (``mx.nd.sparse.CSRNDArray``).

    Row ``i`` holds the values ``data[indptr[i]:indptr[i+1]]`` at the columns
    ``indices[indptr[i]:indptr[i+1]]`` (strictly increasing); every other entry is zero. Build
    one with :func:`csr_matrix`, ``NDArray.tostype('csr')`` or ``mx.nd.sparse.zeros('csr',
    shape)``. ``data``, ``indices`` and ``indptr`` return copies (as in MXNet); ``x[a:b]``
    returns rows a..b-1 as a new CSRNDArray.

    Example::

        >>> x = mx.nd.array([[0, 1, 0], [2, 0, 3]]).tostype('csr')
        >>> x.indptr.asnumpy(), x.indices.asnumpy()
        (array([0, 1, 3]), array([1, 0, 2]))
    """

    __slots__ = ("_data", "_indices", "_indptr", "_shape", "__weakref__")

    stype = "csr"

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 shape: Tuple[int, ...]) -> None:
        # Internal constructor: the arrays are taken as they are (validated by the callers).
        self._data = data
        self._indices = indices
        self._indptr = indptr
        self._shape = tuple(int(s) for s in shape)

    # ---- MXNet's properties ---------------------------------------------------------------
    @property
    def data(self) -> NDArray:
        """A copy of the stored values (shape ``(nnz,)``)."""
        return NDArray(self._data.copy())

    @data.setter
    def data(self, value: Any) -> None:
        raise NotImplementedError()

    @property
    def indices(self) -> NDArray:
        """A copy of the column indices (int64, shape ``(nnz,)``)."""
        return NDArray(self._indices.copy())

    @indices.setter
    def indices(self, value: Any) -> None:
        raise NotImplementedError()

    @property
    def indptr(self) -> NDArray:
        """A copy of the row pointers (int64, shape ``(rows + 1,)``)."""
        return NDArray(self._indptr.copy())

    @indptr.setter
    def indptr(self, value: Any) -> None:
        raise NotImplementedError()

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> type:
        return self._data.dtype.type

    @property
    def size(self) -> int:
        # MXNet 1.9.1: the size of a sparse array is ambiguous, hence not defined.
        raise NotImplementedError()

    @property
    def ndim(self) -> int:
        return 2

    @property
    def context(self) -> Context:
        return cpu(0)

    ctx = context

    @property
    def writable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._shape[0]

    # ---- conversion -----------------------------------------------------------------------
    def asnumpy(self) -> np.ndarray:
        """A dense numpy copy."""
        out = np.zeros(self._shape, dtype=self._data.dtype)
        if self._data.shape[0]:
            out[_csr_rows(self._indptr), self._indices] = self._data
        return out

    def asscipy(self) -> Any:
        """A ``scipy.sparse.csr_matrix`` copy (needs scipy)."""
        try:
            import scipy.sparse as spsp
        except ImportError as exc:
            raise ImportError("CSRNDArray.asscipy needs scipy, which could not be imported: "
                              "pip install scipy") from exc
        return spsp.csr_matrix((self._data.copy(), self._indices.copy(), self._indptr.copy()),
                               shape=self._shape, dtype=self._data.dtype)

    def tostype(self, stype: str) -> Any:
        """A copy with storage type ``stype`` ('default' or 'csr'; MXNet has no csr ->
        row_sparse cast)."""
        if stype == "default":
            return NDArray(self.asnumpy())
        if stype == "csr":
            return self.copy()
        if stype == "row_sparse":
            raise ValueError("cast_storage from csr to row_sparse is not supported")
        raise MXNetError(f"tostype: unknown storage type {stype!r} (expected 'default', "
                         "'row_sparse' or 'csr')")

    def copy(self) -> "CSRNDArray":
        return CSRNDArray(self._data.copy(), self._indices.copy(), self._indptr.copy(),
                          self._shape)

    def astype(self, dtype: Any, copy: bool = True) -> "CSRNDArray":
        """A copy with values of ``dtype`` (``self`` if ``copy=False`` and the dtype matches)."""
        dt = np.dtype(dtype)
        if not copy and dt == self._data.dtype:
            return self
        return CSRNDArray(self._data.astype(dt), self._indices.copy(), self._indptr.copy(),
                          self._shape)

    def as_in_context(self, context: Context) -> "CSRNDArray":
        return self

    def copyto(self, other: Any) -> Any:
        """Copy into ``other`` (a CSRNDArray or dense NDArray of the same shape, or a new array
        for a Context); the destination keeps its dtype."""
        if isinstance(other, Context):
            return self.copy()
        if other is self:
            warnings.warn("You are attempting to copy an array to itself", RuntimeWarning,
                          stacklevel=2)
            return False
        if isinstance(other, (CSRNDArray, NDArray)):
            if tuple(other.shape) != self._shape:
                raise MXNetError(f"copyto: shape mismatch, source {self._shape} vs destination "
                                 f"{tuple(other.shape)}")
            if isinstance(other, NDArray):
                np.copyto(other._data, self.asnumpy(), casting="unsafe")
                return other
            other._data = self._data.astype(other._data.dtype)
            other._indices, other._indptr = self._indices.copy(), self._indptr.copy()
            return other
        if isinstance(other, BaseSparseNDArray):
            raise TypeError(f"copyto does not support destination NDArray stype {other.stype}")
        raise TypeError("copyto does not support type " + str(type(other)))

    def check_format(self, full_check: bool = True) -> None:
        """Raise MXNetError if the array is not a valid CSR array (``full_check``: also every
        column index and their order; otherwise only the shapes of the three arrays)."""
        if full_check:
            problem = _csr_problem(self._data, self._indices, self._indptr, self._shape)
        else:
            problem = None
            if self._indptr.shape[0] != self._shape[0] + 1:
                problem = "indptr does not have rows + 1 entries"
            elif self._indices.shape[0] != self._data.shape[0]:
                problem = "indices and data have different lengths"
        if problem is not None:
            raise MXNetError(f"Invalid csr NDArray: {problem}")

    def wait_to_read(self) -> None:
        return None

    def wait_to_write(self) -> None:
        return None

    def reshape(self, *shape: Any, **kwargs: Any) -> Any:
        raise NotSupportedForSparseNDArray(self.reshape, None, shape)

    # ---- indexing -------------------------------------------------------------------------
    def _rows(self, begin: int, end: int) -> "CSRNDArray":
        """Rows [begin, end) as a new array (MXNet's slice rules: negative bounds count from
        the end, end is clipped; an empty or reversed range is an error)."""
        rows = self._shape[0]
        begin, end = int(begin), int(end)
        b = begin + rows if begin < 0 else begin
        e = end + rows if end < 0 else min(end, rows)
        if not 0 <= b < rows or e <= b:
            raise MXNetError(f"CSRNDArray slice [{begin}:{end}] is out of range or empty for "
                             f"{rows} rows")
        lo, hi = int(self._indptr[b]), int(self._indptr[e])
        return CSRNDArray(self._data[lo:hi].copy(), self._indices[lo:hi].copy(),
                          self._indptr[b:e + 1] - lo, (e - b, self._shape[1]))

    def __getitem__(self, key: Any) -> "CSRNDArray":
        """``x[i]`` (row i, as a 1-row CSRNDArray) or ``x[a:b]`` (rows a..b-1); like MXNet,
        ``a:b`` uses 0 for a missing or zero start and the row count for a missing or zero
        stop, and only ``int`` keys are indices."""
        if isinstance(key, bool):
            raise MXNetError(f"CSRNDArray index {key!r}: a row index must be an int")
        if isinstance(key, int):
            begin = self._shape[0] - 1 if key == -1 else key
            return self._rows(begin, begin + 1)
        if isinstance(key, slice):
            if key.step is not None:
                raise ValueError("CSRNDArray only supports continuous slicing on axis 0")
            if key.start is not None or key.stop is not None:
                return self._rows(key.start if key.start else 0,
                                  key.stop if key.stop else self._shape[0])
            return self
        if isinstance(key, tuple):
            raise ValueError("Multi-dimension indexing is not supported")
        raise ValueError("Undefined behaviour for {}".format(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        """``x[:] = value`` (an NDArray, CSRNDArray or numpy array of the same shape)."""
        if not isinstance(key, slice):
            raise Exception("CSRNDArray only supports [:] for assignment")  # MXNet's type
        if key.step is not None or key.start is not None or key.stop is not None:
            raise ValueError("Assignment with slice for CSRNDArray is not implemented yet.")
        if isinstance(value, (numbers.Number, np.bool_)):
            raise ValueError("Assigning numeric types to CSRNDArray is not implemented yet.")
        if isinstance(value, np.ndarray):
            warnings.warn("Assigning non-NDArray object to CSRNDArray is not efficient",
                          RuntimeWarning, stacklevel=2)
            value = NDArray(np.asarray(value, dtype=np.float32))
        if isinstance(value, NDArray):
            if tuple(value.shape) != self._shape:
                raise MXNetError(f"CSRNDArray assignment: shape mismatch, {tuple(value.shape)} "
                                 f"vs {self._shape}")
            src = _dense_to_csr(value._data)
            self._data = src._data.astype(self._data.dtype)
            self._indices, self._indptr = src._indices, src._indptr
            return
        if isinstance(value, CSRNDArray):
            if value is not self:
                value.copyto(self)
            return
        raise TypeError("type %s not supported" % str(type(value)))

    # ---- pickling and printing ------------------------------------------------------------
    def __getstate__(self) -> dict:
        return {"data": self._data, "indices": self._indices, "indptr": self._indptr,
                "shape": self._shape}

    def __setstate__(self, state: dict) -> None:
        data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
        indices, indptr = indices.astype(_INDEX, copy=False), indptr.astype(_INDEX, copy=False)
        shape = tuple(int(s) for s in state["shape"])
        problem = _csr_problem(data, indices, indptr, shape)
        if problem is not None:
            raise ValueError(f"unpickling a CSRNDArray: {problem}")
        self._data, self._indices, self._indptr, self._shape = data, indices, indptr, shape

    def __repr__(self) -> str:
        return f"\n<CSRNDArray {'x'.join(map(str, self._shape))} @{self.context}>"

    __str__ = __repr__


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


def _default_dtype(src: Any, dtype: Any) -> Any:
    """``dtype`` or, when None, the dtype of an NDArray/numpy/sparse source (float32 otherwise)."""
    if dtype is not None:
        return dtype
    if isinstance(src, (NDArray, np.ndarray, BaseSparseNDArray)) or _is_scipy_sparse(src):
        return src.dtype
    return np.float32


def _is_scipy_sparse(x: Any) -> bool:
    mod = type(x).__module__ or ""
    return mod.startswith("scipy.sparse") and hasattr(x, "tocsr")


def _check_shape(s1: Any, s2: Any) -> None:
    if s1 and s2 and tuple(s1) != tuple(s2):
        raise ValueError("Shape mismatch detected. " + str(tuple(s1)) + " v.s. " + str(tuple(s2)))


def _as_numpy(x: Any, dtype: Any, what: str) -> np.ndarray:
    if isinstance(x, NDArray):
        x = x._data
    elif isinstance(x, BaseSparseNDArray):
        raise TypeError(f"csr_matrix: {what} must be a dense array, got a {type(x).__name__}")
    try:
        return np.array(x, dtype=dtype, copy=True).reshape(-1) if np.ndim(x) <= 1 else \
            np.array(x, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"csr_matrix: {what} must be array like ({exc})") from exc


def _csr_from_definition(data: Any, indices: Any, indptr: Any, shape: Any,
                         dtype: Any) -> CSRNDArray:
    dtype = np.dtype(_default_dtype(data, dtype))
    data = _as_numpy(data, dtype, "data")
    indices_f = _as_numpy(indices, None, "indices")
    indptr_f = _as_numpy(indptr, None, "indptr")
    for name, arr in (("indices", indices_f), ("indptr", indptr_f)):
        if arr.size and arr.dtype.kind not in "iub":
            if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or \
                    not np.all(arr == np.round(arr)):
                raise ValueError(f"csr_matrix: {name} must hold integers, got {arr.dtype} values")
    indices_i, indptr_i = indices_f.astype(_INDEX), indptr_f.astype(_INDEX)
    if shape is None:
        if indices_i.ndim != 1 or indices_i.shape[0] == 0:
            raise ValueError("invalid shape")
        shape = (indptr_i.shape[0] - 1, int(indices_i.max()) + 1)
    shape = _shape(shape)
    if data.ndim != 1 or indptr_i.ndim != 1 or indices_i.ndim != 1 or \
            indptr_i.shape[0] == 0 or len(shape) != 2:
        raise ValueError("invalid shape")
    problem = _csr_problem(data, indices_i, indptr_i, shape)
    if problem is not None:
        raise ValueError(f"csr_matrix: {problem}")
    return CSRNDArray(data, indices_i, indptr_i, shape)


def _csr_from_scipy(src: Any, dtype: Any) -> CSRNDArray:
    """A canonical copy (sorted column indices, duplicates summed) of a scipy sparse matrix."""
    csr = src.tocsr(copy=True) if src.format != "csr" else src.copy()
    csr.sort_indices()
    csr.sum_duplicates()
    dtype = np.dtype(_default_dtype(src, dtype))
    return _csr_from_definition(np.asarray(csr.data, dtype=dtype), csr.indices, csr.indptr,
                                csr.shape, dtype)


def _csr_from_coo(data: Any, row: Any, col: Any, shape: Any, dtype: Any) -> CSRNDArray:
    """``csr_matrix((data, (row, col)))``: duplicates summed, columns sorted (as scipy does)."""
    vals = np.asarray(data._data if isinstance(data, NDArray) else data).reshape(-1)
    r = np.asarray(row._data if isinstance(row, NDArray) else row).reshape(-1)
    c = np.asarray(col._data if isinstance(col, NDArray) else col).reshape(-1)
    if not (vals.shape == r.shape == c.shape):
        raise ValueError(f"csr_matrix: data, row and col must have the same length, got "
                         f"{vals.shape[0]}, {r.shape[0]} and {c.shape[0]}")
    for name, arr in (("row", r), ("col", c)):
        if arr.size and (arr.dtype.kind not in "iu" or int(arr.min()) < 0):
            raise ValueError(f"csr_matrix: {name} indices must be non-negative integers")
    if shape is None:
        if not r.size:
            raise ValueError("cannot infer dimensions from zero sized index arrays")
        shape = (int(r.max()) + 1, int(c.max()) + 1)
    shape = _shape(shape)
    if len(shape) != 2:
        raise ValueError(f"csr_matrix: a csr array is 2-D, got shape {shape}")
    if r.size and (int(r.max()) >= shape[0] or int(c.max()) >= shape[1]):
        raise ValueError(f"csr_matrix: row or column index exceeds the shape {shape}")
    dtype = np.dtype(dtype) if dtype is not None else vals.dtype
    key = r.astype(_INDEX) * max(shape[1], 1) + c.astype(_INDEX)
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(key.shape[0], bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    summed = np.add.reduceat(vals[order], starts) if starts.size else vals[:0]
    ukey = key[starts]
    rows = ukey // max(shape[1], 1)
    indptr = np.zeros(shape[0] + 1, _INDEX)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return CSRNDArray(summed.astype(dtype), (ukey % max(shape[1], 1)).astype(_INDEX), indptr,
                      shape)


def csr_matrix(arg1: Any, shape: Optional[Sequence[int]] = None, ctx: Optional[Context] = None,
               dtype: Any = None) -> CSRNDArray:
    """Create a ``CSRNDArray`` (MXNet's ``mx.nd.sparse.csr_matrix``).

    ``arg1`` may be ``(data, indices, indptr)`` (the CSR definition; shape inferred from indptr
    and the largest column index when not given), ``(data, (row, col))`` (coordinates;
    duplicates are summed), ``(M, N)`` (an all-zero M x N array), a CSRNDArray or a scipy
    sparse matrix (copied; column indices sorted and duplicates summed), or a dense 2-D
    NDArray / numpy array / nested list (its non-zero entries). ``dtype`` defaults to the
    source's dtype (float32 for lists). Unlike MXNet, which accepts any definition and fails
    later, an invalid definition raises ValueError naming indptr or indices.

    Example::

        >>> a = mx.nd.sparse.csr_matrix(([1., 2.], [0, 2], [0, 1, 1, 2]), shape=(3, 3))
        >>> a.asnumpy()
        array([[1., 0., 0.],
               [0., 0., 0.],
               [0., 0., 2.]], dtype=float32)
    """
    if isinstance(arg1, tuple):
        if len(arg1) == 2:
            if isinstance(arg1[1], tuple) and len(arg1[1]) == 2:
                data, (row, col) = arg1
                return _csr_from_coo(data, row, col, shape, dtype)
            _check_shape(arg1, shape)
            return zeros("csr", arg1, ctx=ctx, dtype=dtype)
        if len(arg1) == 3:
            return _csr_from_definition(arg1[0], arg1[1], arg1[2], shape, dtype)
        raise ValueError("Unexpected length of input tuple: " + str(len(arg1)))
    if isinstance(arg1, CSRNDArray) or _is_scipy_sparse(arg1):
        _check_shape(arg1.shape, shape)
        return array(arg1, ctx=ctx, dtype=dtype)
    if isinstance(arg1, RowSparseNDArray):
        raise ValueError("Unexpected input type: RowSparseNDArray")
    dtype = _default_dtype(arg1, dtype)
    dense = _buffer(arg1) if isinstance(arg1, NDArray) else np.asarray(arg1)
    dense = np.asarray(dense, dtype=_dtype(dtype, "csr_matrix"))
    _check_shape(dense.shape, shape)
    return _dense_to_csr(dense)


def zeros(stype: str, shape: Any, ctx: Optional[Context] = None, dtype: Any = None,
          **kwargs: Any) -> Union[RowSparseNDArray, CSRNDArray, NDArray]:
    """An all-zero array of storage type ``stype`` ('row_sparse', 'csr' or 'default'; float32
    unless ``dtype`` is given). A csr array must be 2-D.

    Example::

        >>> mx.nd.sparse.zeros('csr', (2, 3)).indptr.asnumpy()
        array([0, 0, 0])
    """
    if stype == "default":
        return NDArray(np.zeros(_shape(shape), dtype=_dtype(dtype, "zeros")))
    shape = _shape(shape)
    dt = _dtype(dtype, "zeros")
    if stype == "row_sparse":
        return RowSparseNDArray(np.zeros((0,) + shape[1:], dtype=dt),
                                np.zeros((0,), dtype=_INDEX), shape)
    if stype == "csr":
        if len(shape) != 2:
            raise MXNetError(f"zeros: a csr array must be 2-D, got shape {shape}")
        if min(shape) < 0:
            raise MXNetError(f"zeros: shape {shape} has a negative dimension")
        return CSRNDArray(np.zeros((0,), dtype=dt), np.zeros((0,), dtype=_INDEX),
                          np.zeros((shape[0] + 1,), dtype=_INDEX), shape)
    raise ValueError("unknown storage type" + str(stype))


def empty(stype: str, shape: Any, ctx: Optional[Context] = None,
          dtype: Any = None) -> Union[RowSparseNDArray, CSRNDArray]:
    """A new sparse array with no stored values (``stype`` 'csr' or 'row_sparse')."""
    if stype not in ("csr", "row_sparse"):
        raise Exception("unknown stype : " + str(stype))  # MXNet's type
    return zeros(stype, shape, ctx=ctx, dtype=dtype)  # type: ignore[return-value]


def array(source_array: Any, ctx: Optional[Context] = None,
          dtype: Any = None) -> Union[RowSparseNDArray, CSRNDArray]:
    """A sparse copy of a sparse source: a CSRNDArray or RowSparseNDArray (same storage type,
    ``dtype`` defaults to the source's) or a scipy sparse matrix (a CSRNDArray; indices sorted,
    duplicates summed). Dense sources are refused as in MXNet: use ``mx.nd.array`` and
    ``tostype``.

    Example::

        >>> import scipy.sparse as spsp
        >>> mx.nd.sparse.array(spsp.csr_matrix((2, 100)))
        <BLANKLINE>
        <CSRNDArray 2x100 @cpu(0)>
    """
    if isinstance(source_array, CSRNDArray):
        return source_array.astype(_default_dtype(source_array, dtype))
    if isinstance(source_array, RowSparseNDArray):
        return source_array.astype(_default_dtype(source_array, dtype))
    if isinstance(source_array, NDArray):
        raise AssertionError("Please use `tostype` to create RowSparseNDArray or CSRNDArray "
                             "from an NDArray")
    if _is_scipy_sparse(source_array):
        return _csr_from_scipy(source_array, dtype)
    if isinstance(source_array, (np.ndarray, np.generic)):
        raise ValueError("Please use mx.nd.array to create an NDArray with source_array of type ",
                         type(source_array))
    raise ValueError("Unexpected source_array type: ", type(source_array))
