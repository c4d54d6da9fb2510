"""Unpickling Updater states written by MXNet 1.9.1 itself, without importing mxnet.

MXNet pickles an ``NDArray`` as ``NDArray(None)`` plus the state ``{'handle': <one .params
record>}``. The unpickler maps MXNet's (dense and sparse) NDArray classes to a stand-in that
decodes the record with mxopt's ``.params`` reader; the loaded structure is then walked and
every stand-in replaced by the mxopt array (``mx.nd.NDArray`` or ``RowSparseNDArray``), so an
``.states`` file from ``mxnet.mod.Module.save_optimizer_states`` / ``Updater.get_states()``
continues training in mxopt. Everything else unpickles as usual (this is still a pickle: only
load states you trust).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from ..ndarray.utils import _record_loads

_MXNET_ARRAYS = {("mxnet.ndarray.ndarray", "NDArray"), ("mxnet.ndarray.sparse", "RowSparseNDArray"),
                 ("mxnet.ndarray.sparse", "CSRNDArray"), ("mxnet.numpy", "ndarray")}


class _MXNetArray:
    """Stand-in for an MXNet NDArray while unpickling."""

    def __init__(self, *args: Any) -> None:
        self.value: Any = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not isinstance(state.get("handle"),
                                                           (bytes, bytearray)):
            raise pickle.UnpicklingError("a pickled MXNet NDArray without its 'handle' bytes")
        self.value = _record_loads(bytes(state["handle"]))


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _MXNET_ARRAYS:
            return _MXNetArray
        return super().find_class(module, name)


def _resolve(x: Any) -> Any:
    if isinstance(x, _MXNetArray):
        if x.value is None:
            raise pickle.UnpicklingError("a pickled MXNet NDArray without state")
        return x.value
    if isinstance(x, tuple):
        return tuple(_resolve(v) for v in x)
    if isinstance(x, list):
        return [_resolve(v) for v in x]
    if isinstance(x, dict):
        return {k: _resolve(v) for k, v in x.items()}
    return x


def loads(data: bytes) -> Any:
    """``pickle.loads`` that turns MXNet's pickled NDArrays into mxopt arrays."""
    return _resolve(_Unpickler(io.BytesIO(data)).load())
