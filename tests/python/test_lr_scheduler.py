"""Unit tests of mx.lr_scheduler that need no MXNet: pickling, subclassing, typing, plot."""
import builtins
import copy
import inspect
import pickle

import pytest

import mxopt as mx

S = mx.lr_scheduler


def test_factor_scheduler_worked_example():
    s = S.FactorScheduler(step=100, factor=0.9, base_lr=0.1)
    assert [s(n) for n in (1, 100)] == [0.1, 0.1]
    assert s(101) == 0.09000000000000001
    assert s(201) == 0.1 * 0.9 * 0.9


def test_constructor_signatures_match_mxnet():
    sig = inspect.signature(S.FactorScheduler.__init__)
    assert list(sig.parameters) == ["self", "step", "factor", "stop_factor_lr", "base_lr",
                                    "warmup_steps", "warmup_begin_lr", "warmup_mode"]
    assert sig.parameters["factor"].default == 1
    assert sig.parameters["stop_factor_lr"].default == 1e-8
    sig = inspect.signature(S.PolyScheduler.__init__)
    assert list(sig.parameters)[1:4] == ["max_update", "base_lr", "pwr"]
    assert sig.parameters["pwr"].default == 2


@pytest.mark.parametrize("make", [
    lambda: S.FactorScheduler(step=3, factor=0.5, warmup_steps=2),
    lambda: S.MultiFactorScheduler(step=[3, 9], factor=0.5),
    lambda: S.PolyScheduler(max_update=40, pwr=3, final_lr=1e-3, warmup_steps=4),
    lambda: S.CosineScheduler(max_update=40, final_lr=1e-3, warmup_steps=4, warmup_mode="constant"),
])
def test_pickle_and_copy_resume_exactly(make):
    s = make()
    for n in range(12):
        s(n)
    s.user_note = "kept"
    for clone in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert type(clone) is type(s)
        assert clone.user_note == "kept"
        ref = make()
        for n in range(12):
            ref(n)
        assert [clone(n) for n in range(12, 60)] == [ref(n) for n in range(12, 60)]


class InverseTime(S.LRScheduler):
    """A user's own scheduler (module level so that pickle can find it)."""

    def __init__(self, base_lr=0.5, k=1.0):
        super().__init__(base_lr=base_lr)
        self.k = k

    def __call__(self, num_update):
        return self.base_lr / (1.0 + self.k * num_update)


def test_user_subclass_overriding_call_works_and_pickles():
    s = InverseTime(k=0.5)
    assert isinstance(s, S.LRScheduler)
    assert s(2) == 0.25
    s.base_lr = 1.0
    t = pickle.loads(pickle.dumps(s))
    assert type(t) is InverseTime and t.k == 0.5 and t(2) == 0.5


def test_base_class_call_is_abstract():
    with pytest.raises(NotImplementedError, match="must override this"):
        S.LRScheduler()(1)


def test_builtin_schedulers_are_lrschedulers():
    for s in (S.FactorScheduler(2), S.MultiFactorScheduler([2]), S.PolyScheduler(5), S.CosineScheduler(5)):
        assert isinstance(s, S.LRScheduler)


def test_warmup_mode_changed_by_hand_is_rejected():
    s = S.FactorScheduler(step=2, warmup_steps=4)
    s.warmup_mode = "cubic"
    with pytest.raises(ValueError, match="Invalid warmup mode cubic"):
        s(1)


def test_get_warmup_lr_asserts_range():
    s = S.CosineScheduler(max_update=20, warmup_steps=4, base_lr=1.0)
    assert s.get_warmup_lr(2) == 0.5
    with pytest.raises(AssertionError):
        s.get_warmup_lr(4)


def test_plot_draws_curve():
    matplotlib = pytest.importorskip("matplotlib", reason="mxopt[plot] is not installed")

    matplotlib.use("Agg")
    ax = S.plot(S.CosineScheduler(max_update=50, base_lr=1.0), 60)
    xs, ys = ax.lines[0].get_data()
    assert len(xs) == 60 and ys[0] < 1.0 and ys[-1] == 0.0


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"mxopt\[plot\]"):
        S.plot(S.FactorScheduler(2), 10)


def test_plot_rejects_bad_num_updates():
    with pytest.raises(ValueError, match="num_updates"):
        S.plot(S.FactorScheduler(2), 0)
