"""Differential tests: mxopt.lr_scheduler against real MXNet 1.9.1, exact double equality."""
import itertools
import logging
import pickle
import random

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import pytest

import mxopt

MX = mxnet.lr_scheduler
MO = mxopt.lr_scheduler


def _call_sequences():
    rng = random.Random(1234)
    return {
        "range": list(range(0, 3000)),
        "stride7": list(range(0, 3000, 7)),
        "nonmonotone": [0, 1, 2, 3, 4, 5, 6, 7, 3, 0, 9, 250, 100, 1000, 2, 2600, 2500, 10],
        "sorted_random": sorted(rng.randrange(0, 3000) for _ in range(300)),
        "unsorted_random": [rng.randrange(0, 3000) for _ in range(400)],
    }


SEQS = _call_sequences()
WARMUPS = [dict(), dict(warmup_steps=5), dict(warmup_steps=250, warmup_begin_lr=0.001),
           dict(warmup_steps=250, warmup_begin_lr=0.001, warmup_mode="constant")]


def _configs():
    for step, factor, stop, base, w in itertools.product(
            [1, 3, 100], [1, 0.9, 0.5, 0.1], [1e-8, 1e-3], [0.01, 0.5], WARMUPS):
        yield "FactorScheduler", dict(step=step, factor=factor, stop_factor_lr=stop, base_lr=base, **w)
    for steps, factor, base, w in itertools.product(
            [[1], [10, 100, 1000], [5, 6, 2000, 2999]], [1, 0.5, 0.1], [0.01, 0.5], WARMUPS):
        yield "MultiFactorScheduler", dict(step=list(steps), factor=factor, base_lr=base, **w)
    for mu, pwr, final, w in itertools.product([1, 10, 1000, 2500], [1, 2, 0.5, 3], [0, 0.001], WARMUPS):
        if w.get("warmup_steps", 0) == mu:
            continue
        yield "PolyScheduler", dict(max_update=mu, pwr=pwr, final_lr=final, base_lr=0.5, **w)
    for mu, final, w in itertools.product([1, 10, 1000, 2500], [0, 0.001], WARMUPS):
        if w.get("warmup_steps", 0) == mu:
            continue
        yield "CosineScheduler", dict(max_update=mu, final_lr=final, base_lr=0.5, **w)


CONFIGS = list(_configs())


def _run(sched, seq):
    out = []
    for n in seq:
        try:
            out.append(sched(n))
        except ZeroDivisionError as e:  # only for zero-length decays; compared too
            out.append(("ZeroDivisionError", str(e)))
    return out


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_every_call_equals_mxnet(name, kw):
    for seq in SEQS.values():
        a = getattr(MX, name)(**{k: (list(v) if isinstance(v, list) else v) for k, v in kw.items()})
        b = getattr(MO, name)(**kw)
        got, want = _run(b, seq), _run(a, seq)
        assert got == want  # exact equality of doubles
        assert b.base_lr == a.base_lr


def test_factor_logs_same_lines_as_mxnet(caplog):
    seqs = [5, 3, 40]
    with caplog.at_level(logging.INFO):
        a = MX.FactorScheduler(step=2, factor=0.1, stop_factor_lr=1e-4, base_lr=1.0)
        for n in seqs:
            a(n)
        want = [r.getMessage() for r in caplog.records]
        caplog.clear()
        b = MO.FactorScheduler(step=2, factor=0.1, stop_factor_lr=1e-4, base_lr=1.0)
        for n in seqs:
            b(n)
        got = [r.getMessage() for r in caplog.records]
    assert got == want and len(got) > 5


def test_multifactor_logs_same_lines_as_mxnet(caplog):
    with caplog.at_level(logging.INFO):
        MX.MultiFactorScheduler(step=[2, 4, 8], factor=0.5)(9)
        want = [r.getMessage() for r in caplog.records]
        caplog.clear()
        MO.MultiFactorScheduler(step=[2, 4, 8], factor=0.5)(9)
        got = [r.getMessage() for r in caplog.records]
    assert got == want and len(got) == 3


def test_state_attributes_equal_mxnet_after_calls():
    cases = [("FactorScheduler", dict(step=3, factor=0.5), ["step", "factor", "stop_factor_lr", "count"]),
             ("MultiFactorScheduler", dict(step=[2, 7], factor=0.5), ["step", "factor", "count", "cur_step_ind"]),
             ("PolyScheduler", dict(max_update=50, pwr=3, warmup_steps=4),
              ["power", "base_lr_orig", "max_update", "final_lr", "max_steps"]),
             ("CosineScheduler", dict(max_update=50, warmup_steps=4),
              ["base_lr_orig", "max_update", "final_lr", "max_steps"])]
    common = ["base_lr", "warmup_steps", "warmup_begin_lr", "warmup_final_lr", "warmup_mode"]
    for name, kw, attrs in cases:
        a, b = getattr(MX, name)(**kw), getattr(MO, name)(**kw)
        for n in [1, 10, 3, 30]:
            assert a(n) == b(n)
        for attr in attrs + common:
            assert getattr(a, attr) == getattr(b, attr), (name, attr)


BAD_ARGS = [
    ("FactorScheduler", dict(step=0.5)),
    ("FactorScheduler", dict(step=0, factor=2)),
    ("FactorScheduler", dict(step=2, factor=1.5)),
    ("FactorScheduler", dict(step=0, warmup_steps=-1)),
    ("FactorScheduler", dict(step=2, warmup_steps=1.0)),
    ("FactorScheduler", dict(step=2, warmup_begin_lr=0.5)),
    ("FactorScheduler", dict(step=2, warmup_mode="cubic")),
    ("MultiFactorScheduler", dict(step=(1, 2))),
    ("MultiFactorScheduler", dict(step=[])),
    ("MultiFactorScheduler", dict(step=[0, 5])),
    ("MultiFactorScheduler", dict(step=[0, 0])),
    ("MultiFactorScheduler", dict(step=[5, 5])),
    ("MultiFactorScheduler", dict(step=[5, 6], factor=2)),
    ("MultiFactorScheduler", dict(step=(1, 2), warmup_steps=-1)),
    ("PolyScheduler", dict(max_update=0)),
    ("PolyScheduler", dict(max_update=5.0)),
    ("PolyScheduler", dict(max_update=5.0, warmup_mode="x")),
    ("CosineScheduler", dict(max_update=-3)),
    ("CosineScheduler", dict(max_update=10, warmup_steps=2, warmup_begin_lr=1.0)),
]


@pytest.mark.parametrize("name,kw", BAD_ARGS)
def test_bad_arguments_raise_like_mxnet(name, kw):
    with pytest.raises(Exception) as want:
        getattr(MX, name)(**kw)
    with pytest.raises(Exception) as got:
        getattr(MO, name)(**kw)
    assert type(got.value) is type(want.value)
    if isinstance(want.value, ValueError):
        assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name,kw,n", [("PolyScheduler", dict(max_update=5, warmup_steps=5), 5),
                                       ("CosineScheduler", dict(max_update=5, warmup_steps=5), 5)])
def test_zero_length_decay_raises_zero_division_like_mxnet(name, kw, n):
    with pytest.raises(ZeroDivisionError):
        getattr(MX, name)(**kw)(n)
    with pytest.raises(ZeroDivisionError):
        getattr(MO, name)(**kw)(n)


def test_optimizer_style_base_lr_override_matches_mxnet():
    # What Optimizer(learning_rate=X, lr_scheduler=S) does: only base_lr changes.
    for name, kw in [("PolyScheduler", dict(max_update=100, warmup_steps=10)),
                     ("CosineScheduler", dict(max_update=100, warmup_steps=10)),
                     ("FactorScheduler", dict(step=10, factor=0.5, warmup_steps=10))]:
        a, b = getattr(MX, name)(**kw), getattr(MO, name)(**kw)
        a.base_lr = b.base_lr = 0.3
        for n in [0, 5, 10, 11, 50, 200, 100, 300]:
            assert a(n) == b(n)
        assert a.warmup_final_lr == b.warmup_final_lr


def test_pickled_scheduler_continues_like_mxnet():
    a = MX.FactorScheduler(step=7, factor=0.8, base_lr=0.2)
    b = MO.FactorScheduler(step=7, factor=0.8, base_lr=0.2)
    for n in range(30):
        a(n), b(n)
    a2, b2 = pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(b))
    assert [a2(n) for n in range(30, 200)] == [b2(n) for n in range(30, 200)]
