"""The safe (non-pickle) ``Updater`` state format: an MXNet ``.params`` image plus a JSON manifest.

Layout: ``MAGIC`` | manifest length (8 bytes, little endian) | manifest (UTF-8 JSON) | the
``.params`` image of every state array (dict form, names ``a0``, ``a1``, ...). The manifest
holds the nesting of each index's state (None / array / tuple / list / number), the array
kinds (``mx.nd.NDArray``, numpy, row_sparse), and the optimizer's scalar attributes (update
counts, ``num_update``, Nadam's ``m_schedule``, ...) and LBSGD's cumulative gradients (their
arrays in the image). Decoding only builds arrays, numbers and
containers: it never imports or calls anything named by the input, so untrusted bytes cannot
execute code. Any malformed input raises ``ValueError``.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, List, Tuple

import numpy as np

from .. import _core
from ..base import MXNetError
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse import RowSparseNDArray
from ..ndarray.utils import _record, load_frombuffer

MAGIC = b"MXOPT-UPDATER-STATES-v1\n"
_SCALARS = (bool, int, float, str, type(None))
_MAX_DEPTH = 8


class _Encoder:
    def __init__(self) -> None:
        self.names: List[str] = []
        self.records: List[Any] = []

    def tree(self, x: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError("safe state format: states nested deeper than "
                             f"{_MAX_DEPTH} levels are not supported")
        if isinstance(x, (NDArray, RowSparseNDArray, np.ndarray)):
            name = f"a{len(self.names)}"
            self.names.append(name)
            self.records.append(_record(x))
            kind = ("rsp" if isinstance(x, RowSparseNDArray)
                    else "nd" if isinstance(x, NDArray) else "np")
            return {"array": name, "kind": kind, "shape": [int(d) for d in x.shape]}
        if isinstance(x, (tuple, list)):
            return {"tuple" if isinstance(x, tuple) else "list":
                    [self.tree(v, depth + 1) for v in x]}
        if isinstance(x, (bool, int, float, type(None))) and not isinstance(x, np.generic):
            return {"value": x}
        if isinstance(x, np.generic):  # numpy scalar: keep dtype and bits
            return {"scalar": x.item(), "dtype": x.dtype.str}
        raise TypeError("safe state format: cannot store a state of type "
                        f"{type(x).__name__} (only arrays, numbers, None, tuples and lists)")


def _key(k: Any) -> Any:
    if isinstance(k, bool) or not isinstance(k, (int, str)):
        raise TypeError(f"safe state format: state keys must be int or str, got {type(k).__name__}")
    return {"int": k} if isinstance(k, int) else {"str": k}


def _optimizer_manifest(opt: Any, enc: _Encoder) -> Dict[str, Any]:
    scalars = {k: v for k, v in vars(opt).items()
               if isinstance(v, _SCALARS) and not k.startswith("__")}
    counts = [[int(dev), [[_key(i), int(c)] for i, c in table.items()]]
              for dev, table in opt._all_index_update_counts.items()]
    current = next((dev for dev, table in opt._all_index_update_counts.items()
                    if table is opt._index_update_count), 0)
    out = {"class": type(opt).__name__, "scalars": scalars, "update_counts": counts,
           "current_device": int(current)}
    cumgrads = vars(opt).get("cumgrads")
    if isinstance(cumgrads, dict):  # LBSGD: per index, the gradient sum and its count
        out["cumgrads"] = [[_key(i), enc.tree(c["cum_grad"]), int(c["num_cums"])]
                           for i, c in cumgrads.items()]
    return out


def dumps(states: Dict[Any, Any], optimizer: Any = None) -> bytes:
    """``states`` (and the optimizer's scalars when ``optimizer`` is given) -> bytes."""
    enc = _Encoder()
    entries = [[_key(k), enc.tree(v)] for k, v in states.items()]
    manifest = {"states": entries,
                "optimizer": _optimizer_manifest(optimizer, enc) if optimizer is not None else None}
    text = json.dumps(manifest, allow_nan=True).encode("utf-8")
    image = _core.params_serialize(enc.records, enc.names)
    return MAGIC + struct.pack("<Q", len(text)) + text + image


# ---- decoding (untrusted input) -----------------------------------------------------------
def _bad(msg: str) -> ValueError:
    return ValueError(f"invalid safe updater state: {msg}")


def _dec_key(obj: Any) -> Any:
    if isinstance(obj, dict) and len(obj) == 1:
        if "int" in obj and type(obj["int"]) is int:
            return obj["int"]
        if "str" in obj and isinstance(obj["str"], str):
            return obj["str"]
    raise _bad(f"bad key {obj!r:.80}")


def _dec_tree(obj: Any, arrays: Dict[str, Any], used: set, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH or not isinstance(obj, dict) or len(obj) == 0:
        raise _bad(f"bad state node {obj!r:.80}")
    if "array" in obj:
        name, kind, shape = obj.get("array"), obj.get("kind"), obj.get("shape")
        if (set(obj) != {"array", "kind", "shape"} or not isinstance(name, str)
                or name not in arrays or name in used or kind not in ("nd", "np", "rsp")
                or not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape)):
            raise _bad(f"bad array node {obj!r:.80}")
        used.add(name)
        arr = arrays[name]
        if kind == "rsp":
            if not isinstance(arr, RowSparseNDArray) or list(arr.shape) != shape:
                raise _bad(f"array {name} is not a row_sparse array of shape {tuple(shape)}")
            return arr
        if not isinstance(arr, NDArray):
            raise _bad(f"array {name} is not a dense array")
        data = arr._data
        if int(np.prod(shape, dtype=np.int64)) != data.size:
            raise _bad(f"array {name} has {data.size} elements, manifest shape {tuple(shape)}")
        data = np.ascontiguousarray(data.reshape(shape))
        return data if kind == "np" else NDArray(data)
    if set(obj) == {"tuple"} or set(obj) == {"list"}:
        items = obj.get("tuple", obj.get("list"))
        if not isinstance(items, list):
            raise _bad("tuple/list node without a list")
        out = [_dec_tree(v, arrays, used, depth + 1) for v in items]
        return tuple(out) if "tuple" in obj else out
    if set(obj) == {"value"} and isinstance(obj["value"], (bool, int, float, type(None))):
        return obj["value"]
    if set(obj) == {"scalar", "dtype"} and isinstance(obj["dtype"], str):
        try:
            dt = np.dtype(obj["dtype"])
        except TypeError as exc:
            raise _bad(f"bad scalar dtype {obj['dtype']!r:.40}") from exc
        if dt.kind not in "biuf" or not isinstance(obj["scalar"], (bool, int, float)):
            raise _bad(f"bad scalar {obj!r:.80}")
        try:
            return dt.type(obj["scalar"])
        except (OverflowError, ValueError) as exc:
            raise _bad(f"scalar {obj['scalar']!r:.40} does not fit {dt}") from exc
    raise _bad(f"bad state node {obj!r:.80}")


def loads(data: bytes) -> Tuple[Dict[Any, Any], Any]:
    """bytes -> (states, optimizer manifest or None). Raises ``ValueError`` on bad input."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"states must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise _bad("missing the header (was it written by get_states(format='safe')?)")
    pos = len(MAGIC)
    if len(data) < pos + 8:
        raise _bad("truncated header")
    (n,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    if n > len(data) - pos:
        raise _bad(f"manifest length {n} exceeds the input")
    try:
        manifest = json.loads(data[pos:pos + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _bad(f"manifest is not JSON ({exc})") from exc
    try:
        loaded = load_frombuffer(data[pos + n:])
    except MXNetError as exc:
        raise _bad(f"array image: {exc}") from exc
    if isinstance(loaded, list):
        if loaded:
            raise _bad("array image is not in dict form")
        loaded = {}
    if (not isinstance(manifest, dict) or set(manifest) != {"states", "optimizer"}
            or not isinstance(manifest["states"], list)):
        raise _bad("manifest must be {'states': [...], 'optimizer': ...}")
    states: Dict[Any, Any] = {}
    used: set = set()
    for entry in manifest["states"]:
        if not isinstance(entry, list) or len(entry) != 2:
            raise _bad(f"bad state entry {entry!r:.80}")
        key = _dec_key(entry[0])
        if key in states:
            raise _bad(f"duplicate state key {key!r}")
        states[key] = _dec_tree(entry[1], loaded, used)
    opt = manifest["optimizer"]
    if opt is not None:
        _check_optimizer_manifest(opt)
        if "cumgrads" in opt:  # decoded in place: [[key, tree, n], ...] -> {key: {...}}
            cumgrads: Dict[Any, Any] = {}
            for key, tree, num in opt["cumgrads"]:
                cumgrads[_dec_key(key)] = {"cum_grad": _dec_tree(tree, loaded, used),
                                           "num_cums": num}
            opt["cumgrads"] = cumgrads
    if used != set(loaded):
        raise _bad(f"arrays {sorted(set(loaded) - used)[:5]} are not referenced by the manifest")
    return states, opt


def _check_optimizer_manifest(opt: Any) -> None:
    if (not isinstance(opt, dict) or set(opt) - {"cumgrads"} != {"class", "scalars",
                                                                  "update_counts",
                                                                  "current_device"}
            or not isinstance(opt["class"], str) or not isinstance(opt["scalars"], dict)
            or not isinstance(opt["update_counts"], list)
            or type(opt["current_device"]) is not int):
        raise _bad("bad optimizer section")
    for k, v in opt["scalars"].items():
        if not isinstance(v, _SCALARS):
            raise _bad(f"optimizer scalar {k!r:.40} is not a number, string, bool or null")
    for item in opt["update_counts"]:
        if (not isinstance(item, list) or len(item) != 2 or type(item[0]) is not int
                or not isinstance(item[1], list)):
            raise _bad("bad update_counts entry")
        for pair in item[1]:
            if not isinstance(pair, list) or len(pair) != 2 or type(pair[1]) is not int:
                raise _bad("bad update count")
            _dec_key(pair[0])
    cumgrads = opt.get("cumgrads", [])
    if not isinstance(cumgrads, list):
        raise _bad("bad cumgrads section")
    for item in cumgrads:
        if (not isinstance(item, list) or len(item) != 3 or type(item[2]) is not int
                or item[2] < 0):
            raise _bad(f"bad cumgrads entry {item!r:.80}")


def apply_optimizer(opt: Any, manifest: Dict[str, Any]) -> None:
    """Restore the scalars of ``manifest`` into ``opt`` (same class; existing attributes only)."""
    if manifest["class"] != type(opt).__name__:
        raise ValueError(f"the states were saved with optimizer {manifest['class']!r}, "
                         f"this Updater has {type(opt).__name__!r}")
    for k, v in manifest["scalars"].items():
        if k not in vars(opt):
            raise _bad(f"optimizer {type(opt).__name__} has no attribute {k!r:.40}")
        cur = vars(opt)[k]
        if cur is not None and v is not None and type(cur) is not type(v) and not (
                isinstance(cur, (int, float)) and isinstance(v, (int, float))
                and not isinstance(cur, bool) and not isinstance(v, bool)):
            raise _bad(f"optimizer attribute {k!r} is {type(cur).__name__}, "
                       f"the states give {type(v).__name__}")
    if "cumgrads" in manifest and not isinstance(vars(opt).get("cumgrads"), dict):
        raise _bad(f"optimizer {type(opt).__name__} keeps no cumulative gradients")
    counts = {dev: {_dec_key(i): c for i, c in table} for dev, table in manifest["update_counts"]}
    counts.setdefault(0, {})
    counts.setdefault(manifest["current_device"], {})
    for k, v in manifest["scalars"].items():
        setattr(opt, k, v)
    opt._all_index_update_counts = counts
    opt._index_update_count = counts[manifest["current_device"]]
    if "cumgrads" in manifest:
        opt.cumgrads = manifest["cumgrads"]
