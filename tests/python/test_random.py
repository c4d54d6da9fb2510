"""mx.random: API checks, distributions of both generators (fixed seeds, so deterministic),
thread-count and instruction-set independence (subprocesses)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

import mxopt as mx

GENERATORS = ["mxnet", "philox"]


def test_seed_selects_generator():
    mx.random.seed(3, generator="philox")
    assert mx.random.generator() == "philox"
    mx.random.seed(3)
    assert mx.random.generator() == "mxnet"
    with pytest.raises(ValueError, match="generator must be one of"):
        mx.random.seed(3, generator="pcg64")
    with pytest.raises(ValueError, match="seed_state must be int"):
        mx.random.seed(2.0)
    mx.random.seed(np.int64(3), ctx=mx.cpu())


@pytest.mark.parametrize("gen", GENERATORS)
def test_same_seed_same_values_and_calls_advance(gen):
    mx.random.seed(10, generator=gen)
    a = mx.random.uniform(shape=(1000,)).asnumpy()
    b = mx.random.uniform(shape=(1000,)).asnumpy()
    mx.random.seed(10, generator=gen)
    assert np.array_equal(a, mx.random.uniform(shape=(1000,)).asnumpy())
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("gen", GENERATORS)
def test_shapes_dtypes_and_out(gen):
    mx.random.seed(1, generator=gen)
    for dtype in ("float16", "float32", "float64"):
        r = mx.random.normal(0, 1, shape=(3, 4), dtype=dtype)
        assert isinstance(r, mx.nd.NDArray) and r.shape == (3, 4) and r.dtype == np.dtype(dtype)
    assert mx.random.uniform(shape=5).shape == (5,)
    buf = np.zeros((10, 10), dtype=np.float64)
    ptr = buf.ctypes.data
    assert mx.random.uniform(-1, 1, out=buf) is buf
    assert buf.ctypes.data == ptr and np.all(buf != 0) and np.all(np.abs(buf) <= 1)
    view = np.zeros((6, 6), np.float32)[:, ::2]  # strided view: still filled in place
    mx.random.normal(5, 0.1, out=view)
    assert np.all(np.abs(view - 5) < 1)


def test_bad_arguments_leave_out_untouched():
    out = np.full((4,), 7.0, np.float32)
    with pytest.raises(ValueError, match="low must be less or equal to high"):
        mx.random.uniform(1, 0, out=out)
    with pytest.raises(ValueError, match="scale must be positive"):
        mx.random.normal(0, 0, out=out)
    with pytest.raises(TypeError, match="out must be float16/float32/float64"):
        mx.random.uniform(out=np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="dtype must be float16, float32 or float64"):
        mx.random.uniform(shape=(2,), dtype="int32")
    with pytest.raises(TypeError, match="low must be a number"):
        mx.random.uniform(mx.nd.zeros((2,)), 1, shape=(2,))
    with pytest.raises(ValueError, match="does not match out.shape"):
        mx.random.uniform(shape=(3,), out=out)
    mx.random.seed(0)  # MXNet's generator parses its parameters as float32 fields
    with pytest.raises(ValueError, match=r"Out of range value, value='1e\+39' \(parameter high\)"):
        mx.random.uniform(0, 1e39, out=out)
    with pytest.raises(ValueError, match=r"parameter scale"):
        mx.random.normal(0, 1e39, out=out)
    ro = np.zeros(4, np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="writeable"):
        mx.random.uniform(out=ro)
    assert np.all(out == 7.0)


def _ks(x, cdf):
    return stats.kstest(np.asarray(x, dtype=np.float64).ravel(), cdf).pvalue


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_distribution(gen, dtype):
    mx.random.seed(20240, generator=gen)
    x = mx.random.uniform(-2, 3, shape=(200000,), dtype=dtype).asnumpy()
    assert x.min() >= -2 and x.max() < 3
    assert _ks(x, stats.uniform(loc=-2, scale=5).cdf) > 1e-3
    assert abs(x.mean() - 0.5) < 5 * 5 / np.sqrt(12 * x.size)


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_normal_distribution(gen, dtype):
    mx.random.seed(777, generator=gen)
    x = mx.random.normal(1.5, 2.0, shape=(200000,), dtype=dtype).asnumpy().astype(np.float64)
    z = (x - 1.5) / 2.0
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert abs(z.std() - 1) < 0.01
    assert abs(stats.skew(z)) < 0.03 and abs(stats.kurtosis(z)) < 0.06
    if dtype != "float16":  # float16 rounding makes the sample visibly discrete
        assert _ks(z, stats.norm.cdf) > 1e-3


def test_philox_values_are_independent_of_call_splitting_within_a_call():
    # value i of a call depends on (seed, offset, i) only: a prefix of a longer call equals
    # a shorter call from the same state.
    mx.random.seed(5, generator="philox")
    a = mx.random.normal(shape=(1000,)).asnumpy()
    mx.random.seed(5, generator="philox")
    b = mx.random.normal(shape=(100001,)).asnumpy()
    assert np.array_equal(a, b[:1000])


def test_philox_fills_are_independent_of_destination_alignment_and_dtype():
    # The vector kernels store from registers with unaligned stores: a destination that is off
    # a 64-byte line by any number of elements gets the same values; float16 is float32 rounded
    # to nearest even (numpy's astype), for uniform and normal, odd and even tile counts.
    for n in (80 * 257 * 2 + 80 + 13, 160, 1):
        ref = {}
        for shift in (0, 1, 3, 4, 15):
            for dt in ("float32", "float16"):
                base = np.zeros(n + 16, dt)
                out = base[shift:shift + n]
                mx.random.seed(17, generator="philox")
                mx.random.uniform(-1, 1, out=out)
                u = out.copy()
                mx.random.normal(0, 2, out=out)
                ref.setdefault(dt, (u, out.copy()))
                assert np.array_equal(ref[dt][0], u) and np.array_equal(ref[dt][1], out)
                assert not base[:shift].any() and not base[shift + n:].any()
        for k in range(2):
            assert np.array_equal(ref["float16"][k], ref["float32"][k].astype(np.float16))


_DIGEST = r"""
import hashlib, numpy as np, mxopt as mx
h = hashlib.sha256()
for gen in ("mxnet", "philox"):
    mx.random.seed(99, generator=gen)
    for dt in ("float32", "float64", "float16"):
        h.update(mx.random.uniform(-1, 2, shape=(300001,), dtype=dt).asnumpy().tobytes())
        # a range of one ulp: the clamp below high binds
        h.update(mx.random.uniform(1, 1.0000001, shape=(41123,), dtype=dt).asnumpy().tobytes())
        h.update(mx.random.normal(0, 3, shape=(200003,), dtype=dt).asnumpy().tobytes())
    w = mx.nd.zeros((512, 256))
    mx.init.Xavier(rnd_type="gaussian")(mx.init.InitDesc("a_weight"), w)
    h.update(w.asnumpy().tobytes())
    q = mx.nd.zeros((128, 96))
    mx.init.Orthogonal()(mx.init.InitDesc("q_weight"), q)
    h.update(q.asnumpy().tobytes())
print(h.hexdigest(), mx._core.philox_simd())
"""


def _digest(**env):
    e = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", _DIGEST], env=e, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_thread_count_independence():
    one = _digest(OMP_NUM_THREADS="1")
    two = _digest(OMP_NUM_THREADS="2")
    assert one[0] == two[0]


def test_instruction_set_independence():
    best = _digest()
    generic = _digest(MXOPT_SIMD="generic")
    avx2 = _digest(MXOPT_SIMD="avx2")
    assert generic[1] == "generic"
    assert best[0] == generic[0] == avx2[0]
