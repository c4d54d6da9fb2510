"""Every input a fuzzer ever found a problem with (tests/fuzz/regressions/) stays fixed: it is
either rejected with a clear error or accepted and round-trips (the fuzz target's own check),
never a crash, an unclear exception or a huge allocation. File names say which entry point
they were found in: params_* (mx.nd.load, rejected), ndload_* (mx.nd.load, accepted: replayed
through the nd_load target, which saves, reloads and compares), symbol_* (symbol JSON), update_*
(the optimizer_update atheris target: replayed through the target itself, which asserts that a
rejected update wrote nothing) and states_* (Updater.set_states, safe format)."""
import os
import sys
import tempfile

import pytest
from mxnet_oracle import needs_mxnet

import mxopt as mx
from mxopt.base import MXNetError

HERE = os.path.dirname(os.path.abspath(__file__))
REGRESSIONS = os.path.join(HERE, "..", "fuzz", "regressions")
FILES = sorted(os.listdir(REGRESSIONS))


def _reject(name, tmp_path):
    path = os.path.join(REGRESSIONS, name)
    if name.startswith("params_"):
        with pytest.raises(MXNetError, match="Invalid NDArray file format|too large"):
            mx.nd.load(path)
    elif name.startswith("symbol_"):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        try:
            sym = mx.sym.load_json(text)
        except (MXNetError, ValueError, TypeError):
            return
        assert mx.sym.load_json(sym.tojson()).tojson() == sym.tojson()
    elif name.startswith(("update_", "states_", "ndload_")):
        pytest.importorskip("atheris", reason="the atheris targets replay these (scripts/test.sh "
                                              "installs atheris)")
        sys.path.insert(0, os.path.join(HERE, "..", "fuzz"))
        try:
            import fuzz_python
        finally:
            sys.path.pop(0)
        with open(path, "rb") as f:
            data = f.read()
        target = {"update": fuzz_python.optimizer_update, "states": fuzz_python.updater_states,
                  "ndload": fuzz_python.nd_load}[name.split("_", 1)[0]]
        target(data)  # raises AssertionError (or a non-clear exception) if the bug is back
        # nd_load saves what loaded (805 MB for ndload_csr_dense_800mb): nothing may stay on disk
        assert os.listdir(tmp_path) == [], "the fuzz target left files behind"
    else:
        raise AssertionError(f"regression file {name} has no known prefix")


@pytest.mark.parametrize("name", FILES)
def test_fuzz_finding_is_rejected_cleanly(name, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _reject(name, tmp_path)


@needs_mxnet
def test_symbol_json_with_raw_control_characters_loads_like_mxnet():
    import mxnet

    text = mxnet.sym.Variable("a\x01b").tojson()  # MXNet writes control characters raw
    assert mx.sym.load_json(text).list_arguments() == ["a\x01b"]
    assert mx.sym.Variable("a\x01b").tojson() == text
