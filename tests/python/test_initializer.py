"""mx.init on its own: in-place fills of NDArrays and numpy arrays, statistics of the random
rules under both generators (fixed seeds), and bad input (clear errors, array untouched)."""
import logging
import math

import numpy as np
import pytest
from scipy import stats

import mxopt as mx

I = mx.init
GENERATORS = ["mxnet", "philox"]


def fans(shape):
    hw = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * hw, shape[0] * hw


def test_alias_and_names():
    assert mx.init is mx.initializer
    for name in ["zero", "zeros", "one", "ones", "constant", "uniform", "normal", "orthogonal",
                 "xavier", "msraprelu", "bilinear", "lstmbias", "fusedrnn"]:
        assert name in mx.initializer._REGISTRY


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("make", [np.zeros, lambda s, dtype: mx.nd.zeros(s, dtype=dtype)])
def test_fills_in_place(dtype, make):
    mx.random.seed(0)
    for init, name, shape in [(I.Uniform(0.5), "a_weight", (30, 20)),
                              (I.Normal(0.2), "b_weight", (30, 20)),
                              (I.Xavier(), "c_weight", (8, 4, 3, 3)),
                              (I.Orthogonal(), "d_weight", (10, 20)),
                              (I.Bilinear(), "e_weight", (2, 2, 4, 4)),
                              (I.Constant(0.3), "f_weight", (5,)),
                              (I.One(), "g_gamma", (5,))]:
        arr = make(shape, dtype=dtype)
        buf = arr if isinstance(arr, np.ndarray) else arr._data
        ptr = buf.ctypes.data
        init(I.InitDesc(name), arr)
        assert buf.ctypes.data == ptr and buf.dtype == dtype
        assert np.any(buf != 0), name


def test_strided_numpy_view_is_filled_through():
    base = np.zeros((8, 10), np.float32)
    view = base[:, ::2]
    mx.random.seed(1)
    I.Xavier()(I.InitDesc("w_weight"), view)
    assert np.all(base[:, 1::2] == 0) and np.all(base[:, ::2] != 0)


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("shape", [(512, 256), (64, 32, 5, 5), (300, 1), (16, 8, 3, 3, 3)])
@pytest.mark.parametrize("factor", ["avg", "in", "out"])
def test_xavier_scale_from_fans(gen, shape, factor):
    mx.random.seed(42, generator=gen)
    fan_in, fan_out = fans(shape)
    f = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor]
    c = math.sqrt(3 / f)
    u = np.zeros(shape, np.float32)
    I.Xavier("uniform", factor, 3)(I.InitDesc("x_weight"), u)
    assert np.abs(u).max() <= c and np.abs(u).max() > 0.95 * c
    assert stats.kstest(u.ravel(), stats.uniform(loc=-c, scale=2 * c).cdf).pvalue > 1e-3
    g = np.zeros(shape, np.float32)
    I.Xavier("gaussian", factor, 3)(I.InitDesc("x_weight"), g)
    assert abs(g.std() / c - 1) < 0.05 + 3 / math.sqrt(g.size)
    assert stats.kstest(g.ravel() / c, stats.norm.cdf).pvalue > 1e-3


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("factor,slope", [("avg", 0.25), ("in", 0.0), ("out", 1.0)])
def test_msraprelu_std(gen, factor, slope):
    mx.random.seed(7, generator=gen)
    shape = (256, 128, 3, 3)
    fan_in, fan_out = fans(shape)
    f = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor]
    w = np.zeros(shape, np.float32)
    I.MSRAPrelu(factor, slope)(I.InitDesc("p_weight"), w)
    assert abs(w.std() / math.sqrt(2 / ((1 + slope**2) * f)) - 1) < 0.01


@pytest.mark.parametrize("gen", GENERATORS)
def test_uniform_and_normal_rules(gen):
    mx.random.seed(3, generator=gen)
    u = np.zeros((400, 500), np.float32)
    I.Uniform(0.07)(I.InitDesc("u_weight"), u)
    assert u.min() >= -0.07 and u.max() <= 0.07
    assert stats.kstest(u.ravel(), stats.uniform(loc=-0.07, scale=0.14).cdf).pvalue > 1e-3
    n = np.zeros((400, 500), np.float64)
    I.Normal(0.01)(I.InitDesc("n_weight"), n)
    assert stats.kstest(n.ravel() / 0.01, stats.norm.cdf).pvalue > 1e-3


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("shape", [(8, 20), (20, 8), (16, 16), (6, 2, 3, 3), (200, 100)])
@pytest.mark.parametrize("rand_type", ["uniform", "normal"])
def test_orthogonal_is_orthogonal(gen, shape, rand_type):
    mx.random.seed(11, generator=gen)
    w = np.zeros(shape, np.float32)
    I.Orthogonal(scale=1.414, rand_type=rand_type)(I.InitDesc("o_weight"), w)
    m = w.reshape(shape[0], -1).astype(np.float64)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, np.float32(1.414) ** 2 * np.eye(min(m.shape)), atol=1e-5)


def test_bilinear_formula():
    w = np.zeros((1, 1, 4, 4), np.float32)
    I.Bilinear()(I.InitDesc("up_weight"), w)
    k = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_array_equal(w[0, 0], np.outer(k, k).astype(np.float32))
    t = np.zeros((1, 1, 5, 3), np.float32)
    I.Bilinear()(I.InitDesc("up_weight"), t)
    np.testing.assert_array_equal(t[0, 0, -1], [-0.0625, -0.1875, -0.1875])


def test_lstm_bias_and_fused_rnn_forget_gates():
    b = mx.nd.zeros((16,))
    I.Zero()(I.InitDesc("lstm_bias", {"__init__": I.LSTMBias(1.5).dumps()}), b)
    assert np.array_equal(b.asnumpy(), np.r_[np.zeros(4), np.full(4, 1.5), np.zeros(8)])
    p = np.zeros(56, np.float32)
    I.FusedRNN(I.Constant(0.5), 2, 1, "lstm", forget_bias=3.0)(I.InitDesc("r_weight"), p)
    weights, biases = p[:40], p[40:]
    assert np.all(weights == 0.5)
    # i2h then h2h biases, gates i, f, c, o of 2 values each: both _f slots get forget_bias
    expected = np.array([0.5, 0.5, 3, 3, 0.5, 0.5, 0.5, 0.5] * 2, np.float32)
    expected[[0, 1, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15]] = 0.0  # biases of the inner init: 0
    assert np.array_equal(biases, expected)


# ---- bad input: clear exceptions, nothing written -------------------------------------------------
BAD = [
    (lambda: I.Xavier(rnd_type="cauchy"), (4, 4), ValueError, "Unknown random type"),
    (lambda: I.Xavier(factor_type="fan"), (4, 4), ValueError, "Incorrect factor type"),
    (lambda: I.Xavier(), (16,), ValueError, "cannot be applied to vector w_weight"),
    (lambda: I.MSRAPrelu(), (16,), ValueError, "It requires at least 2D"),
    (lambda: I.Bilinear(), (4, 4), IndexError, "needs a 4-D shape"),
    (lambda: I.Orthogonal(rand_type="bad"), (4, 4), ValueError, "rand_type must be"),
    (lambda: I.Orthogonal(), (16,), ValueError, "at least 2 dimensions"),
    (lambda: I.Normal(0), (4, 4), ValueError, "scale must be positive"),
    (lambda: I.Uniform(-1), (4, 4), ValueError, "low must be less or equal to high"),
]


@pytest.mark.parametrize("make,shape,exc,msg", BAD)
@pytest.mark.parametrize("as_nd", [False, True])
def test_bad_input_leaves_array_untouched(make, shape, exc, msg, as_nd):
    a = np.full(shape, 9.0, np.float32)
    arr = mx.nd.array(a) if as_nd else a
    with pytest.raises(exc, match=msg):
        make()(I.InitDesc("w_weight"), arr)
    assert np.all((arr.asnumpy() if as_nd else arr) == 9.0)


@pytest.mark.parametrize("init", [I.Uniform(), I.Normal(), I.Xavier(), I.MSRAPrelu(),
                                  I.Orthogonal(), I.Bilinear()])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_arrays_rejected_where_floats_are_needed(init, dtype):
    a = np.full((2, 3, 4, 4), 3, dtype)
    before = a.copy()
    with pytest.raises(TypeError, match="needs a float16/float32/float64 array for 'w_weight'"):
        init(I.InitDesc("w_weight"), a)
    assert np.array_equal(a, before)


def test_other_bad_arrays():
    with pytest.raises(TypeError, match="arr must be an mx.nd.NDArray or a numpy.ndarray"):
        I.Uniform()(I.InitDesc("w_weight"), [[0.0, 0.0]])
    ro = np.zeros((3, 3), np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="writeable"):
        I.Uniform()(I.InitDesc("w_weight"), ro)


def test_load_errors_and_default():
    params = {"arg:w": np.ones((2, 3), np.float32)}
    load = I.Load(params)
    a = np.zeros((3, 2), np.float32)
    with pytest.raises(AssertionError, match=r"target \(3, 2\) vs loaded \(2, 3\)"):
        load("w", a)
    with pytest.raises(AssertionError, match="Cannot Initialize v. Not found in loaded param"):
        load("v", a)
    assert np.all(a == 0)
    b = np.zeros((2, 3), np.float64)
    I.Load(params, default_init=I.Zero())("w", b)
    assert np.all(b == 1)
    c = np.full((2,), 5.0, np.float32)
    I.Load(params, default_init=I.One())("v_bias", c)  # the default's bias rule: zeros
    assert np.all(c == 0)


def test_dispatch_unknown_names():
    with pytest.raises(ValueError, match="Unknown initialization pattern for bn_moving_mean"):
        I.Uniform()(I.InitDesc("bn_moving_mean"), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="did not match any pattern"):
        I.Mixed(["fc.*"], [I.One()])(I.InitDesc("conv_weight"), np.zeros(3, np.float32))


def test_default_print_func_logs(caplog):
    with caplog.at_level(logging.INFO):
        I.Constant(2.0).set_verbosity(True)(I.InitDesc("k_weight"), np.zeros((4,), np.float32))
    assert caplog.records[-1].getMessage() == "Initialized k_weight as weight: 2.0"
