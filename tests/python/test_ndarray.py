"""mx.nd: NDArray backed by numpy buffers, row-sparse arrays, contexts (checked against MXNet)."""
import pickle

from mxnet_oracle import mxnet_or_none as mxnet, needs_mxnet
import numpy as np
import pytest

import mxopt as mx
from mxopt.ndarray import _buffer


@needs_mxnet
def test_array_defaults_to_float32_like_mxnet():
    for src in ([1, 2], np.array([1, 2]), np.array([1.5, 2.0], dtype=np.float64)):
        assert mx.nd.array(src).dtype == mxnet.nd.array(src).dtype == np.float32
    assert mx.nd.array([1, 2], dtype="float16").dtype == np.float16
    assert mx.nd.array(mx.nd.array([1], dtype="float64")).dtype == np.float64


def test_creation_functions():
    assert mx.nd.zeros((2, 3)).asnumpy().tolist() == [[0] * 3] * 2
    assert mx.nd.ones(4, dtype="float64").dtype == np.float64
    assert mx.nd.full((2,), 7).asnumpy().tolist() == [7, 7]
    assert mx.nd.empty((3, 1)).shape == (3, 1)
    assert mx.nd.arange(0, 4).asnumpy().tolist() == [0, 1, 2, 3]


@needs_mxnet
def test_slices_are_views_that_write_through_like_mxnet():
    a = mx.nd.zeros((2, 3))
    row = a[0]
    row[:] = 5
    assert a.asnumpy().tolist() == [[5, 5, 5], [0, 0, 0]]
    a[1:2] = mx.nd.ones((1, 3))
    assert a.asnumpy()[1].tolist() == [1, 1, 1]
    assert a[1:2].shape == mxnet.nd.zeros((2, 3))[1:2].shape


def test_buffer_is_zero_copy_and_asnumpy_copies():
    a = mx.nd.ones((3,))
    buf = _buffer(a)
    buf[0] = 9
    assert a.asnumpy()[0] == 9
    c = a.asnumpy()
    c[1] = 4
    assert a.asnumpy()[1] == 1
    n = np.zeros(2)
    assert _buffer(n) is n
    with pytest.raises(TypeError, match="NDArray or numpy"):
        _buffer([1, 2])


@needs_mxnet
def test_arithmetic_keeps_dtype_like_mxnet():
    x = np.array([1.5, -2.25, 3.0], dtype=np.float32)
    for dt in ("float16", "float32", "float64"):
        a, b = mx.nd.array(x, dtype=dt), mxnet.nd.array(x, dtype=dt)
        for f in (lambda t: t * 2.5, lambda t: 1.0 - t, lambda t: t / 3, lambda t: -t,
                  lambda t: t + t, lambda t: t ** 2, lambda t: 2 ** t):
            got, want = f(a), f(b)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
    a = mx.nd.ones((2,))
    a += 2
    a *= mx.nd.array([1, 2])
    assert a.asnumpy().tolist() == [3, 6]


@needs_mxnet
def test_copyto_astype_and_reductions():
    a = mx.nd.array([[1, 2], [3, 4]])
    b = mx.nd.zeros((2, 2))
    a.copyto(b)
    assert b.asnumpy().tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="shape mismatch"):
        a.copyto(mx.nd.zeros((3,)))
    assert a.astype("float64").dtype == np.float64
    assert a.sum().asscalar() == 10
    np.testing.assert_allclose(a.norm().asnumpy(), mxnet.nd.array([[1, 2], [3, 4]]).norm().asnumpy())
    assert mx.nd.clip(mx.nd.array([-3, 0.5, 3]), -1, 1).asnumpy().tolist() == [-1, 0.5, 1]


@needs_mxnet
def test_repr_matches_mxnet():
    x = np.array([[1, 2], [3, 4]], dtype=np.float32)
    assert repr(mx.nd.array(x)) == repr(mxnet.nd.array(x))
    assert str(mx.nd.array([1.5])) == str(mxnet.nd.array([1.5]))


def test_pickle_roundtrip():
    a = mx.nd.array([[1, 2], [3, 4]], dtype="float16")
    b = pickle.loads(pickle.dumps(a))
    assert b.dtype == np.float16 and b.asnumpy().tolist() == [[1, 2], [3, 4]]


@needs_mxnet
def test_row_sparse_array_like_mxnet():
    data, idx = np.arange(6, dtype=np.float32).reshape(2, 3), [0, 2]
    r = mx.nd.sparse.row_sparse_array((data, idx), shape=(4, 3))
    m = mxnet.nd.sparse.row_sparse_array((data, idx), shape=(4, 3))
    assert r.stype == m.stype == "row_sparse"
    assert r.shape == m.shape and r.dtype == m.dtype
    assert r.indices.dtype == m.indices.dtype == np.int64
    np.testing.assert_array_equal(r.asnumpy(), m.asnumpy())
    np.testing.assert_array_equal(r.tostype("default").asnumpy(), m.tostype("default").asnumpy())
    d = mx.nd.array(m.asnumpy()).tostype("row_sparse")
    assert d.indices.asnumpy().tolist() == [0, 2]
    with pytest.raises(ValueError, match="indices"):
        mx.nd.sparse.row_sparse_array((data, [0]), shape=(4, 3))
    z = mx.nd.sparse.zeros("row_sparse", (5, 2))
    assert z.asnumpy().shape == (5, 2) and z.data.shape == (0, 2)


@needs_mxnet
def test_context():
    assert mx.cpu() == mx.cpu(0) and str(mx.cpu()) == str(mxnet.cpu()) == "cpu(0)"
    assert mx.nd.zeros(1).context == mx.cpu()
    assert mx.context.Context("cpu", 0) == mx.cpu()
    with pytest.raises(ValueError, match="mxopt runs on CPU"):
        mx.gpu()
    with pytest.raises(ValueError, match="mxopt runs on CPU"):
        mx.context.Context("gpu", 0)


def test_truth_value_of_multi_element_array_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mx.nd.zeros(3))
    assert not bool(mx.nd.zeros(1))
