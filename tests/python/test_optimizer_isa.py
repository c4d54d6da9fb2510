"""Runtime ISA dispatch of the optimizer kernels (baseline / AVX2 / AVX-512): every level gives
bit-identical results, and so matches MXNet 1.9.1. MXOPT_ISA forces a level at start-up (checked
in subprocesses, with a differential subset run under each level); set_optimizer_isa switches
in-process. Tensors are large enough to run the vector main loops, their tails and the threaded
path (> 32768 elements)."""
import os
import subprocess
import sys

from mxnet_oracle import mxnet_or_none as mxnet, needs_mxnet
import numpy as np
import pytest

import mxopt
from mxopt import _core

LEVELS = ["baseline", "avx2", "avx512"]
# Lengths: a vector tail for every width, and one above the threading threshold.
LENGTHS = [1, 37, 1037, 70001]
CASES = [
    ("sgd", dict()),
    ("sgd", dict(momentum=0.9)),
    ("nag", dict(momentum=0.9)),
    ("adam", dict(beta1=0.8)),
    ("adagrad", dict(eps=1e-6)),
    ("rmsprop", dict()),
    ("rmsprop", dict(centered=True, clip_weights=0.8)),
    ("adamax", dict()),
    ("nadam", dict()),
    ("ftrl", dict(lamda1=0.02, beta=0.5)),
    ("signum", dict(momentum=0.8, wd_lh=0.01)),
    ("lars", dict(momentum=0.9, eta=0.01)),
]
# Compared across levels only: MXNet's multi_lamb_update sums its norms in another order.
LEVELS_ONLY = [("lamb", dict())]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]
DTYPES = [(np.float32, False), (np.float64, False), (np.float16, True)]


def _supported():
    """The best level this machine supports (what MXOPT_ISA=avx512 clamps to)."""
    out = subprocess.run([sys.executable, "-c", "from mxopt import _core; print(_core.optimizer_isa())"],
                         env=dict(os.environ, MXOPT_ISA="avx512"), capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def _train(lib, name, kw, dtype, mp, steps=5):
    rng = np.random.default_rng(1)
    opt = lib.optimizer.create(name, learning_rate=0.05, wd=0.01, rescale_grad=0.5,
                               clip_gradient=1.5, multi_precision=mp, **kw)
    upd = lib.optimizer.get_updater(opt)
    ws = [lib.nd.array(rng.standard_normal(n).astype(dtype), dtype=dtype) for n in LENGTHS]
    for _ in range(steps):
        gs = [lib.nd.array((rng.standard_normal(n) * 2).astype(dtype), dtype=dtype)
              for n in LENGTHS]
        upd(list(range(len(LENGTHS))), gs, ws)
    out = [w.asnumpy() for w in ws]
    for i in range(len(LENGTHS)):
        st = upd.states[i]
        stack = [st]
        while stack:
            s = stack.pop()
            if isinstance(s, (tuple, list)):
                stack.extend(s)
            elif s is not None:
                out.append(s.asnumpy())
    return out


@pytest.fixture
def restore_isa():
    before = _core.optimizer_isa()
    yield
    _core.set_optimizer_isa(before)


def test_env_var_selects_the_level_clamped_to_the_cpu():
    best = _supported()
    assert best in LEVELS
    for want in LEVELS:
        out = subprocess.run(
            [sys.executable, "-c", "from mxopt import _core; print(_core.optimizer_isa())"],
            env=dict(os.environ, MXOPT_ISA=want), capture_output=True, text=True, check=True)
        expected = want if LEVELS.index(want) <= LEVELS.index(best) else best
        assert out.stdout.strip() == expected


def test_set_optimizer_isa_validates_and_clamps(restore_isa):
    with pytest.raises(ValueError, match="'baseline', 'avx2' or 'avx512'"):
        _core.set_optimizer_isa("sse9")
    assert _core.set_optimizer_isa("baseline") == "baseline"
    assert _core.optimizer_isa() == "baseline"
    assert _core.set_optimizer_isa("avx512") == _supported()


# float64 is compared across levels only: several of MXNet's own optimizers (AdaGrad, RMSProp)
# fail on float64 weights.
@pytest.mark.parametrize("dtype,mp", [DTYPES[0], DTYPES[2]], ids=["float32", "float16-mp"])
@pytest.mark.parametrize("name,kw", CASES, ids=CASE_IDS)
@needs_mxnet
def test_large_tensors_match_mxnet(name, kw, dtype, mp):
    """Under whatever level is active (the subprocess test below forces each one)."""
    ref = _train(mxnet, name, kw, dtype, mp)
    got = _train(mxopt, name, kw, dtype, mp)
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert r.dtype == g.dtype and r.shape == g.shape
        assert np.array_equal(r, g, equal_nan=True)


# float64: the optimizers MXNet (and so mxopt) accept float64 weights for.
SAME_BITS = [pytest.param(name, kw, dtype, mp, id=f"{cid}-{did}")
             for (name, kw), cid in zip(CASES + LEVELS_ONLY, CASE_IDS + ["lamb-default"])
             for (dtype, mp), did in zip(DTYPES, ["float32", "float64", "float16-mp"])
             if not (dtype is np.float64 and name in ("adagrad", "rmsprop", "ftrl"))]


@pytest.mark.parametrize("name,kw,dtype,mp", SAME_BITS)
def test_every_level_gives_the_same_bits(name, kw, dtype, mp, restore_isa):
    results = {}
    for level in LEVELS:
        _core.set_optimizer_isa(level)
        results[level] = _train(mxopt, name, kw, dtype, mp)
    for level in LEVELS[1:]:
        for a, b in zip(results["baseline"], results[level]):
            assert np.array_equal(a, b, equal_nan=True), level


@pytest.mark.parametrize("level", LEVELS)
@needs_mxnet
def test_differential_subset_under_forced_level(level):
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           os.path.join(here, "test_optimizer_mxnet.py"),
           "-k", "dense_updates and (float32 or float16-mp) and "
                 "(sgd or nag or adam or adagrad or rmsprop or ftrl or signum)",
           os.path.join(here, "test_optimizer_isa.py") + "::test_large_tensors_match_mxnet"]
    out = subprocess.run(cmd, env=dict(os.environ, MXOPT_ISA=level), capture_output=True,
                         text=True, cwd=here)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout
