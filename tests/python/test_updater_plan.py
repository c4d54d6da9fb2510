"""The Updater's step plan (mxopt/optimizer/_plan.py): repeated list updates with the same
weights/gradients skip the per-index work. Every case runs the same script twice, with plans
and with plans disabled (the per-index path the plan replaces), and requires bit-identical
weights, states, update counts and errors; hit/miss is observed through the plan object (a hit
keeps it, a miss replaces it)."""
import pickle

import numpy as np
import pytest

import mxopt
from mxopt import _core
from mxopt.optimizer import _plan

SIZES = [64, 1, 37, 64, 5, 300]
N = len(SIZES)
IDX = list(range(N))

CASES = [
    ("sgd", dict()),
    ("sgd", dict(momentum=0.9)),
    ("sgd", dict(momentum=0.9, clip_gradient=0.5, rescale_grad=0.25)),
    ("adam", dict()),
    ("adam", dict(beta1=0.8, clip_gradient=0.7)),
    ("rmsprop", dict()),
    ("rmsprop", dict(clip_weights=0.8, gamma1=0.8)),
    ("adagrad", dict()),
    ("adagrad", dict(clip_gradient=0.4, rescale_grad=0.5)),
    ("nag", dict(momentum=0.9)),
    ("nag", dict(clip_gradient=0.5)),
    ("adamw", dict()),
    ("adamw", dict(beta1=0.8, clip_gradient=0.7, rescale_grad=0.5)),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]


def _opt(name, kw, **extra):
    args = dict(learning_rate=0.05, wd=0.01)
    args.update(kw)
    args.update(extra)
    return mxopt.optimizer.create(name, **args)


class World:
    """Weights, gradients (rewritten in place every step) and an Updater."""

    def __init__(self, opt, dtype=np.float32, seed=3, keys=None):
        self.rng = np.random.default_rng(seed)
        self.ws = [mxopt.nd.array(self.rng.standard_normal(n), dtype=dtype) for n in SIZES]
        self.gs = [mxopt.nd.array(np.zeros(n), dtype=dtype) for n in SIZES]
        self.upd = mxopt.optimizer.get_updater(opt)
        self.keys = keys  # the Updater's indices for IDX (default: IDX itself)

    def step(self, idx=None):
        """One Updater call: idx a list of positions (default all), or one position (a call
        with a single index, gradient and weight)."""
        for g in self.gs:
            g._data[...] = self.rng.standard_normal(g.shape) * 2
        if isinstance(idx, int):
            key = idx if self.keys is None else self.keys[idx]
            self.upd(key, self.gs[idx], self.ws[idx])
            return
        idx = IDX if idx is None else idx
        keys = idx if self.keys is None else [self.keys[i] for i in idx]
        self.upd(keys, [self.gs[i] for i in idx], [self.ws[i] for i in idx])

    def snapshot(self):
        out = [w.asnumpy() for w in self.ws]
        for i in sorted(self.upd.states):
            st = self.upd.states[i]
            for s in (st if isinstance(st, tuple) else (st,)):
                if s is not None:
                    out.append(np.array(s.asnumpy() if hasattr(s, "asnumpy") else s))
        opt = self.upd.optimizer
        return out, dict(opt._index_update_count), opt.num_update


def _same(a, b):
    (wa, ca, na), (wb, cb, nb) = a, b
    assert ca == cb and na == nb
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8))


def _twice(monkeypatch, make_opt, script, **world_kw):
    """Run script(world, log) with plans and without; compare everything; return the log of
    the planned run (script appends 'hit'/'miss' via world.hit())."""
    results = []
    for plans in (True, False):
        with monkeypatch.context() as m:
            if not plans:
                m.setattr(_plan, "build", lambda *a, **k: None)
            w = World(make_opt(), **world_kw)
            log = []
            errors = []

            def step(idx=None, w=w, log=log, errors=errors):
                before = w.upd._plan
                try:
                    w.step(idx)
                except Exception as e:  # noqa: BLE001 - compared between the two runs
                    errors.append((type(e), str(e)))
                    log.append("error")
                    return
                log.append("hit" if before is not None and w.upd._plan is before else "miss")

            script(w, step)
            results.append((w.snapshot(), errors, log))
    (snap_p, err_p, log_p), (snap_r, err_r, log_r) = results
    _same(snap_p, snap_r)
    assert err_p == err_r
    assert all(x != "hit" for x in log_r)
    return log_p


def _steps(k):
    def script(w, step):
        for _ in range(k):
            step()
    return script


@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
def test_steady_state_hits_and_matches_per_index_path(monkeypatch, name, kw):
    log = _twice(monkeypatch, lambda: _opt(name, kw), _steps(5))
    assert log == ["miss"] + ["hit"] * 4


@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
def test_plan_equals_one_call_per_index(name, kw):
    _check_plan_equals_one_call_per_index(name, kw)


def _check_plan_equals_one_call_per_index(name, kw):
    """4 planned list steps == the same steps as one Updater call per index, bit for bit."""
    a, b = World(_opt(name, kw), seed=9), World(_opt(name, kw), seed=9)
    for _ in range(4):
        a.step()
        for g in b.gs:
            g._data[...] = b.rng.standard_normal(g.shape) * 2
        for i in IDX:
            b.upd(i, b.gs[i], b.ws[i])
    assert a.upd._plan is not None
    _same(a.snapshot(), b.snapshot())


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_multipliers_names_and_classes(monkeypatch, name):
    def make():
        opt = _opt(name, {}, param_idx2name={0: "a_weight", 1: "b_bias", 3: "c_gamma"})
        opt.set_lr_mult({1: 0.5, 4: 2.0})
        opt.set_wd_mult({"c_gamma": 3.0, 2: 0.5})
        return opt
    log = _twice(monkeypatch, make, _steps(4))
    assert log == ["miss", "hit", "hit", "hit"]


@pytest.mark.parametrize("name", ["sgd", "adam", "adagrad"])
@pytest.mark.parametrize("sched", ["factor", "multifactor", "poly", "cosine"])
def test_builtin_schedulers_hit(monkeypatch, name, sched):
    S = mxopt.lr_scheduler

    def make():
        s = {"factor": lambda: S.FactorScheduler(step=2, factor=0.7, base_lr=0.05),
             "multifactor": lambda: S.MultiFactorScheduler(step=[2, 3], factor=0.5, base_lr=0.05),
             "poly": lambda: S.PolyScheduler(max_update=4, base_lr=0.05, warmup_steps=1),
             "cosine": lambda: S.CosineScheduler(max_update=5, base_lr=0.05)}[sched]()
        return _opt(name, {}, learning_rate=None, lr_scheduler=s)
    log = _twice(monkeypatch, make, _steps(6))
    assert log == ["miss"] + ["hit"] * 5


def test_unknown_scheduler_keeps_per_index_path(monkeypatch):
    class Counting(mxopt.lr_scheduler.LRScheduler):
        def __init__(self):
            super().__init__(base_lr=0.05)
            self.calls = 0

        def __call__(self, num_update):
            self.calls += 1
            return 0.05 / (1 + self.calls)

    def make():
        return _opt("adam", {}, learning_rate=None, lr_scheduler=Counting())
    log = _twice(monkeypatch, make, _steps(3))
    assert "hit" not in log


@pytest.mark.parametrize("fmt", ["pickle", "safe"])
def test_set_states_invalidates(monkeypatch, fmt):
    def script(w, step):
        step()
        step()
        blob = w.upd.get_states(dump_optimizer=True, format=fmt)
        step()
        w.upd.set_states(blob, format=fmt)
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adam", {}), script)
    assert log == ["miss", "hit", "hit", "miss", "hit"]


def test_set_learning_rate_and_hyper_parameters(monkeypatch):
    def script(w, step):
        step()
        step()
        w.upd.optimizer.set_learning_rate(0.02)
        step()
        w.upd.optimizer.beta1 = 0.5   # read by the representative's _multi_prepare
        step()
        w.upd.optimizer.wd = 0.1
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adam", {}), script)
    assert log == ["miss", "hit", "hit", "hit", "hit", "hit"]


# Static classes (_MULTI_PLAN_STATIC): without a scheduler the plan reuses the last prepare's
# kernel arguments while every optimizer attribute is the same object; a rebound attribute, a
# mutable one or a scheduler makes it prepare again. Classes with _bias_lr (Adam, AdamW: bias
# correction) reuse it the same way, but compute their lrs every step. LAMB (per-index step
# counts) prepares every step.
STATIC = [("sgd", dict(), "static"), ("sgd", dict(momentum=0.9), "static"),
          ("ccsgd", dict(momentum=0.9), "static"), ("nag", dict(momentum=0.9), "static"),
          ("adagrad", dict(), "static"), ("rmsprop", dict(centered=True), "static"),
          ("adam", dict(), "rates"), ("adamw", dict(), "rates"), ("lamb", dict(), "neither")]


@pytest.mark.parametrize("name,kw,kind", STATIC, ids=[f"{n}-{s}" for n, _, s in STATIC])
def test_static_classes_reuse_their_prepare_until_an_attribute_changes(monkeypatch, name, kw,
                                                                       kind):
    cls = type(_opt(name, kw))
    assert bool(cls.__dict__.get("_MULTI_PLAN_STATIC")) == (kind == "static")
    assert hasattr(cls, "_bias_lr") == (kind == "rates")
    calls, rate_calls = [], []
    real = cls._multi_prepare

    def counting(self, *args):
        calls.append(1)
        return real(self, *args)
    monkeypatch.setattr(cls, "_multi_prepare", counting)
    if kind == "rates":
        real_rates = cls._corrected  # the count-dependent part, in both paths

        def counting_rates(self, *args):
            rate_calls.append(1)
            return real_rates(self, *args)
        monkeypatch.setattr(cls, "_corrected", counting_rates)
    per_step, rates_per_step = [], []

    def script(w, step):
        opt = w.upd.optimizer

        def counted(k=1):
            for _ in range(k):
                before, rates_before = len(calls), len(rate_calls)
                step()
                per_step.append(len(calls) - before)
                rates_per_step.append(len(rate_calls) - rates_before)
        counted(3)
        opt.lr = opt.lr                      # the same object: reused
        counted()
        opt.set_learning_rate(0.02)          # a new value: prepared once, then reused
        counted(2)
        opt.rescale_grad = 0.5
        counted(2)
        opt.clip_gradient = 0.3
        counted(2)
        opt.wd = np.float32(0.02)            # numpy scalars are immutable too
        counted(2)
        opt.rescale_grad = np.array(0.25)    # mutable: prepared every step
        counted()
        opt.rescale_grad[...] = 0.125        # ... so an in-place change takes effect
        counted(2)
        opt.rescale_grad = 1.0
        counted(2)
        opt.lr_scheduler = mxopt.lr_scheduler.FactorScheduler(step=1, factor=0.9, base_lr=0.02)
        counted(3)                           # the rate changes with num_update
        opt.lr_scheduler = None
        counted(2)
    log = _twice(monkeypatch, lambda: _opt(name, kw), script)
    assert log == ["miss"] + ["hit"] * 21
    planned = per_step[1:22]  # the planned run's steps after the build
    if kind == "neither":
        assert planned == [1] * 21
    else:
        assert planned == [1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
    if kind == "rates":  # every step of both runs: from the prepare or on its own
        assert all(n >= 1 for n in rates_per_step) and len(rates_per_step) == 2 * 22


@pytest.mark.parametrize("name,kw", [("nag", dict(momentum=0.9)), ("adam", {}),
                                     ("sgd", dict(momentum=0.9))])
def test_plans_that_never_run_back_off(monkeypatch, name, kw):
    """A new gradient array every call: each plan is dropped unused, so after the second such
    plan the Updater waits 1, 3, 7, ... calls before building again (and meanwhile takes the
    per-index path for one tensor); a steady loop afterwards is planned again. Same bits as
    without plans."""
    def run(plans):
        builds = []
        with monkeypatch.context() as m:
            real = _plan.build
            m.setattr(_plan, "build", lambda *a: (builds.append(1), real(*a) if plans else None)[1])
            upd = mxopt.optimizer.get_updater(mxopt.optimizer.create(name, learning_rate=0.1,
                                                                     **kw))
            w = np.linspace(-1, 1, 7, dtype=np.float32)
            for k in range(200):  # new arrays each call
                upd([0], [np.full(7, 0.01 * (k % 13 + 1), np.float32)], [w])
            rotating = len(builds)
            g = np.full(7, 0.5, np.float32)
            for _ in range(70):  # the same arrays every call
                upd(0, g, w)
            steady = upd._plan is not None and upd._plan.used
        return w, rotating, steady
    w_plans, rotating, steady = run(True)
    w_none, _, _ = run(False)
    assert rotating <= 12      # 200 calls: builds at calls 1, 2, 4, 8, 16, 32, 64, 128, 192
    assert steady
    assert w_plans.tobytes() == w_none.tobytes()


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_rates_that_raise_on_a_planned_step(monkeypatch, name):
    """The bias correction raising at update count 5: the planned step (reusing the prepare,
    computing its lrs alone) is undone, and the per-index path raises the same error with the
    same side effects."""
    cls = type(_opt(name, {}))
    real = cls._corrected

    def corrected(self, lr, t):
        if t == 5:
            raise ValueError("bias correction fails at t=5")
        return real(self, lr, t)
    monkeypatch.setattr(cls, "_corrected", corrected)
    record = _recording_fast_steps(monkeypatch)

    def script(w, step):
        for _ in range(7):
            record.append("python")
            step()
    log = _twice(monkeypatch, lambda: _opt(name, {}), script)
    assert log[:5] == ["miss", "hit", "hit", "hit", "error"]
    assert record[:5] == ["python", "python", "fast", "fast", "declined"]  # the C++ step too


@pytest.mark.parametrize("name,kw,hits", [("sgd", dict(), True), ("sgd", dict(momentum=0.9), True),
                                          ("nag", dict(momentum=0.9), True),
                                          ("adagrad", dict(), True),
                                          ("rmsprop", dict(centered=True), True),
                                          ("lars", dict(momentum=0.9), False),
                                          ("lamb", dict(), False), ("adam", dict(), True),
                                          ("adamw", dict(), True)])
def test_one_tensor_calls(monkeypatch, name, kw, hits):
    """A list of one tensor, or a call with one index, is planned for static classes and
    those with ``_bias_lr`` only (the others' plans cost more than their per-index path);
    both forms are the same call. NAG, AdaGrad, RMSProp and Adam (``aggregate_num`` 0) then run
    one tensor through their multi-tensor kernel too, with the per-index results
    (test_optimizer_mxnet: one-index Updater calls against MXNet, bit for bit)."""
    def script(w, step):
        for _ in range(3):
            step([2])
        step(3)
        step([3])
        w.upd.optimizer.lr = 0.5
        step(3)
        step(3)
    log = _twice(monkeypatch, lambda: _opt(name, kw), script)
    if hits:
        assert log == ["miss", "hit", "hit", "miss", "hit", "hit", "hit"]
    else:
        assert "hit" not in log


def test_set_lr_mult_and_wd_mult_invalidate(monkeypatch):
    def script(w, step):
        step()
        step()
        w.upd.optimizer.set_lr_mult({2: 0.25})
        step()
        step()
        w.upd.optimizer.set_wd_mult({0: 2.0})
        step()
        w.upd.optimizer.lr_mult[5] = 3.0   # in place
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "miss", "hit", "miss", "miss", "hit"]


@pytest.mark.parametrize("name,kw", [("rmsprop", {}), ("lamb", {}),
                                     ("lars", dict(momentum=0.9))])
def test_param_dict_multiplier_change(monkeypatch, name, kw):
    class Param:
        def __init__(self, lr_mult=1.0, wd_mult=1.0):
            self.lr_mult, self.wd_mult = lr_mult, wd_mult

    def make():
        return _opt(name, kw, param_dict={i: Param() for i in IDX})

    def script(w, step):
        step()
        step()
        w.upd.optimizer.param_dict[3].lr_mult = 0.1
        step()
        step()
        w.upd.optimizer.param_dict[1].wd_mult = 0.0
        step()
    log = _twice(monkeypatch, make, script)
    assert log == ["miss", "hit", "miss", "hit", "miss"]


def test_rebound_buffer_updates_the_new_buffer(monkeypatch):
    kept = {}

    def script(w, step):
        step()
        step()
        old = w.ws[2]._data
        w.ws[2]._data = old.copy()   # NDArray rebinds its buffer
        kept.setdefault("old", []).append(old.copy())
        step()
        kept.setdefault("after", []).append(old.copy())
        w.gs[4]._data = w.gs[4]._data.copy()
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adam", {}), script)
    assert log == ["miss", "hit", "miss", "miss", "hit"]
    for before, after in zip(kept["old"], kept["after"]):
        assert np.array_equal(before, after)   # the old buffer is no longer written


def test_different_index_lists(monkeypatch):
    def script(w, step):
        step()
        step()
        step(tuple(IDX))    # a tuple with the same indices is the same call
        step([5, 4, 3, 2, 1, 0])
        step([5, 4, 3, 2, 1, 0])
        step([0, 2, 4])
        step([0, 2, 4])
        step()              # counts now differ between indices: the per-index path
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "hit", "miss", "hit", "miss", "hit", "miss"]


def test_new_gradient_objects_miss(monkeypatch):
    def script(w, step):
        step()
        step()
        w.gs[1] = mxopt.nd.array(w.gs[1].asnumpy())
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adagrad", {}), script)
    assert log == ["miss", "hit", "miss", "hit"]


def test_dtype_change_raises_like_per_index_path(monkeypatch):
    def script(w, step):
        step()
        step()
        w.ws[1]._data = w.ws[1]._data.astype(np.float64)
        w.gs[1]._data = w.gs[1]._data.astype(np.float64)
        step()
        w.ws[1]._data = w.ws[1]._data.astype(np.float32)
        w.gs[1]._data = w.gs[1]._data.astype(np.float32)
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adam", {}), script)
    # index 0 was updated before index 1 failed: counts now differ, no more hits
    assert log == ["miss", "hit", "error", "miss", "miss"]


def test_in_place_array_changes_are_detected(monkeypatch):
    undone = []
    real_undo = _plan.StepPlan._undo
    monkeypatch.setattr(_plan.StepPlan, "_undo",
                        lambda self, *a: (undone.append(1), real_undo(self, *a)))

    def script(w, step):
        step()
        step()
        w.ws[3]._data.flags.writeable = False   # read-only: Updater error before any write
        step()
        w.ws[3]._data.flags.writeable = True
        step()
        w.ws[5]._data.shape = (30, 10)           # reshaped in place: shape mismatch error
        step()
        w.ws[5]._data.shape = (300,)
        step()
        step()
        # Gradients and states: caught by the kernel call of the plan (which then undoes its
        # step and lets the per-index path raise), with the per-index path's side effects.
        w.gs[2]._data.shape = (37, 1)
        step()
        w.gs[2]._data.shape = (37,)
        step()
        step()
        w.upd.states[4]._data.dtype = np.int32   # same bytes, viewed as int32 in place
        step()
        w.upd.states[4]._data.dtype = np.float32
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "error", "miss", "error", "miss", "hit",
                   "error", "miss", "hit", "error", "miss", "hit"]
    assert len(undone) == 4   # each change reached the plan's kernel call, which refused it


def test_states_replaced_by_user_and_momentum_change(monkeypatch):
    def script(w, step):
        step()
        step()
        w.upd.states[2] = mxopt.nd.zeros((SIZES[2],))
        step()
        step()
        w.upd.optimizer.momentum = 0.0   # momentum states no longer used by the kernel
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "miss", "hit", "miss", "hit"]


def test_subclass_override_keeps_per_index_path(monkeypatch):
    class HalfLrAdam(mxopt.optimizer.Adam):
        def _get_lr(self, index):
            return super()._get_lr(index) * (0.5 if index % 2 else 1.0)

    log = _twice(monkeypatch, lambda: HalfLrAdam(learning_rate=0.05, wd=0.01), _steps(3))
    assert "hit" not in log


def test_instance_or_class_patch_invalidates(monkeypatch):
    def script(w, step):
        step()
        step()
        opt = w.upd.optimizer
        opt._get_wd = lambda index, opt=opt: type(opt)._get_wd(opt, index) * (index + 1)
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adagrad", {}), script)
    assert log == ["miss", "hit", "miss", "miss"]


def test_base_class_patch_invalidates(monkeypatch):
    """A method replaced on a base class after the plan was built (the plan skips its method
    comparison while the class's version tag is unchanged)."""
    base = mxopt.optimizer.Optimizer
    real = base._get_wd

    def script(w, step):
        step()
        step()
        step()
        monkeypatch.setattr(base, "_get_wd", lambda self, index: real(self, index) * 3)
        step()
        step()
        monkeypatch.setattr(base, "_get_wd", real)
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "hit", "miss", "hit", "miss", "hit"]


def test_class_change_stops_reusing_prepared_arguments(monkeypatch):
    """Anything set on a static class or a base (its version tag changes) makes the plan
    prepare its arguments again before reusing them."""
    calls = []
    real = mxopt.optimizer.SGD._multi_prepare

    def counting(self, *args):
        calls.append(1)
        return real(self, *args)
    monkeypatch.setattr(mxopt.optimizer.SGD, "_multi_prepare", counting)
    w = World(_opt("sgd", dict(momentum=0.9)))
    per_step = []
    for change in (None, None, None, "SGD", None, "Optimizer", None):
        if change:
            monkeypatch.setattr(getattr(mxopt.optimizer, change), "some_setting", object(),
                                raising=False)
        before = len(calls)
        w.step()
        per_step.append(len(calls) - before)
    assert per_step[1:] == [1, 0, 1, 0, 1, 0]


def test_type_version_changes_with_the_class_or_a_base():
    class A:
        def f(self):
            return 1

    class B(A):
        pass
    B().f()  # a lookup gives the types their tags
    tag = _core.type_version(B)
    assert tag != 0 and _core.type_version(B) == tag
    A.f = lambda self: 2
    assert _core.type_version(B) != tag
    B().f()
    tag2 = _core.type_version(B)
    assert tag2 not in (0, tag)
    B.g = 1
    assert _core.type_version(B) != tag2


def test_shared_optimizer_counts(monkeypatch):
    """Two Updaters on one optimizer: counts move under the plan; results stay exact."""
    def script(w, step):
        other = mxopt.optimizer.get_updater(w.upd.optimizer)
        ws = [mxopt.nd.array(np.ones(n)) for n in SIZES]
        gs = [mxopt.nd.array(np.full(n, 0.5)) for n in SIZES]
        step()
        step()
        other([0, 1], gs[:2], ws[:2])     # advances two of the shared counts
        step()
        step()
        other(IDX, gs, ws)
        step()   # counts differ between indices: the per-index path
    log = _twice(monkeypatch, lambda: _opt("adam", {}), script)
    assert log == ["miss", "hit", "miss", "miss", "miss"]


def test_bias_correction_error_matches(monkeypatch):
    def script(w, step):
        step()
        step()
        w.upd.optimizer.beta1 = 1.0   # 1 - beta1**t == 0 at the first index
        step()
        w.upd.optimizer.beta1 = 0.9
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("adam", {}), script)
    assert log == ["miss", "hit", "error", "miss", "miss"]


def test_pickled_updater_has_no_plan():
    w = World(_opt("adam", {}))
    w.step()
    w.step()
    assert w.upd._plan is not None
    upd2 = pickle.loads(pickle.dumps(w.upd))
    assert upd2._plan is None


def test_multi_tensors_is_a_weights_sequence():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
    gs = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
    ms = [np.zeros(n, np.float32) for n in SIZES]
    mt = _core.MultiTensors(ws)
    assert len(mt) == N and mt[2] is ws[2] and mt[-1] is ws[-1]
    assert not mt.unchanged(gs, ms)
    assert mt.prime(gs, ms)
    assert mt.unchanged(gs, ms) and mt.unchanged(gs, ms, None)
    assert not mt.unchanged(list(gs), ms) and not mt.unchanged(gs) and not mt.unchanged(gs, gs)
    assert not _core.MultiTensors(ws).prime(gs, tuple(ms))   # only lists of numpy arrays
    assert not _core.MultiTensors(ws).prime(gs, [mxopt.nd.array(m) for m in ms])
    ref_w = [w.copy() for w in ws]
    ref_m = [m.copy() for m in ms]
    lrs, wds = [0.1] * N, [0.01] * N
    kw = dict(rescale_grad=1.0, clip_gradient=-1.0, momentum=0.9)
    _core.multi_sgd_mom_update(mt, gs, ms, lrs=np.array(lrs), wds=np.array(wds), **kw)
    _core.multi_sgd_mom_update(ref_w, gs, ref_m, lrs=lrs, wds=wds, **kw)
    for a, b in zip(ws + ms, ref_w + ref_m):
        assert np.array_equal(a, b)
    # A change invalidates the cache; the full validation then reports it as for plain lists.
    ws[1].flags.writeable = False
    assert not mt.unchanged(gs, ms)
    with pytest.raises(ValueError, match=r"weights\[1\] is read-only"):
        _core.multi_sgd_mom_update(mt, gs, ms, lrs=lrs, wds=wds, **kw)
    assert not mt.unchanged(gs, ms)
    ws[1].flags.writeable = True
    gs[2].shape = (37, 1)   # reshaped in place: validated again, rejected as for plain lists
    with pytest.raises(ValueError, match=r"grads\[2\] has shape \(37, 1\)"):
        _core.multi_sgd_mom_update(mt, gs, ms, lrs=lrs, wds=wds, **kw)
    gs[2].shape = (37,)
    _core.multi_sgd_mom_update(mt, gs, ms, lrs=lrs, wds=wds, **kw)   # cache rebuilt
    assert mt.unchanged(gs, ms)


def test_strict_multi_tensors_refuse_changed_arrays_before_writing():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
    gs = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
    ms = [np.zeros(n, np.float32) for n in SIZES]
    kw = dict(lrs=[0.1] * N, wds=[0.01] * N, rescale_grad=1.0, clip_gradient=-1.0,
              momentum=0.9)
    mt = _core.MultiTensors(ws, strict=True)
    with pytest.raises(_core.StaleMultiTensors, match="multi_sgd_mom_update"):
        _core.multi_sgd_mom_update(mt, gs, ms, **kw)   # nothing recorded yet
    assert mt.prime(gs, ms)
    ref_w, ref_m = [w.copy() for w in ws], [m.copy() for m in ms]
    _core.multi_sgd_mom_update(mt, gs, ms, **kw)      # recorded and unchanged: validated, run
    _core.multi_sgd_mom_update(ref_w, gs, ref_m, **kw)
    for a, b in zip(ws + ms, ref_w + ref_m):
        assert np.array_equal(a, b)

    def refused(change, undo):
        before = [a.copy() for a in ws + ms]
        change()
        with pytest.raises(_core.StaleMultiTensors):
            _core.multi_sgd_mom_update(mt, gs, ms, **kw)
        undo()
        for a, b in zip(ws + ms, before):
            assert np.array_equal(a, b)   # nothing written
    refused(lambda: setattr(gs[2], "shape", (37, 1)), lambda: setattr(gs[2], "shape", (37,)))
    refused(lambda: setattr(ms[4], "dtype", np.int32), lambda: setattr(ms[4], "dtype", np.float32))
    refused(lambda: setattr(ws[1].flags, "writeable", False),
            lambda: setattr(ws[1].flags, "writeable", True))
    with pytest.raises(_core.StaleMultiTensors):
        _core.multi_sgd_mom_update(mt, list(gs), ms, **kw)   # another list object
    _core.multi_sgd_mom_update(mt, gs, ms, **kw)           # everything restored: runs again
    _core.multi_sgd_mom_update(ref_w, gs, ref_m, **kw)
    for a, b in zip(ws + ms, ref_w + ref_m):
        assert np.array_equal(a, b)


def test_same_sources_dict_items_common_count():
    a, b = np.zeros(3, np.float32), np.zeros(3, np.float32)
    na = mxopt.nd.array(a)
    assert _core.same_sources([na, b], [na, b], [na._data, b])
    assert not _core.same_sources([na, b], [na, b], [a, b])
    assert not _core.same_sources([na], [na, b], [na._data, b])
    d = {0: na, 1: b}
    assert _core.same_dict_items(d, [0, 1], [na, b])
    assert not _core.same_dict_items(d, [0, 2], [na, b])
    assert _core.common_count({0: 5, 1: 5}, [0, 1]) == 5
    assert _core.common_count({0: 5, 1: 6}, [0, 1]) is None
    assert _core.common_count({0: 5}, [0, 1]) is None
    assert _core.common_count({0: 10 ** 20, 1: 10 ** 20}, [0, 1]) == 10 ** 20
    # Dicts holding exactly the keys in key order are scanned in order; any other layout is
    # looked up key by key. Both give the same answers.
    keys = [1000 + i for i in range(6)]
    vals = [object() for _ in keys]
    in_order = dict(zip(keys, vals))
    assert _core.same_dict_items(in_order, keys, vals)
    assert _core.same_dict_items(dict(reversed(list(in_order.items()))), keys, vals)
    assert _core.same_dict_items(dict(in_order, extra=1), keys, vals)
    twins = [int(str(k)) for k in keys]   # equal keys, other objects
    assert twins[3] is not keys[3]
    assert _core.same_dict_items(in_order, twins, vals)
    assert not _core.same_dict_items(in_order, keys, vals[:5] + [object()])
    assert not _core.same_dict_items(in_order, keys[:5] + [7], vals)
    shuffled = dict(in_order)
    shuffled[keys[2]] = shuffled.pop(keys[2])   # same keys, key 2 moved last
    assert _core.same_dict_items(shuffled, keys, vals)
    with pytest.raises(TypeError):
        _core.same_dict_items(shuffled, keys[:5] + [[1]], vals)
    counts = dict.fromkeys(keys, 10 ** 20)
    assert _core.common_count(counts, keys) == 10 ** 20
    assert _core.common_count(counts, twins) == 10 ** 20
    counts[keys[4]] = 10 ** 20 + 1
    assert _core.common_count(counts, keys) is None
    assert _core.common_count(dict(counts, extra=0), keys) is None
    counts[keys[4]] = 1.0 * 10 ** 20   # equal, but not an int
    assert _core.common_count(counts, keys) is None
    big = [10 ** 20, 10 ** 20 + 0, 10 ** 20 + 1]   # equal values as distinct int objects
    assert _core.common_count({0: big[0], 1: big[1], 2: big[1], 3: big[0]}, [0, 1, 2, 3]) == big[0]
    assert _core.common_count({0: big[0], 1: big[1], 2: big[1], 3: big[2]}, [0, 1, 2, 3]) is None
    d = {0: 1, "a": 2}
    _core.set_items(d, [0, "b"], 7)
    assert d == {0: 7, "a": 2, "b": 7}
    with pytest.raises(TypeError):
        _core.set_items(d, [[1]], 0)   # unhashable key


def test_same_keys_and_same_step_arrays():
    d = {"a": 1, "b": 2}
    keys = tuple(d)
    assert _core.same_keys(d, keys)
    assert not _core.same_keys(dict(d, c=3), keys)            # a key more
    assert not _core.same_keys({"a": 1}, keys)                 # a key less
    assert not _core.same_keys({"b": 2, "a": 1}, keys)         # another order
    assert not _core.same_keys({"a": 1, "c": 2}, keys)
    assert not _core.same_keys({1000: 0}, (int("1000"),))      # equal, another object
    a, b = np.zeros(3, np.float32), np.zeros(3, np.float32)
    na, st = mxopt.nd.array(a), mxopt.nd.array(b)
    states = {0: st}
    args = ([na], [na], [na._data], [b], [b], [b], states, [0], [st], [st], [st._data])
    assert _core.same_step_arrays(*args)
    for k, bad in [(0, [a]), (2, [a]), (3, [a]), (5, [a]), (7, [1]), (8, [na]), (10, [b])]:
        changed = list(args)
        changed[k] = bad
        assert not _core.same_step_arrays(*changed), k


def test_attribute_deleted_and_set_again_rebuilds(monkeypatch):
    """The plan compares the optimizer's attribute names in order: one deleted and set again
    (same value, now last) makes the next call a miss, and the plan built then hits."""
    def script(w, step):
        step()
        step()
        opt = w.upd.optimizer
        clip = opt.clip_gradient
        del opt.clip_gradient
        opt.clip_gradient = clip
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "miss", "hit"]


def test_same_sources_reads_ndarray_slots_like_getattr():
    # same_sources reads NDArray's `_data` slot directly once it has seen the type; rebinding,
    # an unset slot, subclasses and changes to the classes must still be seen.
    a, b, c = (np.zeros(3, np.float32) for _ in range(3))
    na = mxopt.nd.array(a)
    for _ in range(3):
        assert _core.same_sources([na], [na], [na._data])
    old = na._data
    na._data = b
    assert not _core.same_sources([na], [na], [old])
    assert _core.same_sources([na], [na], [b])
    bare = object.__new__(type(na))   # `_data` never set
    assert not _core.same_sources([bare], [bare], [b])
    assert _core.same_sources([na], [na], [b])

    class Sub(type(na)):
        __slots__ = ()
    s = Sub.__new__(Sub)
    s._data = c
    for _ in range(3):
        assert _core.same_sources([s], [s], [c])
    Sub._data = property(lambda self: a)   # the class changes after its slot was cached
    assert _core.same_sources([s], [s], [a])
    assert not _core.same_sources([s], [s], [c])
    assert _core.same_sources([na], [na], [b])


def test_float64_rate_vectors_equal_lists():
    rng = np.random.default_rng(1)
    lrs = rng.random(N) * 0.1
    wds = rng.random(N) * 1e-3
    out = []
    for conv in (list, np.asarray):
        ws = [np.full(n, 0.5, np.float32) for n in SIZES]
        gs = [np.full(n, 0.25, np.float32) for n in SIZES]
        hs = [np.zeros(n, np.float32) for n in SIZES]
        _core.multi_adagrad_update(ws, gs, hs, lrs=conv(lrs.tolist()), wds=conv(wds.tolist()),
                                   rescale_grad=1.0, epsilon=1e-7)
        ws2 = [np.full(n, 0.5, np.float32) for n in SIZES]
        _core.multi_sgd_mom_update(ws2, gs, None, lrs=conv(lrs.tolist()),
                                   wds=conv(wds.tolist()))
        out.append(ws + hs + ws2)
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_hit_is_one_kernel_call_without_per_tensor_checks(monkeypatch):
    from mxopt.optimizer import updater as updater_mod
    calls = {"kernel": 0, "check_pair": 0, "step_kwargs": [], "bias_lr": 0}
    real_kernel, real_check = _core.multi_adam_update, updater_mod._check_pair
    real_step = mxopt.optimizer.Adam._rate  # per index: its count, lr and wd
    real_bias = mxopt.optimizer.Adam._bias_lr  # the count-dependent part of an lr

    def kernel(*a, **k):
        calls["kernel"] += 1
        return real_kernel(*a, **k)

    def check(*a, **k):
        calls["check_pair"] += 1
        return real_check(*a, **k)

    def step_kwargs(self, index):
        calls["step_kwargs"].append(index)
        return real_step(self, index)

    def bias_lr(self, lr, t):
        calls["bias_lr"] += 1
        return real_bias(self, lr, t)
    monkeypatch.setattr(_core, "multi_adam_update", kernel)
    monkeypatch.setattr(updater_mod, "_check_pair", check)
    monkeypatch.setattr(mxopt.optimizer.Adam, "_rate", step_kwargs)
    monkeypatch.setattr(mxopt.optimizer.Adam, "_bias_lr", bias_lr)
    opt = _opt("adam", {}, param_idx2name={0: "a_weight", 4: "b_bias"})
    w = World(opt)

    def steps(k):
        calls.update(kernel=0, check_pair=0, step_kwargs=[], bias_lr=0)
        for _ in range(k):
            w.step()
    steps(1)  # the per-index path (which builds the plan): every index
    assert calls == {"kernel": 1, "check_pair": N, "step_kwargs": IDX, "bias_lr": N}
    # multiplier classes: 0 (named weight), 1/2/3/5 (unnamed), 4 (named bias: wd_mult 0)
    steps(1)  # the first planned step prepares the representatives (and checks _bias_lr)
    assert calls == {"kernel": 1, "check_pair": 0, "step_kwargs": [0, 1, 4], "bias_lr": 3 + 3}
    steps(2)  # then only their lrs
    assert calls == {"kernel": 2, "check_pair": 0, "step_kwargs": [], "bias_lr": 3 * 2}
    assert w.upd.optimizer._index_update_count == dict.fromkeys(IDX, 4)


def _recording_fast_steps(monkeypatch):
    """Record what every Updater call did: 'fast' (the C++ PlanStep ran the step), 'declined'
    (it refused, having changed nothing) or 'python' (no PlanStep: the Python plan or the
    per-index path)."""
    record = []

    class Recording(_core.PlanStep):
        def __call__(self, *args):
            ran = super().__call__(*args)
            record[-1] = "fast" if ran else "declined"
            return ran
    monkeypatch.setattr(_core, "PlanStep", Recording)
    return record


FAST = [("sgd", dict()), ("sgd", dict(momentum=0.9)), ("ccsgd", dict(momentum=0.9)),
        ("nag", dict(momentum=0.9)), ("adagrad", dict(clip_gradient=0.4)),
        ("rmsprop", dict(centered=True)), ("adam", dict()), ("adamw", dict(beta1=0.8))]


@pytest.mark.parametrize("name,kw", FAST, ids=[n for n, _ in FAST])
def test_static_steady_state_runs_in_one_c_call(monkeypatch, name, kw):
    """After the build (per-index path) and one Python planned step (which prepares), the
    steady steps of static classes, Adam and AdamW run in the C++ PlanStep, without
    StepPlan.run: the same bits as without plans, also for one-tensor calls (Adam and AdamW:
    their lrs from _bias_lr every step, per multiplier class: index 0 is named)."""
    record = _recording_fast_steps(monkeypatch)
    runs = []
    real_run = _plan.StepPlan.run
    monkeypatch.setattr(_plan.StepPlan, "run", lambda self, upd: (runs.append(1),
                                                                  real_run(self, upd))[1])

    def script(w, step):
        for idx in [None] * 5 + [2] * 4:
            record.append("python")
            step(idx)
    log = _twice(monkeypatch, lambda: _opt(name, kw, param_idx2name={0: "a_weight"}), script)
    assert log == ["miss"] + ["hit"] * 4 + ["miss"] + ["hit"] * 3
    assert record[:9] == ["python", "python", "fast", "fast", "fast",
                          "declined", "python", "fast", "fast"]
    assert len(runs) == 2  # the prepare of each plan (its first planned step)


def _copied(state):
    return tuple(s.copy() for s in state) if isinstance(state, tuple) else state.copy()


@pytest.mark.parametrize("name,kw", [("sgd", dict(momentum=0.9)), ("adam", dict())])
def test_every_change_the_c_step_cannot_vouch_for_goes_to_the_python_plan(monkeypatch, name, kw):
    """Each change below makes the C++ PlanStep decline (nothing changed); the Python plan or
    the per-index path then runs the step, with the same bits and counts as without plans."""
    record = _recording_fast_steps(monkeypatch)

    class Param:
        lr_mult = wd_mult = 1.0

    # (change, what its step's record must be, the records of the three steps after it)
    again = ["python", "fast", "fast"]  # the per-index path ran: a new plan prepares first
    changes = [
        (lambda w, o: setattr(o, "wd", 0.02), ["declined"] + ["fast"] * 3),  # rebound
        (lambda w, o: o.set_lr_mult({1: 0.5}), ["declined"] + again),  # multipliers
        (lambda w, o: o.wd_mult.__setitem__(3, 0.0), ["declined"] + again),  # ... in place
        (lambda w, o: o.idx2name.__setitem__(9, "c_weight"), ["declined"] + again),  # names
        (lambda w, o: setattr(o, "lr_scheduler",  # a scheduler: the Python plan only
                              mxopt.lr_scheduler.FactorScheduler(step=2, factor=0.5)),
         ["declined"] + ["python"] * 3),
        (lambda w, o: setattr(o, "lr_scheduler", None), ["python"] + ["fast"] * 3),
        (lambda w, o: setattr(w.ws[2], "_data", w.ws[2]._data.copy()), ["declined"] + again),
        (lambda w, o: w.upd.states.__setitem__(4, _copied(w.upd.states[4])),
         ["declined"] + again),  # a state replaced
        (lambda w, o: setattr(type(o), "_fast_test_attribute", 1),  # a class attribute
         ["declined"] + ["fast"] * 3),
        (lambda w, o: setattr(o, "extra", 1), ["declined"] + again),  # a new attribute
        (lambda w, o: setattr(o, "aggregate_num", 2), ["declined"] + again),  # chunking
        (lambda w, o: setattr(o, "num_update", 1000), ["fast"] * 4),  # only kept as the max
        # Another device's counts: the Python plan's step rebinds this device's, and its
        # prepare is still good (the PlanStep returns with the next prepare).
        (lambda w, o: o._set_current_context(1), ["declined"] + ["python"] * 3),
        (lambda w, o: o.param_dict.__setitem__(7, Param()), ["python"] * 4),  # Python only
        (lambda w, o: o._index_update_count.__setitem__(3, 100),  # counts differ: no plan
         ["python"] * 4),
    ]

    def script(w, step):
        o = w.upd.optimizer
        for change in [None] + [c for c, _ in changes]:
            if change is not None:
                change(w, o)
            for _ in range(4):
                record.append("python")
                step()
    try:
        _twice(monkeypatch, lambda: _opt(name, kw, param_idx2name={9: "b_weight"}), script)
    finally:
        cls = type(_opt(name, kw))
        if hasattr(cls, "_fast_test_attribute"):
            del cls._fast_test_attribute
    planned = record[:len(record) // 2]  # the first run is the planned one
    expected = ["python", "python", "fast", "fast"] + [r for _, rs in changes for r in rs]
    assert planned == expected


def test_plan_step_undoes_its_advance_when_the_kernel_refuses_an_array(monkeypatch):
    """A gradient reshaped in place passes the PlanStep's identity checks; its kernel call then
    refuses it before writing, the PlanStep puts the counts and num_update back and declines,
    and the per-index path raises its error, as without plans."""
    record = _recording_fast_steps(monkeypatch)

    def script(w, step):
        for k in range(5):
            if k == 3:
                w.gs[2]._data.shape = (37, 1)
            if k == 4:
                w.gs[2]._data.shape = (37,)
            record.append("python")
            step()
    log = _twice(monkeypatch, lambda: _opt("sgd", dict(momentum=0.9)), script)
    assert log == ["miss", "hit", "hit", "error", "miss"]
    assert record[:5] == ["python", "python", "fast", "declined", "python"]


def test_plan_step_refuses_what_it_does_not_handle():
    """PlanStep is only made from a plan whose last prepare can be reused (static classes,
    Adam, AdamW); anything else is a TypeError (and the Python plan carries on without it)."""
    w = World(_opt("nag", dict(momentum=0.9)))
    for _ in range(3):
        w.step()
    plan = w.upd._plan
    assert isinstance(plan.fast, _core.PlanStep)
    memo = plan.memo
    plan.memo = (memo[0], memo[1], memo[2], 0)  # no version tag
    with pytest.raises(TypeError, match="PlanStep"):
        _core.PlanStep(plan)
    plan.memo = (memo[0][1:], memo[1][1:], memo[2], memo[3])  # an attribute missing
    with pytest.raises(TypeError, match="PlanStep"):
        _core.PlanStep(plan)
    plan.memo = memo
    assert isinstance(_core.PlanStep(plan), _core.PlanStep)


# ---- LAMB and LARS: per-index integer lists (steps t, use_lars) and LARS's per-call state -----
# LARS's aggregate_num is 4: the 6 tensors are 2 chunks of the per-index path (the plan calls
# _multi_prepare twice); aggregate_num=8 makes them one chunk.
LAYERWISE = [
    ("lamb", dict(), np.float32),
    ("lamb", dict(bias_correction=False), np.float32),
    ("lamb", dict(lower_bound=0.5, upper_bound=2.0, clip_gradient=0.3, rescale_grad=0.5),
     np.float32),
    ("lamb", dict(beta1=0.8, epsilon=1e-4, aggregate_num=2), np.float32),
    ("lamb", dict(multi_precision=True), np.float16),
    ("lamb", dict(multi_precision=True, bias_correction=False, upper_bound=1.5), np.float16),
    ("lars", dict(), np.float32),
    ("lars", dict(momentum=0.9, eta=0.01), np.float32),
    ("lars", dict(momentum=0.9, eps=1e-3, clip_gradient=0.5, rescale_grad=0.25), np.float32),
    ("lars", dict(momentum=0.5, momentum_correction=False), np.float32),
    ("lars", dict(momentum=0.9, aggregate_num=8), np.float32),
    ("lars", dict(momentum=0.9, multi_precision=True), np.float16),
    ("lars", dict(multi_precision=True, eta=0.1), np.float16),
]
LAYERWISE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
                 f"-{np.dtype(dt).name}" for n, kw, dt in LAYERWISE]


def _layerwise(name, kw, **extra):
    kw = dict(kw)
    agg = kw.pop("aggregate_num", None)
    opt = _opt(name, kw, **extra)
    if agg is not None:
        opt.aggregate_num = agg
    return opt


@pytest.mark.parametrize("name,kw,dtype", LAYERWISE, ids=LAYERWISE_IDS)
def test_layerwise_steady_state_hits(monkeypatch, name, kw, dtype):
    log = _twice(monkeypatch, lambda: _layerwise(name, kw), _steps(6), dtype=dtype)
    assert log == ["miss"] + ["hit"] * 5


@pytest.mark.parametrize("name,kw,dtype", LAYERWISE, ids=LAYERWISE_IDS)
def test_layerwise_names_multipliers_and_schedulers(monkeypatch, name, kw, dtype):
    """Names excluding tensors from LARS (bias/gamma/beta) and from weight decay, lr/wd
    multipliers by index and by name, a scheduler whose rate changes every step."""
    def make():
        opt = _layerwise(name, kw, learning_rate=None,
                         lr_scheduler=mxopt.lr_scheduler.PolyScheduler(max_update=20,
                                                                       base_lr=0.05),
                         param_idx2name={0: "fc_weight", 1: "fc_bias", 2: "bn_gamma",
                                         3: "bn_beta", 5: "out_weight"})
        opt.set_lr_mult({1: 0.5, "bn_gamma": 2.0, 4: 3.0})
        opt.set_wd_mult({"out_weight": 3.0, 0: 0.5})
        return opt
    log = _twice(monkeypatch, make, _steps(6), dtype=dtype)
    chunks = name == "lars" and kw.get("aggregate_num", 4) < N
    if chunks and kw.get("momentum", 0) > 0 and kw.get("momentum_correction", True):
        # The rate changes every step: the per-index path's first chunk gets a different
        # (corrected) momentum than the later ones, runs as two kernel calls, and is not planned.
        assert "hit" not in log
    else:
        assert log == ["miss"] + ["hit"] * 5


@pytest.mark.parametrize("agg,expected", [
    (4, ["miss", "hit", "hit", "miss", "miss", "hit", "miss", "miss", "hit"]),
    (8, ["miss"] + ["hit"] * 8)])
def test_lars_momentum_correction_across_chunks(monkeypatch, agg, expected):
    """FactorScheduler: the rate changes at updates 4 and 7. With two chunks a change
    splits the per-index path in two kernel calls (no plan); with one chunk the plan follows
    it. The lr history (last_lr, cur_lr) ends as in the per-index path."""
    def make():
        opt = _opt("lars", dict(momentum=0.9), learning_rate=None,
                   lr_scheduler=mxopt.lr_scheduler.FactorScheduler(step=3, factor=0.7,
                                                                   base_lr=0.05))
        opt.aggregate_num = agg
        return opt

    history = []

    def script(w, step):
        for _ in range(9):
            step()
            history.append((w.upd.optimizer.last_lr, w.upd.optimizer.cur_lr))
    log = _twice(monkeypatch, make, script)
    assert log == expected
    assert history[:9] == history[9:]


def test_lars_string_indices_excluded_by_name(monkeypatch):
    """Unnamed indices are matched by str(index): string keys ending in bias/gamma/beta skip
    LARS; their plan class differs from the LARS tensors' (same multipliers)."""
    keys = ["c1_weight", "c1_bias", "bn_gamma", "bn_beta", "c2_weight", "c2_bias"]
    seen = []
    real = _core.multi_lars_update

    def kernel(*a, **k):
        seen.append([bool(x) for x in a[3]])
        return real(*a, **k)
    monkeypatch.setattr(_core, "multi_lars_update", kernel)
    log = _twice(monkeypatch, lambda: _opt("lars", dict(momentum=0.9, eta=0.01)), _steps(4),
                 keys=keys)
    assert log == ["miss", "hit", "hit", "hit"]
    assert len(seen) == 8 and all(s == [True, False, False, False, True, False] for s in seen)


def test_layerwise_changes_take_effect_on_the_next_step(monkeypatch):
    def lamb_script(w, step):
        step()
        step()
        w.upd.optimizer.bias_correction = False   # read by the representative's prepare
        step()
        w.upd.optimizer.lower_bound = 0.9
        step()
        w.upd.optimizer.set_lr_mult({3: 0.1})     # multiplier classes change: rebuilt
        step()
        step()
        w.upd.optimizer.param_idx2name = None     # unrelated new attribute: rebuilt
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("lamb", {}), lamb_script)
    assert log == ["miss", "hit", "hit", "hit", "miss", "hit", "miss", "hit"]

    def lars_script(w, step):
        step()
        step()
        w.upd.optimizer.idx2name[2] = "bn_gamma"   # now excluded from LARS
        step()
        step()
        w.upd.optimizer.eta = 0.5
        step()
        w.upd.optimizer.wd_mult[1] = 4.0
        step()
        step()
        w.upd.optimizer.aggregate_num = 8          # one chunk instead of two
        step()
        step()
        w.upd.optimizer.momentum = 0.0             # momentum states no longer used
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("lars", dict(momentum=0.9)), lars_script)
    assert log == ["miss", "hit", "miss", "hit", "hit", "miss", "hit", "miss", "hit", "miss",
                   "hit"]


def test_lamb_counts_diverging_fall_back(monkeypatch):
    def script(w, step):
        step()
        step()
        step([0, 1, 2])      # counts now differ: steps t differ per index
        step()
        step()
    log = _twice(monkeypatch, lambda: _opt("lamb", {}), script)
    assert log == ["miss", "hit", "miss", "miss", "miss"]


@pytest.mark.parametrize("name,kw", [("lars", dict(momentum=0.9, eta=0.01)), ("lars", dict()),
                                     ("lars", dict(momentum=0.5, clip_gradient=0.2))])
def test_lars_plan_equals_one_call_per_index(name, kw):
    _check_plan_equals_one_call_per_index(name, kw)


@pytest.mark.parametrize("name,kernel,prepares", [("lamb", "multi_lamb_update", 1),
                                                  ("lars", "multi_lars_update", 2)])
def test_layerwise_hit_is_one_kernel_call(monkeypatch, name, kernel, prepares):
    cls = type(_opt(name, {}))
    calls = {"kernel": 0, "prepare": []}
    real_kernel, real_prepare = getattr(_core, kernel), cls._multi_prepare

    def counted(*a, **k):
        calls["kernel"] += 1
        return real_kernel(*a, **k)

    def prepare(self, indices, *a):
        calls["prepare"].append(list(indices))
        return real_prepare(self, indices, *a)
    monkeypatch.setattr(_core, kernel, counted)
    monkeypatch.setattr(cls, "_multi_prepare", prepare)
    w = World(_opt(name, dict(momentum=0.9) if name == "lars" else {},
                   param_idx2name={0: "a_weight", 4: "b_bias"}))
    w.step()
    calls.update(kernel=0, prepare=[])
    for _ in range(3):
        w.step()
    # classes: 0 (named weight), 1/2/3/5 (unnamed), 4 (named bias: wd_mult 0, no LARS)
    assert calls == {"kernel": 3, "prepare": [[0, 1, 4]] * (3 * prepares)}
    assert w.upd.optimizer._index_update_count == dict.fromkeys(IDX, 4)


def test_int_lists_reach_the_kernel_as_float64_vectors():
    """The plan passes LAMB's steps / LARS's use_lars as float64 vectors: same results as
    lists of ints / bools."""
    rng = np.random.default_rng(2)
    out = []
    for conv in (list, lambda v: np.asarray(v, dtype=np.float64)):
        ws = [np.full(n, 0.5, np.float32) for n in SIZES]
        gs = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
        ms = [np.zeros(n, np.float32) for n in SIZES]
        vs = [np.zeros(n, np.float32) for n in SIZES]
        _core.multi_lamb_update(ws, gs, ms, vs, conv([3, 1, 2, 5, 4, 7]), lrs=[0.01] * N,
                                wds=[0.001] * N)
        ws2 = [np.full(n, 0.5, np.float32) for n in SIZES]
        _core.multi_lars_update(ws2, gs, None, conv([True, False, True, True, False, True]),
                                lrs=[0.1] * N, wds=[0.01] * N, eta=0.01, eps=0.0)
        out.append(ws + ms + vs + ws2)
        rng = np.random.default_rng(2)
    for a, b in zip(*out):
        assert np.array_equal(a, b)
