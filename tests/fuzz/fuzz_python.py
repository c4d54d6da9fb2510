"""atheris fuzz targets for mxopt's Python surface (untrusted files and bytes).

    python tests/fuzz/fuzz_python.py TARGET [libFuzzer options] [corpus dirs]

A target passes an input when mxopt either accepts it or raises a clear error (MXNetError,
ValueError, TypeError); any other exception, a crash or a hang is a finding.
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    import mxopt as mx
    from mxopt.base import MXNetError

CLEAR_ERRORS = (MXNetError, ValueError, TypeError)
_TMP = tempfile.mkdtemp(prefix="mxopt-fuzz-")


def symbol_json(data: bytes) -> None:
    """mx.sym.load_json on arbitrary text; what loads must serialise and introspect."""
    text = data.decode("utf-8", "replace")
    try:
        sym = mx.sym.load_json(text)
    except CLEAR_ERRORS:
        return
    again = mx.sym.load_json(sym.tojson())
    assert again.tojson() == sym.tojson(), "tojson is not a fixed point after load"
    sym.list_arguments(), sym.list_outputs(), sym.list_auxiliary_states()


def nd_load(data: bytes) -> None:
    """mx.nd.load on an arbitrary file; what loads must save and load back equal."""
    path = os.path.join(_TMP, "in.params")
    with open(path, "wb") as f:
        f.write(data)
    try:
        loaded = mx.nd.load(path)
    except CLEAR_ERRORS:
        return
    out = os.path.join(_TMP, "out.params")
    mx.nd.save(out, loaded)
    back = mx.nd.load(out)
    items = loaded.items() if isinstance(loaded, dict) else enumerate(loaded)
    for key, arr in items:
        other = back[key]
        assert arr.shape == other.shape and arr.dtype == other.dtype
        if arr.stype == "row_sparse":  # may be huge logically: compare what is stored
            np.testing.assert_array_equal(arr.indices.asnumpy(), other.indices.asnumpy())
            np.testing.assert_array_equal(arr.data.asnumpy(), other.data.asnumpy())
        else:
            np.testing.assert_array_equal(arr.asnumpy(), other.asnumpy())


TARGETS = {"symbol_json": symbol_json, "nd_load": nd_load}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer args]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0]] + sys.argv[2:], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
