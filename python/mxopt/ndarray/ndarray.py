"""A CPU NDArray with MXNet's Python interface, backed by a numpy array (no copies).

Every mxopt C++ entry point works on the numpy buffer behind an NDArray, so updates made
by optimizers and initializers are visible through the NDArray and through any numpy view
of it.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from ..context import Context, cpu

__all__ = ["NDArray", "array", "zeros", "ones", "empty", "full", "arange", "concat",
           "waitall", "_buffer", "_as_nd"]

_DEFAULT_DTYPE = np.float32
ShapeLike = Union[int, Sequence[int]]


def _shape(shape: ShapeLike) -> Tuple[int, ...]:
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _unwrap(x: Any) -> Any:
    return x._data if isinstance(x, NDArray) else x


class NDArray:
    """An n-dimensional array on the CPU (``mx.nd.NDArray``).

    Create one with :func:`array`, :func:`zeros`, :func:`ones`, :func:`empty` or
    :func:`full`. Basic slicing returns a view that writes through, as in MXNet; arithmetic
    returns new arrays of the same dtype; ``asnumpy()`` returns a copy.
    """

    __slots__ = ("_data", "__weakref__")
    # Make numpy defer to NDArray's operators in mixed expressions (np_array + nd).
    __array_priority__ = 1000.0

    def __init__(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray):
            raise TypeError(f"NDArray wraps a numpy.ndarray, got {type(data).__name__}")
        self._data = data

    # ---- properties -------------------------------------------------------------------------
    @property
    def shape(self) -> Tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> type:
        return self._data.dtype.type

    @property
    def size(self) -> int:
        return int(self._data.size)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def context(self) -> Context:
        return cpu(0)

    ctx = context

    @property
    def stype(self) -> str:
        return "default"

    @property
    def T(self) -> "NDArray":
        return NDArray(np.ascontiguousarray(self._data.T))

    @property
    def grad(self) -> None:
        return None

    # ---- conversion -------------------------------------------------------------------------
    def asnumpy(self) -> np.ndarray:
        """A numpy copy of the data."""
        return self._data.copy()

    def asscalar(self) -> Any:
        if self.size != 1:
            raise ValueError(f"The current array is not a scalar (shape {self.shape})")
        return self._data.reshape(-1)[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def astype(self, dtype: Any, copy: bool = True) -> "NDArray":
        dtype = np.dtype(dtype)
        if not copy and dtype == self._data.dtype:
            return self
        return NDArray(self._data.astype(dtype))

    def copy(self) -> "NDArray":
        return NDArray(self._data.copy())

    def copyto(self, other: Union["NDArray", Context]) -> "NDArray":
        """Copy into ``other`` (an NDArray of the same shape, or a new array for a Context)."""
        if isinstance(other, Context):
            return self.copy()
        if not isinstance(other, NDArray):
            raise TypeError(f"copyto does not support type {type(other).__name__}")
        if other is self:
            return other
        if other.shape != self.shape:
            raise ValueError(f"copyto: shape mismatch {self.shape} vs {other.shape}")
        np.copyto(other._data, self._data, casting="unsafe")
        return other

    def as_in_context(self, context: Context) -> "NDArray":
        return self

    def tostype(self, stype: str) -> Any:
        if stype == "default":
            return self
        if stype == "row_sparse":
            from .sparse import _dense_to_row_sparse
            return _dense_to_row_sparse(self._data)
        if stype == "csr":
            from .sparse import _dense_to_csr
            return _dense_to_csr(self._data)
        raise ValueError(f"tostype: unknown storage type {stype!r}")

    def reshape(self, *shape: Any, **kwargs: Any) -> "NDArray":
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        shape = kwargs.get("shape", shape)
        return NDArray(self._data.reshape(shape))

    def flatten(self) -> "NDArray":
        return NDArray(self._data.reshape(self.shape[0] if self.ndim else 1, -1))

    def attach_grad(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("mxopt has no autograd; use mx.mod.Module for gradients")

    def wait_to_read(self) -> None:
        return None

    def wait_to_write(self) -> None:
        return None

    # ---- reductions and element-wise helpers ------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return _as_nd(self._data.sum(axis=axis, keepdims=keepdims, dtype=self._data.dtype))

    def mean(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return _as_nd(self._data.mean(axis=axis, keepdims=keepdims, dtype=self._data.dtype))

    def max(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return _as_nd(self._data.max(axis=axis, keepdims=keepdims))

    def min(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return _as_nd(self._data.min(axis=axis, keepdims=keepdims))

    def norm(self) -> "NDArray":
        """L2 norm of all elements, as a 1-element array (MXNet's ``NDArray.norm()``)."""
        return NDArray(np.array([np.sqrt(np.sum(np.square(self._data, dtype=np.float32),
                                                dtype=np.float32))], dtype=self._data.dtype))

    def argmax(self, axis: Optional[int] = None) -> "NDArray":
        return _as_nd(self._data.argmax(axis=axis).astype(self._data.dtype))

    def clip(self, a_min: float, a_max: float) -> "NDArray":
        return clip(self, a_min, a_max)

    def sqrt(self) -> "NDArray":
        return NDArray(np.sqrt(self._data))

    def square(self) -> "NDArray":
        return NDArray(np.square(self._data))

    def abs(self) -> "NDArray":
        return NDArray(np.abs(self._data))

    def sign(self) -> "NDArray":
        return NDArray(np.sign(self._data))

    def exp(self) -> "NDArray":
        return NDArray(np.exp(self._data))

    def log(self) -> "NDArray":
        return NDArray(np.log(self._data))

    def zeros_like(self) -> "NDArray":
        return NDArray(np.zeros_like(self._data))

    def ones_like(self) -> "NDArray":
        return NDArray(np.ones_like(self._data))

    # ---- indexing ---------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> "NDArray":
        key = _unwrap(key)
        if isinstance(key, np.ndarray) and key.dtype.kind == "f":
            key = key.astype(np.int64)
        out = self._data[key]
        return NDArray(out if isinstance(out, np.ndarray) else np.array([out], self._data.dtype))

    def __setitem__(self, key: Any, value: Any) -> None:
        key = _unwrap(key)
        value = _unwrap(value)
        if isinstance(value, np.ndarray) or isinstance(value, numbers.Number):
            self._data[key] = value
        else:
            self._data[key] = np.asarray(value)

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterable["NDArray"]:
        for i in range(self.shape[0]):
            yield self[i]

    def __bool__(self) -> bool:
        if self.size == 1:
            return bool(self._data.reshape(-1)[0])
        raise ValueError("The truth value of an NDArray with multiple elements is ambiguous.")

    # ---- arithmetic -------------------------------------------------------------------------
    def _binary(self, other: Any, op: Any) -> "NDArray":
        other = _unwrap(other)
        if isinstance(other, np.ndarray):
            out = op(self._data, other)
        else:
            out = op(self._data, np.asarray(other, dtype=self._data.dtype))
        return _as_nd(out)

    def _rbinary(self, other: Any, op: Any) -> "NDArray":
        other = _unwrap(other)
        if not isinstance(other, np.ndarray):
            other = np.asarray(other, dtype=self._data.dtype)
        return _as_nd(op(other, self._data))

    def _inplace(self, other: Any, op: Any) -> "NDArray":
        other = _unwrap(other)
        if not isinstance(other, np.ndarray):
            other = np.asarray(other, dtype=self._data.dtype)
        op(self._data, other, out=self._data, casting="unsafe")
        return self

    def __add__(self, o: Any) -> "NDArray": return self._binary(o, np.add)
    def __radd__(self, o: Any) -> "NDArray": return self._rbinary(o, np.add)
    def __sub__(self, o: Any) -> "NDArray": return self._binary(o, np.subtract)
    def __rsub__(self, o: Any) -> "NDArray": return self._rbinary(o, np.subtract)
    def __mul__(self, o: Any) -> "NDArray": return self._binary(o, np.multiply)
    def __rmul__(self, o: Any) -> "NDArray": return self._rbinary(o, np.multiply)
    def __truediv__(self, o: Any) -> "NDArray": return self._binary(o, np.true_divide)
    def __rtruediv__(self, o: Any) -> "NDArray": return self._rbinary(o, np.true_divide)
    def __mod__(self, o: Any) -> "NDArray": return self._binary(o, np.mod)
    def __pow__(self, o: Any) -> "NDArray": return self._binary(o, np.power)
    def __rpow__(self, o: Any) -> "NDArray": return self._rbinary(o, np.power)
    def __iadd__(self, o: Any) -> "NDArray": return self._inplace(o, np.add)
    def __isub__(self, o: Any) -> "NDArray": return self._inplace(o, np.subtract)
    def __imul__(self, o: Any) -> "NDArray": return self._inplace(o, np.multiply)
    def __itruediv__(self, o: Any) -> "NDArray": return self._inplace(o, np.true_divide)
    def __neg__(self) -> "NDArray": return NDArray(-self._data)
    def __abs__(self) -> "NDArray": return NDArray(np.abs(self._data))

    def _compare(self, o: Any, op: Any) -> "NDArray":
        return NDArray(op(self._data, _unwrap(o)).astype(self._data.dtype))

    def __eq__(self, o: Any) -> "NDArray": return self._compare(o, np.equal)  # type: ignore[override]
    def __ne__(self, o: Any) -> "NDArray": return self._compare(o, np.not_equal)  # type: ignore[override]
    def __lt__(self, o: Any) -> "NDArray": return self._compare(o, np.less)
    def __le__(self, o: Any) -> "NDArray": return self._compare(o, np.less_equal)
    def __gt__(self, o: Any) -> "NDArray": return self._compare(o, np.greater)
    def __ge__(self, o: Any) -> "NDArray": return self._compare(o, np.greater_equal)

    __hash__ = object.__hash__

    # ---- pickling and printing --------------------------------------------------------------
    def __getstate__(self) -> dict:
        return {"data": self._data}

    def __setstate__(self, state: dict) -> None:
        self._data = state["data"]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.shape)
        return f"\n{self._data}\n<NDArray {shape} @{self.context}>"

    def __str__(self) -> str:
        return self.__repr__()


def _as_nd(x: Any) -> NDArray:
    arr = np.asarray(x)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return NDArray(np.ascontiguousarray(arr))


def _buffer(x: Any) -> np.ndarray:
    """The numpy array behind ``x`` (an NDArray or a numpy array), without copying."""
    if isinstance(x, NDArray):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"expected an mx.nd.NDArray or numpy.ndarray, got {type(x).__name__}")


_MXNET_DTYPES = ("float16", "float32", "float64", "uint8", "int8", "int32", "int64", "bool")


def _dtype(dtype: Any, fn: str) -> np.dtype:
    """``dtype`` (None: float32) as a numpy dtype that MXNet 1.9.1 supports, else TypeError."""
    if dtype is None:
        return np.dtype(_DEFAULT_DTYPE)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{fn}: dtype {dtype!r} is not a data type") from exc
    if dt.name not in _MXNET_DTYPES:
        raise TypeError(f"{fn}: dtype {dt.name} is not supported (MXNet's dtypes: "
                        f"{', '.join(_MXNET_DTYPES)})")
    return dt


def array(source_array: Any, ctx: Optional[Context] = None, dtype: Any = None) -> NDArray:
    """A new NDArray holding a copy of ``source_array`` (dtype float32 unless given or
    the source is an NDArray)."""
    if getattr(source_array, "stype", "default") in ("row_sparse", "csr") or \
            type(source_array).__module__.startswith("scipy.sparse"):
        from .sparse import array as sparse_array
        return sparse_array(source_array, ctx=ctx, dtype=dtype)
    if isinstance(source_array, NDArray):
        dtype = source_array.dtype if dtype is None else dtype
        source_array = source_array._data
    elif dtype is None:
        dtype = _DEFAULT_DTYPE
    if dtype is not None and not (isinstance(source_array, np.ndarray)
                                  and np.dtype(source_array.dtype) == dtype):
        dtype = _dtype(dtype, "array")
    arr = np.array(source_array, dtype=dtype, order="C", copy=True)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return NDArray(arr)


def empty(shape: ShapeLike, ctx: Optional[Context] = None, dtype: Any = None,
          stype: Optional[str] = None) -> Any:
    if stype is not None and stype != "default":
        from .sparse import empty as sparse_empty
        return sparse_empty(stype, shape, ctx=ctx, dtype=dtype)
    return NDArray(np.empty(_shape(shape), dtype=_dtype(dtype, "empty")))


def zeros(shape: ShapeLike, ctx: Optional[Context] = None, dtype: Any = None,
          stype: Optional[str] = None, **kwargs: Any) -> Any:
    if stype is not None and stype != "default":
        from .sparse import zeros as sparse_zeros
        return sparse_zeros(stype, shape, ctx=ctx, dtype=dtype)
    return NDArray(np.zeros(_shape(shape), dtype=_dtype(dtype, "zeros")))


# Arrays of at least this size that a kernel streams together with another one are placed by
# zeros_apart (the padding, <= 4 KiB, is then at most 6%).
APART_MIN_BYTES = 1 << 16


def zeros_apart(shape: Tuple[int, ...], dtype: Any, address: int, offset: int) -> np.ndarray:
    """float zeros (numpy) starting ``offset`` bytes (rounded down to 64) after ``address``
    modulo 4096. An element-wise kernel loads one array a little ahead of storing another: when
    two start within about 128 bytes of each other modulo 4096 (but not at the same offset),
    each load waits for an unrelated earlier store to the same page offset ("4K aliasing"; a 1e5
    AdaGrad step 29.7 us -> 33-39 us here). Optimizer states start 2048 bytes from their weight
    and the Module's gradients 1024 bytes from theirs, so that none of the three collide."""
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw = np.zeros(nbytes + 4096, np.uint8)   # calloc: the padding costs no memory traffic
    want = ((address + offset) % 4096) & ~63
    start = (want - raw.ctypes.data) % 4096
    return raw[start:start + nbytes].view(dt).reshape(shape)


def ones(shape: ShapeLike, ctx: Optional[Context] = None, dtype: Any = None, **kwargs: Any) -> NDArray:
    return NDArray(np.ones(_shape(shape), dtype=_dtype(dtype, "ones")))


def full(shape: ShapeLike, val: float, ctx: Optional[Context] = None, dtype: Any = None,
         out: Optional[NDArray] = None) -> NDArray:
    if out is not None:
        out._data[...] = val
        return out
    return NDArray(np.full(_shape(shape), val, dtype=_dtype(dtype, "full")))


def arange(start: float, stop: Optional[float] = None, step: float = 1.0, repeat: int = 1,
           ctx: Optional[Context] = None, dtype: Any = None) -> NDArray:
    a = np.arange(start, stop, step, dtype=_dtype(dtype, "arange"))
    return NDArray(np.repeat(a, repeat) if repeat != 1 else a)


def concat(*arrays: NDArray, dim: int = 1) -> NDArray:
    return NDArray(np.concatenate([_buffer(a) for a in arrays], axis=dim))


def waitall() -> None:
    """No-op: mxopt computes eagerly."""
    return None


def clip(data: NDArray, a_min: float, a_max: float) -> NDArray:
    """``hi if x > hi; lo if x < lo; x otherwise`` with float32 bounds (MXNet's rule)."""
    x = _buffer(data)
    lo, hi = x.dtype.type(np.float32(a_min)), x.dtype.type(np.float32(a_max))
    out = np.where(x > hi, hi, np.where(x < lo, lo, x)).astype(x.dtype)
    return NDArray(out)
