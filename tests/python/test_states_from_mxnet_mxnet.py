"""Optimizer states written by real MXNet 1.9.1 (pickles of MXNet NDArrays) load into mxopt
without importing mxnet, and training continues exactly as MXNet continues from them."""
import subprocess
import sys

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import numpy as np
import pytest

import mxopt

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CASES = [("sgd", dict(momentum=0.9, wd=1e-3)), ("nag", dict(momentum=0.8)), ("adam", {}),
         ("rmsprop", dict(centered=True)), ("rmsprop", {}), ("adagrad", {}),
         ("adadelta", {}), ("ftrl", {}), ("signum", dict(momentum=0.7)), ("adamax", {}),
         ("ftml", {}), ("lamb", {}), ("dcasgd", {})]
SHAPES = [(5, 3), (7,), (2, 2)]


def _data(seed, steps):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    gs = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return ws, gs


def _flat(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [x for s in state for x in _flat(s)]
    return [state.asnumpy()]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_updater_continues_from_mxnet_states_like_mxnet(name, kw):
    ws, gs = _data(1, 6)
    first = mxnet.optimizer.get_updater(mxnet.optimizer.create(name, learning_rate=0.05, **kw))
    mw = [mxnet.nd.array(w) for w in ws]
    for t in range(3):
        for i, g in enumerate(gs[t]):
            first(i, mxnet.nd.array(g), mw[i])
    blob = first.get_states()
    assert b"mxnet.ndarray" in blob  # a real MXNet pickle
    w_mid = [w.asnumpy() for w in mw]
    # MXNet continues from its own states (a fresh updater, as after Module.load) ...
    mx_up = mxnet.optimizer.get_updater(mxnet.optimizer.create(name, learning_rate=0.05, **kw))
    mx_up.set_states(blob)
    mx_w = [mxnet.nd.array(w) for w in w_mid]
    # ... and so does mxopt
    mo_up = mxopt.optimizer.get_updater(mxopt.optimizer.create(name, learning_rate=0.05, **kw))
    mo_up.set_states(blob)
    assert all(type(s).__module__.startswith("mxopt") for st in mo_up.states.values()
               for s in (st if isinstance(st, tuple) else (st,)) if s is not None)
    mo_w = [mxopt.nd.array(w) for w in w_mid]
    for t in range(3, 6):
        for i, g in enumerate(gs[t]):
            mx_up(i, mxnet.nd.array(g), mx_w[i])
            mo_up(i, mxopt.nd.array(g), mo_w[i])
    pairs = [(a.asnumpy(), b.asnumpy()) for a, b in zip(mx_w, mo_w)]
    pairs += [p for k in mx_up.states for p in zip(_flat(mx_up.states[k]), _flat(mo_up.states[k]))]
    for a, b in pairs:
        if name == "lamb":  # its norms are reductions: float32 rounding, not element-wise
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        else:
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_mxnet_states_load_without_mxnet_importable(tmp_path):
    up = mxnet.optimizer.get_updater(mxnet.optimizer.create("adam", learning_rate=0.01))
    up(0, mxnet.nd.ones((2, 3)), mxnet.nd.ones((2, 3)))
    up(1, mxnet.nd.sparse.row_sparse_array((np.ones((1, 3), np.float32), [1]), shape=(4, 3)),
       mxnet.nd.ones((4, 3)))
    (tmp_path / "s.states").write_bytes(up.get_states())
    code = f"""
import sys
class Block:
    def find_spec(self, name, path, target=None):
        if name == "mxnet" or name.startswith("mxnet."):
            raise ImportError("mxnet is blocked")
sys.meta_path.insert(0, Block())
import mxopt as mx
up = mx.optimizer.get_updater(mx.optimizer.create("adam", learning_rate=0.01))
up.set_states(open({str(tmp_path / 's.states')!r}, "rb").read())
assert "mxnet" not in sys.modules
print(sorted(up.states), [type(s).__name__ for s in up.states[0]],
      [s.shape for s in up.states[1]], float(up.states[0][0].asnumpy()[0, 0]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    exp_mean = float(up.states[0][0].asnumpy()[0, 0])
    assert out.stdout.split() == ["[0,", "1]", "['NDArray',", "'NDArray']", "[(4,", "3),",
                                  "(4,", "3)]", repr(exp_mean)]


def _net(mx):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def test_module_load_optimizer_states_written_by_mxnet(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 4, 64).astype(np.float32)
    params = {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4}
    ma = mxnet.mod.Module(_net(mxnet))
    ma.bind([("data", (16, 6))], [("softmax_label", (16,))])
    mxnet.random.seed(7)
    ma.init_params(mxnet.init.Xavier())
    ma.init_optimizer(optimizer="sgd", optimizer_params=params)
    for b in range(2):
        ma.forward_backward(mxnet.io.DataBatch([mxnet.nd.array(x[16 * b:16 * b + 16])],
                                               [mxnet.nd.array(y[16 * b:16 * b + 16])]))
        ma.update()
    prefix = str(tmp_path / "net")
    ma.save_checkpoint(prefix, 2, save_optimizer_states=True)

    def resume(mx):
        mod = mx.mod.Module.load(prefix, 2, load_optimizer_states=True)
        mod.bind([("data", (16, 6))], [("softmax_label", (16,))])
        mod.init_optimizer(optimizer="sgd", optimizer_params=params)
        for b in range(2, 4):
            mod.forward_backward(mx.io.DataBatch([mx.nd.array(x[16 * b:16 * b + 16])],
                                                 [mx.nd.array(y[16 * b:16 * b + 16])]))
            mod.update()
        return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}, mod

    want, _ = resume(mxnet)
    got, mod = resume(mxopt)
    assert isinstance(next(iter(mod._updater.states.values())), mxopt.nd.NDArray)
    for k in want:  # FullyConnected's GEMM rounds in float32: close, not bitwise
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # and the momentum really came from the file: without it the result differs
    mod2 = mxopt.mod.Module.load(prefix, 2)
    mod2.bind([("data", (16, 6))], [("softmax_label", (16,))])
    mod2.init_optimizer(optimizer="sgd", optimizer_params=params)
    for b in range(2, 4):
        mod2.forward_backward(mxopt.io.DataBatch([mxopt.nd.array(x[16 * b:16 * b + 16])],
                                                 [mxopt.nd.array(y[16 * b:16 * b + 16])]))
        mod2.update()
    cold = mod2.get_params()[0]["fc_weight"].asnumpy()
    assert np.abs(cold - want["fc_weight"]).max() > 1e-4
