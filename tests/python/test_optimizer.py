"""Unit tests of mx.optimizer: base-class semantics (spec §1), Updater (§2), MXNet's quirks (§5)
and bad input. Differential tests against MXNet itself are in test_optimizer_mxnet.py."""
import math
import pickle
import warnings

import numpy as np
import pytest

import mxopt as mx
from mxopt import _core

OPT = mx.optimizer
ALL = sorted(OPT.Optimizer.opt_registry)
MXNET_191 = ["sgd", "nag", "adam", "adagrad", "rmsprop", "adadelta", "ftrl", "adamax", "nadam",
             "ftml", "signum", "sgld", "dcasgd", "lbsgd", "lamb", "lars", "groupadagrad", "ccsgd",
             "test"]


class RecordingScheduler(mx.lr_scheduler.LRScheduler):
    def __init__(self, base_lr=0.1):
        super().__init__(base_lr=base_lr)
        self.calls = []

    def __call__(self, num_update):
        self.calls.append(num_update)
        return self.base_lr


def _pair(shape=(3, 4), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype))


# ---- registry and constructor -------------------------------------------------------------------
def test_registry_holds_mxnet_191_names_and_extensions():
    # every MXNet 1.9.1 name; anything beyond (AdamW, AdaBelief, LANS, ...) is a registered
    # Optimizer subclass under its lower-cased class name
    assert set(MXNET_191) <= set(ALL)
    for name in set(ALL) - set(MXNET_191):
        cls = OPT.Optimizer.opt_registry[name]
        assert issubclass(cls, OPT.Optimizer) and cls.__name__.lower() == name
        assert OPT.create(name).__class__ is cls
    assert mx.opt is mx.optimizer
    assert OPT.create("SGD").__class__ is OPT.SGD
    assert OPT.Optimizer.create_optimizer("Adam", beta1=0.5).beta1 == 0.5
    with pytest.raises(ValueError, match="Cannot find optimizer nosuch"):
        OPT.create("nosuch")


def test_register_user_subclass_warns_on_override_and_works_in_updater():
    @OPT.register
    class MyPlainSGD(OPT.Optimizer):
        def update(self, index, weight, grad, state):
            self._update_count(index)
            weight[:] -= self._get_lr(index) * grad

    try:
        opt = OPT.create("myplainsgd", learning_rate=0.5)
        upd = OPT.get_updater(opt)
        w = mx.nd.ones((2, 2))
        upd(3, mx.nd.ones((2, 2)), w)
        assert np.array_equal(w.asnumpy(), np.full((2, 2), 0.5, np.float32))
        assert opt.num_update == 1
        with pytest.warns(UserWarning, match="overriding"):
            OPT.register(MyPlainSGD)
    finally:
        del OPT.Optimizer.opt_registry["myplainsgd"]


def test_constructor_defaults_and_learning_rate_rules(capsys):
    opt = OPT.Optimizer()
    assert opt.lr == 0.01 and opt.learning_rate == 0.01
    assert (opt.rescale_grad, opt.wd, opt.clip_gradient, opt.multi_precision) == (1.0, 0.0, None, False)
    assert opt.num_update == opt.begin_num_update == 0 and opt.aggregate_num == 0
    assert opt._all_index_update_counts == {0: {}} and opt.sym_info == () and opt.param_dict == {}
    # Only a scheduler: lr stays None; the scheduler gives the rate.
    sched = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.3)
    assert OPT.Optimizer(lr_scheduler=sched).lr is None
    # Subclasses with numeric defaults overwrite base_lr (printed, not warned); Ftrl never does.
    sched = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.3)
    OPT.Adam(lr_scheduler=sched)
    assert sched.base_lr == 0.001
    assert "overwritten by ``learning_rate``" in capsys.readouterr().out
    sched = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.3)
    OPT.Ftrl(lr_scheduler=sched)
    assert sched.base_lr == 0.3 and capsys.readouterr().out == ""
    with pytest.raises(AssertionError):
        OPT.Optimizer(param_idx2name=[1, 2])


def test_set_learning_rate_and_set_lr_scale():
    opt = OPT.SGD()
    opt.set_learning_rate(0.2)
    assert opt.learning_rate == 0.2
    opt = OPT.SGD(lr_scheduler=mx.lr_scheduler.FactorScheduler(step=2))
    with pytest.raises(UserWarning, match="LRScheduler of the optimizer has already been defined"):
        opt.set_learning_rate(0.2)
    with pytest.raises(DeprecationWarning):
        opt.set_lr_scale({})


# ---- lr / wd resolution (spec §1.4 worked example) -----------------------------------------------
class _Sym:
    def attr_dict(self):
        return {"fc_weight": {"__lr_mult__": "3"}, "fc_bias": {"__wd_mult__": "0.7"}}

    def list_arguments(self):
        return ["data", "fc_weight", "fc_bias", "bn_gamma", "bn_beta"]


@pytest.mark.parametrize("cls,gamma_wd", [(OPT.SGD, 0.1), (OPT.LARS, 0.0)])
def test_lr_wd_resolution_worked_example(cls, gamma_wd):
    names = _Sym().list_arguments()
    opt = cls(wd=0.1, learning_rate=0.5, sym=_Sym(),
              param_idx2name={i: n for i, n in enumerate(names)})
    opt.set_lr_mult({1: 5.0, "bn_beta": 2.0})
    opt.set_wd_mult({"bn_beta": 4.0, 2: 9.0})
    got = [v for i in range(5) for v in (opt._get_lr(i), opt._get_wd(i))]
    expect = [0.5, 0.0, 2.5, 0.1, 0.5, 0.9, 0.5, gamma_wd, 1.0, 0.4]
    assert got == pytest.approx(expect, abs=0, rel=1e-15)
    assert (opt._get_lr(99), opt._get_wd(99)) == (0.5, 0.1)


def test_param_dict_overrides_and_no_idx2name_means_full_wd():
    class P:
        lr_mult, wd_mult = 0.25, 2.0
    opt = OPT.SGD(wd=0.1, learning_rate=1.0, param_dict={0: P()}, param_idx2name={0: "b_bias"})
    opt.lr_mult[0] = 9.0
    assert (opt._get_lr(0), opt._get_wd(0)) == (0.25, 0.2)
    assert OPT.SGD(wd=0.1)._get_wd(7) == 0.1  # biases get wd without param_idx2name
    # Later idx2name assignment does not recompute the defaults.
    opt = OPT.SGD(wd=0.1)
    opt.idx2name = {0: "x_bias"}
    assert opt._get_wd(0) == 0.1


# ---- update counting (spec §1.5 verified trace) ---------------------------------------------------
def test_update_count_trace_and_scheduler_arguments():
    sched = RecordingScheduler()
    opt = OPT.SGD(begin_num_update=5, lr_scheduler=sched, learning_rate=None)
    upd_seq = [0, 1, 0, 0, 2, 1, [0, 1, 2], 3]
    nums = []
    for idx in upd_seq:
        if isinstance(idx, list):
            w = [np.zeros(2, np.float32) for _ in idx]
            opt.update(idx, w, [np.ones(2, np.float32)] * len(idx), [None] * len(idx))
        else:
            opt.update(idx, np.zeros(2, np.float32), np.ones(2, np.float32), None)
        nums.append(opt.num_update)
    assert nums == [6, 6, 7, 8, 8, 8, 9, 9]
    assert sched.calls == nums  # one call per update call, after counting
    assert opt._index_update_count == {0: 9, 1: 8, 2: 7, 3: 6}


def test_lbsgd_looks_up_lr_before_counting_and_adadelta_never_calls_scheduler():
    sched = RecordingScheduler()
    opt = OPT.LBSGD(lr_scheduler=sched, learning_rate=None)
    for i in (0, 1, 0):
        opt.update(i, np.zeros(2, np.float32), np.ones(2, np.float32), None)
    assert sched.calls == [0, 1, 1]
    sched = RecordingScheduler()
    opt = OPT.AdaDelta(lr_scheduler=sched, learning_rate=None)
    w = np.zeros(2, np.float32)
    opt.update(0, w, np.ones(2, np.float32), opt.create_state(0, w))
    assert sched.calls == [] and opt.num_update == 1


def test_per_device_counts():
    opt = OPT.SGD()
    opt._update_count(0)
    opt._set_current_context(1)
    opt._update_count(0)
    opt._update_count(0)
    assert opt._all_index_update_counts == {0: {0: 1}, 1: {0: 2}} and opt.num_update == 2


# ---- states, multi-precision, quirks --------------------------------------------------------------
def test_momentum_state_is_negative_lr_scaled_velocity():
    opt = OPT.SGD(learning_rate=0.1, momentum=0.9)
    w = mx.nd.ones((2,))
    s = opt.create_state(0, w)
    opt.update(0, w, mx.nd.ones((2,)), s)
    assert np.array_equal(s.asnumpy(), np.full(2, -0.1, np.float32))
    assert np.array_equal(w.asnumpy(), np.full(2, 1 + np.float32(-0.1), np.float32))


@pytest.mark.parametrize("name", ["sgd", "nag", "lars"])
def test_reversed_mp_layout(name):
    opt = OPT.create(name, momentum=0.9, multi_precision=True)
    w = mx.nd.ones((3,), dtype=np.float16)
    mom, w32 = opt.create_state_multi_precision(0, w)
    assert w32.dtype == np.float32 and mom.dtype == np.float32


@pytest.mark.parametrize("name", ["adam", "adamax", "rmsprop", "lamb", "adamw", "lans"])
def test_base_mp_layout_and_warning(name):
    opt = OPT.create(name, multi_precision=True)
    w = mx.nd.ones((3,), dtype=np.float16)
    state = opt.create_state_multi_precision(0, w)
    assert state[0].dtype == np.float32 and np.array_equal(state[0].asnumpy(), np.ones(3))
    with pytest.warns(UserWarning, match="multi_precision"):
        OPT.create(name).create_state_multi_precision(0, w)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adadelta", "ftrl"])
@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_float32_only_states_reject_other_dtypes_before_writing(name, dtype):
    opt = OPT.create(name)
    w, g = _pair(dtype=dtype)
    w0 = w.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = opt.create_state_multi_precision(0, w)
    before = [s.copy() for s in (state if isinstance(state, tuple) else (state,))]
    with pytest.raises(TypeError, match="float32"):
        opt.update(0, w, g, state)
    assert np.array_equal(w, w0)
    assert all(np.array_equal(a, b) for a, b in zip(before, state if isinstance(state, tuple) else (state,)))


def test_k_clip_and_p_clip_disagree_for_zero_and_negative():
    w0, g = np.array([1.0, 1.0], np.float32), np.array([0.5, -0.5], np.float32)
    # K-clip (SGD): 0 and negative values mean "no clipping".
    for c in (0, -0.2, None):
        w = w0.copy()
        OPT.SGD(learning_rate=1.0, clip_gradient=c).update(0, w, g, None)
        assert np.array_equal(w, w0 - g)
    # P-clip (AdaGrad dense): 0 zeroes the gradient, -0.2 maps to -+0.2.
    w = w0.copy()
    opt = OPT.AdaGrad(learning_rate=1.0, clip_gradient=0)
    h = opt.create_state(0, w)
    opt.update(0, w, g, h)
    assert np.array_equal(h, np.zeros(2, np.float32)) and np.array_equal(w, w0)
    opt = OPT.AdaGrad(learning_rate=1.0, clip_gradient=-0.2)
    h = opt.create_state(0, w)
    opt.update(0, w.copy(), g, h)
    assert np.array_equal(h, np.full(2, np.float32(0.2) * np.float32(0.2)))


def test_nag_momentum_uses_the_updated_weight():
    w, g, mom = np.array([1.0], np.float32), np.array([0.5], np.float32), np.array([0.2], np.float32)
    OPT.NAG(learning_rate=0.1, momentum=0.9, wd=0.3).update(0, w, g, mom)
    f = np.float32
    m = f(0.9) * f(0.2)
    wn = (f(1) - m) + (f(0.9) + f(1)) * (m - f(0.1) * (g[0] + f(0.3) * f(1)))
    assert w[0] == wn and mom[0] == m - f(0.1) * (g[0] + f(0.3) * wn)


def test_nadam_schedule_is_shared_by_all_parameters():
    opt = OPT.Nadam()
    ws = [np.ones(2, np.float32) for _ in range(3)]
    states = [opt.create_state(i, w) for i, w in enumerate(ws)]
    for i in range(3):
        opt.update(i, ws[i], np.ones(2, np.float32), states[i])
    mu1 = 0.9 * (1. - 0.5 * (pow(0.96, 1 * 0.004)))
    assert opt.m_schedule == mu1 * mu1 * mu1  # t = 1 for all three, multiplied three times


def test_signsgd_ignores_rescale_and_clip_and_rejects_wd_lh():
    w, g = np.ones(2, np.float32), np.array([2.0, -2.0], np.float32)
    OPT.Signum(momentum=0, learning_rate=0.1, rescale_grad=-5, clip_gradient=0.1).update(0, w, g, None)
    assert np.array_equal(w, np.array([0.9, 1.1], np.float32))
    w0 = w.copy()
    with pytest.raises(ValueError, match="wd_lh"):
        OPT.Signum(momentum=0, wd_lh=0.1).update(0, w, g, None)
    assert np.array_equal(w, w0)


def test_dcasgd_previous_weight_and_momentum_errors():
    opt = OPT.DCASGD(learning_rate=0.1)
    w = np.array([1.0, 2.0], np.float32)
    mom, prev = opt.create_state(0, w)
    assert mom is None and np.array_equal(prev, w) and prev is not w
    w_before = w.copy()
    opt.update(0, w, np.ones(2, np.float32), (mom, prev))
    assert np.array_equal(prev, w_before)  # previous weight = weight before this step
    bad = OPT.DCASGD(momentum=0.9)
    w = mx.nd.ones((3,))
    with pytest.raises(ValueError, match="ambiguous"):
        bad.update(0, w, mx.nd.ones((3,)), bad.create_state(0, w))
    w1 = mx.nd.ones((1,))
    with pytest.raises(AssertionError):
        bad.update(1, w1, mx.nd.ones((1,)), bad.create_state(1, w1))
    assert bad.num_update == 1  # counted before failing, like MXNet


def test_adadelta_rescales_callers_gradient_in_place():
    g = np.array([2.0, 4.0], np.float32)
    opt = OPT.AdaDelta(rescale_grad=0.5)
    w = np.ones(2, np.float32)
    opt.update(0, w, g, opt.create_state(0, w))
    assert np.array_equal(g, [1.0, 2.0])


def test_lbsgd_keeps_a_reference_to_the_first_gradient():
    # warmup_epochs=0: the lr multiplier is batch_scale (2) from the start.
    opt = OPT.LBSGD(batch_scale=2, learning_rate=1.0, warmup_epochs=0)
    w = np.zeros(1, np.float32)
    g = np.array([1.0], np.float32)
    opt.update(0, w, g, None)      # accumulates a reference to g
    assert w[0] == 0.0
    g[0] = 5.0                      # the caller reuses its buffer
    opt.update(0, w, g, None)      # (g + g)/2 = 5, not (1 + 5)/2 = 3
    assert w[0] == -1.0 * 2 * 5.0


def test_adamax_has_no_epsilon():
    w, g = np.array([1.0, 1.0], np.float32), np.array([0.0, 1.0], np.float32)
    opt = OPT.Adamax()
    opt.update(0, w, g, opt.create_state(0, w))
    assert np.isnan(w[0]) and np.isfinite(w[1])


def test_adamw_adabelief_skip_on_bad_rescale_and_lans_nan_on_zero_gradient():
    for name in ("adamw", "adabelief"):
        for rg in (0.0, float("inf"), float("nan")):
            opt = OPT.create(name, rescale_grad=rg)
            w = np.ones(3, np.float32)
            st = opt.create_state(0, w)
            opt.update(0, w, np.ones(3, np.float32), st)
            assert np.array_equal(w, np.ones(3)) and opt.num_update == 1
    opt = OPT.LANS()
    w = np.ones(3, np.float32)
    opt.update(0, w, np.zeros(3, np.float32), opt.create_state(0, w))
    assert np.isnan(w).all()


def test_lamb_single_path_multi_precision_never_updates_master():
    opt = OPT.LAMB(multi_precision=True, learning_rate=0.01)
    w = np.ones(4, np.float16)
    st = opt.create_state_multi_precision(0, w)
    for _ in range(2):
        opt.update_multi_precision(0, w, np.full(4, 0.5, np.float16), st)
    assert np.array_equal(st[0], np.ones(4, np.float32))  # master copy still the initial weight
    assert w[0] == np.float16(0.99) or w[0] < 1  # weight one step away from 1
    assert float(w[0]) == pytest.approx(0.99, abs=1e-3)


def test_groupadagrad_requires_2d_and_zero_wd():
    opt = OPT.GroupAdaGrad()
    with pytest.raises(AssertionError):
        opt.create_state(0, np.ones(3, np.float32))
    w = np.ones((2, 2), np.float32)
    bad = OPT.GroupAdaGrad(wd=0.1)
    with pytest.raises(AssertionError, match="Weight decay"):
        bad.update(0, w, np.ones((2, 2), np.float32), bad.create_state(0, w))


def test_sgld_noise_statistics():
    opt = OPT.SGLD(learning_rate=0.04)
    w = np.zeros(200_000, np.float32)
    opt.update(0, w, np.zeros_like(w), None)  # deterministic part is 0
    assert w.std() / math.sqrt(0.04) == pytest.approx(1.0, abs=0.01)
    assert abs(w.mean()) < 0.002


# ---- Updater -------------------------------------------------------------------------------------
def test_updater_lazy_states_aggregation_bytes_indices_and_round_trip():
    opt = OPT.SGD(momentum=0.9, learning_rate=0.1,
                  lr_scheduler=mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.1))
    upd = OPT.get_updater(opt)
    assert upd.aggregate_updates and opt.aggregate_num == 4
    ws = [mx.nd.ones((2, 3)) for _ in range(3)]
    for step in range(3):
        upd([0, 1, b"2"], [mx.nd.ones((2, 3)) * (step + 1)] * 3, ws)
    assert sorted(upd.states, key=str) == [0, 1, "2"]
    blob = upd.get_states(dump_optimizer=True)
    upd2 = OPT.get_updater(OPT.SGD())
    upd2.set_states(blob)
    assert upd2.optimizer.num_update == 3 and not any(upd2.states_synced.values())
    ws2 = [w.copy() for w in ws]
    for step in range(3, 6):
        upd([0, 1, "2"], [mx.nd.ones((2, 3)) * (step + 1)] * 3, ws)
        upd2([0, 1, "2"], [mx.nd.ones((2, 3)) * (step + 1)] * 3, ws2)
    for a, b in zip(ws, ws2):
        assert np.array_equal(a.asnumpy(), b.asnumpy())
    assert all(upd2.states_synced.values())
    only_states = OPT.get_updater(OPT.SGD(momentum=0.9))
    only_states.set_states(upd.get_states())
    assert set(only_states.states) == set(upd.states)


def test_updater_groups_by_dtype_in_chunks():
    calls = []

    class Spy(OPT.SGD):
        def update_multi_precision(self, index, weight, grad, state):
            calls.append((tuple(index), tuple(np.dtype(w.dtype).name for w in weight)))
            super().update_multi_precision(index, weight, grad, state)

    upd = OPT.get_updater(Spy(multi_precision=True))
    dts = [np.float32, np.float16, np.float32, np.float32, np.float16, np.float32, np.float32]
    ws = [mx.nd.ones((2,), dtype=d) for d in dts]
    upd(list(range(7)), [mx.nd.ones((2,), dtype=d) for d in dts], ws)
    assert calls == [((0, 2, 3, 5), ("float32",) * 4), ((6,), ("float32",)),
                     ((1, 4), ("float16", "float16"))]


def test_optimizer_pickle_drops_param_dict():
    class P:
        lr_mult = wd_mult = 1.0
    opt = OPT.Adam(param_dict={0: P()}, lr_scheduler=mx.lr_scheduler.FactorScheduler(step=3))
    opt._update_count(0)
    back = pickle.loads(pickle.dumps(opt))
    assert back.param_dict == {} and back.num_update == 1 and back.lr_scheduler.step == 3


# ---- arrays: NDArray or numpy, in place, zero copy -------------------------------------------------
@pytest.mark.parametrize("name", [n for n in ALL if n != "sgld"])  # SGLD: random noise
def test_numpy_and_ndarray_inputs_give_identical_results_in_place(name):
    kw = {"momentum": 0.9} if name in ("sgd", "nag", "lars", "lbsgd", "ccsgd") else {}
    shape = (4, 3)
    w_np, g_np = _pair(shape)
    w_nd = mx.nd.array(w_np)
    buf = mx.ndarray._buffer(w_nd)
    opt_a, opt_b = OPT.create(name, **kw), OPT.create(name, **kw)
    sa, sb = opt_a.create_state(0, w_np), opt_b.create_state(0, w_nd)
    for _ in range(3):
        opt_a.update(0, w_np, g_np.copy(), sa)
        opt_b.update(0, w_nd, mx.nd.array(g_np), sb)
    assert np.array_equal(w_np, w_nd.asnumpy(), equal_nan=True)
    assert mx.ndarray._buffer(w_nd) is buf  # updated in place, no new buffer


# ---- bad input: clear errors, nothing written ------------------------------------------------------
def _snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays if a is not None]


@pytest.mark.parametrize("name", [n for n in ALL if n not in ("sgld", "test", "groupadagrad")])
def test_bad_arrays_rejected_before_any_write(name):
    kw = {"momentum": 0.9} if name in ("sgd", "nag", "lars", "lbsgd", "ccsgd") else {}
    w, g = _pair((4, 3))
    opt = OPT.create(name, **kw)
    state = opt.create_state(0, w)
    flat = [s for s in (state if isinstance(state, tuple) else (state,)) if s is not None]
    flat = [x for s in flat for x in (s if isinstance(s, tuple) else (s,)) if x is not None]
    before = _snapshot(w, *flat)
    bad_grads = [
        (np.ones((4, 4), np.float32), ValueError, "shape"),
        (np.ones((4, 3), np.float64), TypeError, "dtype"),
        (np.ones((4, 3), np.int32), TypeError, "dtype"),
        (np.ones((3, 4), np.float32).T, ValueError, "C-contiguous"),
        ([[1.0] * 3] * 4, TypeError, "NDArray or a numpy.ndarray|numpy.ndarray"),
    ]
    for bad, exc, msg in bad_grads:
        with pytest.raises(exc, match=msg):
            opt.update(0, w, bad, state)
        after = _snapshot(w, *flat)
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after))
    ro = w.copy()
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        opt.update(0, ro, g, state)
    assert all(np.array_equal(a, b) for a, b in zip(before, _snapshot(w, *flat)))


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "ftml", "adamax", "lamb", "nadam"])
def test_state_shape_or_dtype_mismatch_rejected_before_any_write(name):
    kw = {"momentum": 0.9} if name == "sgd" else {}
    w, g = _pair((4, 3))
    opt = OPT.create(name, **kw)
    orig = opt.create_state(0, w)
    good = orig if isinstance(orig, tuple) else (orig,)
    for bad_first in (np.zeros((3, 4), np.float32), np.zeros((4, 3), np.float64)):
        state = (bad_first,) + tuple(s.copy() for s in good[1:])
        if not isinstance(orig, tuple):
            state = state[0]
        w0 = w.copy()
        with pytest.raises((ValueError, TypeError), match="shape|dtype|float32"):
            opt.update(0, w, g, state)
        assert np.array_equal(w, w0)
        assert all(not s.any() for s in (state if isinstance(state, tuple) else (state,)))


@pytest.mark.parametrize("name,kw", [("sgd", {"momentum": 0.9}), ("sgd", {}), ("adam", {}),
                                     ("adagrad", {}), ("ftrl", {}), ("groupadagrad", {}),
                                     ("nag", {"momentum": 0.9}), ("lars", {"momentum": 0.9})])
def test_bad_row_sparse_indices_rejected_before_any_write(name, kw):
    w = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    opt = OPT.create(name, **kw)
    state = opt.create_state(0, w)
    flat = [s for s in (state if isinstance(state, tuple) else (state,)) if s is not None]
    before = _snapshot(w, *flat)
    data = np.ones((2, 3), np.float32)
    for idx, msg in (([3, 1], "increasing"), ([2, 2], "increasing"), ([1, 5], "range"),
                     ([-1, 2], "range")):
        g = mx.nd.sparse.row_sparse_array((data, idx), shape=(5, 3))
        with pytest.raises(ValueError, match=msg):
            opt.update(0, w, g, state)
        assert all(np.array_equal(a, b) for a, b in zip(before, _snapshot(w, *flat)))
    with pytest.raises(ValueError, match="shape"):
        opt.update(0, w, mx.nd.sparse.row_sparse_array((data, [0, 1]), shape=(6, 3)), state)


@pytest.mark.parametrize("name,kw,msg", [
    ("nag", dict(learning_rate="abc"), "Invalid Parameter format for lr expect float"),
    ("sgd", dict(learning_rate="abc"), "Invalid Parameter format for lrs expect float"),
    ("sgd", dict(momentum=True), "Invalid Parameter format for momentum"),
    ("sgd", dict(rescale_grad="1.5x"), "rescale_grad: Some trailing characters"),
    ("sgd", dict(wd=None), "Invalid Parameter format for wds"),
    ("rmsprop", dict(gamma1="x"), "Invalid Parameter format for gamma1"),
    ("rmsprop", dict(clip_weights="w"), "Invalid Parameter format for clip_weights"),
])
def test_invalid_hyper_parameters_rejected_like_mxnet(name, kw, msg):
    opt = OPT.create(name, **kw)
    with pytest.raises(mx.base.MXNetError, match=msg.replace("(", r"\(")):
        opt.update(0, *_pair((2, 2)), opt.create_state(0, _pair((2, 2))[0]))
    w, g = _pair((2, 2))
    w0 = w.copy()
    st = opt.create_state(0, w)
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        opt.update(0, w, g, st)
    assert np.array_equal(w, w0)


def test_python_side_arithmetic_errors_are_type_errors_like_mxnet():
    # Adam computes the bias correction in Python before any kernel runs.
    opt = OPT.Adam(learning_rate="abc")
    w, g = _pair((2, 2))
    w0 = w.copy()
    with pytest.raises(TypeError):
        opt.update(0, w, g, opt.create_state(0, w))
    assert np.array_equal(w, w0)


def test_sparse_adagrad_rejects_weight_decay_and_lans_aggregate_limit():
    w = np.ones((3, 2), np.float32)
    opt = OPT.AdaGrad(wd=0.1)
    h = opt.create_state(0, w)
    g = mx.nd.sparse.row_sparse_array((np.ones((1, 2), np.float32), [1]), shape=(3, 2))
    with pytest.raises(ValueError, match="wd"):
        opt.update(0, w, g, h)
    assert np.array_equal(w, np.ones((3, 2))) and not h.any()
    with pytest.raises(AssertionError):
        OPT.LANS(aggregate_num=46)


# ---- the MXNet parameter conversions ---------------------------------------------------------------
def test_mxnet_parameter_parsing_matches_dmlc():
    assert _core.mxnet_float(8.624942345226406e-05) == 8.624942711321637e-05
    assert _core.mxnet_float(8.624942345226406e-05) != float(np.float32(8.624942345226406e-05))
    assert _core.mxnet_float(np.float32(0.1)) == float(np.float32(0.1))
    rng = np.random.default_rng(0)
    for x in 10 ** rng.uniform(-12, 12, 2000):
        assert _core.python_repr(float(x)) == repr(float(x))


@pytest.mark.parametrize("name", ["adam", "sgd", "adagrad", "rmsprop"])
def test_large_states_start_half_a_page_from_their_weight(name):
    """States of >= 64 KiB start 2048 bytes (modulo 4096, rounded down to 64) from their weight,
    so that loading one never waits on a store to the other ("4K aliasing", _arrays.zeros_like);
    smaller ones, other item sizes and row_sparse states are plain zeros."""
    kw = dict(momentum=0.9) if name == "sgd" else {}
    opt = mx.optimizer.create(name, learning_rate=0.1, **kw)
    for n, apart in [(16384, True), (16383, False), (100003, True)]:
        for weight in (np.ones(n, np.float32), mx.nd.ones((n,))):
            state = opt.create_state(0, weight)
            states = state if isinstance(state, tuple) else (state,)
            w = weight if isinstance(weight, np.ndarray) else weight._data
            for s in states:
                assert type(s) is type(weight)
                a = s if isinstance(s, np.ndarray) else s._data
                assert a.shape == w.shape and a.dtype == w.dtype and not a.any()
                assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
                phase = (a.ctypes.data - w.ctypes.data) % 4096
                if apart:
                    assert 1984 <= phase <= 2048, phase
    # float16 weights with float32 states (multi_precision): another item size, plain zeros
    mp = mx.optimizer.create("adam", multi_precision=True)
    w16 = mx.nd.ones((100000,), dtype=np.float16)
    master, (m, v) = mp.create_state_multi_precision(0, w16)
    assert m.dtype == np.float32 and not m.asnumpy().any()


def test_states_placed_apart_give_the_same_training_and_states_as_plain_zeros():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(70001).astype(np.float32)
    gs = [rng.standard_normal(70001).astype(np.float32) for _ in range(3)]
    out = []
    for plain in (False, True):
        opt = mx.optimizer.create("adam", learning_rate=0.01)
        upd = mx.optimizer.get_updater(opt)
        w = mx.nd.array(w0)
        if plain:
            upd.states[0] = (mx.nd.zeros(w.shape), mx.nd.zeros(w.shape))
            upd.states_synced[0] = True
        for g in gs:
            upd(0, mx.nd.array(g), w)
        blob = upd.get_states()
        again = mx.optimizer.get_updater(mx.optimizer.create("adam", learning_rate=0.01))
        again.set_states(blob)
        out.append([w.asnumpy()] + [s.asnumpy() for s in upd.states[0]]
                   + [s.asnumpy() for s in again.states[0]])
    for a, b in zip(*out):
        assert a.tobytes() == b.tobytes()
