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


def test_multi_precision_adam_takes_the_mp_list_kernel(count_calls):
    ws = [mxopt.nd.array(np.ones(5, np.float16), dtype=np.float16) for _ in range(3)]
    gs = [mxopt.nd.array(np.ones(5, np.float16), dtype=np.float16) for _ in range(3)]
    upd = mxopt.optimizer.get_updater(mxopt.optimizer.Adam(multi_precision=True))
    real = _core.multi_mp_adam_update
    seen = []
    try:
        _core.multi_mp_adam_update = lambda *a, **k: (seen.append(1), real(*a, **k))
        upd([0, 1, 2], gs, ws)
    finally:
        _core.multi_mp_adam_update = real
    assert count_calls == {} and seen == [1]
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


# ---- NAG, AdamW, centered RMSProp and the float16 multi-precision lists --------------------------
SIZES20 = [64, 1, 0, 37, 1037, 70001, 16384, 16385, 5, 64]
STEPS20 = 20
NEW_CASES = [
    # (optimizer, kwargs, dtypes, the multi kernel one step must call exactly once)
    ("nag", dict(momentum=0.9), ("f4", "f8", "f2"), "multi_nag_mom_update"),
    ("nag", dict(momentum=0.8, clip_gradient=0.5, rescale_grad=0.25, lr_scheduler="factor"),
     ("f4", "f8"), "multi_nag_mom_update"),
    ("nag", dict(), ("f4", "f2"), "multi_sgd_update"),
    ("nag", dict(momentum=-0.5), ("f4",), "multi_nag_mom_update"),  # state, momentum 0
    ("adamw", dict(), ("f4", "f8", "f2"), "multi_adamw_update"),
    ("adamw", dict(beta1=0.8, clip_gradient=0.3, rescale_grad=0.5, lr_scheduler="factor",
                   correct_bias=False), ("f4", "f8"), "multi_adamw_update"),
    ("adamw", dict(aggregate_num=1), ("f4",), "multi_adamw_update"),  # single (non-agg) form
    ("rmsprop", dict(centered=True, clip_weights=0.8, clip_gradient=0.3), ("f4",),
     "multi_rmspropalex_update"),
    ("rmsprop", dict(centered=True, gamma1=0.8, gamma2=0.7, lr_scheduler="factor"), ("f4",),
     "multi_rmspropalex_update"),
    # float16 weights with float32 master copies
    ("sgd", dict(multi_precision=True), ("f2",), "multi_mp_sgd_mom_update"),
    ("sgd", dict(multi_precision=True, momentum=0.9, clip_gradient=0.4, lr_scheduler="factor"),
     ("f2",), "multi_mp_sgd_mom_update"),
    ("nag", dict(multi_precision=True, momentum=0.9), ("f2",), "multi_mp_nag_mom_update"),
    ("nag", dict(multi_precision=True, rescale_grad=0.5), ("f2",), "multi_mp_sgd_update"),
    ("adam", dict(multi_precision=True, clip_gradient=0.7, lr_scheduler="factor"), ("f2",),
     "multi_mp_adam_update"),
    ("adamw", dict(multi_precision=True), ("f2",), "multi_mp_adamw_update"),
    ("adamw", dict(multi_precision=True, clip_gradient=0.2, aggregate_num=1), ("f2",),
     "multi_mp_adamw_update"),
    # LAMB / LARS: per-tensor norms inside the one call
    ("lamb", dict(), ("f4", "f8", "f2"), "multi_lamb_update"),
    ("lamb", dict(clip_gradient=0.3, lower_bound=0.1, upper_bound=5.0, bias_correction=False,
                  lr_scheduler="factor", aggregate_num=3), ("f4",), "multi_lamb_update"),
    ("lamb", dict(multi_precision=True), ("f2",), "multi_mp_lamb_update"),
    ("lamb", dict(multi_precision=True, clip_gradient=0.5, upper_bound=2.0), ("f2",),
     "multi_mp_lamb_update"),
    ("lars", dict(momentum=0.9, eta=0.01, eps=1e-6), ("f4", "f8", "f2"), "multi_lars_update"),
    ("lars", dict(clip_gradient=0.5, rescale_grad=0.5, momentum_correction=False,
                  lr_scheduler="factor", momentum=0.5), ("f4",), "multi_lars_update"),
    ("lars", dict(), ("f4",), "multi_lars_update"),
    ("lars", dict(momentum=0.9, multi_precision=True), ("f2",), "multi_mp_lars_update"),
    ("lars", dict(multi_precision=True, eta=0.1), ("f2",), "multi_mp_lars_update"),
]
NEW_PARAMS = [pytest.param(n, kw, np.dtype(dt), kern,
                           id=f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}-{dt}")
              for n, kw, dts, kern in NEW_CASES for dt in dts]


def _make20(name, kw):
    kw = dict(kw)
    agg = kw.pop("aggregate_num", None)
    opt = _make(name, kw)
    if agg is not None:
        opt.aggregate_num = agg
    return opt


def _run20(name, kw, dtype, multi):
    """20 steps over SIZES20: one Updater list call per step (multi) or, as the reference, the
    optimizer's per-tensor update_multi_precision one index at a time (never the list path)."""
    rng = np.random.default_rng(11)
    ws = [mxopt.nd.array(rng.standard_normal(n).astype(dtype), dtype=dtype) for n in SIZES20]
    opt = _make20(name, kw)
    upd = mxopt.optimizer.get_updater(opt)
    for _ in range(STEPS20):
        gs = [mxopt.nd.array((rng.standard_normal(n) * 2).astype(dtype), dtype=dtype)
              for n in SIZES20]
        if multi:
            upd(list(range(len(SIZES20))), gs, ws)
        else:
            for i in range(len(SIZES20)):
                if i not in upd.states:
                    upd.states[i] = opt.create_state_multi_precision(i, ws[i])
                    upd.states_synced[i] = True
                if name == "lamb":  # LAMB's list path (a list of ONE index: per-tensor kernels)
                    opt.update_multi_precision([i], [ws[i]], [gs[i]], [upd.states[i]])
                else:
                    opt.update_multi_precision(i, ws[i], gs[i], upd.states[i])
    return [w.asnumpy() for w in ws] + _states_deep(upd)


def _flat_states(st):
    for s in (st if isinstance(st, (tuple, list)) else (st,)):
        if isinstance(s, (tuple, list)):
            yield from _flat_states(s)
        elif s is not None:
            yield s


@pytest.fixture
def count_all(monkeypatch):
    calls = {}
    for kname in [n for n in dir(_core) if n.startswith("multi_")]:
        real = getattr(_core, kname)

        def counted(*a, _real=real, _name=kname, **k):
            calls[_name] = calls.get(_name, 0) + 1
            return _real(*a, **k)
        monkeypatch.setattr(_core, kname, counted)
    return calls


@pytest.mark.parametrize("name,kw,dtype,kernel", NEW_PARAMS)
def test_new_multi_paths_equal_per_tensor_over_20_steps(name, kw, dtype, kernel, count_all):
    multi = _run20(name, kw, dtype, True)
    assert count_all == {kernel: STEPS20}  # ONE C++ call per step, nothing else
    count_all.clear()
    per = _run20(name, kw, dtype, False)
    assert count_all == {}  # the reference never takes the list path
    assert len(multi) == len(per)
    for a, b in zip(multi, per):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=True)


def _states_deep(upd):
    out = []
    for i in sorted(upd.states):
        out += [np.array(s.asnumpy() if hasattr(s, "asnumpy") else s)
                for s in _flat_states(upd.states[i])]
    return out


def test_mp_masters_and_states_also_match():
    # _states() flattens one level; the Adam/AdamW mp states nest (master, (mean, var)).
    for name, kw in (("adam", dict(multi_precision=True)), ("adamw", dict(multi_precision=True))):
        res = []
        for multi in (True, False):
            rng = np.random.default_rng(5)
            ws = [mxopt.nd.array(rng.standard_normal(n).astype("f2"), dtype="f2")
                  for n in SIZES20]
            opt = _make20(name, kw)
            upd = mxopt.optimizer.get_updater(opt)
            for _ in range(3):
                gs = [mxopt.nd.array(rng.standard_normal(n).astype("f2"), dtype="f2")
                      for n in SIZES20]
                if multi:
                    upd(list(range(len(SIZES20))), gs, ws)
                else:
                    for i in range(len(SIZES20)):
                        upd(i, gs[i], ws[i])
            res.append([w.asnumpy() for w in ws] + _states_deep(upd))
        assert len(res[0]) == len(res[1]) == 4 * len(SIZES20)
        for a, b in zip(*res):
            assert np.array_equal(a, b)


def test_adamw_zero_rescale_skips_through_the_per_tensor_path(count_all):
    ws = [mxopt.nd.array(np.ones(n, np.float32)) for n in (3, 70000)]
    gs = [mxopt.nd.array(np.ones(n, np.float32)) for n in (3, 70000)]
    opt = mxopt.optimizer.create("adamw", rescale_grad=0.0)
    upd = mxopt.optimizer.get_updater(opt)
    upd([0, 1], gs, ws)
    assert count_all == {} and all((w.asnumpy() == 1).all() for w in ws)
    assert opt._index_update_count == {0: 1, 1: 1}


def _lists(kernel, count=3, n=9):
    """Valid arguments of `kernel` for `count` tensors (float16 weights for the mp kernels)."""
    mp = "_mp_" in kernel
    wdt = np.float16 if mp else np.float32
    nstates = {"multi_sgd_update": 0, "multi_nag_mom_update": 1, "multi_mp_sgd_update": 1,
               "multi_mp_sgd_mom_update": 2, "multi_mp_nag_mom_update": 2,
               "multi_adamw_update": 2, "multi_mp_adam_update": 3, "multi_mp_adamw_update": 3,
               "multi_rmspropalex_update": 3, "multi_lamb_update": 2,
               "multi_mp_lamb_update": 3, "multi_lars_update": 1,
               "multi_mp_lars_update": 2}[kernel]
    ws = [np.full(n, 1.0, wdt) for _ in range(count)]
    gs = [np.full(n, 0.5, wdt) for _ in range(count)]
    states = [[np.full(n, 0.25, np.float32 if mp else wdt) for _ in range(count)]
              for _ in range(nstates)]
    return ws, gs, states


NEW_KERNELS = ["multi_sgd_update", "multi_nag_mom_update", "multi_mp_sgd_update",
               "multi_mp_sgd_mom_update", "multi_mp_nag_mom_update", "multi_adamw_update",
               "multi_mp_adam_update", "multi_mp_adamw_update", "multi_rmspropalex_update",
               "multi_lamb_update", "multi_mp_lamb_update", "multi_lars_update",
               "multi_mp_lars_update"]
# per-tensor non-array lists after the states, and required keywords
EXTRA = {"multi_lamb_update": ([[1, 2, 3]], {}), "multi_mp_lamb_update": ([[1, 2, 3]], {}),
         "multi_lars_update": ([[True, False, True]], dict(eta=0.1, eps=0.0)),
         "multi_mp_lars_update": ([[True, False, True]], dict(eta=0.1, eps=0.0))}


def _unchanged(ws, gs, states, kernel):
    return (all((w == 1).all() for w in ws) and all((g == 0.5).all() for g in gs)
            and all((s == 0.25).all() for lst in states for s in lst))


@pytest.mark.parametrize("kernel", NEW_KERNELS)
def test_new_kernels_validate_every_tensor_before_writing(kernel):
    extra, ekw = EXTRA.get(kernel, ([], {}))

    def fn(*a, **k):
        n_arrays = len(a)
        return getattr(_core, kernel)(*a[:n_arrays], *extra, **k, **ekw)
    kw = dict(lrs=[0.1] * 3, wds=[0.01] * 3)
    # valid call first: it writes
    ws, gs, states = _lists(kernel)
    fn(ws, gs, *states, **kw)
    assert not all((w == 1).all() for w in ws)
    # read-only weight in the LAST tensor
    ws, gs, states = _lists(kernel)
    ws[-1].setflags(write=False)
    with pytest.raises(ValueError, match=r"weights\[2\] is read-only"):
        fn(ws, gs, *states, **kw)
    assert _unchanged(ws, gs, states, kernel)
    # gradient shape mismatch in the last tensor
    ws, gs, states = _lists(kernel)
    gs[-1] = np.full(8, 0.5, gs[0].dtype)
    with pytest.raises(ValueError, match=r"grads\[2\] has shape \(8,\) but weights\[2\]"):
        fn(ws, gs, *states, **kw)
    assert _unchanged(ws, gs, states, kernel)
    # gradient dtype mismatch in the last tensor
    ws, gs, states = _lists(kernel)
    gs[-1] = np.full(9, 0.5, np.float64)
    with pytest.raises(TypeError, match=r"grads\[2\] has dtype float64"):
        fn(ws, gs, *states, **kw)
    assert _unchanged(ws, gs, states, kernel)
    # weight dtype differing from weights[0]
    ws, gs, states = _lists(kernel)
    ws[-1] = np.full(9, 1.0, np.float64)
    gs[-1] = np.full(9, 0.5, np.float64)
    with pytest.raises(TypeError, match=r"weights\[2\] has dtype float64"):
        fn(ws, gs, *states, **kw)
    assert _unchanged(ws, gs, states, kernel)
    if states:
        # a state of the wrong dtype / shape in the last tensor
        ws, gs, states = _lists(kernel)
        states[-1][-1] = np.full(9, 0.25, np.float64)
        with pytest.raises(TypeError, match=r"\[2\]"):
            fn(ws, gs, *states, **kw)
        assert _unchanged(ws, gs, states, kernel)
        ws, gs, states = _lists(kernel)
        states[0][-1] = np.full((3, 3), 0.25, states[0][0].dtype)
        with pytest.raises(ValueError, match=r"\[2\] has shape \(3, 3\)"):
            fn(ws, gs, *states, **kw)
        assert _unchanged(ws, gs, states, kernel)
        # a state list of the wrong length
        ws, gs, states = _lists(kernel)
        states[-1] = states[-1][:2]
        with pytest.raises(ValueError, match="has 2 entries but weights has 3"):
            fn(ws, gs, *states, **kw)
        assert _unchanged(ws, gs, states, kernel)
    # per-tensor rates of the wrong length
    ws, gs, states = _lists(kernel)
    with pytest.raises(ValueError, match="lrs has 2 entries"):
        fn(ws, gs, *states, lrs=[0.1] * 2, wds=[0.0] * 3)
    assert _unchanged(ws, gs, states, kernel)
    if extra:  # the per-tensor steps / use_lars list must have one entry per tensor
        ws, gs, states = _lists(kernel)
        with pytest.raises(ValueError, match="has 2 entries but there are 3 weights"):
            getattr(_core, kernel)(ws, gs, *states, extra[0][:2], **kw, **ekw)
        assert _unchanged(ws, gs, states, kernel)
    if "lamb" in kernel:
        ws, gs, states = _lists(kernel)
        with pytest.raises(ValueError, match=r"steps\[2\] must be >= 1"):
            getattr(_core, kernel)(ws, gs, *states, [1, 1, 0], **kw)
        assert _unchanged(ws, gs, states, kernel)
    if "_mp_" in kernel:  # float32 weights are not multi-precision weights
        ws, gs, states = _lists(kernel)
        ws = [w.astype(np.float32) for w in ws]
        gs = [g.astype(np.float32) for g in gs]
        with pytest.raises(TypeError, match=r"weights\[0\] must be float16"):
            fn(ws, gs, *states, **kw)
        assert _unchanged(ws, gs, states, kernel)


def test_updater_rejects_a_bad_last_tensor_before_any_write():
    for name, kw in (("nag", dict(momentum=0.9)), ("adamw", dict()),
                     ("rmsprop", dict(centered=True)), ("lamb", dict()),
                     ("lars", dict(momentum=0.9))):
        ws = [mxopt.nd.array(np.ones(n, np.float32)) for n in (4, 70000, 6)]
        gs = [mxopt.nd.array(np.ones(n, np.float32)) for n in (4, 70000, 6)]
        ro = np.ones(6, np.float32)
        ro.setflags(write=False)
        ws[-1] = ro
        upd = mxopt.optimizer.get_updater(mxopt.optimizer.create(name, **kw))
        with pytest.raises(ValueError, match="read-only"):
            upd([0, 1, 2], gs, ws)
        assert all((np.asarray(w.asnumpy() if hasattr(w, "asnumpy") else w) == 1).all()
                   for w in ws)


# ---- positional kernel calls ----------------------------------------------------------------
def test_every_multi_kernel_runs_positionally_with_the_keyword_results():
    """MultiBatch.run (and the step plan) call the kernels positionally (``base.positional``:
    pybind11 looks keywords up by name on every call). For every configuration above, covering
    every _core multi-tensor kernel, the positional call gives the keyword call's bits."""
    from mxopt.optimizer.base import positional
    covered = set()
    configs = [(n, kw, np.dtype(dt)) for n, kw, dts, _ in NEW_CASES for dt in dts]
    configs += [(n, kw, np.dtype(np.float32)) for n, kw in CASES]
    for name, kw, dtype in configs:
        out = []
        for keywords in (False, True):
            rng = np.random.default_rng(5)
            ws = [rng.standard_normal(n).astype(dtype) for n in SIZES20]
            gs = [(rng.standard_normal(n) * 2).astype(dtype) for n in SIZES20]
            opt = _make20(name, kw)
            idx = list(range(len(ws)))
            states = [opt.create_state_multi_precision(i, w) for i, w in zip(idx, ws)]
            batch = opt._multi_prepare(idx, ws, gs, states)
            assert batch is not None, (name, kw, dtype)
            tail = positional(batch.kernel, batch.shared)
            assert tail is not None, (name, kw, batch.shared)
            if keywords:
                batch.kernel(batch.weights, batch.grads, *batch.states, lrs=batch.lrs,
                             wds=batch.wds, **batch.shared)
            else:
                batch.run()
            covered.add(batch.kernel.__name__)
            out.append([w.copy() for w in ws] + [np.array(s) for s in _flat_states(states)])
        for a, b in zip(*out):
            assert a.tobytes() == b.tobytes(), (name, kw, dtype)
    assert covered == set(_core.multi_params)


def test_positional_needs_a_known_kernel_and_known_parameters(monkeypatch):
    from mxopt.optimizer.base import positional
    k = _core.multi_adamw_update
    # omitted parameters get the kernel's defaults (lr before beta1, here)
    assert positional(k, dict(beta1=0.5, aggregated=False)) == (1.0, 0.5, np.float32(0.999),
                                                                 np.float32(1e-6), 1.0, -1.0,
                                                                 False)
    assert positional(k, dict(beta3=0.5)) is None                  # not a parameter
    assert positional(lambda *a, **kw: None, {}) is None            # not a _core kernel
    # LARS's eta and eps default to MXNet's 0.001 and 0
    assert positional(_core.multi_lars_update, dict(eta=0.1)) == (1.0, -1.0, 0.0, 0.1, 0.0)
    assert positional(_core.multi_lars_update, dict(eta=0.1, eps=0.0, momentum=0.9)) == \
        (1.0, -1.0, 0.9, 0.1, 0.0)
    # a parameter without a default must be given
    from mxopt.optimizer import base

    def fake_kernel(*args):
        return None

    monkeypatch.setitem(base._TAILS, fake_kernel, [("rescale_grad", 1.0), ("eta",)])
    assert positional(fake_kernel, dict(rescale_grad=2.0)) is None
    assert positional(fake_kernel, dict(eta=0.5)) == (1.0, 0.5)
    names = [p[0] for p in _core.multi_params["multi_adam_update"]]
    assert names[:6] == ["weights", "grads", "means", "vars", "lrs", "wds"]
