"""The multi-tensor path: one C++ call per step for a list of dense same-dtype tensors (Updater
and Optimizer.update with a list of indices) must equal the per-tensor path bit for bit, run
as ONE kernel call per (optimizer, dtype) group, and validate every tensor before any write."""
import numpy as np
import pytest

import mxopt
from mxopt import _core

pytestmark = pytest.mark.filterwarnings("ignore:Accumulating with float16")

SIZES = [64, 1, 37, 1037, 70001, 16384, 16385, 64]
CASES = [
    ("sgd", dict()),
    ("sgd", dict(momentum=0.9)),
    ("sgd", dict(momentum=0.9, clip_gradient=0.5, rescale_grad=0.25)),
    ("ccsgd", dict(momentum=0.5)),
    ("adam", dict(beta1=0.8)),
    ("adam", dict(clip_gradient=0.7, rescale_grad=0.5, lr_scheduler="factor")),
    ("rmsprop", dict(clip_weights=0.8, clip_gradient=0.3)),
    ("rmsprop", dict(gamma1=0.8)),
    ("adagrad", dict(eps=1e-6)),
    ("adagrad", dict(clip_gradient=0.4, rescale_grad=0.5)),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]
KERNEL = {"sgd": "multi_sgd_mom_update", "ccsgd": "multi_sgd_mom_update",
          "adam": "multi_adam_update", "rmsprop": "multi_rmsprop_update",
          "adagrad": "multi_adagrad_update"}


def _make(name, kw):
    kw = dict(kw)
    if kw.pop("lr_scheduler", None):
        kw["lr_scheduler"] = mxopt.lr_scheduler.FactorScheduler(step=2, factor=0.7)
    opt = mxopt.optimizer.create(name, learning_rate=0.05, wd=0.01,
                                 param_idx2name={0: "a_weight", 1: "b_bias", 3: "c_gamma"}, **kw)
    opt.set_lr_mult({1: 0.5, 4: 2.0})
    opt.set_wd_mult({"c_gamma": 3.0, 2: 0.5})
    return opt


def _data(dtype, steps=4):
    rng = np.random.default_rng(7)
    ws = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    gs = [[(rng.standard_normal(n) * 2).astype(dtype) for n in SIZES] for _ in range(steps)]
    return ws, gs


def _states(upd):
    out = []
    for i in sorted(upd.states):
        st = upd.states[i]
        for s in (st if isinstance(st, (tuple, list)) else (st,)):
            if s is not None:
                out.append(np.array(s.asnumpy() if hasattr(s, "asnumpy") else s))
    return out


def _run(name, kw, dtype, mode):
    """mode: 'multi' (one list call per step), 'per_index' (one call per tensor)."""
    ws0, gsteps = _data(dtype)
    ws = [mxopt.nd.array(w, dtype=dtype) for w in ws0]
    upd = mxopt.optimizer.get_updater(_make(name, kw))
    for gs in gsteps:
        grads = [mxopt.nd.array(g, dtype=dtype) for g in gs]
        if mode == "multi":
            upd(list(range(len(SIZES))), grads, ws)
        else:
            for i in range(len(SIZES)):
                upd(i, grads[i], ws[i])
    return [w.asnumpy() for w in ws] + _states(upd)


@pytest.fixture
def count_calls(monkeypatch):
    calls = {}

    def wrap(kname):
        real = getattr(_core, kname)

        def counted(*a, **k):
            calls[kname] = calls.get(kname, 0) + 1
            return real(*a, **k)
        monkeypatch.setattr(_core, kname, counted)
    for kname in set(KERNEL.values()):
        wrap(kname)
    return calls


# RMSProp keeps float32 states (float32 weights only); AdaGrad rejects float64 like MXNet.
MULTI = [pytest.param(name, kw, dtype, id=f"{cid}-{np.dtype(dtype).name}")
         for (name, kw), cid in zip(CASES, CASE_IDS)
         for dtype in (np.float32, np.float64, np.float16)
         if not (name in ("rmsprop", "adagrad") and dtype is not np.float32)]


@pytest.mark.parametrize("name,kw,dtype", MULTI)
def test_multi_equals_per_tensor_bit_for_bit(name, kw, dtype, count_calls):
    multi = _run(name, kw, dtype, "multi")
    assert count_calls.get(KERNEL[name]) == 4  # one call per step (4 steps)
    per = _run(name, kw, dtype, "per_index")
    assert len(multi) == len(per)
    for a, b in zip(multi, per):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("aggregate", [1, 3, 100])
def test_sgd_aggregation_chunks_run_as_one_call(aggregate, count_calls):
    ref = None
    for use_multi in (True, False):
        ws0, gsteps = _data(np.float32)
        ws = [mxopt.nd.array(w) for w in ws0]
        opt = _make("sgd", dict(momentum=0.9))
        opt.aggregate_num = aggregate
        upd = mxopt.optimizer.get_updater(opt)
        for gs in gsteps:
            grads = [mxopt.nd.array(g) for g in gs]
            if use_multi:
                upd(list(range(len(SIZES))), grads, ws)
            else:
                for i in range(len(SIZES)):
                    opt.update(i, ws[i], grads[i], upd.states.setdefault(
                        i, opt.create_state_multi_precision(i, ws[i])))
        out = [w.asnumpy() for w in ws] + _states(upd)
        if ref is None:
            ref = out
            assert count_calls["multi_sgd_mom_update"] == len(gsteps)
    for a, b in zip(ref, out):
        assert np.array_equal(a, b)


def test_optimizer_update_with_index_list_uses_one_call(count_calls):
    ws0, gsteps = _data(np.float32, steps=1)
    opt = _make("sgd", dict(momentum=0.9))
    ws = [mxopt.nd.array(w) for w in ws0]
    gs = [mxopt.nd.array(g) for g in gsteps[0]]
    states = [opt.create_state(i, w) for i, w in enumerate(ws)]
    opt.update(list(range(len(ws))), ws, gs, states)
    assert count_calls["multi_sgd_mom_update"] == 1
    ref_opt = _make("sgd", dict(momentum=0.9))
    rws = [mxopt.nd.array(w) for w in ws0]
    rstates = [ref_opt.create_state(i, w) for i, w in enumerate(rws)]
    for i in range(len(rws)):
        ref_opt.update(i, rws[i], gs[i], rstates[i])
    for a, b in zip(ws + states, rws + rstates):
        assert np.array_equal(a.asnumpy(), b.asnumpy())


def test_multi_precision_and_sparse_fall_back_to_per_tensor(count_calls):
    ws = [mxopt.nd.array(np.ones(5, np.float16), dtype=np.float16) for _ in range(3)]
    gs = [mxopt.nd.array(np.ones(5, np.float16), dtype=np.float16) for _ in range(3)]
    upd = mxopt.optimizer.get_updater(mxopt.optimizer.Adam(multi_precision=True))
    upd([0, 1, 2], gs, ws)
    assert count_calls == {}
    assert ws[0].asnumpy()[0] != 1.0


def test_every_tensor_validated_before_any_write():
    ws = [np.ones(8, np.float32) for _ in range(3)]
    gs = [np.ones(8, np.float32), np.ones(8, np.float32), np.ones(7, np.float32)]
    ms = [np.zeros(8, np.float32) for _ in range(3)]
    vs = [np.zeros(8, np.float32) for _ in range(3)]
    with pytest.raises(ValueError, match=r"grads\[2\]"):
        _core.multi_adam_update(ws, gs, ms, vs, lrs=[0.1] * 3, wds=[0.0] * 3)
    assert all((w == 1).all() for w in ws) and all((m == 0).all() for m in ms)
    gs[2] = np.ones(8, np.float64)
    with pytest.raises(TypeError, match=r"grads\[2\].*float64"):
        _core.multi_adam_update(ws, gs, ms, vs, lrs=[0.1] * 3, wds=[0.0] * 3)
    with pytest.raises(TypeError, match=r"weights\[1\].*float64"):
        _core.multi_sgd_mom_update([ws[0], np.ones(8)], gs[:2], None, lrs=[0.1] * 2,
                                   wds=[0.0] * 2)
    with pytest.raises(ValueError, match="lrs has 2 entries"):
        _core.multi_sgd_mom_update(ws, gs[:2] + [np.ones(8, np.float32)], None,
                                   lrs=[0.1] * 2, wds=[0.0] * 3)
    ro = np.ones(8, np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match=r"weights\[2\]"):
        _core.multi_sgd_mom_update(ws[:2] + [ro], [np.ones(8, np.float32)] * 3, None,
                                   lrs=[0.1] * 3, wds=[0.0] * 3)
    with pytest.raises(ValueError, match="states1 has 2 entries"):
        _core.multi_adam_update(ws, [np.ones(8, np.float32)] * 3, ms[:2], vs, lrs=[0.1] * 3,
                                wds=[0.0] * 3)
    assert all((w == 1).all() for w in ws)


def test_multi_kernels_equal_single_kernels_directly():
    rng = np.random.default_rng(3)
    sizes = [1, 70001, 5, 16384 * 3 + 1]
    ws = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    gs = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    lrs, wds = [0.1, 0.01, 0.2, 0.05], [0.0, 0.1, 0.01, 0.3]
    a_w, a_m, a_v = [w.copy() for w in ws], [np.zeros_like(w) for w in ws], \
        [np.zeros_like(w) for w in ws]
    b_w, b_m, b_v = [w.copy() for w in ws], [np.zeros_like(w) for w in ws], \
        [np.zeros_like(w) for w in ws]
    for _ in range(3):
        _core.multi_adam_update(a_w, gs, a_m, a_v, lrs=lrs, wds=wds, clip_gradient=1.0)
        for i in range(len(sizes)):
            _core.adam_update(b_w[i], gs[i], b_m[i], b_v[i], lr=lrs[i], wd=wds[i],
                              clip_gradient=1.0)
    for x, y in zip(a_w + a_m + a_v, b_w + b_m + b_v):
        assert np.array_equal(x, y)
