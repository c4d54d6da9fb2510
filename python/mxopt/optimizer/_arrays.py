"""Array plumbing shared by the optimizers: the numpy buffers behind weights, gradients and
states (``mx.nd.NDArray``, ``mx.nd.sparse.RowSparseNDArray`` or ``numpy.ndarray``), state
creation in the weight's own kind, and row_sparse gradient handling.

Nothing here copies a dense weight or state: kernels update the caller's memory in place.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _core
from ..base import MXNetError
from ..ndarray import NDArray, RowSparseNDArray
from ..ndarray import zeros as _nd_zeros
from ..ndarray.ndarray import APART_MIN_BYTES, zeros_apart

FLOAT16 = np.dtype(np.float16)
FLOAT32 = np.dtype(np.float32)

# The value MXNet's fused kernels receive when clip_gradient is not forwarded (no clipping).
NO_CLIP = -1.0


def stype(x: Any) -> str:
    return getattr(x, "stype", "default")


def is_rsp(x: Any) -> bool:
    return stype(x) == "row_sparse"


def dtype(x: Any) -> np.dtype:
    return np.dtype(x.dtype)


class InputAssertionError(AssertionError, ValueError):
    """An input MXNet rejects with an ``assert`` (AssertionError there); also a ValueError, and
    raised explicitly, so it survives ``python -O``."""


def require(cond: bool, msg: str) -> None:
    """``assert cond, msg`` that is never stripped: raises InputAssertionError."""
    if not cond:
        raise InputAssertionError(msg)


class BiasCorrectionError(ZeroDivisionError, ValueError):
    """A zero bias correction ``1 - beta**t`` (beta == 1): MXNet raises ZeroDivisionError;
    this is also a ValueError with a message naming the parameter."""


def py(x: Any) -> Any:
    """A numpy scalar as the Python number it becomes under numpy 1 when it meets a Python
    number (float64 arithmetic); numpy 2 (NEP 50) would keep float32. Hyper-parameters given
    as numpy scalars go through this wherever Python arithmetic mixes them with Python numbers,
    so results do not depend on the numpy version (tests/numpy_trace)."""
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def mul(a: Any, b: Any) -> Any:
    """``a * b`` with numpy 1's scalar promotion under any numpy: a numpy scalar times a Python
    number in float64, two numpy scalars in their common dtype."""
    if isinstance(a, np.generic) != isinstance(b, np.generic):
        return py(a) * py(b)
    return a * b


def bias_div(num: float, coef: float, fn: str, beta_name: str, beta: Any, t: int) -> float:
    """``num / coef`` for a bias correction ``coef = 1 - beta**t``, with a clear error at 0."""
    if coef == 0:
        raise BiasCorrectionError(f"{fn}: the bias correction 1 - {beta_name}**t is 0 "
                                  f"({beta_name}={beta}, t={t}): float division by zero")
    return num / coef


class ParameterError(MXNetError, ValueError):
    """An operator hyper-parameter MXNet rejects (it raises MXNetError; this is also a
    ValueError)."""


def _param(convert: Any, value: Any, name: str, kind: str) -> float:
    try:
        return convert(value)
    except ValueError as err:
        msg = str(err)
        if msg.startswith("Invalid Parameter format"):
            raise ParameterError(f"Invalid Parameter format for {name} expect {kind} but "
                                 f"value='{value}'") from None
        raise ParameterError(f"{name}: {msg}") from None


def fp(value: Any, name: str) -> float:
    """A float32 operator hyper-parameter exactly as MXNet receives it: dmlc's parse of
    ``str(value)`` (not always the nearest float; invalid values raise ValueError)."""
    return _param(_core.mxnet_float, value, name, "float")


def sc(value: Any, name: str) -> float:
    """The double scalar of MXNet's NDArray-scalar arithmetic (``x * value``): dmlc's parse of
    ``str(value)``; kernels round it to the array dtype."""
    return _param(_core.mxnet_double, value, name, "double")


def kclip(value: Any, name: str = "clip_gradient") -> float:
    """What a fused MXNet kernel receives as clip_gradient: the value if truthy, else 'off'."""
    return fp(value, name) if value else NO_CLIP


def pclip(value: Any) -> Optional[float]:
    """The bound of MXNet's Python-side ``nd.clip`` (None: no clipping)."""
    return None if value is None else fp(value, "clip_gradient")


def f32(value: Any, name: str = "lrs") -> float:
    """A value MXNet reads from a float32 array or a float tuple (correctly rounded)."""
    if value is None or isinstance(value, (bool, str, bytes)):
        raise ParameterError(f"Invalid Parameter format for {name} expect float but "
                             f"value='{value}'")
    try:
        return float(np.float32(float(value)))
    except (TypeError, ValueError):
        raise ParameterError(f"Invalid Parameter format for {name} expect float but "
                             f"value='{value}'") from None


def full_rows(x: RowSparseNDArray, name: str) -> np.ndarray:
    """The dense buffer of a row_sparse weight/state that stores every row (MXNet requires
    that for row_sparse weights). A state with no stored rows is filled with zero rows first,
    as MXNet's kernels do."""
    rows = x.shape[0] if x.shape else 0
    idx = x._indices
    if idx.size == 0 and rows:
        x._data = np.zeros(x.shape, dtype=x._data.dtype)
        x._indices = np.arange(rows, dtype=np.int64)
    elif idx.size != rows or (rows and (idx[0] != 0 or idx[-1] != rows - 1)):
        # (row indices are sorted and unique: rows of them from 0 to rows - 1 are all rows)
        raise ValueError(f"{name}: a row_sparse {name} must store all {rows} rows "
                         f"(got {x._indices.size})")
    if not x._data.flags.c_contiguous:
        x._data = np.ascontiguousarray(x._data)
    return x._data


def buf(x: Any, name: str = "weight") -> np.ndarray:
    """The numpy buffer behind a dense weight/gradient/state, without copying."""
    if isinstance(x, NDArray):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, RowSparseNDArray):
        return full_rows(x, name)
    raise TypeError(f"{name} must be an mx.nd.NDArray or a numpy.ndarray, "
                    f"got {type(x).__name__}")


def check_rows(indices: np.ndarray, rows: int, name: str = "grad") -> None:
    """Row indices of a row_sparse array must be sorted, unique and in [0, rows) (one pass in
    C++; a ValueError naming ``name`` otherwise)."""
    _core.check_row_indices(indices, rows, name)


def rsp_parts(g: RowSparseNDArray, weight_shape: Tuple[int, ...]) -> Tuple[np.ndarray, np.ndarray]:
    """(data, int64 indices) of a row_sparse gradient, C-contiguous (indices are small)."""
    if tuple(g.shape) != tuple(weight_shape):
        raise ValueError(f"grad has shape {tuple(g.shape)} but weight has shape "
                         f"{tuple(weight_shape)}")
    data = g._data
    idx = g._indices
    if idx.dtype != np.int64 or not idx.flags.c_contiguous:
        idx = np.ascontiguousarray(idx, dtype=np.int64)
    return data, idx


def dense(g: Any, weight_shape: Tuple[int, ...], name: str = "grad") -> np.ndarray:
    """A dense buffer for a gradient: the buffer itself, or a densified row_sparse array
    (MXNet's storage fallback for kernels without a row_sparse form)."""
    if isinstance(g, RowSparseNDArray):
        data, idx = rsp_parts(g, weight_shape)
        check_rows(idx, weight_shape[0] if weight_shape else 0, name)
        out = np.zeros(weight_shape, dtype=data.dtype)
        if idx.size:
            out[idx] = data
        return out
    return buf(g, name)


def zeros_like(weight: Any, dtype: Any = None, stype: str = "default") -> Any:
    """A zero state shaped like ``weight``, of the weight's kind (numpy in, numpy out); a large
    dense one starts half a page from the weight (``ndarray.zeros_apart``)."""
    dt = np.dtype(dtype) if dtype is not None else np.dtype(weight.dtype)
    if stype == "default":
        src = weight._data if type(weight) is NDArray else weight  # not row_sparse ones
        if type(src) is np.ndarray and src.shape == tuple(weight.shape) \
                and src.dtype.itemsize == dt.itemsize and src.nbytes >= APART_MIN_BYTES:
            out = zeros_apart(src.shape, dt, src.ctypes.data, 2048)
            return out if isinstance(weight, np.ndarray) else NDArray(out)
    if isinstance(weight, np.ndarray):
        return np.zeros(weight.shape, dtype=dt)
    return _nd_zeros(weight.shape, dtype=dt, stype=None if stype == "default" else stype)


def astype(x: Any, dt: Any) -> Any:
    """A copy of ``x`` converted to ``dt`` (MXNet's ``astype``); dense float16 -> float32 with
    the library's (F16C) conversion, the same values as numpy's."""
    src = x._data if isinstance(x, NDArray) else x
    if (isinstance(src, np.ndarray) and src.dtype == np.float16 and np.dtype(dt) == np.float32
            and src.flags.c_contiguous and src.size >= 4096):
        out = np.empty(src.shape, np.float32)
        _core.cast_into(src, out)
        return out if isinstance(x, np.ndarray) else NDArray(out)
    return x.astype(dt)


def device_id(x: Any) -> int:
    ctx = getattr(x, "context", None)
    return int(getattr(ctx, "device_id", 0)) if ctx is not None else 0


def check_mp_pair(fn: str, weight: Any, master: Any) -> None:
    """Raise (before the master copy is updated) unless ``weight[...] = float16(master)`` can
    be written afterwards: a writeable C-contiguous float16 weight of the master's shape."""
    w, m = buf(weight, "weight"), buf(master, "weight32")
    if not w.flags.c_contiguous:
        raise ValueError(f"{fn}: weight must be C-contiguous (got a strided view of shape "
                         f"{w.shape})")
    if not w.flags.writeable:
        raise ValueError(f"{fn}: weight is read-only; it is updated in place")
    if w.shape != m.shape:
        raise ValueError(f"{fn}: weight32 has shape {m.shape} but weight has shape {w.shape}")
    if m.dtype != np.float32:
        raise TypeError(f"{fn}: weight32 has dtype {m.dtype} but must be float32")


def check_like(fn: str, weight: np.ndarray, **others: np.ndarray) -> None:
    """Raise (before anything is written) unless every array matches the weight's shape and
    dtype. For updates that also change Python-side state or draw random numbers."""
    for name, o in others.items():
        if o.shape != weight.shape:
            raise ValueError(f"{fn}: {name} has shape {o.shape} but weight has shape "
                             f"{weight.shape}")
        if o.dtype != weight.dtype:
            raise TypeError(f"{fn}: {name} has dtype {o.dtype} but weight has dtype "
                            f"{weight.dtype}")
