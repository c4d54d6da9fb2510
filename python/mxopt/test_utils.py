"""Testing helpers (``mx.test_utils``), as MXNet 1.9.1 has them: tolerant array comparison with
MXNet's per-dtype default tolerances, random dense / row_sparse / csr arrays drawn from numpy's
global generator (so a seeded run gives MXNet's arrays), random shapes, symbol checks, and a
file ``download`` that never leaves a partial file.

Like MXNet's module it has no ``__all__``: ``from mxopt.test_utils import *`` brings in every
public name, including the modules MXNet's version imports (``np``, ``os``, ...).

Example::

    >>> from mxopt.test_utils import assert_almost_equal, rand_ndarray
    >>> x = rand_ndarray((3, 4), stype='csr', density=0.5)
    >>> assert_almost_equal(x.asnumpy(), x.tostype('default'))
"""

# pylint: disable=invalid-name  (MXNet's public names: checkShapes, locationError)
from __future__ import annotations

import bz2  # noqa: F401  (MXNet's test_utils exports these modules)
import errno  # noqa: F401
import gzip
import json
import logging
import numbers
import os
import platform
import struct  # noqa: F401
import sys
import tempfile
import time  # noqa: F401
import traceback  # noqa: F401
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import numpy.random as rnd
import numpy.testing as npt

import mxopt as mx

from .base import MXNetError
from .context import Context, current_context
from .ndarray import NDArray, array
from .ndarray.sparse import BaseSparseNDArray, CSRNDArray

_default_ctx: Optional[Context] = None


def default_context() -> Context:
    """The context tests run on (``set_default_context`` changes it; cpu(0) by default)."""
    return _default_ctx if _default_ctx is not None else current_context()


def set_default_context(ctx: Context) -> None:
    """Make ``ctx`` the context ``default_context()`` returns."""
    global _default_ctx
    if not isinstance(ctx, Context):
        raise TypeError(f"set_default_context expects an mx.Context, got {type(ctx).__name__}")
    _default_ctx = ctx


def default_dtype() -> type:
    """The dtype of random test arrays: float32."""
    return np.float32


def default_rtols() -> Dict[np.dtype, float]:
    """MXNet's relative tolerance per dtype (0 for integers and bool)."""
    return {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-5,
            np.dtype(np.bool_): 0, np.dtype(np.int8): 0, np.dtype(np.uint8): 0,
            np.dtype(np.int32): 0, np.dtype(np.uint32): 0, np.dtype(np.int64): 0,
            np.dtype(np.uint64): 0}


def default_atols() -> Dict[np.dtype, float]:
    """MXNet's absolute tolerance per dtype (0 for integers and bool)."""
    return {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-20,
            np.dtype(np.bool_): 0, np.dtype(np.int8): 0, np.dtype(np.uint8): 0,
            np.dtype(np.int32): 0, np.dtype(np.uint32): 0, np.dtype(np.int64): 0,
            np.dtype(np.uint64): 0}


def default_numeric_eps() -> Dict[np.dtype, float]:
    """Finite-difference steps per float dtype (powers of two, as in MXNet)."""
    return {np.dtype(np.float16): 1.0 / 2**6, np.dtype(np.float32): 1.0 / 2**9,
            np.dtype(np.float64): 1.0 / 2**14}


def effective_dtype(dat: Any) -> np.dtype:
    """The dtype whose tolerance applies to ``dat`` (its own: mxopt has no TF32 GPUs)."""
    return np.dtype(dat.dtype)


def get_tolerance(dat: Any, tol: Any, default_tol: Dict[np.dtype, float]) -> float:
    """``tol`` if it is a number, else ``tol[dtype]`` or ``default_tol[dtype]`` for dat's dtype
    (KeyError for a dtype without a default, as in MXNet)."""
    if isinstance(tol, numbers.Number):
        return tol
    dtype = effective_dtype(dat)
    tol = {} if tol is None else tol
    return tol.get(dtype, default_tol[dtype])


def get_tols(x: Any, y: Any, rtol: Any, atol: Any) -> Tuple[float, float]:
    """(rtol, atol) for comparing x and y: the larger of the two arrays' defaults unless given."""
    if isinstance(x, numbers.Number):
        x = np.array(x)
    if isinstance(y, numbers.Number):
        y = np.array(y)
    rtol = max(get_tolerance(x, rtol, default_rtols()), get_tolerance(y, rtol, default_rtols()))
    atol = max(get_tolerance(x, atol, default_atols()), get_tolerance(y, atol, default_atols()))
    return rtol, atol


def get_atol(atol: Optional[float] = None, dtype: Any = np.dtype(np.float64)) -> float:
    """``atol``, or the default absolute tolerance of ``dtype`` (float64: 1e-20)."""
    return default_atols()[np.dtype(dtype)] if atol is None else atol


def get_rtol(rtol: Optional[float] = None, dtype: Any = np.dtype(np.float64)) -> float:
    """``rtol``, or the default relative tolerance of ``dtype`` (float64: 1e-5)."""
    return default_rtols()[np.dtype(dtype)] if rtol is None else rtol


def get_etol(etol: Optional[float] = None) -> float:
    """``etol`` (the tolerated fraction of mismatching elements), 0 by default."""
    return 0 if etol is None else etol


# ---- random data ---------------------------------------------------------------------------------
def random_arrays(*shapes: Sequence[int]) -> Any:
    """Standard normal float32 numpy arrays of the given shapes (one array if one shape)."""
    arrays = [np.array(np.random.randn(), dtype=default_dtype()) if len(s) == 0
              else np.random.randn(*s).astype(default_dtype()) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def random_uniform_arrays(*shapes: Sequence[int], **kwargs: Any) -> list:
    """Uniform arrays in [low, high) (keywords low=0, high=1, dtype=float32)."""
    low = kwargs.pop("low", 0.0)
    high = kwargs.pop("high", 1.0)
    dtype = kwargs.pop("dtype", default_dtype())
    if kwargs:
        raise TypeError("Got unexpected argument/s : " + str(kwargs.keys()))
    return [np.random.uniform(low, high, size=s).astype(dtype) for s in shapes]


def random_sample(population: list, k: int) -> list:
    """k elements of ``population`` in random order (numpy's global generator)."""
    assert 0 <= k <= len(population)
    population_copy = population[:]
    np.random.shuffle(population_copy)
    return population_copy[0:k]


def _sorted_items(d: dict) -> list:
    return sorted(d.items(), key=lambda t: t[0])


def _sorted_dict(d: dict) -> "OrderedDict[Any, Any]":
    return OrderedDict(_sorted_items(d))


def _validate_csr_generation_inputs(num_rows: int, num_cols: int, density: float,
                                    distribution: str = "uniform") -> None:
    total_nnz = int(num_rows * num_cols * density)
    if density < 0 or density > 1:
        raise ValueError("density has to be between 0 and 1")
    if num_rows <= 0 or num_cols <= 0:
        raise ValueError("num_rows or num_cols should be greater than 0")
    if distribution == "powerlaw" and total_nnz < 2 * num_rows:
        raise ValueError("not supported for this density: %s for this shape (%s, %s): the "
                         "powerlaw distribution needs num_rows * num_cols * density >= "
                         "2 * num_rows" % (density, num_rows, num_cols))


def shuffle_csr_column_indices(csr: Any) -> None:
    """Shuffle the column indices within each row of a scipy CSR matrix, in place."""
    for i in range(len(csr.indptr) - 1):
        lo, hi = csr.indptr[i], csr.indptr[i + 1]
        sub = np.array(csr.indices[lo:hi])
        np.random.shuffle(sub)
        csr.indices[lo:hi] = sub


def _get_uniform_dataset_csr(num_rows: int, num_cols: int, density: float = 0.1,
                             dtype: Any = None, data_init: Any = None,
                             shuffle_csr_indices: bool = False) -> CSRNDArray:
    """A random CSR array with about ``density`` non-zeros placed uniformly (scipy.sparse.rand
    when scipy is installed, so seeded draws are MXNet's)."""
    _validate_csr_generation_inputs(num_rows, num_cols, density, distribution="uniform")
    try:
        from scipy import sparse as spsp
    except ImportError:
        assert data_init is None, "data_init option is not supported when scipy is absent"
        assert not shuffle_csr_indices, \
            "shuffle_csr_indices option is not supported when scipy is absent"
        dns = mx.random.uniform(shape=(num_rows, num_cols), dtype=dtype)
        masked = dns.asnumpy() * (dns.asnumpy() < density)
        return mx.nd.array(masked, dtype=masked.dtype).tostype("csr")
    csr = spsp.rand(num_rows, num_cols, density, dtype=dtype, format="csr")
    if data_init is not None:
        csr.data.fill(data_init)
    if shuffle_csr_indices is True:
        shuffle_csr_column_indices(csr)
        # unsorted column indices: allowed here on purpose (operators must cope), so the
        # validating constructor is bypassed; check_format() reports them, as in MXNet
        return CSRNDArray(np.asarray(csr.data, dtype=dtype), csr.indices.astype(np.int64),
                          csr.indptr.astype(np.int64), (num_rows, num_cols))
    return mx.nd.sparse.csr_matrix((csr.data, csr.indices, csr.indptr),
                                   shape=(num_rows, num_cols), dtype=dtype)


def _get_powerlaw_dataset_csr(num_rows: int, num_cols: int, density: float = 0.1,
                              dtype: Any = None) -> CSRNDArray:
    """A CSR array whose row i holds about 2^i non-zeros (every row at least one)."""
    _validate_csr_generation_inputs(num_rows, num_cols, density, distribution="powerlaw")
    total_nnz = int(num_rows * num_cols * density)
    unused = total_nnz
    out = np.zeros((num_rows, num_cols), dtype=dtype)
    for row in range(num_rows):
        out[row][0] = 1 + rnd.uniform(0.001, 2)
        unused -= 1
        if unused <= 0:
            return mx.nd.array(out).tostype("csr")
    col_max = 2
    for row in range(num_rows):
        col_limit = min(num_cols, col_max)
        if col_limit == num_cols and unused > col_limit:
            out[row] = 1 + rnd.uniform(0.001, 2)
            unused = unused - col_limit + 1
            if unused <= 0:
                return mx.nd.array(out).tostype("csr")
            continue
        for col in range(1, col_limit):
            out[row][col] = 1 + rnd.uniform(0.001, 2)
            unused -= 1
            if unused <= 0:
                return mx.nd.array(out).tostype("csr")
        col_max *= 2
    if unused > 0:
        raise ValueError("not supported for this density: %s for this shape (%s,%s)"
                         % (density, num_rows, num_cols))
    return mx.nd.array(out).tostype("csr")


def assign_each(the_input: np.ndarray, function: Optional[Callable[[Any], Any]]) -> np.ndarray:
    """``function`` applied to every element (float64 result; a copy if function is None)."""
    if function is None:
        return np.array(the_input)
    return np.vectorize(function, otypes=[np.float64])(the_input).reshape(the_input.shape)


def assign_each2(input1: np.ndarray, input2: np.ndarray,
                 function: Optional[Callable[[Any, Any], Any]]) -> np.ndarray:
    """``function(a, b)`` over pairs of elements (float64; a copy of input1 if None)."""
    if function is None:
        return np.array(input1)
    assert input1.shape == input2.shape
    return np.vectorize(function, otypes=[np.float64])(input1, input2).reshape(input1.shape)


def rand_sparse_ndarray(shape: Sequence[int], stype: str, density: Optional[float] = None,
                        dtype: Any = None, distribution: Optional[str] = None,
                        data_init: Any = None, rsp_indices: Any = None,
                        modifier_func: Any = None, shuffle_csr_indices: bool = False,
                        ctx: Any = None) -> Tuple[Any, tuple]:
    """A random sparse array and its parts.

    ``stype='row_sparse'``: each row is kept with probability ``density`` (or the rows
    ``rsp_indices``); returns (array, (values, indices)). ``stype='csr'`` (2-D): 'uniform' or
    'powerlaw' distribution; returns (array, (indptr, indices, data)). ``density`` defaults to
    a uniform draw, dtype to float32. Draws come from numpy's global generator, in MXNet's
    order.
    """
    ctx = ctx if ctx else default_context()
    density = rnd.rand() if density is None else density
    dtype = default_dtype() if dtype is None else dtype
    distribution = "uniform" if distribution is None else distribution
    if stype == "row_sparse":
        assert distribution == "uniform", \
            "Distribution %s not supported for row_sparse" % distribution
        if rsp_indices is not None:
            indices = rsp_indices
            assert len(indices) <= shape[0]
        else:
            idx_sample = rnd.rand(shape[0])
            indices = np.argwhere(idx_sample < density).flatten()
        if indices.shape[0] == 0:
            result = mx.nd.zeros(shape, stype="row_sparse", dtype=dtype, ctx=ctx)
            return result, (np.array([], dtype=dtype), np.array([]))
        val = rnd.rand(indices.shape[0], *shape[1:]).astype(dtype)
        if data_init is not None:
            val.fill(data_init)
        if modifier_func is not None:
            val = assign_each(val, modifier_func)
        arr = mx.nd.sparse.row_sparse_array((val, indices), shape=shape, dtype=dtype, ctx=ctx)
        return arr, (val, indices)
    if stype == "csr":
        assert len(shape) == 2
        if distribution == "uniform":
            csr = _get_uniform_dataset_csr(shape[0], shape[1], density, data_init=data_init,
                                           shuffle_csr_indices=shuffle_csr_indices, dtype=dtype)
        elif distribution == "powerlaw":
            csr = _get_powerlaw_dataset_csr(shape[0], shape[1], density=density, dtype=dtype)
        else:
            raise AssertionError("Distribution not supported: %s" % distribution)
        csr = csr.as_in_context(ctx)
        return csr, (csr.indptr, csr.indices, csr.data)
    raise AssertionError("unknown storage type")


def rand_ndarray(shape: Sequence[int], stype: str = "default", density: Optional[float] = None,
                 dtype: Any = None, modifier_func: Any = None, shuffle_csr_indices: bool = False,
                 distribution: Optional[str] = None, ctx: Any = None) -> Any:
    """A random array of storage type ``stype``: 'default' (standard normal, cast to dtype),
    'row_sparse' or 'csr' (see ``rand_sparse_ndarray``).

    Example::

        >>> np.random.seed(0)
        >>> rand_ndarray((2, 3)).shape
        (2, 3)
    """
    ctx = ctx if ctx else default_context()
    if stype == "default":
        return mx.nd.array(random_arrays(shape), dtype=dtype, ctx=ctx)
    arr, _ = rand_sparse_ndarray(shape, stype, density=density, modifier_func=modifier_func,
                                 dtype=dtype, shuffle_csr_indices=shuffle_csr_indices,
                                 distribution=distribution, ctx=ctx)
    return arr


def create_sparse_array(shape: Sequence[int], stype: str, data_init: Any = None,
                        rsp_indices: Any = None, dtype: Any = None, modifier_func: Any = None,
                        density: float = .5, shuffle_csr_indices: bool = False) -> Any:
    """A random sparse array (row_sparse indices sorted when given)."""
    if stype == "row_sparse":
        arr_indices = None
        if rsp_indices is not None:
            arr_indices = np.asarray(rsp_indices)
            arr_indices.sort()
        arr, _ = rand_sparse_ndarray(shape, stype, density=density, data_init=data_init,
                                     rsp_indices=arr_indices, dtype=dtype,
                                     modifier_func=modifier_func)
        return arr
    if stype == "csr":
        arr, _ = rand_sparse_ndarray(shape, stype, density=density, data_init=data_init,
                                     dtype=dtype, modifier_func=modifier_func,
                                     shuffle_csr_indices=shuffle_csr_indices)
        return arr
    raise AssertionError("Unknown storage type: " + stype)


def create_sparse_array_zd(shape: Sequence[int], stype: str, density: float, data_init: Any = None,
                           rsp_indices: Any = None, dtype: Any = None, modifier_func: Any = None,
                           shuffle_csr_indices: bool = False) -> Any:
    """``create_sparse_array`` where a row_sparse array's rows are exactly ``rsp_indices``."""
    if stype == "row_sparse":
        density = 0.0
        if rsp_indices is not None:
            assert len(rsp_indices) <= shape[0]
    return create_sparse_array(shape, stype, data_init=data_init, rsp_indices=rsp_indices,
                               dtype=dtype, modifier_func=modifier_func, density=density,
                               shuffle_csr_indices=shuffle_csr_indices)


def rand_shape_2d(dim0: int = 10, dim1: int = 10, allow_zero_size: bool = False) -> Tuple[int, int]:
    """A random 2-D shape with dimensions in [1, dim] ([0, dim] with allow_zero_size)."""
    low = 0 if allow_zero_size else 1
    return rnd.randint(low, dim0 + 1), rnd.randint(low, dim1 + 1)


def rand_shape_3d(dim0: int = 10, dim1: int = 10, dim2: int = 10,
                  allow_zero_size: bool = False) -> Tuple[int, int, int]:
    """A random 3-D shape (see rand_shape_2d)."""
    low = 0 if allow_zero_size else 1
    return rnd.randint(low, dim0 + 1), rnd.randint(low, dim1 + 1), rnd.randint(low, dim2 + 1)


def rand_shape_nd(num_dim: int, dim: int = 10, allow_zero_size: bool = False) -> Tuple[int, ...]:
    """A random shape of ``num_dim`` dimensions in [1, dim] ([0, dim] with allow_zero_size)."""
    low = 0 if allow_zero_size else 1
    return tuple(rnd.randint(low, dim + 1, size=num_dim))


def rand_coord_2d(x_low: int, x_high: int, y_low: int, y_high: int) -> Tuple[Any, Any]:
    """A random (x, y) with x in [x_low, x_high), y in [y_low, y_high) (int64)."""
    x = np.random.randint(x_low, x_high, dtype=np.int64)
    y = np.random.randint(y_low, y_high, dtype=np.int64)
    return x, y


def np_reduce(dat: np.ndarray, axis: Any, keepdims: bool,
              numpy_reduce_func: Callable[..., np.ndarray]) -> np.ndarray:
    """Reduce over one or several axes with a numpy function of one axis."""
    if isinstance(axis, int):
        axis = [axis]
    else:
        axis = list(axis) if axis is not None else range(len(dat.shape))
    ret = dat
    for i in reversed(sorted(axis)):
        ret = numpy_reduce_func(ret, axis=i)
    if keepdims:
        keep = list(dat.shape)
        for i in axis:
            keep[i] = 1
        ret = ret.reshape(tuple(keep))
    return ret


# ---- comparisons ---------------------------------------------------------------------------------
def _find_max_violation(a: np.ndarray, b: np.ndarray, rtol: float,
                        atol: float) -> Tuple[tuple, Any]:
    """Index and size of the largest |a - b| / (atol + rtol |b|) (equal infinities count as 0)."""
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.where(np.equal(a, b), 0, np.abs(a - b))
        tol = atol + rtol * np.abs(b)
        violation = absdiff / (tol + 1e-20)
    loc = np.argmax(violation)
    idx = np.unravel_index(loc, violation.shape)
    return idx, np.max(violation)


def same(a: Any, b: Any) -> bool:
    """True if the two arrays are equal element by element (and in shape)."""
    return np.array_equal(a, b)


def checkShapes(a: Any, b: Any) -> None:
    """AssertionError if a and b differ in shape."""
    if a.shape != b.shape:
        msg = npt.build_err_msg([a, b], err_msg="a.shape = {} and b.shape = {} are not equal"
                                .format(str(a.shape), str(b.shape)))
        raise AssertionError(msg)


def almost_equal(a: Any, b: Any, rtol: Optional[float] = None, atol: Optional[float] = None,
                 equal_nan: bool = False, use_broadcast: bool = True) -> bool:
    """``np.allclose`` with the float64 defaults (rtol 1e-5, atol 1e-20) unless given."""
    if not use_broadcast:
        checkShapes(a, b)
    return bool(np.allclose(a, b, rtol=get_rtol(rtol), atol=get_atol(atol), equal_nan=equal_nan))


def locationError(a: np.ndarray, b: np.ndarray, index: tuple, names: Sequence[str],
                  maxError: bool = False) -> str:
    """A line naming an index and the two values there."""
    maximum = "maximum " if maxError else ""
    return "Location of %serror: %s, %s=%.8f, %s=%.8f" % (maximum, str(index), names[0],
                                                          a[index], names[1], b[index])


def _as_numpy(x: Any) -> Any:
    if isinstance(x, (NDArray, BaseSparseNDArray)):
        return x.asnumpy()
    return x


def _allclose_like_mxnet(a: Any, b: Any, rtol: float, atol: float, equal_nan: bool) -> bool:
    """MXNet's ``contrib.allclose`` operator on two arrays of one dtype: the same shape is
    required (no broadcasting) and the test runs element-wise in the arrays' own precision:
    a == b or |a - b| <= atol + rtol * |b|; NaN equals NaN only with equal_nan."""
    x, y = a.asnumpy(), b.asnumpy()
    if x.shape != y.shape:
        raise MXNetError(f"allclose: shapes {x.shape} and {y.shape} differ (the operator does not "
                         "broadcast)")
    dt = x.dtype
    if dt.kind == "b":  # MXNet's operator has no bool kernel
        raise MXNetError("allclose: bool arrays are not supported (compare them as numpy arrays)")
    if dt == np.float16:  # half_t: differences rounded to float16, tolerance in float32
        xf, yf = x.astype(np.float32), y.astype(np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.where(x > y, xf - yf, yf - xf).astype(np.float16).astype(np.float32)
        tol = np.float32(atol) + np.float32(rtol) * np.abs(yf)
    elif dt.kind == "f":
        ft = np.float32 if dt == np.float32 else np.float64
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.where(x > y, x - y, y - x)
        tol = ft(np.float32(atol)) + ft(np.float32(rtol)) * np.abs(y)
    else:  # integers: the difference is compared as a float
        xi, yi = x.astype(np.int64), y.astype(np.int64)
        diff = np.where(xi > yi, xi - yi, yi - xi).astype(np.float32)
        tol = np.float32(atol) + np.float32(rtol) * np.abs(y.astype(np.float32))
    with np.errstate(invalid="ignore", over="ignore"):
        close = (x == y) | (diff <= tol)
        if dt.kind == "f":
            xn, yn = np.isnan(x), np.isnan(y)
            either = xn | yn
            close = np.where(either, equal_nan & (xn == yn), close)
    return bool(np.all(close))


def assert_almost_equal(a: Any, b: Any, rtol: Any = None, atol: Any = None,
                        names: Sequence[str] = ("a", "b"), equal_nan: bool = False,
                        use_broadcast: bool = True, mismatches: Tuple[int, int] = (10, 10)) -> None:
    """Raise AssertionError unless a and b are equal within tolerance.

    a, b: numpy arrays, NDArrays (dense or sparse) or numbers. rtol / atol: numbers, dicts
    dtype -> number, or None for MXNet's defaults per dtype (the larger of a's and b's: float16
    1e-2 / 1e-1, float32 1e-4 / 1e-3, float64 1e-5 / 1e-20, integers 0). Two NDArrays of one
    dtype are compared in that dtype without broadcasting (MXNet's allclose operator); anything
    else with ``np.allclose``. On failure the largest violations (up to ``mismatches[0]``) are
    printed and the message names the worst element.

    Example::

        >>> assert_almost_equal(np.array([1.0, 2.0]), np.array([1.0, 2.00001]))
    """
    if not use_broadcast:
        checkShapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    use_np = isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    if not use_np:
        if not (hasattr(a, "context") and hasattr(b, "context") and a.context == b.context
                and a.dtype == b.dtype):
            use_np = True
            a, b = _as_numpy(a), _as_numpy(b)
    if use_np:
        if getattr(a, "dtype", None) == np.bool_ and getattr(b, "dtype", None) == np.bool_:
            np.testing.assert_equal(a, b)
            return
        if almost_equal(a, b, rtol, atol, equal_nan=equal_nan):
            return
    else:
        if _allclose_like_mxnet(a, b, rtol, atol, equal_nan):
            return
        a, b = a.asnumpy(), b.asnumpy()
    a, b = np.asarray(a), np.asarray(b)
    index, rel = _find_max_violation(a, b, rtol, atol)
    if index != ():
        first_index, first_rel = index, rel
        print("\n*** Largest violations among %d elements (rtol=%s, atol=%s):\n"
              % (a.size, rtol, atol))
        a_left, b_left = a.copy(), b.copy()
        i = 1
        while i <= a.size:
            if i <= mismatches[0]:
                print("%3d: violation %f  %s" % (i, rel, locationError(a, b, index, names)))
            a_left[index] = b_left[index] = 0
            if almost_equal(a_left, b_left, rtol, atol, equal_nan=equal_nan):
                break
            i += 1
            if i <= mismatches[1] or mismatches[1] <= 0:
                index, rel = _find_max_violation(a_left, b_left, rtol, atol)
            else:
                break
        degree = "at least " if mismatches[1] > 0 and i > mismatches[1] else ""
        err_msg = ("Error %f exceeds tolerance rtol=%e, atol=%e (mismatch %s%f%%).\n%s"
                   % (first_rel, rtol, atol, degree, 100 * i / a.size,
                      locationError(a, b, first_index, names, maxError=True)))
    else:
        err_msg = "Error %f exceeds tolerance rtol=%e, atol=%e.\n" % (rel, rtol, atol)
    np.set_printoptions(threshold=4, suppress=True)
    raise AssertionError(npt.build_err_msg([a, b], err_msg=err_msg))


def assert_allclose(a: Any, b: Any, rtol: float = 1e-07, atol: float = 0,
                    equal_nan: bool = True) -> None:
    """``assert_almost_equal`` with numpy's assert_allclose defaults."""
    assert_almost_equal(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def assert_almost_equal_with_err(a: Any, b: Any, rtol: Any = None, atol: Any = None,
                                 etol: Optional[float] = None, names: Sequence[str] = ("a", "b"),
                                 equal_nan: bool = False,
                                 mismatches: Tuple[int, int] = (10, 10)) -> None:
    """Like assert_almost_equal, but a fraction ``etol`` of mismatching elements is tolerated."""
    etol = get_etol(etol)
    if etol <= 0:
        assert_almost_equal(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        return
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = np.asarray(_as_numpy(a)), np.asarray(_as_numpy(b))
    equals = np.isclose(a, b, rtol=rtol, atol=atol)
    err = 1 - np.count_nonzero(equals) / equals.size
    if err > etol:
        index, rel = _find_max_violation(a, b, rtol, atol)
        err_msg = ("Error %f exceeds tolerance rtol=%e, atol=%e, etol=%e (mismatch %f%%).\n%s"
                   % (rel, rtol, atol, etol, 100 * err,
                      locationError(a, b, index, names, maxError=True)))
        np.set_printoptions(threshold=4, suppress=True)
        raise AssertionError(npt.build_err_msg([a, b], err_msg=err_msg))


def assert_almost_equal_ignore_nan(a: Any, b: Any, rtol: Any = None, atol: Any = None,
                                   names: Sequence[str] = ("a", "b")) -> None:
    """assert_almost_equal where positions holding NaN in either array are ignored."""
    a = np.copy(_as_numpy(a))
    b = np.copy(_as_numpy(b))
    nan_mask = np.logical_or(np.isnan(a), np.isnan(b))
    a[nan_mask] = 0
    b[nan_mask] = 0
    assert_almost_equal(a, b, rtol, atol, names)


def assert_exception(f: Callable[..., Any], exception_type: type, *args: Any,
                     **kwargs: Any) -> None:
    """AssertionError unless ``f(*args, **kwargs)`` raises ``exception_type``."""
    try:
        f(*args, **kwargs)
    except exception_type:
        return
    raise AssertionError(f"{getattr(f, '__name__', f)} did not raise {exception_type.__name__}")


def retry(n: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: run a stochastic test up to n times; only the last AssertionError escapes."""
    assert n > 0

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> None:
            for i in range(n):
                try:
                    f(*args, **kwargs)
                    return
                except AssertionError:
                    if i == n - 1:
                        raise
                    mx.nd.waitall()
        wrapper.__name__ = getattr(f, "__name__", "wrapper")
        wrapper.__doc__ = f.__doc__
        return wrapper
    return decorate


def compare_ndarray_tuple(t1: Any, t2: Any, rtol: Any = None, atol: Any = None) -> None:
    """assert_almost_equal over (nested tuples of) arrays; None on either side is skipped."""
    if t1 is None or t2 is None:
        return
    if isinstance(t1, tuple):
        for s1, s2 in zip(t1, t2):
            compare_ndarray_tuple(s1, s2, rtol, atol)
    else:
        assert_almost_equal(t1, t2, rtol=rtol, atol=atol)


def same_array(array1: NDArray, array2: NDArray) -> bool:
    """True if the two NDArrays share memory (a write to one shows in the other)."""
    array1[:] += 1
    if not same(array1.asnumpy(), array2.asnumpy()):
        array1[:] -= 1
        return False
    array1[:] -= 1
    return same(array1.asnumpy(), array2.asnumpy())


def same_symbol_structure(sym1: Any, sym2: Any) -> bool:
    """True if the two symbols' graphs have the same operator at every node."""
    nodes = json.loads(sym1.tojson())["nodes"]
    nodes2 = json.loads(sym2.tojson())["nodes"]
    return all(n1["op"] == n2["op"] for n1, n2 in zip(nodes, nodes2))


def collapse_sum_like(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Sum ``a`` over the axes it was broadcast along from ``shape``."""
    assert len(a.shape) >= len(shape)
    if np.prod(shape) == 0 or a.size == 0:
        return np.zeros(shape, dtype=a.dtype)
    ndim_diff = len(a.shape) - len(shape)
    axes = list(range(ndim_diff))
    for i, s in enumerate(shape):
        if s != a.shape[i + ndim_diff]:
            assert s == 1
            axes.append(i + ndim_diff)
    return np.sum(a, axis=tuple(axes)).reshape(shape)


def list_gpus() -> range:
    """The GPU ids (none: mxopt runs on the CPU)."""
    return range(mx.context.num_gpus())


def is_cd_run() -> bool:
    """True in a Continuous Delivery run (CD_JOB=1)."""
    return os.environ.get("CD_JOB", 0) == "1"


def is_aarch64_run() -> bool:
    """True on an aarch64 machine."""
    return platform.machine() == "aarch64"


@contextmanager
def environment(*args: Any) -> Any:
    """Set environment variables for the body of a ``with`` block, then restore them.

    ``environment('NAME', 'value')`` or ``environment({'A': '1', 'B': None})`` (None unsets).
    """
    if len(args) == 1 and isinstance(args[0], dict):
        env_vars = args[0]
    else:
        assert len(args) == 2, "Expecting one dict arg or two args: env var name and value"
        env_vars = {args[0]: args[1]}
    snapshot = {k: os.environ.get(k) for k in env_vars}

    def apply(d: Dict[str, Optional[str]]) -> None:
        for k, v in d.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    apply(env_vars)
    try:
        yield
    finally:
        apply(snapshot)


@contextmanager
def discard_stderr() -> Any:
    """Send everything written to file descriptor 2 to /dev/null inside the block."""
    with open(os.devnull, "w") as bit_bucket:
        try:
            stderr_fileno = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):  # no real descriptor (e.g. captured)
            yield
            return
        old_stderr = os.dup(stderr_fileno)
        try:
            os.dup2(bit_bucket.fileno(), stderr_fileno)
            yield
        finally:
            os.dup2(old_stderr, stderr_fileno)
            os.close(old_stderr)


class DummyIter(mx.io.DataIter):
    """Return the first batch of ``real_iter`` forever (for speed tests without I/O)."""

    def __init__(self, real_iter: Any) -> None:
        super().__init__()
        self.real_iter = real_iter
        self.provide_data = real_iter.provide_data
        self.provide_label = real_iter.provide_label
        self.batch_size = real_iter.batch_size
        self.the_batch = next(real_iter)

    def __iter__(self) -> "DummyIter":
        return self

    def next(self) -> Any:
        """The first batch again (never StopIteration)."""
        return self.the_batch


# ---- symbols -------------------------------------------------------------------------------------
def simple_forward(sym: Any, ctx: Any = None, is_train: bool = False, **inputs: Any) -> Any:
    """Outputs (numpy; one array if single) of ``sym`` bound to the given numpy inputs."""
    ctx = ctx or default_context()
    inputs = {k: array(v) for k, v in inputs.items()}
    exe = sym.bind(ctx, args=inputs)
    exe.forward(is_train=is_train)
    outputs = [x.asnumpy() for x in exe.outputs]
    return outputs[0] if len(outputs) == 1 else outputs


def _parse_location(sym: Any, location: Any, ctx: Any, dtype: Any = default_dtype()) -> Any:
    """Argument name -> NDArray from a list (in list_arguments order) or a dict of arrays."""
    assert isinstance(location, (dict, list, tuple))
    assert dtype == "asnumpy" or dtype in (np.float16, np.float32, np.float64)
    if isinstance(location, dict):
        if set(location.keys()) != set(sym.list_arguments()):
            raise ValueError("Symbol arguments and keys of the given location do not match."
                             "symbol args:%s, location.keys():%s"
                             % (str(set(sym.list_arguments())), str(set(location.keys()))))
    else:
        location = {k: v for k, v in zip(sym.list_arguments(), location)}
    location = {k: mx.nd.array(v, ctx=ctx, dtype=v.dtype if dtype == "asnumpy" else dtype)
                if isinstance(v, np.ndarray) else v for k, v in location.items()}
    return _sorted_dict(location)


def _parse_aux_states(sym: Any, aux_states: Any, ctx: Any, dtype: Any = default_dtype()) -> Any:
    """Auxiliary state name -> NDArray (None stays None)."""
    assert dtype == "asnumpy" or dtype in (np.float16, np.float32, np.float64)
    if aux_states is not None:
        if isinstance(aux_states, dict):
            if set(aux_states.keys()) != set(sym.list_auxiliary_states()):
                raise ValueError("Symbol aux_states names and given aux_states do not match."
                                 "symbol aux_names:%s, aux_states.keys:%s"
                                 % (str(set(sym.list_auxiliary_states())),
                                    str(set(aux_states.keys()))))
        elif isinstance(aux_states, (list, tuple)):
            aux_states = {k: v for k, v in zip(sym.list_auxiliary_states(), aux_states)}
        aux_states = {k: mx.nd.array(v, ctx=ctx, dtype=v.dtype if dtype == "asnumpy" else dtype)
                      for k, v in aux_states.items()}
    return aux_states


def numeric_grad(executor: Any, location: Dict[str, np.ndarray], aux_states: Any = None,
                 eps: float = 1e-4, use_forward_train: bool = True,
                 dtype: Any = default_dtype()) -> Dict[str, np.ndarray]:
    """Central finite differences of sum(output 0) with respect to every float argument."""
    assert dtype in (np.float16, np.float32, np.float64)
    approx = {k: np.zeros(v.shape, dtype=dtype) for k, v in location.items()}
    for k, v in location.items():
        executor.arg_dict[k][:] = mx.nd.array(v, dtype=dtype)
    for k in location:
        location[k] = np.asarray(location[k], order="C")
    for k, v in location.items():
        if v.dtype.kind != "f":
            continue
        old = v.copy()
        for i in range(int(np.prod(v.shape))):
            v.ravel()[i] += eps / 2.0
            executor.arg_dict[k][:] = mx.nd.array(v, dtype=dtype)
            if aux_states is not None:
                for key, val in aux_states.items():
                    executor.aux_dict[key][:] = val
            executor.forward(is_train=use_forward_train)
            f_peps = executor.outputs[0].asnumpy()
            v.ravel()[i] -= eps
            executor.arg_dict[k][:] = mx.nd.array(v, dtype=dtype)
            if aux_states is not None:
                for key, val in aux_states.items():
                    executor.aux_dict[key][:] = val
            executor.forward(is_train=use_forward_train)
            f_neps = executor.outputs[0].asnumpy()
            approx[k].ravel()[i] = (f_peps - f_neps).sum() / eps
            v.ravel()[i] = old.ravel()[i]
        executor.arg_dict[k][:] = mx.nd.array(old, dtype=dtype)
    return approx


def check_symbolic_forward(sym: Any, location: Any, expected: Any, rtol: Any = None,
                           atol: Any = None, aux_states: Any = None, ctx: Any = None,
                           equal_nan: bool = False, dtype: Any = default_dtype()) -> Any:
    """Bind ``sym`` at ``location``, run forward and assert_almost_equal every output to
    ``expected`` (a list in output order or a dict name -> array); returns the outputs."""
    assert dtype == "asnumpy" or dtype in (np.float16, np.float32, np.float64)
    ctx = default_context() if ctx is None else ctx
    location = _parse_location(sym=sym, location=location, ctx=ctx, dtype=dtype)
    aux_states = _parse_aux_states(sym=sym, aux_states=aux_states, ctx=ctx, dtype=dtype)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    args_grad = {k: mx.nd.zeros(v.shape, ctx=ctx, dtype=v.dtype if dtype == "asnumpy" else dtype)
                 for k, v in location.items()}
    executor = sym.bind(ctx=ctx, args=location, args_grad=args_grad, aux_states=aux_states)
    executor.forward(is_train=False)
    for name, expect, output in zip(sym.list_outputs(), expected, executor.outputs):
        assert_almost_equal(expect, output, rtol, atol, ("EXPECTED_%s" % name, "FORWARD_%s" % name),
                            equal_nan=equal_nan)
    return executor.outputs


def check_symbolic_backward(sym: Any, location: Any, out_grads: Any, expected: Any,
                            rtol: Any = None, atol: Any = None, aux_states: Any = None,
                            grad_req: Any = "write", ctx: Any = None, grad_stypes: Any = None,
                            equal_nan: bool = False, dtype: Any = default_dtype()) -> Any:
    """Bind ``sym`` at ``location``, run forward and backward with ``out_grads`` and compare the
    gradients to ``expected`` (list in argument order or dict); grad_req 'write', 'add' (the
    gradient buffers start from random values) or 'null'. Returns the gradient arrays."""
    assert dtype == "asnumpy" or dtype in (np.float16, np.float32, np.float64)
    ctx = default_context() if ctx is None else ctx
    location = _parse_location(sym=sym, location=location, ctx=ctx, dtype=dtype)
    aux_states = _parse_aux_states(sym=sym, aux_states=aux_states, ctx=ctx, dtype=dtype)
    if isinstance(expected, (list, tuple)):
        expected = {k: v for k, v in zip(sym.list_arguments(), expected)}
    # gradient buffers start from deterministic noise (numpy's generator), as in MXNet
    args_grad_npy = {k: np.random.normal(size=v.shape) for k, v in _sorted_items(expected)}
    args_grad = {}
    for k, v in args_grad_npy.items():
        nd = mx.nd.array(v, ctx=ctx, dtype=expected[k].dtype if dtype == "asnumpy" else dtype)
        if grad_stypes is not None and grad_stypes.get(k) not in (None, "default"):
            nd = create_sparse_array(v.shape, grad_stypes[k], density=0.0)
        args_grad[k] = nd
    if isinstance(grad_req, str):
        grad_req = {k: grad_req for k in sym.list_arguments()}
    elif isinstance(grad_req, (list, tuple)):
        grad_req = {k: v for k, v in zip(sym.list_arguments(), grad_req)}
    executor = sym.bind(ctx=ctx, args=location, args_grad=args_grad, aux_states=aux_states,
                        grad_req=grad_req)
    executor.forward(is_train=True)
    if isinstance(out_grads, (tuple, list)):
        out_grads = [mx.nd.array(g, ctx=ctx, dtype=g.dtype if dtype == "asnumpy" else dtype)
                     if isinstance(g, np.ndarray) else g for g in out_grads]
    elif isinstance(out_grads, dict):
        out_grads = {k: mx.nd.array(g, ctx=ctx, dtype=g.dtype if dtype == "asnumpy" else dtype)
                     if isinstance(g, np.ndarray) else g for k, g in out_grads.items()}
    else:
        assert out_grads is None
    executor.backward(out_grads)
    for name in expected:
        req = grad_req[name]
        pair = ("EXPECTED_%s" % name, "BACKWARD_%s" % name)
        if req == "write":
            assert_almost_equal(expected[name], args_grad[name], rtol, atol, pair,
                                equal_nan=equal_nan)
        elif req == "add":
            grad = _as_numpy(args_grad[name])
            assert_almost_equal(expected[name], grad - args_grad_npy[name], rtol, atol, pair,
                                equal_nan=equal_nan)
        elif req == "null":
            assert_almost_equal(args_grad_npy[name], args_grad[name], rtol, atol, pair,
                                equal_nan=equal_nan)
        else:
            raise ValueError("Invalid grad_req %s for argument %s" % (req, name))
    return args_grad


# ---- optimizers ----------------------------------------------------------------------------------
def compare_optimizer(opt1: Any, opt2: Any, shape: Any, dtype: Any, w_stype: str = "default",
                      g_stype: str = "default", rtol: float = 1e-4, atol: float = 1e-5,
                      compare_states: bool = True, ntensors: int = 1) -> None:
    """Run one update of two optimizers on the same random weight and gradient and compare
    weights (and states). ``shape`` a list of shapes: opt2 updates them all in one
    multi-tensor call, opt1 one by one."""
    if not isinstance(shape, list):
        assert ntensors == 1
        if w_stype == "default":
            w2 = mx.random.uniform(shape=shape, ctx=default_context(), dtype=dtype)
            w1 = w2.copyto(default_context())
        elif w_stype in ("row_sparse", "csr"):
            w2 = rand_ndarray(shape, w_stype, density=1, dtype=dtype)
            w1 = w2.copyto(default_context()).tostype("default")
        else:
            raise Exception("type not supported yet")
        if g_stype == "default":
            g2 = mx.random.uniform(shape=shape, ctx=default_context(), dtype=dtype)
            g1 = g2.copyto(default_context())
        elif g_stype in ("row_sparse", "csr"):
            g2 = rand_ndarray(shape, g_stype, dtype=dtype)
            g1 = g2.copyto(default_context()).tostype("default")
        else:
            raise Exception("type not supported yet")
        state1 = opt1.create_state_multi_precision(0, w1)
        state2 = opt2.create_state_multi_precision(0, w2)
        if compare_states:
            compare_ndarray_tuple(state1, state2)
        opt1.update_multi_precision(0, w1, g1, state1)
        opt2.update_multi_precision(0, w2, g2, state2)
        if compare_states:
            compare_ndarray_tuple(state1, state2, rtol=rtol, atol=atol)
        assert_almost_equal(w1, w2, rtol=rtol, atol=atol)
        return
    from copy import deepcopy
    w1 = tuple(mx.random.uniform(shape=s, ctx=default_context(), dtype=dtype) for s in shape)
    g1 = tuple(mx.random.uniform(shape=s, ctx=default_context(), dtype=dtype) for s in shape)
    w2, g2 = deepcopy(w1), deepcopy(g1)
    state2 = [opt2.create_state_multi_precision(0, w2[i]) for i in range(ntensors)]
    opt2.update_multi_precision(list(range(ntensors)), w2, g2, state2)
    for i in range(ntensors):
        state1 = opt1.create_state_multi_precision(i, w1[i])
        opt1.update_multi_precision(i, w1[i], g1[i], state1)
        if compare_states:
            compare_ndarray_tuple(state1, state2[i], rtol, atol)
        compare_ndarray_tuple(w1[i], w2[i], rtol, atol)


# ---- downloads -----------------------------------------------------------------------------------
class DownloadError(OSError):
    """A download failed (unreachable host, HTTP error, interrupted transfer) after every retry."""


def _fetch(url: str, target: str, timeout: float) -> None:
    """Stream ``url`` into ``target`` (an existing temporary file)."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = getattr(response, "status", 200)
            if status != 200:
                raise DownloadError(f"failed to open {url}: HTTP status {status}")
            with open(target, "wb") as f:
                while True:
                    chunk = response.read(1 << 16)
                    if not chunk:
                        break
                    f.write(chunk)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"failed to open {url}: HTTP status {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"failed to open {url}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:  # connection reset mid-transfer, bad url, ...
        raise DownloadError(f"failed to download {url}: {exc}") from exc


def download(url: str, fname: Optional[str] = None, dirname: Optional[str] = None,
             overwrite: bool = False, retries: int = 5, timeout: float = 60.0) -> str:
    """Download ``url`` to a file; return its name.

    Args:
        url: what to download (http, https, ftp or file URLs).
        fname: the file name (default: the last part of the url), inside ``dirname`` if given.
        dirname: the directory (created if needed).
        overwrite: download even when the file exists (otherwise it is kept as is).
        retries: attempts in all (at least 1), as MXNet counts them.
        timeout: seconds a connection may stay silent (mxopt only; MXNet waits forever).

    The data goes to a temporary file in the same directory that is renamed into place only when
    complete: a failed or interrupted download never leaves a partial file. Raises
    ``DownloadError`` (an OSError) naming the url when every attempt failed.

    Example::

        >>> download('https://example.org/data.csv', dirname='data')  # doctest: +SKIP
        'data/data.csv'
    """
    assert retries >= 0, "Number of retries should be at least 0"
    if fname is None:
        fname = url.split("/")[-1]
    if dirname is None:
        dirname = os.path.dirname(fname)
    else:
        fname = os.path.join(dirname, fname)
    if dirname != "" and not os.path.exists(dirname):
        logging.info("create directory %s", dirname)
        try:
            os.makedirs(dirname)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OSError("failed to create " + dirname) from exc
    if not overwrite and os.path.exists(fname):
        logging.info("%s exists, skipping download", fname)
        return fname
    if not os.path.basename(fname):
        raise ValueError(f"download: no file name in url {url!r}: pass fname")
    while retries + 1 > 0:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(fname) + ".", suffix=".part",
                                   dir=dirname or ".")
        os.close(fd)
        try:
            _fetch(url, tmp, timeout)
            os.replace(tmp, fname)
            break
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt etc.: stop at once (no partial file is left)
            retries -= 1
            if retries <= 0:
                raise
            print("download failed, retrying, {} attempt{} left"
                  .format(retries, "s" if retries > 1 else ""))
    logging.info("downloaded %s into %s successfully", url, fname)
    return fname


def get_mnist_ubyte() -> None:
    """Download MXNet's MNIST idx files into ./data (unless they are there)."""
    os.makedirs("data", exist_ok=True)
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
    if not all(os.path.exists(os.path.join("data", n)) for n in names):
        zip_file_path = download("http://data.mxnet.io/mxnet/data/mnist.zip", dirname="data")
        with zipfile.ZipFile(zip_file_path) as zf:
            zf.extractall("data")


def get_mnist() -> Dict[str, np.ndarray]:
    """Download MNIST (gzip idx files) and return train/test images (N x 1 x 28 x 28 float32 in
    [0, 1]) and labels (int8)."""
    def read_data(label_url: str, image_url: str) -> Tuple[np.ndarray, np.ndarray]:
        with gzip.open(download(label_url)) as flbl:
            flbl.read(8)
            label = np.frombuffer(flbl.read(), dtype=np.int8)
        with gzip.open(download(image_url), "rb") as fimg:
            _, _, rows, cols = struct.unpack(">IIII", fimg.read(16))
            image = np.frombuffer(fimg.read(), dtype=np.uint8).reshape(len(label), rows, cols)
            image = image.reshape(image.shape[0], 1, 28, 28).astype(np.float32) / 255
        return label, image
    path = "http://data.mxnet.io/data/mnist/"
    train_lbl, train_img = read_data(path + "train-labels-idx1-ubyte.gz",
                                     path + "train-images-idx3-ubyte.gz")
    test_lbl, test_img = read_data(path + "t10k-labels-idx1-ubyte.gz",
                                   path + "t10k-images-idx3-ubyte.gz")
    return {"train_data": train_img, "train_label": train_lbl, "test_data": test_img,
            "test_label": test_lbl}


def get_mnist_iterator(batch_size: int, input_shape: Sequence[int], num_parts: int = 1,
                       part_index: int = 0) -> Tuple[Any, Any]:
    """MNISTIter training (shuffled) and validation iterators over ./data (downloaded if
    missing); flat unless input_shape is 3-D."""
    get_mnist_ubyte()
    flat = len(input_shape) != 3
    train = mx.io.MNISTIter(image="data/train-images-idx3-ubyte",
                            label="data/train-labels-idx1-ubyte", input_shape=input_shape,
                            batch_size=batch_size, shuffle=True, flat=flat, num_parts=num_parts,
                            part_index=part_index)
    val = mx.io.MNISTIter(image="data/t10k-images-idx3-ubyte", label="data/t10k-labels-idx1-ubyte",
                          input_shape=input_shape, batch_size=batch_size, flat=flat,
                          num_parts=num_parts, part_index=part_index)
    return train, val
