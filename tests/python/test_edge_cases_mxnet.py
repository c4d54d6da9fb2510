"""Numerical edge cases against real MXNet 1.9.1 (issue 7): NaN/Inf gradients, zero-size and
size-1 arrays, a huge learning rate, denormals, float16 overflow with multi_precision, for a
representative set of optimizers. The bar is bit-identical weights and states (NaN == NaN).
"""
import os
import warnings

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import numpy as np
import pytest

import mxopt

os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

OPTS = [("sgd", dict(momentum=0.9, wd=0.01)), ("sgd", dict()), ("nag", dict(momentum=0.9)),
        ("adam", dict()), ("rmsprop", dict(centered=True)), ("rmsprop", dict()),
        ("adagrad", dict()), ("ftrl", dict(lamda1=0.01)), ("signum", dict(momentum=0.9)),
        ("lamb", dict())]
OPT_IDS = [f"{n}-{i}" for i, (n, _) in enumerate(OPTS)]
TINY = np.float32(1e-40)  # a float32 denormal
CASES = {
    # name: (weight, grads for 3 steps, lr, dtype, multi_precision)
    "nan-grad": (np.linspace(-1, 1, 6), [[0.1, np.nan, 0.3, -0.2, 0.5, 0.0]] * 3, 0.1, np.float32, False),
    "inf-grad": (np.linspace(-1, 1, 6), [[np.inf, -np.inf, 0.3, -0.2, 0.5, 0.0]] * 3, 0.1, np.float32, False),
    "zero-size": (np.zeros(0), [np.zeros(0)] * 3, 0.1, np.float32, False),
    "size-1": (np.array([0.7]), [[0.3], [-0.1], [2.0]], 0.1, np.float32, False),
    "huge-lr": (np.linspace(-1, 1, 6), [[0.1, -0.4, 0.3, -0.2, 0.5, 0.0]] * 3, 1e38, np.float32, False),
    "denormals": (np.full(6, TINY), [[TINY, -TINY, TINY * 3, 0.0, 1e-45, -1e-45]] * 3, 0.5, np.float32, False),
    "fp16-overflow-mp": (np.array([60000.0, -60000.0, 1.0, 65504.0]),
                         [[-3000.0, 3000.0, 0.5, -1e4]] * 3, 2.0, np.float16, True),
    "fp16-overflow": (np.array([60000.0, -60000.0, 1.0, 65504.0]),
                      [[-3000.0, 3000.0, 0.5, -1e4]] * 3, 2.0, np.float16, False),
}


def _flat(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _flat(s)]
    return [state.asnumpy() if hasattr(state, "asnumpy") else np.asarray(state)]


def _run(lib, name, kw, case):
    if lib is mxnet and case == "zero-size":
        # Legacy MXNet shapes read 0 as "unknown" and refuse zero-size arrays; with numpy
        # shape semantics (npx.set_np / np_shape) MXNet updates them as a no-op, as mxopt does.
        with mxnet.util.np_shape(True):
            return _run_in(lib, name, kw, case)
    return _run_in(lib, name, kw, case)


def _run_in(lib, name, kw, case):
    w0, grads, lr, dtype, mp = CASES[case]
    opt = lib.optimizer.create(name, learning_rate=lr, multi_precision=mp, **kw)
    up = lib.optimizer.get_updater(opt)
    with np.errstate(all="ignore"):
        w = lib.nd.array(np.asarray(w0, np.float64).astype(dtype), dtype=dtype)
        for g in grads:
            up(0, lib.nd.array(np.asarray(g, np.float64).astype(dtype), dtype=dtype), w)
    return [w.asnumpy()] + _flat(up.states[0])


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name,kw", OPTS, ids=OPT_IDS)
def test_edge_case_matches_mxnet(name, kw, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = _run(mxnet, name, kw, case)
        except mxnet.base.MXNetError as exc:  # MXNet refuses the input: so must mxopt
            with pytest.raises((ValueError, TypeError, mxopt.base.MXNetError)):
                _run(mxopt, name, kw, case)
            assert case == "fp16-overflow", f"MXNet refused: {exc}"  # float32-only states
            return
        got = _run(mxopt, name, kw, case)
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert r.dtype == g.dtype and r.shape == g.shape
        assert np.array_equal(np.isnan(r), np.isnan(g)), f"NaN positions differ: {r} vs {g}"
        if name == "lamb" and case not in ("zero-size",):
            np.testing.assert_allclose(g, r, rtol=1e-6, atol=0)  # norms summed in another order
        else:
            assert np.array_equal(r, g, equal_nan=True), f"mxnet {r} vs mxopt {g}"
