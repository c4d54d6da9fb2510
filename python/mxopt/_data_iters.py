"""MXNet 1.9.1's file data iterators: ``mx.io.MNISTIter``, ``mx.io.CSVIter``, ``mx.io.LibSVMIter``.

They return ``mx.io.MXDataIter`` objects, as MXNet does: the first batch is read at construction
(it gives ``provide_data`` / ``provide_label``), ``reset()`` rewinds with MXNet's rules and batches
carry MXNet's ``pad`` and ``index``. Parsing and batch assembly run in C++ (``mxopt._core``,
cpp/src/io/) in a prefetching thread that runs up to 16 batches ahead, like MXNet's.

CSV and LibSVM text is parsed in parallel chunks; after a first complete pass the parsed rows are
kept in memory and later epochs replay them (while the files' sizes and modification times are
unchanged), up to ``MXOPT_IO_CACHE_MB`` megabytes per file set (default: a quarter of the RAM, at
most 2048; 0 disables the cache and every epoch parses the files again, as MXNet does).

Parameters are given as keyword arguments and read the way MXNet reads them (each value's
``str()``; unknown names are ignored). Malformed files raise :class:`mxopt.base.MXNetError`
naming the file and the line, at construction or at the batch that needs the malformed line; a
missing file raises :class:`DataFileNotFoundError` (both an ``MXNetError`` and a
``FileNotFoundError``).

Example::

    >>> it = mx.io.CSVIter(data_csv='data.csv', data_shape=(3,), batch_size=2)
    >>> for batch in it:
    ...     batch.data[0].shape
    (2, 3)
"""

from __future__ import annotations

import gzip
import re
import sys
import time
import zlib
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _core
from .base import MXNetError
from .ndarray import NDArray
from .ndarray.sparse import CSRNDArray

__all__ = ["MNISTIter", "CSVIter", "LibSVMIter", "DataFileNotFoundError", "batch_array"]


class DataFileNotFoundError(MXNetError, FileNotFoundError):
    """A data file of an iterator does not exist (MXNet raises MXNetError there); ``filename``
    is the missing path."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


_REQUIRED = object()
_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "int8")
_CHUNK_BYTES = 16 << 20


def _fail(key: str, kind: str, value: str) -> MXNetError:
    return MXNetError(f"Invalid Parameter format for {key} expect {kind} but value='{value}'")


def _parse_int(key: str, text: str, kind: str) -> int:
    m = re.fullmatch(r"\s*([+-]?\d+)\s*", text)
    if m is None:
        raise _fail(key, kind, text)
    return int(m.group(1))


def _parse_bool(key: str, text: str) -> bool:
    low = text.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise _fail(key, "boolean", text)


def _parse_shape(key: str, text: str) -> Tuple[int, ...]:
    s = text.strip()
    try:
        if s[:1] in "([" and s:
            if s[-1:] != {"(": ")", "[": "]"}[s[0]]:
                raise ValueError(s)
            inner = s[1:-1].strip()
            if not inner:
                return ()
            parts = [p.strip() for p in inner.split(",")]
            if parts[-1] == "":
                parts.pop()
            return tuple(int(p) for p in parts)
        return (int(s),)
    except (ValueError, IndexError):
        raise _fail(key, "Shape(tuple)", text) from None


def _parse(iterator: str, kwargs: Dict[str, Any],
           fields: Sequence[Tuple[str, str, Any]]) -> Dict[str, Any]:
    """Read ``kwargs`` like dmlc's parameter parser: each value's ``str()`` is parsed as the
    field's type; missing required fields and malformed values raise MXNetError."""
    out: Dict[str, Any] = {}
    for key, kind, default in fields:
        if key not in kwargs:
            if default is _REQUIRED:
                kind_name = {"int": "int", "uint": "int (non-negative)", "str": "string",
                             "shape": "Shape(tuple)"}.get(kind, kind)
                raise MXNetError(f"Required parameter {key} of {kind_name} is not presented "
                                 f"(in {iterator})")
            out[key] = default
            continue
        value = kwargs[key]
        text = value if isinstance(value, str) else str(value)
        if kind == "int":
            out[key] = _parse_int(key, text, "int")
        elif kind == "uint":
            out[key] = _parse_int(key, text, "int (non-negative)")
        elif kind == "bool":
            out[key] = _parse_bool(key, text)
        elif kind == "shape":
            out[key] = _parse_shape(key, text)
        elif kind == "str":
            out[key] = text
        elif kind == "ctx":
            if text not in ("cpu", "gpu"):
                raise MXNetError(f"Invalid Input: '{text}', valid values are: {{'cpu', 'gpu'}}")
            out[key] = text
        elif kind == "dtype":
            if text == "None":
                out[key] = None
            elif text in _DTYPES:
                out[key] = text
            else:
                raise MXNetError(f"Invalid Input: '{text}', valid values are: "
                                 "{" + ", ".join(f"'{d}'" for d in _DTYPES) + "}")
        else:  # pragma: no cover - table error
            raise AssertionError(kind)
    return out


# MXNet's PrefetcherParam, shared by the three iterators.
_PREFETCH = [("prefetch_buffer", "uint", 4), ("ctx", "ctx", "gpu"), ("dtype", "dtype", None)]


def _chunk_bytes(kwargs: Dict[str, Any]) -> int:
    """The text chunk size (an mxopt-only ``_chunk_bytes`` argument; tests use small chunks)."""
    value = int(kwargs.get("_chunk_bytes", _CHUNK_BYTES))
    if value < 16:
        raise ValueError(f"_chunk_bytes must be at least 16, got {value}")
    return value


def batch_array(obj: Any) -> Any:
    """A batch component from ``_core.DataIter.next()`` as an NDArray or CSRNDArray."""
    if isinstance(obj, np.ndarray):
        return NDArray(obj)
    values, indices, indptr, shape = obj
    return CSRNDArray(values, indices, indptr, tuple(shape))


def _start(name: str, handle: Any, kwargs: Dict[str, Any], empty: str) -> Any:
    from .io import MXDataIter
    try:
        return MXDataIter(handle, **{k: v for k, v in kwargs.items()
                                     if k in ("data_name", "label_name")})
    except StopIteration:
        # MXNet raises a bare StopIteration here: its first batch does not exist.
        raise StopIteration(f"{name}: {empty}") from None


def _no_positional(name: str, args: tuple) -> None:
    if args:
        raise TypeError(f"{name} can only accept keyword arguments")


def _read_idx(path: str) -> Optional[bytes]:
    """The bytes of a gzip-compressed idx file (None for an uncompressed one: C++ reads it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            if head != b"\x1f\x8b":
                return None
            f.seek(0)
            raw = f.read()
    except FileNotFoundError as exc:
        err = DataFileNotFoundError(f"cannot open MNIST file '{path}': No such file or directory")
        err.filename, err.errno = path, exc.errno
        raise err from None
    except OSError as exc:
        raise MXNetError(f"cannot read MNIST file '{path}': {exc}") from exc
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise MXNetError(f"gzip file '{path}' is corrupt or truncated: {exc}") from None


def MNISTIter(*args: Any, **kwargs: Any) -> Any:
    """Iterate over MNIST-style idx files (MXNet's ``mx.io.MNISTIter``).

    Keyword arguments (MXNet's names and defaults):
        image ('./train-images-idx3-ubyte'), label ('./train-labels-idx1-ubyte'): idx files of
            unsigned bytes (images N x rows x cols, labels N); gzip-compressed files are read
            too (an mxopt extension).
        batch_size (128): images per batch; the last incomplete batch is dropped.
        shuffle (True): shuffle the images once, at construction, with MXNet's engine seeded by
            ``seed`` (0): the same order as MXNet for the same seed.
        flat (False): data of shape (batch, rows * cols) instead of (batch, 1, rows, cols).
        num_parts (1), part_index (0): read only this contiguous part of the images.
        silent (False): do not log the "MNISTIter: load ..." line.
        prefetch_buffer, ctx, dtype: MXNet's prefetcher arguments (dtype must be float32).
        data_name ('data'), label_name ('softmax_label'): names in provide_data/provide_label.

    Pixels are scaled by 1/256; labels are float32 of shape (batch,).

    Example::

        >>> it = mx.io.MNISTIter(image='train-images-idx3-ubyte', label='train-labels-idx1-ubyte',
        ...                      batch_size=100, flat=True, silent=True)
        >>> it.provide_data[0].shape
        (100, 784)
    """
    _no_positional("MNISTIter", args)
    p = _parse("MNISTIter", kwargs, [
        ("image", "str", "./train-images-idx3-ubyte"),
        ("label", "str", "./train-labels-idx1-ubyte"),
        ("batch_size", "int", 128), ("shuffle", "bool", True), ("flat", "bool", False),
        ("seed", "int", 0), ("silent", "bool", False), ("num_parts", "int", 1),
        ("part_index", "int", 0)] + _PREFETCH)
    if p["batch_size"] < 1:
        raise MXNetError(f"value {p['batch_size']} for Parameter batch_size should be greater "
                         "equal to 1")
    if p["dtype"] not in (None, "float32"):
        raise MXNetError(f"MNISTIter: dtype={p['dtype']} is not supported: MNIST batches are "
                         "float32 (data type do not match)")
    if p["part_index"] < 0 or p["num_parts"] <= 0 or p["num_parts"] <= p["part_index"]:
        raise MXNetError(f"MNISTIter: need 0 <= part_index < num_parts, got part_index="
                         f"{p['part_index']} num_parts={p['num_parts']}")
    seed = p["seed"]
    if not -(1 << 31) <= seed < (1 << 31):
        raise MXNetError(f"MNISTIter: seed {seed} does not fit in an int")
    image_bytes, label_bytes = _read_idx(p["image"]), _read_idx(p["label"])
    handle, count, rows, cols = _core.mnist_iter(
        p["image"], p["label"], image_bytes, label_bytes, p["batch_size"], p["shuffle"],
        p["flat"], seed, p["num_parts"], p["part_index"])
    if not p["silent"]:
        bs = p["batch_size"]
        shape = f"({bs},{rows * cols})" if p["flat"] else f"[{bs},1,{rows},{cols}]"
        line = 109 if p["flat"] else 112
        sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] ../src/io/iter_mnist.cc:{line}: "
                         f"MNISTIter: load {count} images, shuffle={int(p['shuffle'])}, "
                         f"shape={shape}\n")
        sys.stderr.flush()
    return _start("MNISTIter", handle, kwargs,
                  f"batch_size {p['batch_size']} is larger than the {count} images to read")


def CSVIter(*args: Any, **kwargs: Any) -> Any:
    """Iterate over CSV files (MXNet's ``mx.io.CSVIter``).

    Keyword arguments (MXNet's names and defaults):
        data_csv (required): a CSV file, a directory (all its files) or ';'-separated names.
        data_shape (required): the shape of one row (each row holds prod(data_shape) values).
        label_csv ('NULL'): a CSV file of labels, one row per data row; without it every label
            is 0 (label_shape is then ignored).
        label_shape ((1,)): the shape of one label row.
        batch_size (required): rows per batch.
        round_batch (True): the last batch of an epoch is completed with rows from the start
            (``pad`` of them), and the next epoch continues after those rows; False: the last
            batch is short, its ``pad`` rows are left over from the previous batch.
        dtype (None = float32, 'int32', 'int64'): the element type of data and labels.
        prefetch_buffer, ctx: accepted (MXNet's prefetcher arguments).
        data_name ('data'), label_name ('softmax_label').

    A label of shape (batch, 1, ...) is returned as its first ``batch`` values, shape (batch,)
    (MXNet's C API does so). Values are parsed with MXNet's own float syntax and rounding;
    integers accept 0x hex and 0-prefixed octal, as MXNet's strtoll does. A row with the wrong
    number of values, an empty or non-numeric field raises MXNetError naming the file and line.

    Example::

        >>> it = mx.io.CSVIter(data_csv='data.csv', data_shape=(3,), batch_size=3)
        >>> it.provide_data[0].shape, it.provide_label[0].shape
        ((3, 3), (3,))
    """
    _no_positional("CSVIter", args)
    p = _parse("CSVIter", kwargs, _PREFETCH + [
        ("batch_size", "uint", _REQUIRED), ("round_batch", "bool", True),
        ("data_csv", "str", _REQUIRED), ("data_shape", "shape", _REQUIRED),
        ("label_csv", "str", "NULL"), ("label_shape", "shape", (1,))])
    # CSVIter reads the raw dtype argument itself: an explicit dtype=None is refused.
    dtype = str(kwargs["dtype"]) if "dtype" in kwargs else "float32"
    flags = {"float32": 0, "int32": 4, "int64": 6}
    if dtype not in flags:
        raise MXNetError(f"{dtype} is not supported for CSVIter (use float32, int32 or int64)")
    _check_shape("CSVIter", "data_shape", p["data_shape"])
    label_csv = "" if p["label_csv"] == "NULL" else p["label_csv"]
    if label_csv:
        _check_shape("CSVIter", "label_shape", p["label_shape"])
    if p["batch_size"] < 1:
        raise MXNetError(f"CSVIter: batch_size must be positive, got {p['batch_size']}")
    handle = _core.csv_iter(p["data_csv"], list(p["data_shape"]), label_csv,
                            list(p["label_shape"]), p["batch_size"], p["round_batch"],
                            flags[dtype], _chunk_bytes(kwargs))
    return _start("CSVIter", handle, kwargs, f"'{p['data_csv']}' holds no rows")


def _check_shape(name: str, key: str, shape: Tuple[int, ...]) -> None:
    if not shape or any(d <= 0 for d in shape):
        raise MXNetError(f"{name}: {key} must have positive dimensions, got {shape}")


def LibSVMIter(*args: Any, **kwargs: Any) -> Any:
    """Iterate over LibSVM files as CSR batches (MXNet's ``mx.io.LibSVMIter``).

    Keyword arguments (MXNet's names and defaults):
        data_libsvm (required): a LibSVM file ("label index:value ..." per line, indices
            zero-based and increasing within a line), a directory or ';'-separated names.
        data_shape (required): (num_features,).
        label_libsvm ('NULL'): a LibSVM file of CSR labels (needs label_shape with more than one
            element); without it labels are the first value of each data line, shape (batch,).
        label_shape ((1,)).
        num_parts (1), part_index (0): read only this byte range of the files (cut at line
            starts, as MXNet does: parts are not equal in rows).
        batch_size (required).
        round_batch (True): must be True (the last batch is completed from the start, ``pad``).
        prefetch_buffer, ctx, dtype: MXNet's prefetcher arguments (dtype must be float32).
        data_name ('data'), label_name ('softmax_label').

    Batches: ``data[0]`` is a CSRNDArray of shape (batch_size, num_features), float32.
    A feature index out of range, unsorted or repeated indices in a line, or a feature without a
    value raise MXNetError naming the file and line (MXNet passes them on unchecked).

    Example::

        >>> it = mx.io.LibSVMIter(data_libsvm='data.t', data_shape=(3,), batch_size=3)
        >>> it.next().data[0]
        <BLANKLINE>
        <CSRNDArray 3x3 @cpu(0)>
    """
    _no_positional("LibSVMIter", args)
    p = _parse("LibSVMIter", kwargs, _PREFETCH + [
        ("batch_size", "uint", _REQUIRED), ("round_batch", "bool", True),
        ("data_libsvm", "str", _REQUIRED), ("data_shape", "shape", _REQUIRED),
        ("label_libsvm", "str", "NULL"), ("label_shape", "shape", (1,)),
        ("num_parts", "int", 1), ("part_index", "int", 0)])
    if len(p["data_shape"]) != 1:
        raise MXNetError(f"LibSVMIter: dimension of data_shape is expected to be 1, got "
                         f"{p['data_shape']}")
    _check_shape("LibSVMIter", "data_shape", p["data_shape"])
    if p["num_parts"] <= 0:
        raise MXNetError("LibSVMIter: number of parts should be positive")
    if p["part_index"] < 0:
        raise MXNetError("LibSVMIter: part index should be non-negative")
    if p["part_index"] >= p["num_parts"]:
        raise MXNetError(f"LibSVMIter: part_index {p['part_index']} must be < num_parts "
                         f"{p['num_parts']} (invalid input parameter for InputSplit::Create)")
    label_libsvm = "" if p["label_libsvm"] == "NULL" else p["label_libsvm"]
    label_size = int(np.prod(p["label_shape"])) if p["label_shape"] else 1
    if label_libsvm:
        if label_size <= 1:
            raise MXNetError("LibSVMIter: label_shape is not expected to be (1,) when "
                             "label_libsvm is set")
        if len(p["label_shape"]) != 1:
            raise MXNetError(f"LibSVMIter: label_shape must be 1-D (label_cols,), got "
                             f"{p['label_shape']}")
    elif label_size != 1:
        raise MXNetError("LibSVMIter: label_shape is expected to be (1,) when label_libsvm is "
                         "NULL")
    if not p["round_batch"]:
        raise MXNetError("LibSVMIter: sparse batch loader doesn't support round_batch == false yet")
    if p["dtype"] not in (None, "float32"):
        raise MXNetError(f"LibSVMIter: dtype={p['dtype']} is not supported: LibSVM batches are "
                         "float32 (data type do not match)")
    if p["batch_size"] < 1:
        raise MXNetError(f"LibSVMIter: batch_size must be positive, got {p['batch_size']}")
    handle = _core.libsvm_iter(p["data_libsvm"], p["data_shape"][0], label_libsvm,
                               p["label_shape"][0] if label_libsvm else 1, p["batch_size"],
                               p["num_parts"], p["part_index"], _chunk_bytes(kwargs))
    return _start("LibSVMIter", handle, kwargs,
                  f"part {p['part_index']} of {p['num_parts']} of '{p['data_libsvm']}' holds "
                  "no rows")
