"""Differential tests: mx.nd.sparse.CSRNDArray and its constructors against real MXNet 1.9.1
(construction forms, dtypes, slicing, conversions, copies, save/load in both directions)."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as spsp

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt as mx
from mxopt.base import MXNetError


def _same_csr(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__ == "CSRNDArray"
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    assert ours.stype == theirs.stype == "csr"
    for attr in ("data", "indices", "indptr"):
        a, b = getattr(ours, attr).asnumpy(), getattr(theirs, attr).asnumpy()
        assert a.dtype == b.dtype, attr
        np.testing.assert_array_equal(a, b, err_msg=attr)
    np.testing.assert_array_equal(ours.asnumpy(), theirs.asnumpy())


DENSE = np.array([[0, 1.5, 0, 2], [0, 0, 0, 0], [3, 0, 0, -4], [0, 0, 5, 0]], np.float32)
DEFN = ([1.0, 2, 3, 4, 5, 6], [0, 2, 2, 0, 1, 2], [0, 2, 3, 6])


@pytest.mark.parametrize("make", [
    lambda m: m.nd.sparse.csr_matrix(DEFN, shape=(3, 3)),
    lambda m: m.nd.sparse.csr_matrix(DEFN),  # shape inferred
    lambda m: m.nd.sparse.csr_matrix(DEFN, shape=(3, 5), dtype="float64"),
    lambda m: m.nd.sparse.csr_matrix((np.array([1, 2, 3], np.int32), [1, 0, 2], [0, 1, 2, 2, 3]),
                                     shape=(4, 3)),
    lambda m: m.nd.sparse.csr_matrix((m.nd.array([1.0, 2.0]), m.nd.array([0, 1], dtype="int64"),
                                      m.nd.array([0, 1, 2], dtype="int64")), shape=(2, 2)),
    lambda m: m.nd.sparse.csr_matrix((3, 4)),
    lambda m: m.nd.sparse.csr_matrix((3, 4), dtype="float16"),
    lambda m: m.nd.sparse.csr_matrix(DENSE),
    lambda m: m.nd.sparse.csr_matrix(DENSE.astype(np.float64)),
    lambda m: m.nd.sparse.csr_matrix(DENSE.tolist()),
    lambda m: m.nd.sparse.csr_matrix(m.nd.array(DENSE)),
    lambda m: m.nd.sparse.csr_matrix(DENSE, dtype="int32"),
    lambda m: m.nd.sparse.csr_matrix(spsp.csr_matrix(DENSE)),
    lambda m: m.nd.sparse.csr_matrix(spsp.csr_matrix(DENSE.astype(np.float64))),
    lambda m: m.nd.sparse.csr_matrix(spsp.csr_matrix(DENSE), dtype="float16"),
    lambda m: m.nd.sparse.csr_matrix(m.nd.sparse.csr_matrix(DENSE)),
    lambda m: m.nd.sparse.csr_matrix(([1, 2, 7], ([0, 1, 0], [1, 0, 1])), shape=(2, 3)),
    lambda m: m.nd.sparse.csr_matrix(([1.5, 2.5], ([2, 0], [0, 3]))),
    lambda m: m.nd.array(spsp.csr_matrix(DENSE)),
    lambda m: m.nd.array(m.nd.sparse.csr_matrix(DENSE)),
    lambda m: m.nd.sparse.array(spsp.csr_matrix(DENSE), dtype="float64"),
    lambda m: m.nd.sparse.array(m.nd.sparse.csr_matrix(DENSE)),
    lambda m: m.nd.sparse.zeros("csr", (2, 5)),
    lambda m: m.nd.sparse.zeros("csr", (2, 5), dtype="int64"),
    lambda m: m.nd.zeros((2, 3), stype="csr"),
    lambda m: m.nd.sparse.empty("csr", (3, 2)),
    lambda m: m.nd.empty((3, 2), stype="csr"),
    lambda m: m.nd.array(DENSE).tostype("csr"),
    lambda m: m.nd.zeros((4, 3)).tostype("csr"),
    lambda m: m.nd.array(DENSE, dtype="float16").tostype("csr"),
])
def test_construction_forms_match_mxnet(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_csr(make(mx), make(mxnet))


def test_unsorted_scipy_input_is_canonicalised_like_mxnet():
    m = spsp.csr_matrix((np.array([3.0, 1.0, 2.0, 4.0], np.float32), np.array([2, 0, 1, 1]),
                         np.array([0, 3, 4])), shape=(2, 3))
    m.has_sorted_indices = False
    dup = spsp.csr_matrix((np.array([1.0, 2.0], np.float32), np.array([1, 1]),
                           np.array([0, 2, 2])), shape=(2, 2))
    for src in (m, dup):
        _same_csr(mx.nd.sparse.csr_matrix(src.copy()), mxnet.nd.sparse.csr_matrix(src.copy()))


@pytest.mark.parametrize("key", [0, 1, 2, -1, -2, -3, slice(1, None), slice(None, 2),
                                 slice(-2, None), slice(0, 0), slice(1, 0), slice(1, 10),
                                 slice(None, None), slice(0, 3)])
def test_row_indexing_matches_mxnet(key):
    ours, theirs = mx.nd.sparse.csr_matrix(DENSE), mxnet.nd.sparse.csr_matrix(DENSE)
    _same_csr(ours[key], theirs[key])


@pytest.mark.parametrize("key,error", [(4, "MXNetError"), (-5, "MXNetError"), (True, "MXNetError"),
                                       (slice(3, 1), "MXNetError"),
                                       (slice(None, None, 2), ValueError),
                                       (np.int64(1), ValueError), ((1, 2), ValueError),
                                       ("a", ValueError)])
def test_bad_row_indexing_raises_mxnet_errors(key, error):
    for m in (mx, mxnet):
        with pytest.raises(m.base.MXNetError if error == "MXNetError" else error):
            m.nd.sparse.csr_matrix(DENSE)[key].asnumpy()


def test_properties_and_conversions_match_mxnet():
    ours, theirs = mx.nd.sparse.csr_matrix(DENSE), mxnet.nd.sparse.csr_matrix(DENSE)
    assert (ours.ndim, ours.stype, len(ours)) == (theirs.ndim, theirs.stype, len(theirs))
    assert str(ours.context) == str(theirs.context) and ours.ctx == ours.context
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    for stype in ("default",):
        np.testing.assert_array_equal(ours.tostype(stype).asnumpy(),
                                      theirs.tostype(stype).asnumpy())
        assert type(ours.tostype(stype)).__name__ == "NDArray"
    _same_csr(ours.tostype("csr"), theirs.tostype("csr"))
    with pytest.raises(ValueError, match="row_sparse"):
        ours.tostype("row_sparse")
    with pytest.raises(ValueError):
        theirs.tostype("row_sparse")
    with pytest.raises(NotImplementedError):
        _ = ours.size
    with pytest.raises(NotImplementedError):
        _ = theirs.size
    _same_csr(ours.astype("float64"), theirs.astype("float64"))
    _same_csr(ours.astype("int32"), theirs.astype("int32"))
    assert ours.astype("float32", copy=False) is ours
    _same_csr(ours.copy(), theirs.copy())
    _same_csr(ours.copyto(mx.cpu()), theirs.copyto(mxnet.cpu()))
    _same_csr(ours.as_in_context(mx.cpu()), theirs.as_in_context(mxnet.cpu()))
    a, b = ours.asscipy(), theirs.asscipy()
    assert isinstance(a, spsp.csr_matrix) and a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.toarray(), b.toarray())
    for attr in ("data", "indices", "indptr"):
        with pytest.raises(NotImplementedError):
            setattr(ours, attr, None)
    with pytest.raises(mx.nd.sparse.NotSupportedForSparseNDArray, match="reshape"):
        ours.reshape((16,))


def test_property_arrays_are_copies_like_mxnet():
    a = mx.nd.sparse.csr_matrix(DENSE)
    d = a.data
    d[:] = 0
    np.testing.assert_array_equal(a.asnumpy(), DENSE)


def test_copyto_destinations_match_mxnet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in (mx, mxnet):
            src = m.nd.sparse.csr_matrix(DENSE)
            dense = m.nd.zeros((4, 4))
            assert src.copyto(dense) is dense
            np.testing.assert_array_equal(dense.asnumpy(), DENSE)
            dst = m.nd.sparse.zeros("csr", (4, 4), dtype="float64")
            out = src.copyto(dst)
            assert out is dst and dst.dtype == np.float64
            np.testing.assert_array_equal(dst.asnumpy(), DENSE)
            with pytest.raises(TypeError, match="row_sparse"):
                src.copyto(m.nd.sparse.zeros("row_sparse", (4, 4)))
            with pytest.raises(TypeError):
                src.copyto(np.zeros((4, 4)))
            with pytest.raises(m.base.MXNetError):
                src.copyto(m.nd.zeros((2, 2)))
            with pytest.warns(RuntimeWarning):
                assert src.copyto(src) is False


def test_slice_assignment_matches_mxnet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = []
        for m in (mx, mxnet):
            x = m.nd.sparse.zeros("csr", (4, 4))
            x[:] = m.nd.array(DENSE)
            first = x.asnumpy().copy()
            x[:] = m.nd.sparse.csr_matrix(DENSE * 2)
            second = x.asnumpy().copy()
            x[:] = DENSE * 3
            results.append((first, second, x.asnumpy(), x.indptr.asnumpy()))
            with pytest.raises(ValueError):
                x[:] = 3
            with pytest.raises(Exception, match="only supports"):
                x[0] = m.nd.ones((1, 4))
            with pytest.raises(ValueError):
                x[1:2] = m.nd.ones((1, 4))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("args,kwargs,error", [
    ((([1, 2], [0, 1], [0, 2, 1]),), {"shape": (2, 2)}, "indptr"),      # not monotone
    ((([1, 2], [0, 1], [1, 2, 2]),), {"shape": (2, 2)}, "indptr"),      # does not start at 0
    ((([1, 2], [0, 1], [0, 1, 1]),), {"shape": (2, 2)}, "indptr"),      # does not end at nnz
    ((([1, 2], [0, 1], [0, 1]),), {"shape": (2, 2)}, "indptr"),         # wrong length
    ((([1, 2], [1, 0], [0, 2, 2]),), {"shape": (2, 2)}, "increasing"),  # unsorted in a row
    ((([1, 2], [1, 1], [0, 2, 2]),), {"shape": (2, 2)}, "increasing"),  # duplicate column
    ((([1, 2], [0, 5], [0, 1, 2]),), {"shape": (2, 2)}, "out of range"),
    ((([1, 2], [0, -1], [0, 1, 2]),), {"shape": (2, 2)}, "out of range"),
    ((([1, 2, 3], [0, 1], [0, 1, 2]),), {"shape": (2, 2)}, "indices"),
])
def test_invalid_definitions_raise_naming_the_array(args, kwargs, error):
    # MXNet 1.9.1 accepts these silently (its check_format finds them later): mxopt refuses.
    with pytest.raises(ValueError, match=error):
        mx.nd.sparse.csr_matrix(*args, **kwargs)


def test_mxnet_errors_for_bad_arguments():
    for m in (mx, mxnet):
        with pytest.raises(ValueError, match="invalid shape"):
            m.nd.sparse.csr_matrix(([], [], [0, 0, 0]))
        with pytest.raises(ValueError, match="Unexpected length"):
            m.nd.sparse.csr_matrix((1, 2, 3, 4))
        with pytest.raises(ValueError, match="Shape mismatch"):
            m.nd.sparse.csr_matrix(m.nd.sparse.csr_matrix(DENSE), shape=(2, 3))
        with pytest.raises(ValueError, match="2 Dimensional"):
            m.nd.sparse.csr_matrix(np.ones((2, 2, 2)))
        with pytest.raises(ValueError, match="2 Dimensional"):
            m.nd.ones((2, 3, 4)).tostype("csr")
        with pytest.raises(ValueError, match="RowSparseNDArray"):
            m.nd.sparse.csr_matrix(m.nd.sparse.zeros("row_sparse", (2, 2)))
        with pytest.raises(ValueError, match="mx.nd.array"):
            m.nd.sparse.array(np.eye(2))
        with pytest.raises(AssertionError, match="tostype"):
            m.nd.sparse.array(m.nd.ones((2, 2)))
        with pytest.raises(m.base.MXNetError):  # MXNet fails when the array is used
            m.nd.sparse.zeros("csr", (2, 3, 4)).asnumpy()


def test_check_format_like_mxnet():
    good = mx.nd.sparse.csr_matrix(DENSE)
    good.check_format()
    good.check_format(full_check=False)
    bad = mx.nd.sparse.CSRNDArray(np.ones(2, np.float32), np.array([0, 1]), np.array([0, 2, 1]),
                                  (2, 2))
    with pytest.raises(MXNetError, match="indptr"):
        bad.check_format()
    theirs = mxnet.nd.sparse.csr_matrix(([1, 2], [0, 1], [0, 2, 1]), shape=(2, 2))
    with pytest.raises(mxnet.base.MXNetError):
        theirs.check_format()


def test_pickle_round_trip():
    a = mx.nd.sparse.csr_matrix(DENSE.astype(np.float16))
    b = pickle.loads(pickle.dumps(a))
    assert isinstance(b, mx.nd.sparse.CSRNDArray) and b.dtype == np.float16
    np.testing.assert_array_equal(b.asnumpy(), a.asnumpy())
    assert isinstance(a, mx.nd.sparse.BaseSparseNDArray)


def test_asscipy_without_scipy_is_a_clear_import_error(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy here")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match="asscipy needs scipy"):
        mx.nd.sparse.csr_matrix(DENSE).asscipy()


# ---- .params files -------------------------------------------------------------------------------
def _tables(m):
    return {"a": m.nd.sparse.csr_matrix(DENSE),
            "b": m.nd.sparse.csr_matrix(DENSE.astype(np.float64)),
            "empty": m.nd.sparse.zeros("csr", (3, 7)),
            "int": m.nd.sparse.csr_matrix(DENSE.astype(np.int64)),
            "dense": m.nd.array(DENSE),
            "rsp": m.nd.sparse.row_sparse_array((np.ones((1, 4), np.float32), [2]), shape=(4, 4))}


def test_csr_params_files_interchange_with_mxnet(tmp_path):
    theirs, ours = str(tmp_path / "theirs.params"), str(tmp_path / "ours.params")
    mxnet.nd.save(theirs, _tables(mxnet))
    mx.nd.save(ours, _tables(mx))
    assert open(ours, "rb").read() == open(theirs, "rb").read()
    loaded = mx.nd.load(theirs)
    back = mxnet.nd.load(ours)
    for k, v in _tables(mxnet).items():
        if v.stype == "csr":
            _same_csr(loaded[k], v)
            _same_csr(loaded[k], back[k])
        else:
            assert loaded[k].stype == back[k].stype == v.stype
            np.testing.assert_array_equal(loaded[k].asnumpy(), back[k].asnumpy())


def test_csr_list_files_and_large_shapes(tmp_path):
    # A csr array whose dense form would be huge loads as CSR (nothing is materialised).
    big = mxnet.nd.sparse.csr_matrix(([1.0, 2.0], [3, 999_999_999], [0, 1, 1, 2]),
                                     shape=(3, 1_000_000_000))
    f = str(tmp_path / "big.params")
    mxnet.nd.save(f, [big])
    [ours] = mx.nd.load(f)
    assert isinstance(ours, mx.nd.sparse.CSRNDArray) and ours.shape == (3, 1_000_000_000)
    np.testing.assert_array_equal(ours.indices.asnumpy(), [3, 999_999_999])
    g = str(tmp_path / "again.params")
    mx.nd.save(g, [ours])
    assert open(g, "rb").read() == open(f, "rb").read()
