"""``KVStore``: MXNet 1.9.1's single-process key-value store (types ``'local'``, ``'device'``,
``'horovod'``, ...), used to sum gradients over the contexts of one process and, with an
optimizer set, to update the stored weights.

Semantics (those of MXNet's ``KVStoreLocal``):

* keys are ints or strs (one kind per store); a key's value is an NDArray or a
  ``RowSparseNDArray``; ``init`` stores a copy;
* ``push`` of one value per key makes the store refer to that very array (no copy, as in
  MXNet: later writes to it are seen by ``pull``); a list of values is first summed into a
  buffer of the key. ``'local'`` (MXNet's CommCPU) adds ``v0 + (v1 + v2 + v3 + v4) + ...`` in
  groups of four, ``'device'`` (CommDevice) adds left to right: both bit-identical to MXNet;
* with an updater (``set_optimizer`` / ``_set_updater``) a push calls
  ``updater(key, summed, stored)`` instead, which updates the stored value in place (str keys
  are passed as bytes, as MXNet's C callback does);
* ``pull`` copies the stored value into each output (casting the dtype).

Example::

    >>> import mxopt as mx
    >>> kv = mx.kv.create('local')
    >>> kv.init('w', mx.nd.ones((2, 3)))
    >>> kv.push('w', [mx.nd.ones((2, 3)), mx.nd.ones((2, 3)) * 2])   # summed: 3
    >>> out = mx.nd.zeros((2, 3))
    >>> kv.pull('w', out=out)
    >>> float(out.asnumpy()[0, 0])
    3.0
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .. import optimizer as opt
from ..base import MXNetError, atomic_write
from ..ndarray import NDArray
from ..ndarray.sparse import RowSparseNDArray
from .base import KVStoreBase

__all__ = ["KVStore"]

_VALUE_TYPES = (NDArray, RowSparseNDArray)
# Optimizers whose list update is, tensor by tensor, their one-tensor update (see
# KVStore._one_updater_call).
_BATCHABLE = (opt.SGD, opt.NAG, opt.Adam, opt.AdamW, opt.RMSProp, opt.AdaGrad)


def _stype(value: Any) -> str:
    return "row_sparse" if isinstance(value, RowSparseNDArray) else "default"


def _key_values(keys: Any, values: Any, what: str) -> Tuple[List[Any], List[Any], bool]:
    """Flatten ``keys`` / ``values`` (a key with a value or a list of values, or lists of
    those) into parallel lists; the bool tells whether the keys are strs."""
    if isinstance(keys, (tuple, list)):
        assert len(keys) == len(values), (
            "kvstore %s: %d keys but %d values" % (what, len(keys), len(values)))
        out_keys: List[Any] = []
        out_vals: List[Any] = []
        use_str: Optional[bool] = None
        for key, val in zip(keys, values):
            k, v, s = _key_values(key, val, what)
            out_keys += k
            out_vals += v
            use_str = s if use_str is None else use_str
            assert use_str == s, "inconsistent types of keys detected."
        return out_keys, out_vals, bool(use_str)
    assert isinstance(keys, (int, str)), "unexpected type for keys: " + str(type(keys))
    use_str = isinstance(keys, str)
    if isinstance(values, _VALUE_TYPES):
        return [keys], [values], use_str
    assert isinstance(values, (list, tuple)), (
        "kvstore %s: the value of key %r must be an NDArray or a list of NDArrays, got %s"
        % (what, keys, type(values).__name__))
    for value in values:
        assert isinstance(value, _VALUE_TYPES), (
            "kvstore %s: the values of key %r must be NDArrays, got %s"
            % (what, keys, type(value).__name__))
    return [keys] * len(values), list(values), use_str


def _group(ids: List[int], values: List[Any]) -> List[Tuple[int, List[Any]]]:
    """``[(id, [values...])]`` in ascending id order, values in their given order (MXNet
    sorts the pairs by key and groups equal keys)."""
    grouped: Dict[int, List[Any]] = {}
    for i, v in zip(ids, values):
        grouped.setdefault(i, []).append(v)
    return sorted(grouped.items(), key=lambda kv: kv[0])


def _rsp_sum(values: List[RowSparseNDArray], dtype: Any) -> RowSparseNDArray:
    """Row-sparse sum: the union of the rows, each row added in list order starting from 0."""
    shape = values[0].shape
    indices = np.unique(np.concatenate([v._indices for v in values])).astype(np.int64)
    data = np.zeros((indices.size,) + tuple(shape[1:]), dtype=dtype)
    for v in values:
        if v._indices.size:
            pos = np.searchsorted(indices, v._indices)
            data[pos] += v._data.astype(dtype, copy=False)
    return RowSparseNDArray(data, indices, shape)


class KVStore(KVStoreBase):
    """A single-process key-value store (``mx.kv.create('local')``, ``'device'``, ...).

    Rank 0 of 1 worker. Not for direct construction: use :func:`mxopt.kvstore.create`.
    """

    def __init__(self, name: str = "local") -> None:
        self._type = name
        self._device_sum = "device" in name  # MXNet picks CommDevice for these names
        self._lock = threading.RLock()
        self._values: Dict[int, Any] = {}     # internal id -> stored NDArray / RowSparseNDArray
        self._merge: Dict[int, NDArray] = {}  # internal id -> sum buffer (2+ values)
        self._meta: Dict[int, Tuple[Tuple[int, ...], np.dtype]] = {}  # id -> init shape, dtype
        self._str_ids: Dict[str, int] = {}
        self._str_keys: Dict[int, str] = {}
        self._key_type: Optional[str] = None
        self._warned_sparse: set = set()
        self._updater: Any = None
        # MXNet's stores report no optimizer capability under the P3 parameter-server van
        self._is_p3 = os.getenv("DMLC_PS_VAN_TYPE", "") == "p3"

    # ---- properties -------------------------------------------------------------------------
    @property
    def type(self) -> str:
        """The store's type name as created (lower-cased)."""
        return self._type

    @property
    def rank(self) -> int:
        """Always 0: one process."""
        return 0

    @property
    def num_workers(self) -> int:
        """Always 1: one process."""
        return 1

    def is_capable(self, capability: str) -> bool:
        """``True`` for ``'optimizer'`` (case-insensitive); other names raise ValueError."""
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return not self._is_p3
        raise ValueError("Unknown capability: {}".format(capability))

    # ---- keys -------------------------------------------------------------------------------
    def _set_key_type(self, use_str: bool) -> None:
        kind = "str" if use_str else "int"
        if self._key_type is None:
            self._key_type = kind
        if self._key_type != kind:
            raise MXNetError("Mixed key types are not allowed: this store uses %s keys, got a "
                             "%s key" % (self._key_type, kind))

    def _lookup(self, keys: List[Any], use_str: bool) -> List[int]:
        """Internal ids of existing keys (str keys must have been initialized)."""
        if not use_str:
            return list(keys)
        ids = []
        for key in keys:
            i = self._str_ids.get(key)
            if i is None:
                raise MXNetError("key %s doesn't exist. Did you init?" % key)
            ids.append(i)
        return ids

    def _name(self, i: int) -> Any:
        return self._str_keys[i] if self._key_type == "str" else i

    def _stored(self, i: int) -> Any:
        value = self._values.get(i)
        if value is None:
            raise MXNetError("key %s has not been inited" % (self._name(i),))
        return value

    def _init_ids(self, keys: List[Any], values: List[Any], use_str: bool) -> None:
        """Store copies of ``values`` under new keys (all checked before any is stored)."""
        if use_str:
            seen: set = set()
            for key in keys:
                if key in self._str_ids or key in seen:
                    raise MXNetError("duplicate init of key %s" % key)
                seen.add(key)
            ids = list(range(len(self._str_ids), len(self._str_ids) + len(keys)))
        else:
            ids = list(keys)
            if len(set(ids)) != len(ids) or any(i in self._values for i in ids):
                dup = next(i for n, i in enumerate(ids) if i in self._values or i in ids[:n])
                raise MXNetError("duplicate init of key %d. Please double check if you called "
                                 "kv.init or kv.broadcast with this key multiple times" % dup)
        for key, i, value in zip(keys, ids, values):
            if use_str:
                self._str_ids[key] = i
                self._str_keys[i] = key
            self._values[i] = value.copy()
            self._meta[i] = (tuple(value.shape), np.dtype(value.dtype))

    # ---- the interface ----------------------------------------------------------------------
    def init(self, key: Any, value: Any) -> None:
        """Store a copy of ``value`` under ``key`` (or of each value under each key).

        Every key must be initialized exactly once before ``push`` / ``pull``.
        """
        keys, values, use_str = _key_values(key, value, "init")
        with self._lock:
            self._set_key_type(use_str)
            self._init_ids(keys, values, use_str)

    def push(self, key: Any, value: Any, priority: int = 0) -> None:
        """Push values: a list of values for one key is summed first; the sum replaces the
        stored value, or, with an updater, is applied to it by ``updater(key, sum, stored)``.

        Keys of a call are processed in ascending order (str keys: in order of ``init``).
        """
        keys, values, use_str = _key_values(key, value, "push")
        with self._lock:
            self._set_key_type(use_str)
            groups = _group(self._lookup(keys, use_str), values)
            for i, vals in groups:  # everything is checked before anything changes
                self._check_push(i, vals)
            self._push_groups(groups)

    def pull(self, key: Any, out: Any = None, priority: int = 0,
             ignore_sparse: bool = True) -> None:
        """Copy the stored values into ``out`` (an NDArray, a list per key, or lists of them).

        Row-sparse outputs are skipped (with a warning) unless ``ignore_sparse=False``: use
        ``row_sparse_pull`` for those.
        """
        assert out is not None, "kvstore pull: out must be given"
        keys, outs, use_str = _key_values(key, out, "pull")
        with self._lock:
            self._set_key_type(use_str)
            self._pull_groups(_group(self._lookup(keys, use_str), outs), ignore_sparse)

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """``push(key, value)`` then ``pull(key, out)``; ``out=None`` pulls into ``value``."""
        keys, values, use_str = _key_values(key, value, "pushpull")
        if out is not None:
            okeys, outs, _ = _key_values(key, out, "pushpull")
        else:
            okeys, outs = keys, values
        with self._lock:
            self._set_key_type(use_str)
            groups = _group(self._lookup(keys, use_str), values)
            out_groups = _group(self._lookup(okeys, use_str), outs)
            for i, vals in groups:
                self._check_push(i, vals)
            self._check_pull(out_groups, True)
            self._push_groups(groups)
            self._pull_groups(out_groups, True)

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """``init(key, value)`` then ``pull(key, out)`` (a key can be broadcast only once)."""
        keys, values, use_str = _key_values(key, value, "broadcast")
        okeys, outs, _ = _key_values(key, out, "broadcast")
        with self._lock:
            self._set_key_type(use_str)
            shapes = {k: tuple(v.shape) for k, v in zip(keys, values)}
            for k, o in zip(okeys, outs):
                if k in shapes and isinstance(o, NDArray) and tuple(o.shape) != shapes[k]:
                    raise MXNetError("operands shape mismatch: broadcast of key %s has shape %s, "
                                     "out %s" % (k, shapes[k], tuple(o.shape)))
            self._init_ids(keys, values, use_str)
            self._pull_groups(_group(self._lookup(okeys, use_str), outs), True)

    def row_sparse_pull(self, key: Any, out: Any = None, priority: int = 0,
                        row_ids: Any = None) -> None:
        """Copy rows ``row_ids`` of a row-sparse stored value into the row-sparse ``out``.

        ``row_ids`` (an NDArray, or a list with one per output; any order, duplicates allowed)
        become the sorted unique row indices of ``out``; rows the stored value lacks are zero.
        With one ``row_ids`` and a list of outputs, every output gets the same rows.
        """
        assert out is not None, "kvstore row_sparse_pull: out must be given"
        assert row_ids is not None, "kvstore row_sparse_pull: row_ids must be given"
        if isinstance(row_ids, NDArray):
            row_ids = [row_ids]
        assert isinstance(row_ids, list), "row_ids should be NDArray or list of NDArray"
        first_out = out
        single = len(row_ids) == 1 and isinstance(out, list)
        if single:
            first_out = [out[0]]
        keys, outs, use_str = _key_values(key, first_out, "row_sparse_pull")
        _, rids, _ = _key_values(key, row_ids, "row_sparse_pull")
        assert len(rids) == len(outs), "the number of row_ids doesn't match the number of values"
        with self._lock:
            self._set_key_type(use_str)
            ids = self._lookup(keys, use_str)
            plans = []
            for i, o, r in zip(ids, outs, rids):
                stored = self._stored(i)
                name = self._name(i)
                if not isinstance(stored, RowSparseNDArray):
                    raise MXNetError(
                        "row_sparse_pull of key %s: the stored value is dense (default storage); "
                        "row_sparse_pull needs a value initialized as row_sparse (use pull for "
                        "dense values)" % (name,))
                if not isinstance(o, RowSparseNDArray):
                    raise MXNetError(
                        "row_sparse_pull of key %s: out must be a RowSparseNDArray, got %s"
                        % (name, type(o).__name__))
                if tuple(o.shape) != tuple(stored.shape):
                    raise MXNetError("row_sparse_pull of key %s: operands shape mismatch: stored "
                                     "%s, out %s" % (name, stored.shape, o.shape))
                if not isinstance(r, NDArray):
                    raise MXNetError("row_sparse_pull of key %s: row_ids must be NDArrays, got "
                                     "%s" % (name, type(r).__name__))
                rows = np.unique(r._data.reshape(-1).astype(np.int64))
                if rows.size and (rows[0] < 0 or rows[-1] >= stored.shape[0]):
                    bad = rows[0] if rows[0] < 0 else rows[-1]
                    raise MXNetError("row_sparse_pull of key %s: row id %d is out of range for "
                                     "%d rows" % (name, bad, stored.shape[0]))
                plans.append((stored, o, rows))
            for stored, o, rows in plans:
                data = np.zeros((rows.size,) + tuple(stored.shape[1:]), dtype=o._data.dtype)
                sidx, sdata = stored._indices, stored._data
                if sidx.size and rows.size:
                    if np.any(sidx[1:] < sidx[:-1]):
                        order = np.argsort(sidx, kind="stable")
                        sidx, sdata = sidx[order], sdata[order]
                    pos = np.minimum(np.searchsorted(sidx, rows), sidx.size - 1)
                    hit = sidx[pos] == rows
                    data[hit] = sdata[pos[hit]]
                o._data, o._indices = data, rows
        if single:
            for other in out[1:]:
                out[0].copyto(other)

    def set_optimizer(self, optimizer: Any) -> None:
        """Apply ``optimizer`` (through ``mx.optimizer.get_updater``) to every pushed value."""
        self._set_updater(opt.get_updater(optimizer))

    def _set_updater(self, updater: Any) -> None:
        """Call ``updater(key, pushed_sum, stored)`` on every push instead of replacing the
        stored value (str keys are passed as bytes, ints as ints)."""
        with self._lock:
            self._updater = updater

    def save_optimizer_states(self, fname: str, dump_optimizer: bool = False) -> None:
        """Write the updater's states (``updater.get_states(dump_optimizer)``) to ``fname``."""
        assert self._updater is not None, "Cannot save states for distributed training"
        atomic_write(fname, self._updater.get_states(dump_optimizer))

    def load_optimizer_states(self, fname: str) -> None:
        """Restore the updater's states from a file written by ``save_optimizer_states``."""
        assert self._updater is not None, "Cannot load states for distributed training"
        with open(fname, "rb") as f:
            self._updater.set_states(f.read())

    def set_gradient_compression(self, compression_params: Dict[str, Any]) -> None:
        """Gradient compression: MXNet's parameter checks; its only type, ``'2bit'``, is not
        implemented in mxopt yet and raises MXNetError.

        Types without ``'device'`` or ``'dist'`` in their name raise ``Exception`` (MXNet).
        """
        if "device" not in self._type and "dist" not in self._type:
            raise Exception("Gradient compression is not supported for this type of kvstore")
        assert isinstance(compression_params, dict), \
            "unexpected type for param_dict: " + str(type(compression_params))
        if "type" not in compression_params:
            raise MXNetError("Required parameter type of string is not presented")
        threshold = compression_params.get("threshold", 0.5)
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise MXNetError("Invalid Parameter format for threshold expect float but value="
                             "'%s'" % (threshold,)) from None
        if not threshold > 0:
            raise MXNetError("threshold must be greater than 0")
        ctype = str(compression_params["type"])
        if ctype == "2bit":
            raise MXNetError("2bit gradient compression is not implemented in mxopt yet "
                             "(set compression_params=None)")
        raise MXNetError("Unknown type for gradient compression %s" % ctype)

    def _barrier(self) -> None:
        """Synchronise the workers: a no-op with one process."""

    # ---- internals --------------------------------------------------------------------------
    def _check_push(self, i: int, vals: List[Any]) -> None:
        name = self._name(i)
        stored = self._values.get(i)
        if stored is None:
            raise MXNetError("key %s has not been inited" % (name,))
        kinds = {_stype(v) for v in vals}
        if len(kinds) > 1:
            raise MXNetError("push of key %s mixes dense and row_sparse values" % (name,))
        shape = self._meta[i][0]
        for v in vals:
            if tuple(v.shape) != shape:
                raise MXNetError("push of key %s: operands shape mismatch: the stored value has "
                                 "shape %s, a pushed value %s" % (name, shape, tuple(v.shape)))
        if self._updater is not None and isinstance(stored, RowSparseNDArray) and \
                not _all_rows(stored):
            raise MXNetError("push of key %s with an optimizer: the stored row_sparse weight "
                             "must have all rows present (as MXNet's updates require)" % (name,))

    def _reduce(self, i: int, vals: List[Any]) -> Any:
        """The sum of ``vals`` (``vals[0]`` itself for one dense value), as MXNet adds them."""
        shape, dtype = self._meta[i]
        if isinstance(vals[0], RowSparseNDArray):
            return vals[0].copy() if len(vals) == 1 else _rsp_sum(vals, dtype)
        if len(vals) == 1:
            return vals[0]
        merged = self._merge.get(i)
        if merged is None:  # one buffer per key, of the key's initial shape and dtype (MXNet)
            merged = self._merge[i] = NDArray(np.empty(shape, dtype=dtype))
        buf = merged._data
        srcs = [v._data for v in vals]
        np.copyto(buf, srcs[0], casting="unsafe")
        if self._device_sum:  # CommDevice / ElementwiseSum: left to right
            for src in srcs[1:]:
                np.add(buf, src, out=buf, casting="unsafe")
        else:  # CommCPU: v0 += (v1 + v2 + v3 + v4), then the next group of four
            tmp = None
            for start in range(1, len(srcs), 4):
                group = srcs[start:start + 4]
                if len(group) == 1:
                    np.add(buf, group[0], out=buf, casting="unsafe")
                    continue
                if tmp is None:
                    tmp = np.empty_like(buf)
                np.add(group[0], group[1], out=tmp, casting="unsafe")
                for src in group[2:]:
                    np.add(tmp, src, out=tmp, casting="unsafe")
                np.add(buf, tmp, out=buf)
        return merged

    def _update(self, i: int, merged: Any) -> None:
        stored = self._values[i]
        weight = NDArray(stored._data) if isinstance(stored, RowSparseNDArray) else stored
        key = self._str_keys[i].encode("utf-8") if self._key_type == "str" else i
        self._updater(key, merged, weight)

    def _push_groups(self, groups: List[Tuple[int, List[Any]]]) -> None:
        updates = []
        for i, vals in groups:
            merged = self._reduce(i, vals)
            if self._updater is not None:
                updates.append((i, merged))
                continue
            if _stype(merged) != _stype(self._values[i]):
                merged = merged.copy()
            self._values[i] = merged  # no copy: the store now refers to the pushed array
        if len(updates) > 1 and self._one_updater_call(updates):
            return
        for i, merged in updates:
            self._update(i, merged)

    def _one_updater_call(self, updates: List[Tuple[int, Any]]) -> bool:
        """Apply an mxopt ``Updater`` to several keys in one (multi-tensor) call when that is
        the same arithmetic as MXNet's one call per key: an element-wise optimizer, dense
        values, and equal update counts (so every key sees the same ``num_update``)."""
        updater = self._updater
        if type(updater) is not opt.Updater or type(updater.optimizer) not in _BATCHABLE:
            return False
        counts = updater.optimizer._all_index_update_counts.get(0, {})
        keys, grads, weights = [], [], []
        seen = set()
        for i, merged in updates:
            stored = self._values[i]
            if type(merged) is not NDArray or type(stored) is not NDArray:
                return False
            key = self._str_keys[i] if self._key_type == "str" else i
            seen.add(counts.get(key))
            keys.append(key)
            grads.append(merged)
            weights.append(stored)
        if len(seen) != 1:
            return False
        updater(keys, grads, weights)
        return True

    def _check_pull(self, groups: List[Tuple[int, List[Any]]], ignore_sparse: bool) -> List[Any]:
        """``[(stored, out)]`` copies a pull makes; raises before any copy if one is wrong."""
        plans = []
        for i, outs in groups:
            shape = self._meta[i][0] if i in self._meta else tuple(self._stored(i).shape)
            for o in outs:
                if isinstance(o, RowSparseNDArray):
                    if ignore_sparse:
                        if i not in self._warned_sparse:
                            self._warned_sparse.add(i)
                            warnings.warn("Warning: non-default weights detected during kvstore "
                                          "pull. This call has been ignored. Please make sure to "
                                          "use kv.row_sparse_pull() or module.prepare() with "
                                          "row_ids.", stacklevel=2)
                        continue
                elif not isinstance(o, NDArray):
                    raise MXNetError("pull of key %s: out must be an NDArray, got %s"
                                     % (self._name(i), type(o).__name__))
                if tuple(o.shape) != shape:
                    raise MXNetError("operands shape mismatch: key %s has shape %s, out %s"
                                     % (self._name(i), shape, tuple(o.shape)))
                plans.append((i, o))
        return plans

    def _pull_groups(self, groups: List[Tuple[int, List[Any]]], ignore_sparse: bool) -> None:
        for i, o in self._check_pull(groups, ignore_sparse):
            stored = self._values[i]
            if o is stored:
                continue
            if isinstance(o, RowSparseNDArray):
                src = stored if isinstance(stored, RowSparseNDArray) else \
                    stored.tostype("row_sparse")
                o._data = src._data.astype(o._data.dtype, copy=True)
                o._indices = src._indices.copy()
            elif isinstance(stored, RowSparseNDArray):
                np.copyto(o._data, stored.asnumpy(), casting="unsafe")
            elif o._data is not stored._data:
                np.copyto(o._data, stored._data, casting="unsafe")


def _all_rows(value: RowSparseNDArray) -> bool:
    idx = value._indices
    return idx.size == value.shape[0] and bool(np.all(idx == np.arange(idx.size)))
