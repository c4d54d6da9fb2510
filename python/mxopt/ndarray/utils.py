"""``mx.nd.save`` / ``mx.nd.load``: MXNet 1.9.1's binary NDArray list format (``.params``).

Files written here load in MXNet 1.9.1 and files MXNet writes load here (all dtypes MXNet
saves, dense and row_sparse/csr records, list and dict forms). The format is read and written
in C++ (``mxopt._core.params_*``); malformed files raise :class:`mxopt.base.MXNetError`.

Example::

    >>> import mxopt as mx
    >>> mx.nd.save('/tmp/w.params', {'arg:w': mx.nd.ones((2, 3))})
    >>> mx.nd.load('/tmp/w.params')['arg:w'].shape
    (2, 3)
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .. import _core
from ..base import MXNetError
from .ndarray import NDArray
from .sparse import CSRNDArray, RowSparseNDArray

__all__ = ["save", "load", "load_frombuffer"]

_ROW_SPARSE, _CSR = 1, 2
_SAVE_TYPE_ERROR = "save only accept dict str->NDArray or list of NDArray"
_SAVE_VALUE_ERROR = ("data needs to either be a NDArray, dict of str, NDArray pairs "
                     "or a list of NDarrays.")

Loaded = Union[NDArray, RowSparseNDArray, CSRNDArray]


def _is_array(x: Any) -> bool:
    return isinstance(x, (NDArray, RowSparseNDArray, CSRNDArray, np.ndarray))


def _record(x: Any) -> Any:
    """An array in the form ``_core.params_save`` takes (C-contiguous numpy or a sparse tuple)."""
    if isinstance(x, RowSparseNDArray):
        values = np.ascontiguousarray(x._data)
        indices = np.ascontiguousarray(x._indices, dtype=np.int64)
        return (_ROW_SPARSE, tuple(x.shape), values, [indices])
    if isinstance(x, CSRNDArray):
        return (_CSR, tuple(x.shape), np.ascontiguousarray(x._data),
                [np.ascontiguousarray(x._indptr, dtype=np.int64),
                 np.ascontiguousarray(x._indices, dtype=np.int64)])
    arr = x._data if isinstance(x, NDArray) else x
    if arr.ndim == 0:  # mxopt's 0-d convention: stored as shape (1,)
        arr = arr.reshape(1)
    return np.ascontiguousarray(arr)


def _fname(fname: Any) -> str:
    if isinstance(fname, os.PathLike):
        fname = os.fspath(fname)
    if not isinstance(fname, str):
        raise TypeError("fname required to be a string")
    return fname


def _split(data: Any) -> Tuple[List[Any], Optional[List[str]]]:
    """``data`` -> (records, names or None), raising MXNet's errors for bad input."""
    if _is_array(data):
        return [_record(data)], None
    if isinstance(data, dict):
        names, arrays = [], []
        for key, value in data.items():
            if not isinstance(key, str):
                raise TypeError(f"{_SAVE_TYPE_ERROR} (got a key of type {type(key).__name__}: "
                                f"{key!r:.40})")
            if not _is_array(value):
                raise TypeError(f"{_SAVE_TYPE_ERROR} (got {type(value).__name__} for key "
                                f"{key!r:.40})")
            names.append(key)
            arrays.append(_record(value))
        return arrays, names
    if isinstance(data, list):
        for i, v in enumerate(data):
            if not _is_array(v):
                raise TypeError(f"{_SAVE_TYPE_ERROR} (got {type(v).__name__} at list index {i})")
        return [_record(v) for v in data], None
    raise ValueError(_SAVE_VALUE_ERROR)


def save(fname: str, data: Any) -> None:
    """Save an NDArray, a list of NDArrays or a dict str -> NDArray to ``fname``.

    The file is written to a temporary name in the same directory and renamed over
    ``fname``, so an interrupted save never leaves a truncated file. numpy arrays are accepted
    wherever an NDArray is (MXNet itself does not).

    Args:
        fname: the file name.
        data: ``NDArray`` / ``list`` of them (list form: loads back as a list) or a ``dict``
            with str keys (dict form: loads back as a dict in the same order).
    """
    fname = _fname(fname)
    arrays, names = _split(data)
    _core.params_save(fname, arrays, names)


def _from_core(obj: Any) -> Loaded:
    if obj is None:  # MXNet's empty "none" array
        return NDArray(np.empty((0,), dtype=np.float32))
    if isinstance(obj, np.ndarray):
        return NDArray(obj)
    stype, shape, values, aux = obj
    if stype == _ROW_SPARSE:
        return RowSparseNDArray(values, aux[0].astype(np.int64, copy=False), tuple(shape))
    # csr: the C++ reader has validated indptr (0 .. nnz, non-decreasing, rows + 1 entries) and
    # the column indices (in [0, cols)); like MXNet's loader it does not require sorted rows.
    indptr, indices = (a.astype(np.int64, copy=False) for a in aux)
    return CSRNDArray(values, indices, indptr, tuple(shape))


def _assemble(arrays: List[Any], names: Optional[List[bytes]]) -> Union[List[Loaded], Dict[str, Loaded]]:
    values = [_from_core(a) for a in arrays]
    if names is None:
        return values
    out: Dict[str, Loaded] = {}
    for raw, value in zip(names, values):
        try:
            key = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MXNetError(f"Invalid NDArray file format: array name {raw!r} is not UTF-8") from exc
        out[key] = value
    return out


def load(fname: str) -> Union[List[Loaded], Dict[str, Loaded]]:
    """Load a file written by ``mx.nd.save`` (mxopt or MXNet).

    Returns a ``list`` for a list-form file (and for an empty dict, as MXNet does) or a
    ``dict`` name -> NDArray in file order. Arrays keep their dtype and land on ``cpu(0)``;
    row_sparse records load as ``RowSparseNDArray``, csr records as ``CSRNDArray``.

    Raises:
        TypeError: ``fname`` is not a string.
        MXNetError: the file is not an NDArray file, or is truncated or corrupt.
        OSError: the file cannot be opened.
    """
    arrays, names = _core.params_load(_fname(fname))
    return _assemble(arrays, names)


def load_frombuffer(buf: bytes) -> Union[List[Loaded], Dict[str, Loaded]]:
    """``load`` from the bytes of a file image."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise TypeError("buf required to be a bytes-like object")
    arrays, names = _core.params_parse(bytes(buf))
    return _assemble(arrays, names)


def _record_dumps(x: Any) -> bytes:
    """One V2 record: what MXNet pickles as an NDArray's ``{'handle': ...}`` state."""
    return _core.params_record_dumps(_record(x))


def _record_loads(buf: bytes) -> Loaded:
    """Decode one record (e.g. the ``handle`` state of a pickled MXNet NDArray)."""
    return _from_core(_core.params_record_loads(bytes(buf)))
