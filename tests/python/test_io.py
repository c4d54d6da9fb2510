"""mx.io internals that MXNet has no counterpart for: the row gather behind shuffled batches and
the reuse of batch buffers (differential tests of the batches are in
test_io_metric_callback_mxnet.py)."""
import gc

import numpy as np
import pytest

import mxopt
from mxopt import _core


def test_take_rows_matches_numpy_take():
    rng = np.random.RandomState(0)
    for shape, dtype in (((50, 7), np.float32), ((9,), np.int64), ((30, 2, 3), np.float16),
                         ((4000, 100), np.float64)):  # the last one runs in parallel
        src = rng.uniform(-5, 5, size=shape).astype(dtype)
        rows = rng.randint(0, shape[0], size=shape[0] + 3)
        out = np.empty((rows.size,) + shape[1:], dtype)
        _core.take_rows(src, rows, out)
        np.testing.assert_array_equal(out, src.take(rows, axis=0))
    out = np.empty((0, 7), np.float32)
    _core.take_rows(np.ones((5, 7), np.float32), np.zeros(0, np.int64), out)


def test_take_rows_rejects_bad_input_before_writing():
    src = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = np.full((2, 3), -1, np.float32)
    with pytest.raises(IndexError, match="index 4 at position 1 is out of range for 4 rows"):
        _core.take_rows(src, np.array([0, 4]), out)
    with pytest.raises(IndexError, match="index -1"):
        _core.take_rows(src, np.array([0, -1]), out)
    assert (out == -1).all()
    with pytest.raises(TypeError, match="out dtype float64 differs from src dtype float32"):
        _core.take_rows(src, np.array([0, 1]), np.empty((2, 3)))
    with pytest.raises(ValueError, match=r"out has shape \(2, 4\), expected \(2,\) \+ "
                                          r"src.shape\[1:\] with src shape \(4, 3\)"):
        _core.take_rows(src, np.array([0, 1]), np.empty((2, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.take_rows(src.T, np.array([0, 1]), np.empty((2, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.take_rows(src, np.array([0, 1]), np.empty((3, 2), np.float32).T)
    with pytest.raises(TypeError, match="1-D signed integer array, got dtype float64"):
        _core.take_rows(src, np.array([0.0, 1.0]), out)
    with pytest.raises(TypeError, match="1-D signed integer"):
        _core.take_rows(src, np.array([[0, 1]]), out)
    with pytest.raises(ValueError, match="overlaps"):
        _core.take_rows(src, np.array([0, 1]), src[2:])
    ro = np.empty((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.take_rows(src, np.array([0, 1]), ro)
    assert (out == -1).all()


def test_shuffled_batches_reuse_unreferenced_buffers_only():
    x = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    it = mxopt.io.NDArrayIter(x, np.arange(40), 8, shuffle=True)
    b = next(it)
    first, rows = b.data[0]._data, b.label[0].asnumpy().astype(int)
    first_id = id(first)
    kept = first[2:]  # a view keeps the buffer out of reuse
    del b, first
    gc.collect()
    seen = set()
    for _ in range(3):
        buf = next(it).data[0]._data
        assert buf is not kept.base
        seen.add(id(buf))
        del buf
    assert len(seen) == 1  # a dropped batch's buffer is reused for the next one
    np.testing.assert_array_equal(kept, x[rows[2:]])
    del kept
    it.reset()
    assert id(next(it).data[0]._data) == first_id  # free again: reused
    for b in it:  # the rows are still the shuffled data
        np.testing.assert_array_equal(b.data[0].asnumpy(), x[b.label[0].asnumpy().astype(int)])
