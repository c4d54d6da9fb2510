"""Data iterators (``mx.io``): ``DataDesc``, ``DataBatch``, ``DataIter``, ``NDArrayIter`` (dense,
CSR and scipy.sparse inputs) with MXNet 1.9.1's batching, padding, roll-over and (compounding)
shuffling behaviour; ``ResizeIter`` and ``PrefetchingIter``; and MXNet's file iterators
``MNISTIter``, ``CSVIter`` and ``LibSVMIter`` (``MXDataIter`` objects, parsed in C++: see
``mxopt/_data_iters.py``).

Example::

    >>> import numpy as np, mxopt as mx
    >>> it = mx.io.NDArrayIter(np.arange(10).reshape(10, 1), np.arange(10), batch_size=4)
    >>> [b.pad for b in it]
    [0, 0, 2]
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from collections import OrderedDict, namedtuple
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from .base import MXNetError
from .ndarray import NDArray, array
from .ndarray.sparse import CSRNDArray

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "MXDataIter", "ResizeIter",
           "PrefetchingIter", "MNISTIter", "CSVIter", "LibSVMIter"]


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Name and shape of an input, plus ``dtype`` and ``layout`` (a ``(name, shape)`` tuple)."""

    def __new__(cls, name: str, shape: Tuple[int, ...], dtype: Any = np.float32,
                layout: str = "NCHW") -> "DataDesc":
        ret = super(DataDesc, cls).__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __repr__(self) -> str:
        return "DataDesc[%s,%s,%s,%s]" % (self.name, self.shape, self.dtype, self.layout)

    @staticmethod
    def get_batch_axis(layout: Optional[str]) -> int:
        """The batch axis of ``layout`` (``layout.find('N')``; 0 when layout is None)."""
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes: Sequence[Tuple[str, Tuple[int, ...]]],
                 types: Optional[Sequence[Tuple[str, Any]]]) -> List["DataDesc"]:
        """DataDescs from ``[(name, shape)]`` and optional ``[(name, dtype)]``."""
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


class DataBatch:
    """One batch: lists of data and label arrays, ``pad`` (filler rows at the end), ``index``."""

    def __init__(self, data: Any, label: Any = None, pad: Optional[int] = None,
                 index: Any = None, bucket_key: Any = None, provide_data: Any = None,
                 provide_label: Any = None) -> None:
        if data is not None:
            assert isinstance(data, (list, tuple)), "Data must be list of NDArrays"
        if label is not None:
            assert isinstance(label, (list, tuple)), "Label must be list of NDArrays"
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self) -> str:
        data_shapes = [d.shape for d in self.data]
        label_shapes = [l.shape for l in self.label] if self.label else None
        return "{}: data shapes: {} label shapes: {}".format(self.__class__.__name__, data_shapes,
                                                            label_shapes)


class DataIter:
    """Base class of data iterators: the iterator protocol over ``DataBatch`` objects."""

    def __init__(self, batch_size: int = 0) -> None:
        self.batch_size = batch_size

    def __iter__(self) -> "DataIter":
        return self

    def reset(self) -> None:
        """Rewind to the first batch."""

    def next(self) -> DataBatch:
        if self.iter_next():
            return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                             index=self.getindex())
        raise StopIteration

    def __next__(self) -> DataBatch:
        return self.next()

    def iter_next(self) -> bool:
        return False

    def getdata(self) -> Any:
        return None

    def getlabel(self) -> Any:
        return None

    def getindex(self) -> Any:
        return None

    def getpad(self) -> Any:
        return None


def _init_data(data: Any, allow_empty: bool, default_name: str,
               copy: bool = False) -> List[Tuple[str, NDArray]]:
    """Normalise data/label input to a name-sorted list of (name, NDArray): numpy inputs
    become float32 copies, NDArray inputs too if ``copy`` (else they are kept)."""
    if data is None and not allow_empty:  # MXNet: a bare assert
        raise AssertionError(f"{default_name}: the data must not be None")
    if data is None:
        data = []
    if isinstance(data, (np.ndarray, NDArray, CSRNDArray)):
        data = [data]
    if isinstance(data, list):
        if not allow_empty:
            assert len(data) > 0
        if len(data) == 1:
            data = OrderedDict([(default_name, data[0])])
        else:
            data = OrderedDict([("_%d_%s" % (i, default_name), d) for i, d in enumerate(data)])
    if not isinstance(data, dict):
        raise TypeError("Input must be NDArray, numpy.ndarray, a list of them or dict with them "
                        "as values")
    out = {}
    for k, v in data.items():
        if isinstance(v, NDArray):
            out[k] = array(v._data) if copy else v  # MXNet's shuffle copy is float32
        elif isinstance(v, CSRNDArray):
            out[k] = v  # never written: no copy needed (MXNet's shuffle keeps its dtype)
        else:
            try:
                out[k] = array(v)
            except Exception as exc:
                raise TypeError(("Invalid type '%s' for %s, " % (type(v), k)) +
                                "should be NDArray or numpy.ndarray") from exc
    return list(sorted(out.items()))


def _csr_take(csr: CSRNDArray, rows: np.ndarray) -> CSRNDArray:
    """Rows ``rows`` of a CSR array, in that order (a new CSRNDArray)."""
    indptr = csr._indptr
    starts, lens = indptr[rows], indptr[rows + 1] - indptr[rows]
    out_ptr = np.zeros(rows.shape[0] + 1, np.int64)
    np.cumsum(lens, out=out_ptr[1:])
    nnz = int(out_ptr[-1])
    src = np.arange(nnz, dtype=np.int64) + np.repeat(starts - out_ptr[:-1], lens)
    return CSRNDArray(csr._data[src], csr._indices[src], out_ptr, (rows.shape[0], csr.shape[1]))


def _csr_dense_rows(csr: CSRNDArray, rows: np.ndarray) -> NDArray:
    """Rows ``rows`` of a CSR array as a dense NDArray of its dtype."""
    return NDArray(_csr_take(csr, np.asarray(rows, dtype=np.int64)).asnumpy())


def _take_any(v: Any, perm: np.ndarray) -> Any:
    return _csr_take(v, perm) if isinstance(v, CSRNDArray) else NDArray(v._data[perm])


class NDArrayIter(DataIter):
    """Iterate over in-memory arrays in batches.

    Args:
        data: an array, a list of arrays (named ``_<i>_<data_name>``) or a dict name -> array.
            Non-NDArray inputs become float32 NDArrays; scipy.sparse matrices inside a list or
            dict, and CSRNDArrays, are kept as CSR (they need ``last_batch_handle='discard'``,
            and their batches are dense NDArrays of the CSR dtype, as in MXNet 1.9.1).
        label: same forms as data, or None (no labels).
        batch_size: rows per batch.
        shuffle: shuffle with numpy's global RNG at construction and every ``reset()``
            (permutations compound, as in MXNet). The arrays are copied (as float32) once at
            construction; each batch then gathers its rows (no per-epoch copy of the dataset).
        last_batch_handle: ``'pad'`` (fill the last batch from the start, ``pad`` rows),
            ``'discard'`` (drop it) or ``'roll_over'`` (carry it into the next epoch).
        data_name, label_name: names of single (or listed) inputs.
        layout: layout reported by ``provide_data``/``provide_label``.
    """

    def __init__(self, data: Any, label: Any = None, batch_size: int = 1, shuffle: bool = False,
                 last_batch_handle: str = "pad", data_name: str = "data",
                 label_name: str = "softmax_label", layout: str = "NCHW") -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"NDArrayIter: batch_size must be an int, got "
                            f"{type(batch_size).__name__}")
        if batch_size <= 0:
            raise ValueError(f"NDArrayIter: batch_size must be positive, got {batch_size}")
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            # MXNet 1.9.1 does not validate it: any other value behaves like 'discard'
            warnings.warn("NDArrayIter: last_batch_handle should be 'pad', 'discard' or "
                          f"'roll_over', got {last_batch_handle!r} (it behaves like 'discard', "
                          "as in MXNet)", UserWarning, stacklevel=2)
        super().__init__(int(batch_size))
        batch_size = int(batch_size)
        # With shuffle, MXNet's first shuffle copies every array to float32: later edits of an
        # NDArray the caller passed are not seen (numpy inputs are always copied).
        self._perm: Optional[np.ndarray] = None
        self._data_src = _init_data(data, allow_empty=False, default_name=data_name,
                                    copy=bool(shuffle))
        self._label_src = _init_data(label, allow_empty=True, default_name=label_name,
                                     copy=bool(shuffle))
        if (any(isinstance(v, CSRNDArray) for _, v in self._data_src + self._label_src)
                and last_batch_handle != "discard"):
            raise NotImplementedError("`NDArrayIter` only supports ``CSRNDArray`` with "
                                      "`last_batch_handle` set to `discard`.")
        first_name, first = self._data_src[0]
        for kind, items in (("data", self._data_src), ("label", self._label_src)):
            for name, arr in items:
                if len(arr.shape) == 0 or arr.shape[0] != first.shape[0]:
                    raise ValueError(
                        f"NDArrayIter: {kind} {name!r} has shape {tuple(arr.shape)}: every data "
                        f"and label array needs {first.shape[0]} rows (as data {first_name!r}, "
                        f"shape {tuple(first.shape)})")
        self.idx = np.arange(first.shape[0])
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.batch_size = batch_size
        self.cursor = -self.batch_size
        self.num_data = self.idx.shape[0]
        self.layout = layout
        self.reset()
        self._perm_at_init = self._perm
        self.num_source = len(self._data_src) + len(self._label_src)
        self._cache_data: Optional[List[NDArray]] = None
        self._cache_label: Optional[List[NDArray]] = None

    # The shuffled arrays are never materialized per epoch: the iterator keeps the arrays it was
    # given (``_data_src``/``_label_src``) and ``_perm``, the composition of every shuffle so far
    # (None: no shuffle), so that the shuffled data is ``src[_perm]``; each batch gathers its
    # rows. ``data``/``label`` (MXNet's attributes) materialize the shuffled arrays on access.
    @property
    def data(self) -> List[Tuple[str, NDArray]]:
        return self._shuffled("_data_src")

    @data.setter
    def data(self, value: List[Tuple[str, NDArray]]) -> None:
        self._set_source("_data_src", value)

    @property
    def label(self) -> List[Tuple[str, NDArray]]:
        return self._shuffled("_label_src")

    @label.setter
    def label(self, value: List[Tuple[str, NDArray]]) -> None:
        self._set_source("_label_src", value)

    @property
    def data_list(self) -> List[NDArray]:
        """The data and label arrays as shuffled at construction (as in MXNet)."""
        if "_data_list" in self.__dict__:
            return self.__dict__["_data_list"]
        perm = self._perm_at_init
        return [v if perm is None else _take_any(v, perm)
                for _, v in self._data_src + self._label_src]

    @data_list.setter
    def data_list(self, value: List[NDArray]) -> None:
        self.__dict__["_data_list"] = value

    def _shuffled(self, which: str) -> List[Tuple[str, NDArray]]:
        src = self.__dict__.get(which, [])
        perm = self.__dict__.get("_perm")
        if perm is None:
            return src
        cache = self.__dict__.setdefault("_materialized", {})
        hit = cache.get(which)
        if hit is None or hit[0] is not perm or hit[1] is not src:
            hit = cache[which] = (perm, src, [(k, _take_any(v, perm)) for k, v in src])
        return hit[2]

    def _set_source(self, which: str, value: List[Tuple[str, NDArray]]) -> None:
        other = "_label_src" if which == "_data_src" else "_data_src"
        if self.__dict__.get("_perm") is not None and other in self.__dict__:
            self.__dict__[other] = self._shuffled(other)  # keep the other side's current order
        self.__dict__[which] = value
        self.__dict__["_perm"] = None

    @property
    def provide_data(self) -> List[DataDesc]:
        return [DataDesc(k, tuple([self.batch_size] + list(v.shape[1:])), v.dtype,
                         layout=self.layout) for k, v in self._data_src]

    @property
    def provide_label(self) -> List[DataDesc]:
        return [DataDesc(k, tuple([self.batch_size] + list(v.shape[1:])), v.dtype,
                         layout=self.layout) for k, v in self._label_src]

    def hard_reset(self) -> None:
        """Reset ignoring roll-over: the next epoch starts at row 0 and the cache is dropped."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    def reset(self) -> None:
        if self.shuffle:
            self._shuffle_data()
        if (self.last_batch_handle == "roll_over"
                and self.num_data - self.batch_size < self.cursor < self.num_data):
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self) -> bool:
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self) -> DataBatch:
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[0] != self.batch_size:  # incomplete: cached for roll_over
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _getdata(self, data_source: List[Tuple[str, NDArray]], start: Optional[int] = None,
                 end: Optional[int] = None) -> List[NDArray]:
        assert start is not None or end is not None, "should at least specify start or end"
        start = start if start is not None else 0
        if end is None:
            end = data_source[0][1].shape[0] if data_source else 0
        perm = self._perm
        if perm is None:  # views, as in MXNet (csr: dense rows, MXNet's slice_axis fallback)
            return [_csr_dense_rows(x[1], np.arange(start, min(end, x[1].shape[0])))
                    if isinstance(x[1], CSRNDArray) else x[1][start:end] for x in data_source]
        rows = perm[start:end]
        return [_csr_dense_rows(x[1], rows) if isinstance(x[1], CSRNDArray)
                else NDArray(self._take(x[1]._data, rows)) for x in data_source]

    # Shuffled batches are gathered into buffers this iterator issued earlier and nobody else
    # references any more (CPython's reference count says so: a batch the caller kept, or any
    # view or memoryview of it, keeps its buffer out of reuse). A training loop then allocates
    # no batch memory: a fresh 400 KB array per batch made glibc give the top of the heap back
    # to the kernel and fault it in again (zeroed) every batch.
    _POOL_PER_SOURCE = 4

    def _take(self, src: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if not src.flags.c_contiguous or src.ndim == 0:
            return src.take(rows, axis=0)
        shape = (rows.shape[0],) + src.shape[1:]
        pool = self.__dict__.setdefault("_batch_pool", [])
        for buf in pool:
            # references: the pool's slot, `buf`, and getrefcount's argument
            if sys.getrefcount(buf) == 3 and buf.shape == shape and buf.dtype == src.dtype:
                break
        else:
            buf = np.empty(shape, src.dtype)
            if len(pool) < self._POOL_PER_SOURCE * max(self.__dict__.get("num_source", 1), 1):
                pool.append(buf)
        _core.take_rows(src, rows, buf)
        return buf

    @staticmethod
    def _concat(first: List[NDArray], second: List[NDArray]) -> List[NDArray]:
        assert len(first) == len(second), "data source should contain the same size"
        if first and second:
            return [NDArray(np.concatenate([first[i]._data, second[i]._data], axis=0))
                    for i in range(len(first))]
        if not first and not second:
            return []
        return [first[0] if first else second[0] for _ in range(len(first))]

    @staticmethod
    def _tile(data: List[NDArray], repeats: int) -> List[NDArray]:
        return [NDArray(np.tile(d._data, (repeats,) + (1,) * (d.ndim - 1))) for d in data]

    def _batchify(self, data_source: List[Tuple[str, NDArray]]) -> List[NDArray]:
        assert self.cursor < self.num_data, "DataIter needs reset."
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            assert self._cache_data is not None or self._cache_label is not None, \
                "next epoch should have cached data"
            cache = self._cache_data if self._cache_data is not None else self._cache_label
            second = self._getdata(data_source, end=self.cursor + self.batch_size)
            if self._cache_data is not None:
                self._cache_data = None
            else:
                self._cache_label = None
            return self._concat(cache, second)
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            pad = self.batch_size - self.num_data + self.cursor
            first = self._getdata(data_source, start=self.cursor)
            if pad > self.num_data:
                second = self._tile(self._getdata(data_source, end=self.num_data),
                                    pad // self.num_data)
                if pad % self.num_data != 0:
                    second = self._concat(second, self._getdata(data_source,
                                                                end=pad % self.num_data))
            else:
                second = self._getdata(data_source, end=pad)
            return self._concat(first, second)
        end = min(self.cursor + self.batch_size, self.num_data)
        return self._getdata(data_source, self.cursor, end)

    def getdata(self) -> List[NDArray]:
        return self._batchify(self._data_src)

    def getlabel(self) -> List[NDArray]:
        return self._batchify(self._label_src)

    def getpad(self) -> int:
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0

    def _shuffle_data(self) -> None:
        # MXNet: idx is shuffled in place, then data = data[idx]; so the shuffled data is the
        # original data under the composition perm[idx] of every shuffle so far.
        np.random.shuffle(self.idx)
        perm = self._perm
        self._perm = self.idx.copy() if perm is None else perm[self.idx]


class MXDataIter(DataIter):
    """A file data iterator (what ``MNISTIter``, ``CSVIter`` and ``LibSVMIter`` return).

    The first batch is read at construction; ``provide_data`` / ``provide_label`` describe it
    (names ``data_name`` / ``label_name``). ``next()`` returns a ``DataBatch`` whose ``data`` and
    ``label`` are one-element lists (an ``NDArray``, or a ``CSRNDArray`` for LibSVM data),
    ``pad`` the number of filler rows at the end and ``index`` the instance numbers (uint64).
    Every batch owns fresh arrays (MXNet reuses its buffers after a few batches).

    Example::

        >>> it = mx.io.CSVIter(data_csv='data.csv', data_shape=(3,), batch_size=2)
        >>> isinstance(it, mx.io.MXDataIter), it.batch_size
        (True, 2)
    """

    def __init__(self, handle: Any, data_name: str = "data", label_name: str = "softmax_label",
                 **_: Any) -> None:
        super().__init__()
        self.handle = handle
        self._debug_skip_load = False
        self._debug_at_begin = True
        self._current: Optional[tuple] = None
        self.first_batch: Optional[DataBatch] = None
        self.first_batch = self.next()
        data = self.first_batch.data[0]
        label = self.first_batch.label[0]
        self.provide_data = [DataDesc(data_name, data.shape, data.dtype)]
        self.provide_label = [DataDesc(label_name, label.shape, label.dtype)]
        self.batch_size = data.shape[0]

    def __del__(self) -> None:
        handle = self.__dict__.get("handle")
        if handle is not None:
            try:
                handle.close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

    def debug_skip_load(self) -> None:
        """From now on return the current batch again and again (speed tests without I/O)."""
        self._debug_skip_load = True
        logging.info("Set debug_skip_load to be true, will simply return first batch")

    def reset(self) -> None:
        self._debug_at_begin = True
        self.first_batch = None
        self.handle.reset()

    def _advance(self) -> bool:
        batch = self.handle.next()
        if batch is None:
            return False
        self._current = batch
        return True

    def next(self) -> DataBatch:
        if self._debug_skip_load and not self._debug_at_begin:
            return DataBatch(data=[self.getdata()], label=[self.getlabel()], pad=self.getpad(),
                             index=self.getindex())
        if self.first_batch is not None:
            batch = self.first_batch
            self.first_batch = None
            return batch
        self._debug_at_begin = False
        if self._advance():
            data, label, pad, index = self._current
            return DataBatch(data=[batch_array(data)], label=[batch_array(label)], pad=pad,
                             index=index if index.size else None)
        raise StopIteration

    def iter_next(self) -> bool:
        # MXNet returns True without consuming the first batch, so a `while it.iter_next()` loop
        # never ends there; here the first batch counts as consumed (getdata() returns it).
        if self.first_batch is not None:
            self.first_batch = None
            return True
        return self._advance()

    def _part(self, i: int) -> Any:
        if self._current is None:
            raise MXNetError("MXDataIter: there is no current batch")
        return self._current[i]

    def getdata(self) -> Any:
        return batch_array(self._part(0))

    def getlabel(self) -> Any:
        return batch_array(self._part(1))

    def getindex(self) -> Optional[np.ndarray]:
        index = self._part(3)
        return index.copy() if index.size else None

    def getpad(self) -> int:
        return int(self._part(2))


class ResizeIter(DataIter):
    """Give ``size`` batches per epoch from ``data_iter``, restarting it whenever it runs out.

    Args:
        data_iter: the iterator to resize.
        size: batches per epoch.
        reset_internal: reset ``data_iter`` too on ``reset()`` (else the next epoch continues
            where this one stopped).

    Example::

        >>> it = mx.io.ResizeIter(mx.io.NDArrayIter(np.ones((100, 10)), batch_size=25), 6)
        >>> len(list(it))
        6
    """

    def __init__(self, data_iter: DataIter, size: int, reset_internal: bool = True) -> None:
        super().__init__()
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch: Optional[DataBatch] = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self) -> None:
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self) -> bool:
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True

    def getdata(self) -> Any:
        return self.current_batch.data

    def getlabel(self) -> Any:
        return self.current_batch.label

    def getindex(self) -> Any:
        return self.current_batch.index

    def getpad(self) -> Any:
        return self.current_batch.pad


class PrefetchingIter(DataIter):
    """Read the next batch of one or more iterators in background threads (one per iterator)
    while the current one is used; the batches of all iterators are concatenated.

    Args:
        iters: a DataIter or a list of them (equal batch counts and pads).
        rename_data: None or, per iterator, a dict mapping its data names to new names.
        rename_label: the same for labels.

    Example::

        >>> a = mx.io.NDArrayIter({'data': np.ones((100, 10))}, batch_size=25)
        >>> b = mx.io.NDArrayIter({'data': np.ones((100, 10))}, batch_size=25)
        >>> it = mx.io.PrefetchingIter([a, b], rename_data=[{'data': 'a'}, {'data': 'b'}])
        >>> [d.name for d in it.provide_data]
        ['a', 'b']
    """

    def __init__(self, iters: Any, rename_data: Optional[List[Dict[str, str]]] = None,
                 rename_label: Optional[List[Dict[str, str]]] = None) -> None:
        super().__init__()
        if not isinstance(iters, list):
            iters = [iters]
        self.n_iter = len(iters)
        assert self.n_iter > 0
        self.iters = iters
        self.rename_data = rename_data
        self.rename_label = rename_label
        self.batch_size = self.provide_data[0][1][0]
        self.data_ready = [threading.Event() for _ in range(self.n_iter)]
        self.data_taken = [threading.Event() for _ in range(self.n_iter)]
        for e in self.data_taken:
            e.set()
        self.started = True
        self.current_batch: Optional[DataBatch] = None
        self.next_batch: List[Any] = [None for _ in range(self.n_iter)]
        self._errors: List[Optional[BaseException]] = [None for _ in range(self.n_iter)]

        def prefetch_func(self: "PrefetchingIter", i: int) -> None:
            while True:
                self.data_taken[i].wait()
                if not self.started:
                    break
                try:
                    self.next_batch[i] = self.iters[i].next()
                    self._errors[i] = None
                except StopIteration:
                    self.next_batch[i] = None
                except BaseException as exc:  # re-raised in the consumer's thread
                    self.next_batch[i] = None
                    self._errors[i] = exc
                self.data_taken[i].clear()
                self.data_ready[i].set()
        self.prefetch_threads = [threading.Thread(target=prefetch_func, args=[self, i],
                                                  daemon=True) for i in range(self.n_iter)]
        for thread in self.prefetch_threads:
            thread.start()

    def __del__(self) -> None:
        self.started = False
        for e in self.__dict__.get("data_taken", []):
            e.set()
        for thread in self.__dict__.get("prefetch_threads", []):
            if thread is not threading.current_thread():
                thread.join()

    @property
    def provide_data(self) -> List[DataDesc]:
        if self.rename_data is None:
            return sum([i.provide_data for i in self.iters], [])
        return sum([[DataDesc(r[x.name], x.shape, x.dtype) if isinstance(x, DataDesc)
                     else DataDesc(*x) for x in i.provide_data]
                    for r, i in zip(self.rename_data, self.iters)], [])

    @property
    def provide_label(self) -> List[DataDesc]:
        if self.rename_label is None:
            return sum([i.provide_label for i in self.iters], [])
        return sum([[DataDesc(r[x.name], x.shape, x.dtype) if isinstance(x, DataDesc)
                     else DataDesc(*x) for x in i.provide_label]
                    for r, i in zip(self.rename_label, self.iters)], [])

    def reset(self) -> None:
        for e in self.data_ready:
            e.wait()
        for i in self.iters:
            i.reset()
        for e in self.data_ready:
            e.clear()
        for e in self.data_taken:
            e.set()

    def _raise_pending(self) -> None:
        for i, exc in enumerate(self._errors):
            if exc is not None:
                self._errors[i] = None
                # the failed slot counts as consumed: the next call fetches again
                self.data_ready[i].clear()
                self.data_taken[i].set()
                raise exc

    def iter_next(self) -> bool:
        for e in self.data_ready:
            e.wait()
        self._raise_pending()
        if self.next_batch[0] is None:
            for b in self.next_batch:
                assert b is None, "Number of entry mismatches between iterators"
            return False
        for batch in self.next_batch:
            assert batch.pad == self.next_batch[0].pad, \
                "Number of entry mismatches between iterators"
        self.current_batch = DataBatch(sum([b.data for b in self.next_batch], []),
                                       sum([b.label for b in self.next_batch], []),
                                       self.next_batch[0].pad, self.next_batch[0].index,
                                       provide_data=self.provide_data,
                                       provide_label=self.provide_label)
        for e in self.data_ready:
            e.clear()
        for e in self.data_taken:
            e.set()
        return True

    def next(self) -> DataBatch:
        if self.iter_next():
            return self.current_batch
        raise StopIteration

    def getdata(self) -> Any:
        return self.current_batch.data

    def getlabel(self) -> Any:
        return self.current_batch.label

    def getindex(self) -> Any:
        return self.current_batch.index

    def getpad(self) -> Any:
        return self.current_batch.pad


from ._data_iters import (CSVIter, LibSVMIter, MNISTIter,  # noqa: E402
                          batch_array)
