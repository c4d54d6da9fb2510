"""Differential tests: mx.optimizer against real MXNet 1.9.1, same inputs, compared bit for bit.

One table (CASES) of optimizer configurations drives every test: dense updates over several
hyper-parameter sets and dtypes, per-index calls, lazy/standard row_sparse gradients and
Updater state round trips. Four parameters of shapes (1,), (7,), (5, 3), (2, 3, 4) named so that
MXNet's "no weight decay on non-weights" default applies, with lr/wd multipliers by index and by
name, run >= 20 steps. The bar is max |difference| == 0 over weights and every state, except
LAMB (norms accumulated in a different order by MXNet's multi-tensor kernel: <= 1e-6 relative).
"""
import math
import os

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import numpy as np
import pytest

import mxopt

os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
pytestmark = pytest.mark.filterwarnings("ignore:Accumulating with float16")

SHAPES = [(1,), (7,), (5, 3), (2, 3, 4)]
NAMES = ["fc1_weight", "fc1_bias", "bn_gamma", "conv_weight"]
GROUP_SHAPES = [(1, 1), (7, 3), (5, 3), (4, 6)]
STEPS = 20

# (name, constructor kwargs). The same table drives every test below.
CASES = [
    ("sgd", dict(momentum=0.9)),
    ("sgd", dict()),
    ("ccsgd", dict(momentum=0.5)),
    ("nag", dict(momentum=0.9)),
    ("nag", dict()),
    ("adam", dict(beta1=0.8)),
    ("adagrad", dict(eps=1e-6)),
    ("rmsprop", dict()),
    ("rmsprop", dict(centered=True, clip_weights=0.8)),
    ("adadelta", dict(rho=0.8)),
    ("ftrl", dict(lamda1=0.02, beta=0.5)),
    ("adamax", dict()),
    ("nadam", dict()),
    ("ftml", dict()),
    ("signum", dict(momentum=0.8, wd_lh=0.01)),
    ("signum", dict(momentum=0.0)),
    ("sgld", dict()),
    ("dcasgd", dict()),
    ("lbsgd", dict(momentum=0.9, batch_scale=2, warmup_strategy="power2", warmup_epochs=1,
                   updates_per_epoch=8)),
    ("lbsgd", dict(batch_scale=3, warmup_strategy="lars")),
    ("lamb", dict()),
    ("lamb", dict(lower_bound=0.1, upper_bound=2.0, bias_correction=False)),
    ("lars", dict(momentum=0.9, eta=0.01)),
    ("lars", dict(eta=0.02, momentum_correction=False)),
    ("groupadagrad", dict()),
    ("test", dict()),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]

# Hyper-parameter sets: rescale/clip/wd variants incl. clip 0, negative and None, a scheduler with
# begin_num_update (lr via the scheduler, learning_rate=None so it keeps its base_lr).
HYPER = {
    "rg-clip-wd": dict(rescale_grad=0.5, clip_gradient=0.3, wd=0.05),
    "sched": dict(clip_gradient=None, wd=0.01, learning_rate=None, begin_num_update=3,
                  sched=dict(step=3, factor=0.7, base_lr=0.05)),
    "clip0": dict(clip_gradient=0, wd=0.01),
    "clipneg": dict(clip_gradient=-0.2, wd=0.01, rescale_grad=2.0),
}
MODES = {"float32": (np.float32, False), "float64": (np.float64, False),
         "float16": (np.float16, False), "float16-mp": (np.float16, True)}
FLOAT32_STATES = {"adagrad", "rmsprop", "adadelta", "ftrl", "groupadagrad"}
TOLERANCED = {"lamb"}  # multi_lamb's norms: <= 1e-6 relative


def _flat(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _flat(s)]
    return [state]


def _np(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


class _Noise:
    """Replaces SGLD's Gaussian draws by a shared deterministic sequence in both libraries, so
    that SGLD's deterministic part is compared exactly (the noise itself is tested
    statistically in test_optimizer.py)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.rng = np.random.default_rng(123)

    def draw(self, shape, scale, dtype):
        return (self.rng.standard_normal(shape) * scale).astype(dtype)


_NOISE = {mxnet: _Noise(), mxopt: _Noise()}  # restarted by every _run


@pytest.fixture
def fixed_sgld_noise(monkeypatch):
    import mxnet.optimizer.optimizer as mxnet_opt_module
    import mxopt.optimizer.sgld as mxopt_sgld

    def mxnet_normal(loc, scale, shape, dtype, ctx):
        return mxnet.nd.array(_NOISE[mxnet].draw(shape, scale, dtype), dtype=dtype)

    monkeypatch.setattr(mxnet_opt_module, "normal", mxnet_normal)
    monkeypatch.setattr(mxopt_sgld, "_gaussian",
                        lambda shape, dtype, scale: _NOISE[mxopt].draw(shape, scale, dtype))


def _run(lib, name, kw, hyper, dtype, mp, *, sparse=None, per_index=False, steps=STEPS,
         split_at=None, shapes=None):
    """Train 4 parameters (or `shapes`) for `steps` steps through lib's Updater; return
    (weights, states).

    sparse: None, or 'lazy'/'std' -> row_sparse gradients for the 2-D and 3-D parameters.
    split_at: round-trip the Updater through get_states/set_states (with the optimizer) then.
    """
    rng = np.random.default_rng(0)
    _NOISE[lib].reset()
    kw = dict(kw)
    hyper = dict(hyper)
    sched = hyper.pop("sched", None)
    if sched:
        kw["lr_scheduler"] = lib.lr_scheduler.FactorScheduler(**sched)
    if sparse:
        kw["lazy_update"] = sparse == "lazy"
        if name not in ("sgd", "ccsgd", "adam", "lars"):
            kw.pop("lazy_update")
    if shapes is None:
        shapes = GROUP_SHAPES if name == "groupadagrad" else SHAPES
    if name == "groupadagrad":
        hyper["wd"] = 0.0
    opt = lib.optimizer.create(name, multi_precision=mp,
                               param_idx2name=dict(enumerate(NAMES)), **kw, **hyper)
    opt.set_lr_mult({1: 0.5, "bn_gamma": 2.0})
    opt.set_wd_mult({"conv_weight": 3.0, 0: 0.5})
    upd = lib.optimizer.get_updater(opt)
    weights = [lib.nd.array(rng.standard_normal(s).astype(dtype), dtype=dtype) for s in shapes]
    for step in range(steps):
        if split_at is not None and step == split_at:
            blob = upd.get_states(dump_optimizer=True)
            upd = lib.optimizer.get_updater(lib.optimizer.create(name))
            upd.set_states(blob)
        grads = []
        for i, s in enumerate(shapes):
            g = (rng.standard_normal(s) * 2).astype(dtype)
            if sparse and len(s) >= 2 and i % 2 == 1:
                rows = np.sort(rng.choice(s[0], size=max(1, s[0] // 2), replace=False))
                grads.append(lib.nd.sparse.row_sparse_array((g[rows], rows), shape=s, dtype=dtype))
            else:
                grads.append(lib.nd.array(g, dtype=dtype))
        if per_index:
            for i in range(len(shapes)):
                upd(i, grads[i], weights[i])
        else:
            upd(list(range(len(shapes))), grads, weights)
    states = [_np(a) for i in range(len(shapes)) for a in _flat(upd.states[i])]
    return [_np(w) for w in weights], states


def _assert_same(name, mxnet_out, mxopt_out):
    ref = mxnet_out[0] + mxnet_out[1]
    got = mxopt_out[0] + mxopt_out[1]
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert r.shape == g.shape and r.dtype == g.dtype
        if name in TOLERANCED:
            scale = max(1e-30, float(np.nanmax(np.abs(r.astype(np.float64)))))
            diff = np.nanmax(np.abs(r.astype(np.float64) - g.astype(np.float64)))
            assert np.array_equal(np.isnan(r), np.isnan(g))
            assert diff <= 1e-6 * scale, f"relative difference {diff / scale}"
        else:
            assert np.array_equal(r, g, equal_nan=True), \
                f"max |diff| = {np.nanmax(np.abs(r.astype(np.float64) - g.astype(np.float64)))}"


def _compare(name, kw, hyper, mode, **run_kw):
    dtype, mp = MODES[mode]
    mx_out = _run(mxnet, name, kw, hyper, dtype, mp, **run_kw)
    mo_out = _run(mxopt, name, kw, hyper, dtype, mp, **run_kw)
    _assert_same(name, mx_out, mo_out)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("hyper", list(HYPER))
@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
def test_dense_updates_match_mxnet(name, kw, hyper, mode, fixed_sgld_noise):
    dtype, mp = MODES[mode]
    if name in FLOAT32_STATES and dtype != np.float32 and not mp:
        # MXNet keeps these states in float32 and fails on float16 (no mp) / float64 weights;
        # mxopt raises before writing anything.
        with pytest.raises(mxnet.base.MXNetError):
            _run(mxnet, name, kw, HYPER[hyper], dtype, mp, steps=1)
        with pytest.raises(TypeError, match="float32"):
            _run(mxopt, name, kw, HYPER[hyper], dtype, mp, steps=1)
        return
    _compare(name, kw, HYPER[hyper], mode)


FLOAT16_CASES = [c for c in CASES if c[0] not in FLOAT32_STATES]


@pytest.mark.parametrize("name,kw", FLOAT16_CASES,
                         ids=[i for c, i in zip(CASES, CASE_IDS) if c[0] not in FLOAT32_STATES])
def test_long_float16_tensors_match_mxnet(name, kw, fixed_sgld_noise):
    """float16 weights without multi_precision on tensors long enough for every vector loop
    (LONG_SHAPES, below: up to 200003 elements, ragged tails), every operation rounded to
    float16: bit for bit against MXNet (NaN as NaN). LAMB's norms are float32 sums in another
    order than MXNet's (TOLERANCED); in float16 that moves a rounding now and then: at most 2
    float16 ulps, in fewer than 1 element in 1000."""
    args = (name, kw, HYPER["rg-clip-wd"], np.float16, False)
    mx_out = _run(mxnet, *args, steps=5, shapes=LONG_SHAPES)
    mo_out = _run(mxopt, *args, steps=5, shapes=LONG_SHAPES)
    if name not in TOLERANCED:
        _assert_same(name, mx_out, mo_out)
        return
    for r, g in zip(mx_out[0] + mx_out[1], mo_out[0] + mo_out[1]):
        assert r.dtype == g.dtype == np.float16 and r.shape == g.shape
        assert np.array_equal(np.isnan(r), np.isnan(g))
        ulps = np.abs(r.view(np.int16).astype(np.int32) - g.view(np.int16).astype(np.int32))
        assert ulps.max() <= 2 and np.count_nonzero(ulps) * 1000 < r.size


@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
def test_per_index_calls_match_mxnet(name, kw, fixed_sgld_noise):
    # Direct single-index calls: LAMB's single-tensor path, LARS' momentum correction per call.
    _compare(name, kw, HYPER["sched"], "float32", per_index=True)


SPARSE_CASES = [(n, kw) for n, kw in CASES if n not in ("groupadagrad",)]


@pytest.mark.parametrize("mode", ["float32", "float16-mp"])
@pytest.mark.parametrize("lazy", ["lazy", "std"])
@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
def test_row_sparse_updates_match_mxnet(name, kw, lazy, mode, fixed_sgld_noise):
    hyper = dict(HYPER["rg-clip-wd"])
    if name == "adagrad":
        hyper["wd"] = 0.0  # MXNet's sparse AdaGrad rejects weight decay
    if lazy == "std" and name not in ("sgd", "ccsgd", "adam", "lars"):
        hyper["clip_gradient"] = None  # the other optimizers have no lazy_update switch
    _compare(name, kw, hyper, mode, sparse=lazy)


# Narrow rows (a sparse linear model's (features, classes) weight): row_sparse updates of many
# rows of 2 to 7 elements take the kernels' gathered form (blocks of rows copied, updated by the
# vectorized element loop, copied back).
NARROW_SHAPES = [(3000, 2), (3000, 2), (500, 7), (900, 5)]
NARROW_CASES = [(n, kw, mode) for n, kw in CASES if n in ("sgd", "ccsgd", "adam", "adagrad", "ftrl")
                for mode in ("float32", "float64")
                if mode == "float32" or n not in FLOAT32_STATES]  # MXNet: float32 states only


@pytest.mark.parametrize("name,kw,mode", NARROW_CASES,
                         ids=[f"{n}-{i}-{m}" for i, (n, _, m) in enumerate(NARROW_CASES)])
def test_row_sparse_narrow_rows_match_mxnet(name, kw, mode, fixed_sgld_noise):
    hyper = dict(HYPER["rg-clip-wd"])
    if name == "adagrad":
        hyper["wd"] = 0.0  # MXNet's sparse AdaGrad rejects weight decay
    _compare(name, kw, hyper, mode, sparse="lazy", shapes=NARROW_SHAPES, steps=6)


@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
def test_updater_state_round_trip_continues_bit_identically(name, kw, fixed_sgld_noise):
    dtype, mp = MODES["float16-mp" if name not in FLOAT32_STATES else "float32"]
    hyper = HYPER["sched"]
    straight = _run(mxopt, name, kw, hyper, dtype, mp)
    resumed = _run(mxopt, name, kw, hyper, dtype, mp, split_at=STEPS // 2)
    for a, b in zip(straight[0] + straight[1], resumed[0] + resumed[1]):
        assert np.array_equal(a, b, equal_nan=True)
    _assert_same(name, _run(mxnet, name, kw, hyper, dtype, mp, split_at=STEPS // 2), resumed)


# ---- quirks of spec §5 checked against MXNet --------------------------------------------------------
def test_scheduler_call_arguments_match_mxnet():
    for name in ("sgd", "adam", "lbsgd", "lamb", "lars", "nadam"):
        traces = []
        for lib in (mxnet, mxopt):
            calls = []

            class Rec(lib.lr_scheduler.LRScheduler):
                def __call__(self, num_update):
                    calls.append(num_update)
                    return 0.01

            opt = lib.optimizer.create(name, lr_scheduler=Rec(base_lr=0.01), learning_rate=None,
                                       begin_num_update=5)
            upd = lib.optimizer.get_updater(opt)
            ws = [lib.nd.ones((3,)) for _ in range(3)]
            for seq in ([0], [1, 0], [0, 1, 2], [2]):
                upd(seq, [lib.nd.ones((3,))] * len(seq), [ws[i] for i in seq])
            traces.append((calls, opt.num_update))
        assert traces[0] == traces[1], name


def test_learning_rate_overrides_scheduler_base_lr_like_mxnet(capsys):
    for name, lr in (("adam", None), ("sgd", 0.5), ("ftrl", 0.5), ("rmsprop", None)):
        bases = []
        for lib in (mxnet, mxopt):
            sched = lib.lr_scheduler.FactorScheduler(step=5, base_lr=0.3)
            kw = {} if lr is None else {"learning_rate": lr}
            lib.optimizer.create(name, lr_scheduler=sched, **kw)
            bases.append(sched.base_lr)
        out = capsys.readouterr().out
        assert bases[0] == bases[1], name
        assert out.count("overwritten") in (0, 2)


def test_lbsgd_gradient_aliasing_matches_mxnet():
    results = []
    for lib in (mxnet, mxopt):
        opt = lib.optimizer.LBSGD(batch_scale=2, learning_rate=1.0, warmup_epochs=0)
        w = lib.nd.zeros((1,))
        g = lib.nd.array([1.0])
        opt.update(0, w, g, None)
        g[:] = 5.0
        opt.update(0, w, g, None)
        results.append(w.asnumpy())
    assert np.array_equal(*results)


def test_adadelta_gradient_mutation_matches_mxnet():
    out = []
    for lib in (mxnet, mxopt):
        opt = lib.optimizer.AdaDelta(rescale_grad=0.37)
        w, g = lib.nd.ones((4,)), lib.nd.array([1.0, -2.0, 3.0, 0.5])
        opt.update(0, w, g, opt.create_state(0, w))
        out.append(g.asnumpy())
    assert np.array_equal(*out)


def test_dcasgd_momentum_failures_match_mxnet():
    for shape, exc in (((3,), ValueError), ((1,), AssertionError)):
        for lib in (mxnet, mxopt):
            opt = lib.optimizer.DCASGD(momentum=0.9)
            w = lib.nd.ones(shape)
            with pytest.raises(exc):
                opt.update(0, w, lib.nd.ones(shape), opt.create_state(0, w))


def test_signsgd_wd_lh_rejected_by_both():
    with pytest.raises(mxnet.base.MXNetError, match="wd_lh"):
        opt = mxnet.optimizer.Signum(momentum=0, wd_lh=0.1)
        opt.update(0, mxnet.nd.ones((2,)), mxnet.nd.ones((2,)), None)
    with pytest.raises(ValueError, match="wd_lh"):
        mxopt.optimizer.Signum(momentum=0, wd_lh=0.1).update(0, mxopt.nd.ones((2,)),
                                                             mxopt.nd.ones((2,)), None)


def test_lamb_single_path_multi_precision_matches_mxnet():
    # MXNet 1.9.1's single-tensor mp LAMB never writes its master copy back.
    out = []
    for lib in (mxnet, mxopt):
        opt = lib.optimizer.LAMB(multi_precision=True, learning_rate=0.01)
        w = lib.nd.array(np.linspace(-1, 1, 6), dtype=np.float16)
        st = opt.create_state_multi_precision(0, w)
        for k in range(3):
            opt.update_multi_precision(0, w, lib.nd.array(np.full(6, 0.5 + k), dtype=np.float16),
                                       st)
        out.append((w.asnumpy(), st[0].asnumpy(), st[1][0].asnumpy()))
    for a, b in zip(*out):
        assert np.array_equal(a, b)
    assert np.array_equal(out[1][1], np.linspace(-1, 1, 6).astype(np.float16).astype(np.float32))


def test_adamax_zero_gradient_nan_matches_mxnet():
    out = []
    for lib in (mxnet, mxopt):
        opt = lib.optimizer.Adamax()
        w = lib.nd.ones((3,))
        opt.update(0, w, lib.nd.array([0.0, 1.0, -1.0]), opt.create_state(0, w))
        out.append(w.asnumpy())
    assert np.array_equal(*out, equal_nan=True) and np.isnan(out[1][0])


def test_mixed_dtype_aggregated_update_matches_mxnet():
    out = []
    for lib in (mxnet, mxopt):
        opt = lib.optimizer.SGD(momentum=0.9, multi_precision=True, learning_rate=0.1, wd=0.01)
        upd = lib.optimizer.get_updater(opt)
        dts = [np.float32, np.float16, np.float32, np.float16, np.float32, np.float32]
        rng = np.random.default_rng(3)
        ws = [lib.nd.array(rng.standard_normal(5), dtype=d) for d in dts]
        for _ in range(5):
            upd(list(range(6)), [lib.nd.array(rng.standard_normal(5), dtype=d) for d in dts], ws)
        out.append([w.asnumpy() for w in ws])
    for a, b in zip(*out):
        assert np.array_equal(a, b)


# ---- MXNet 2.0 extensions: against 1.9.1's contrib kernels / 2.0 step() on NDArray ops ------------
def _adamw_reference(steps, kw, aggregate, rescale=0.5):
    """MXNet 2.0 AdamW.fused_step transcribed onto 1.9.1's contrib.(multi_)adamw_update."""
    rng = np.random.default_rng(7)
    ws = [mxnet.nd.array(rng.standard_normal(s)) for s in SHAPES]
    ms = [mxnet.nd.zeros(s) for s in SHAPES]
    vs = [mxnet.nd.zeros(s) for s in SHAPES]
    grads_log = []
    for t in range(1, steps + 1):
        gs = [mxnet.nd.array(rng.standard_normal(s) * 2) for s in SHAPES]
        grads_log.append([g.asnumpy() for g in gs])
        lrs = [kw["learning_rate"] * math.sqrt(1 - kw["beta2"] ** t) / (1 - kw["beta1"] ** t)] * 4
        wds = [kw["wd"]] * 4
        rg = mxnet.nd.full((1,), rescale)
        common = dict(beta1=kw["beta1"], beta2=kw["beta2"], epsilon=kw["epsilon"],
                      clip_gradient=kw["clip_gradient"])
        if aggregate:
            mxnet.nd.contrib.multi_adamw_update(ws, gs, ms, vs, rg, out=ws, etas=lrs,
                                                lrs=[1] * 4, wds=wds, **common)
        else:
            for w, g, m, v, lr, wd in zip(ws, gs, ms, vs, lrs, wds):
                mxnet.nd.contrib.adamw_update(w, g, m, v, rg, out=w, lr=1, eta=lr, wd=wd,
                                              **common)
    return [w.asnumpy() for w in ws] + [a.asnumpy() for a in ms + vs], grads_log


@pytest.mark.parametrize("aggregate", [True, False])
def test_adamw_matches_mxnet_contrib_kernels(aggregate, monkeypatch):
    kw = dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-6, clip_gradient=0.3,
              wd=0.05)
    monkeypatch.setenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", "4" if aggregate else "1")
    ref, grads_log = _adamw_reference(STEPS, kw, aggregate)
    opt = mxopt.optimizer.AdamW(rescale_grad=0.5, **kw)
    upd = mxopt.optimizer.get_updater(opt)
    rng = np.random.default_rng(7)
    ws = [mxopt.nd.array(rng.standard_normal(s)) for s in SHAPES]
    for gs in grads_log:
        upd(list(range(4)), [mxopt.nd.array(g) for g in gs], ws)
    got = [w.asnumpy() for w in ws] + [upd.states[i][j].asnumpy() for j in (0, 1)
                                       for i in range(4)]
    for r, g in zip(ref, got):
        assert np.array_equal(r, g)


def _step_reference(name, steps, kw):
    """MXNet 2.0's AdaBelief/LANS step() (the NDArray arithmetic), on MXNet 1.9.1 NDArrays."""
    nd = mxnet.nd
    rng = np.random.default_rng(11)
    ws = [nd.array(rng.standard_normal(s)) for s in SHAPES]
    ms = [nd.zeros(s) for s in SHAPES]
    vs = [nd.zeros(s) for s in SHAPES]
    log = []
    b1, b2, eps, lr, wd, rg = (kw["beta1"], kw["beta2"], kw["epsilon"], kw["learning_rate"],
                               kw["wd"], kw["rescale_grad"])
    for t in range(1, steps + 1):
        gs = [nd.array(rng.standard_normal(s) * 2) for s in SHAPES]
        log.append([g.asnumpy() for g in gs])
        for w, g, m, v in zip(ws, gs, ms, vs):
            if name == "adabelief":
                lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                g = g * rg + wd * w
                g = nd.clip(g, -kw["clip_gradient"], kw["clip_gradient"])
                m[:] *= b1
                m[:] += (1. - b1) * g
                v[:] *= b2
                v[:] += (1. - b2) * nd.square(g - m)
                v[:] += eps
                w[:] -= lr_t * (m / (nd.sqrt(v) + eps))
            else:  # lans
                g = g * rg
                g = g / g.norm()
                g = nd.clip(g, -kw["clip_gradient"], kw["clip_gradient"])
                m[:] *= b1
                m[:] += (1. - b1) * g
                v[:] *= b2
                v[:] += (1. - b2) * nd.square(g)
                r1 = w.norm()
                mh = m / (1. - b1 ** t)
                vh = nd.sqrt(v / (1. - b2 ** t)) + eps
                um = mh / vh + wd * w
                r2 = um.norm()
                ratio = r1 / r2 if float(r1.asscalar()) and float(r2.asscalar()) else 1.0
                w[:] -= lr * b1 * ratio * um
                ug = g / vh + wd * w
                r2 = ug.norm()
                ratio = r1 / r2 if float(r1.asscalar()) and float(r2.asscalar()) else 1.0
                w[:] -= lr * (1. - b1) * ratio * ug
    return [w.asnumpy() for w in ws] + [a.asnumpy() for a in ms + vs], log


@pytest.mark.parametrize("name", ["adabelief", "lans"])
@pytest.mark.parametrize("fused", [True, False])
def test_adabelief_and_lans_match_mxnet_2_step_arithmetic(name, fused):
    kw = dict(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-6, clip_gradient=0.3,
              wd=0.05 if name == "lans" else 0.0, rescale_grad=0.5)
    ref, log = _step_reference(name, STEPS, kw)
    opt = mxopt.optimizer.create(name, use_fused_step=fused, **kw)
    upd = mxopt.optimizer.get_updater(opt)
    rng = np.random.default_rng(11)
    ws = [mxopt.nd.array(rng.standard_normal(s)) for s in SHAPES]
    for gs in log:
        upd(list(range(4)), [mxopt.nd.array(g) for g in gs], ws)
    got = [w.asnumpy() for w in ws] + [upd.states[i][j].asnumpy() for j in (0, 1)
                                       for i in range(4)]
    # Same algorithm, different rounding: the fused kernels compute 1 - beta in float32
    # (1 - 0.999f differs from the double 1 - 0.999 by 1.3e-5 relative) and group operations
    # differently; LANS' norms accumulate differently. Compared per kind (weights, m, v)
    # relative to its overall magnitude.
    tol = 5e-5 if fused else 2e-6
    for kind in range(3):
        r_kind, g_kind = ref[4 * kind:4 * kind + 4], got[4 * kind:4 * kind + 4]
        scale = max(float(np.abs(r).max()) for r in r_kind)
        for r, g in zip(r_kind, g_kind):
            assert np.abs(r - g).max() <= tol * scale


# ---- the Updater's step plans: one list call per step with the SAME arrays -------------------
PLAN_SHAPES = [(3,), (7,), (5, 3), (2, 3, 4), (64,), (1,), (4, 4), (9,), (6, 2), (11,)]
PLAN_NAMES = ["fc1_weight", "fc1_bias", "bn_gamma", "conv_weight", "fc2_weight", "bn_beta",
              "conv2_weight", "fc2_bias", "x_weight", "y_weight"]
PLAN_CASES = [
    ("lamb", dict(), "float32"),
    ("lamb", dict(lower_bound=0.1, upper_bound=2.0, bias_correction=False), "float32"),
    ("lamb", dict(clip_gradient=0.5), "float16-mp"),
    ("lars", dict(momentum=0.9, eta=0.01), "float32"),
    ("lars", dict(eta=0.02, momentum_correction=False, momentum=0.5), "float32"),
    ("lars", dict(eta=0.05), "float32"),
    ("lars", dict(momentum=0.9, eta=0.01), "float16-mp"),
]


@pytest.mark.parametrize("name,kw,mode", PLAN_CASES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}-{m}"
                              for n, kw, m in PLAN_CASES])
def test_planned_list_steps_match_mxnet(name, kw, mode):
    """Ten named tensors (LARS: three chunks of aggregate_num 4) with lr/wd multipliers and a
    FactorScheduler, gradients rewritten in place: mxopt replays its step plan (hits counted)
    and must match MXNet's multi-tensor operators (LAMB: its norms, <= 1e-6 relative)."""
    dtype, mp = MODES[mode]
    outs, hits = [], 0
    for lib in (mxnet, mxopt):
        rng = np.random.default_rng(7)
        opt = lib.optimizer.create(
            name, multi_precision=mp, param_idx2name=dict(enumerate(PLAN_NAMES)), wd=0.01,
            learning_rate=None,
            lr_scheduler=lib.lr_scheduler.FactorScheduler(step=4, factor=0.7, base_lr=0.05), **kw)
        opt.set_lr_mult({1: 0.5, "bn_gamma": 2.0, 6: 1.5})
        opt.set_wd_mult({"conv_weight": 3.0, 0: 0.5})
        upd = lib.optimizer.get_updater(opt)
        ws = [lib.nd.array(rng.standard_normal(s).astype(dtype), dtype=dtype) for s in PLAN_SHAPES]
        gs = [lib.nd.zeros(s, dtype=dtype) for s in PLAN_SHAPES]
        idx = list(range(len(PLAN_SHAPES)))
        for _ in range(10):
            for g, s in zip(gs, PLAN_SHAPES):
                g[:] = (rng.standard_normal(s) * 2).astype(dtype)
            plan = getattr(upd, "_plan", None)
            upd(idx, gs, ws)
            if lib is mxopt:
                hits += plan is not None and upd._plan is plan
        outs.append(([_np(w) for w in ws],
                     [_np(a) for i in idx for a in _flat(upd.states[i])]))
    # The rate changes at updates 5 and 9: with LARS's corrected momentum its first chunk then
    # differs from the others (two kernel calls, no plan for that step and the next).
    corrected = name == "lars" and kw.get("momentum", 0) > 0 and \
        kw.get("momentum_correction", True)
    assert hits == (5 if corrected else 9)
    _assert_same(name, *outs)


# ---- LARS norms of long tensors -----------------------------------------------------------------
LONG_SHAPES = [(200003,), (300, 517), (4096,), (64, 3, 7, 7), (9,)]


@pytest.mark.parametrize("mode", ["float32", "float16-mp"])
@pytest.mark.parametrize("data", ["normal", "integers"])
@pytest.mark.parametrize("per_index", [False, True], ids=["list", "per-index"])
def test_lars_norms_of_long_tensors_match_mxnet(data, per_index, mode):
    """LARS's rates come from MXNet's sequential float32 sums of squares. mxopt sums long float32
    tensors in blocks of exact integer increments (cpp/src/optimizers/common.cc), falling back
    to element order where a block crosses a power of two or holds a halfway case. Integer data
    makes halfway cases frequent (odd squares once the sum passes 2^24, where the float32 step
    is 2); the results must still be MXNet's bit for bit. float16 weights (multi_precision)
    square in float16 and add in float32: mxopt computes chunks of those squares with F16C
    first, then adds them in element order."""
    dtype, mp = MODES[mode]
    outs = []
    for lib in (mxnet, mxopt):
        rng = np.random.default_rng(11)
        draw = ((lambda s: rng.integers(-40, 41, s)) if data == "integers"
                else (lambda s: rng.standard_normal(s)))
        opt = lib.optimizer.create("lars", momentum=0.9, eta=0.01, wd=1e-4, learning_rate=0.1,
                                   param_idx2name={i: f"w{i}_weight" for i in range(5)},
                                   multi_precision=mp)
        upd = lib.optimizer.get_updater(opt)
        ws = [lib.nd.array(draw(s).astype(dtype), dtype=dtype) for s in LONG_SHAPES]
        idx = list(range(len(LONG_SHAPES)))
        for _ in range(3):
            gs = [lib.nd.array(draw(s).astype(dtype), dtype=dtype) for s in LONG_SHAPES]
            if per_index:
                for i in idx:
                    upd(i, gs[i], ws[i])
            else:
                upd(idx, gs, ws)
        outs.append(([_np(w) for w in ws], [_np(a) for i in idx for a in _flat(upd.states[i])]))
    _assert_same("lars", *outs)
