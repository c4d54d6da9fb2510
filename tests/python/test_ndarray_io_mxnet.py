"""Differential tests: .params files interchange with real MXNet 1.9.1 in both directions."""
import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt as mx

DTYPES = ["float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool"]
SHAPES = [(1,), (7,), (3, 4), (2, 3, 4), (2, 1, 3, 5), (1, 2, 1, 2, 3)]


def _values(dtype, shape, seed):
    v = np.random.RandomState(seed).uniform(-100, 100, size=shape)
    return (v > 0) if dtype == "bool" else v.astype(dtype)


def _table():
    out = {}
    for i, dt in enumerate(DTYPES):
        for j, shp in enumerate(SHAPES):
            out["arg:%s_%d" % (dt, j)] = _values(dt, shp, 10 * i + j)
    out["aux:ünïcode name"] = np.array([1.5, -2.5], dtype=np.float32)
    return out


def test_mxnet_dict_file_reads_identically(tmp_path):
    f = str(tmp_path / "m.params")
    table = _table()
    mxnet.nd.save(f, {k: mxnet.nd.array(v, dtype=v.dtype) for k, v in table.items()})
    ours = mx.nd.load(f)
    assert list(ours) == list(table)
    for k, v in table.items():
        assert ours[k].dtype == v.dtype.type, k
        assert ours[k].shape == v.shape
        np.testing.assert_array_equal(ours[k].asnumpy(), v)


def test_our_files_are_byte_identical_and_load_in_mxnet(tmp_path):
    table = _table()
    theirs, ours = str(tmp_path / "theirs.params"), str(tmp_path / "ours.params")
    mxnet.nd.save(theirs, {k: mxnet.nd.array(v, dtype=v.dtype) for k, v in table.items()})
    mx.nd.save(ours, {k: mx.nd.array(v, dtype=v.dtype) for k, v in table.items()})
    assert open(ours, "rb").read() == open(theirs, "rb").read()
    back = mxnet.nd.load(ours)
    for k, v in table.items():
        assert back[k].dtype == v.dtype.type
        np.testing.assert_array_equal(back[k].asnumpy(), v)


def test_list_files_both_ways(tmp_path):
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2, 3], dtype=np.int64)]
    theirs, ours = str(tmp_path / "theirs.params"), str(tmp_path / "ours.params")
    mxnet.nd.save(theirs, [mxnet.nd.array(a, dtype=a.dtype) for a in arrays])
    mx.nd.save(ours, [mx.nd.array(a, dtype=a.dtype) for a in arrays])
    assert open(ours, "rb").read() == open(theirs, "rb").read()
    for loaded in (mx.nd.load(theirs), mxnet.nd.load(ours)):
        assert isinstance(loaded, list)
        for a, b in zip(loaded, arrays):
            np.testing.assert_array_equal(a.asnumpy(), b)


def test_empty_containers_match_mxnet(tmp_path):
    for data_ours, data_theirs in (({}, {}), ([], [])):
        a, b = str(tmp_path / "a.params"), str(tmp_path / "b.params")
        mx.nd.save(a, data_ours)
        mxnet.nd.save(b, data_theirs)
        assert open(a, "rb").read() == open(b, "rb").read()
        assert mx.nd.load(b) == [] and mxnet.nd.load(a) == []


def test_row_sparse_both_ways(tmp_path):
    vals, rows = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 4])
    theirs, ours = str(tmp_path / "theirs.params"), str(tmp_path / "ours.params")
    mxnet.nd.save(theirs, {"g": mxnet.nd.sparse.row_sparse_array((vals, rows), shape=(6, 3))})
    mx.nd.save(ours, {"g": mx.nd.sparse.row_sparse_array((vals, rows), shape=(6, 3))})
    assert open(ours, "rb").read() == open(theirs, "rb").read()
    a = mx.nd.load(theirs)["g"]
    assert a.stype == "row_sparse"
    np.testing.assert_array_equal(a.indices.asnumpy(), rows)
    b = mxnet.nd.load(ours)["g"]
    assert b.stype == "row_sparse"
    np.testing.assert_array_equal(b.asnumpy(), a.asnumpy())


def test_csr_from_mxnet_loads_as_csr(tmp_path):
    dense = np.array([[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]], np.float32)
    f = str(tmp_path / "csr.params")
    mxnet.nd.save(f, [mxnet.nd.sparse.csr_matrix(dense)])
    loaded = mx.nd.load(f)[0]
    assert loaded.stype == "csr" and isinstance(loaded, mx.nd.sparse.CSRNDArray)
    np.testing.assert_array_equal(loaded.asnumpy(), dense)


def test_mxnet_checkpoint_params_read(tmp_path):
    prefix = str(tmp_path / "ck")
    arg = {"fc_weight": mxnet.nd.array(np.random.RandomState(0).rand(10, 20)),
           "fc_bias": mxnet.nd.zeros((10,))}
    mxnet.model.save_checkpoint(prefix, 3, None, arg, {})
    d = mx.nd.load(prefix + "-0003.params")
    assert list(d) == ["arg:fc_weight", "arg:fc_bias"]
    np.testing.assert_array_equal(d["arg:fc_weight"].asnumpy(), arg["fc_weight"].asnumpy())


def test_truncated_file_errors_like_mxnet(tmp_path):
    f = tmp_path / "t.params"
    mx.nd.save(str(f), {"w": mx.nd.ones((4, 5))})
    cut = tmp_path / "cut.params"
    cut.write_bytes(f.read_bytes()[:40])
    with pytest.raises(mxnet.base.MXNetError, match="Invalid NDArray file format"):
        mxnet.nd.load(str(cut))
    with pytest.raises(mx.base.MXNetError, match="Invalid NDArray file format"):
        mx.nd.load(str(cut))


def test_pickled_mxnet_ndarray_handle_is_one_record():
    a = mxnet.nd.array([[1, 2], [3, 4]])
    handle = a.__getstate__()["handle"]
    from mxopt.ndarray.utils import _record_dumps, _record_loads
    assert _record_dumps(mx.nd.array([[1, 2], [3, 4]])) == bytes(handle)
    np.testing.assert_array_equal(_record_loads(handle).asnumpy(), a.asnumpy())
