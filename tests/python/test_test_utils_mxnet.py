"""Differential tests: mx.test_utils against MXNet 1.9.1's (tolerances, comparisons, random
arrays from numpy's seeded generator, symbol checks) and the download helper on an unreachable
server."""
import os
import socket
import threading
import http.server

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxnet.test_utils as mtu
import mxopt as mx
import mxopt.test_utils as otu


def test_star_import_and_attribute():
    ns = {}
    exec("from mxopt.test_utils import *", ns)
    for name in ["assert_almost_equal", "almost_equal", "same", "rand_ndarray",
                 "rand_sparse_ndarray", "rand_shape_2d", "rand_shape_3d", "rand_shape_nd",
                 "default_context", "set_default_context", "download", "np", "mx",
                 "assert_exception", "retry", "DummyIter", "check_symbolic_forward",
                 "check_symbolic_backward", "simple_forward", "environment", "create_sparse_array",
                 "random_arrays", "default_dtype", "get_tolerance", "get_tols"]:
        assert name in ns, name
    assert ns["mx"] is mx and mx.test_utils is otu


def test_mxnets_public_names_that_matter_exist():
    ours = {n for n in dir(otu) if not n.startswith("_")}
    theirs = {n for n in dir(mtu) if not n.startswith("_")}
    # names mxopt leaves out: GPU/TVM/numpy-extension helpers and operator checks that need
    # operators mxopt does not have (make_loss, broadcast ops, contexts lists)
    left_out = {"check_numeric_gradient", "check_consistency", "check_speed", "list_gpus",
                "get_cuda_compute_capability", "has_tvm_ops", "is_op_runnable", "use_np",
                "Features", "np_symbol", "Symbol", "getenv", "setenv", "ss", "requests",
                "check_gluon_hybridize_consistency", "new_matrix_with_real_eigvals_2d",
                "new_matrix_with_real_eigvals_nd", "new_orthonormal_matrix_2d",
                "new_sym_matrix_with_real_eigvals_2d", "new_sym_matrix_with_real_eigvals_nd",
                "create_2d_tensor", "create_vector", "get_identity_mat", "get_identity_mat_batch",
                "download_model", "get_mnist_pkl", "get_cifar10", "get_zip_data", "get_bz2_data",
                "get_im2rec_path", "gen_buckets_probs_with_ppf", "mean_check", "var_check",
                "chi_square_check", "verify_generator", "_STORAGE_TYPE_STR_TO_ID", "npt",
                "check_symbolic_backward_", "npx"}
    missing = theirs - ours - left_out
    assert not missing, sorted(missing)
    assert "list_gpus" in ours


def test_default_tolerances_match_mxnet():
    for ours, theirs in ((otu.default_rtols(), mtu.default_rtols()),
                         (otu.default_atols(), mtu.default_atols()),
                         (otu.default_numeric_eps(), mtu.default_numeric_eps())):
        assert {str(k): v for k, v in ours.items()} == {str(k): v for k, v in theirs.items()}
    assert otu.default_dtype() is mtu.default_dtype() is np.float32
    for dt in ("float16", "float32", "float64", "int32"):
        assert otu.get_rtol(None, np.dtype(dt)) == mtu.get_rtol(None, np.dtype(dt))
        assert otu.get_atol(None, np.dtype(dt)) == mtu.get_atol(None, np.dtype(dt))
    assert otu.get_etol() == mtu.get_etol() == 0


@pytest.mark.parametrize("x,y,rtol,atol", [
    (np.ones(2, np.float16), np.ones(2, np.float64), None, None),
    (1.5, np.ones(2, np.float32), None, None),
    (np.ones(2, np.int32), np.ones(2, np.int32), None, None),
    (np.ones(2, np.float32), np.ones(2, np.float32), 0.5, None),
    (np.ones(2, np.float32), np.ones(2, np.float16), {np.dtype(np.float16): 0.3}, 7),
])
def test_get_tols_match_mxnet(x, y, rtol, atol):
    assert otu.get_tols(x, y, rtol, atol) == mtu.get_tols(x, y, rtol, atol)


def _as(lib, v, dtype=None):
    return lib.nd.array(v, dtype=dtype or v.dtype)


def _outcome(fn):
    try:
        fn()
        return "ok"
    except AssertionError:
        return "assert"
    except Exception as exc:  # the library's own error type, compared by name
        return type(exc).__name__


CASES = []
_rng = np.random.RandomState(0)
for _dt in ("float16", "float32", "float64"):
    _a = _rng.uniform(-3, 3, size=(4, 5)).astype(_dt)
    for _scale, _shift in ((1.0, 0.0), (1.0 + 5e-5, 0.0), (1.0 + 5e-3, 0.0), (1.0, 1e-3),
                           (1.0, 2e-3), (1.0, 0.05), (1.0, 0.2)):
        CASES.append((_a, (_a * _scale + _shift).astype(_dt), {}))
_nan = np.array([1.0, np.nan, 3.0], np.float32)
CASES += [
    (_nan, _nan.copy(), {}), (_nan, _nan.copy(), {"equal_nan": True}),
    (np.array([1, 2, 3], np.int32), np.array([1, 2, 4], np.int32), {}),
    (np.array([1, 2, 3], np.int64), np.array([1, 2, 3], np.int64), {}),
    (np.array([True, False]), np.array([True, False]), {}),
    (np.array([True, False]), np.array([True, True]), {}),
    (np.ones((2, 3), np.float32), np.ones((3,), np.float32), {}),
    (np.ones((2, 3), np.float32), np.ones((3,), np.float32), {"use_broadcast": False}),
    (np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), {}),
    (np.array([1.0, 2.0], np.float32), np.array([1.1, 2.0], np.float32), {"rtol": 0.2}),
    (np.array([1.0, 2.0], np.float32), np.array([1.1, 2.0], np.float32), {"atol": 0.05, "rtol": 0}),
    (np.array([1e6, 2.0], np.float32), np.array([1e6 + 50, 2.0], np.float32), {}),
    (np.array([np.inf, 1.0]), np.array([np.inf, 1.0]), {}),
    (np.array([np.inf, 1.0]), np.array([-np.inf, 1.0]), {}),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("kind", ["numpy", "ndarray", "mixed"])
def test_assert_almost_equal_outcomes_match_mxnet(case, kind):
    a, b, kw = CASES[case]
    outcomes = []
    for lib, tu in ((mx, otu), (mxnet, mtu)):
        if kind == "numpy":
            x, y = a, b
        elif kind == "ndarray":
            x, y = _as(lib, a), _as(lib, b)
        else:
            x, y = _as(lib, a), b
        outcomes.append(_outcome(lambda: tu.assert_almost_equal(x, y, **kw)))
    assert outcomes[0] == outcomes[1] or {outcomes[0], outcomes[1]} == {"MXNetError"}, outcomes


def test_failure_message_names_the_arrays(capsys):
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 2.5, 3.0], np.float32)
    with pytest.raises(AssertionError) as info:
        otu.assert_almost_equal(a, b, names=("left", "right"))
    msg = str(info.value)
    assert "left=2.00000000" in msg and "right=2.50000000" in msg and "(1,)" in msg
    assert "violation" in capsys.readouterr().out


@pytest.mark.parametrize("fn,args", [
    ("almost_equal", (np.ones(3), np.ones(3) + 1e-6)),
    ("almost_equal", (np.ones(3), np.ones(3) + 1e-4)),
    ("same", (np.ones(3), np.ones(3))),
    ("same", (np.ones(3), np.ones(4))),
    ("np_reduce", (np.arange(24.0).reshape(2, 3, 4), (0, 2), True, np.sum)),
    ("np_reduce", (np.arange(24.0).reshape(2, 3, 4), 1, False, np.max)),
    ("collapse_sum_like", (np.arange(24.0).reshape(2, 3, 4), (3, 1))),
])
def test_small_helpers_match_mxnet(fn, args):
    ours, theirs = getattr(otu, fn)(*args), getattr(mtu, fn)(*args)
    np.testing.assert_array_equal(ours, theirs)


def _snap(arr):
    if arr.stype == "default":
        return [arr.asnumpy()]
    if arr.stype == "csr":
        return [arr.data.asnumpy(), arr.indices.asnumpy(), arr.indptr.asnumpy(), arr.asnumpy()]
    return [arr.data.asnumpy(), arr.indices.asnumpy(), arr.asnumpy()]


@pytest.mark.parametrize("args,kwargs", [
    (((3, 4),), {}),
    (((2, 3, 4),), {"dtype": "float64"}),
    (((5,),), {"dtype": "float16"}),
    (((30, 7), "csr"), {"density": 0.3}),
    (((30, 7), "csr"), {"density": 0.3, "dtype": "float64"}),
    (((30, 7), "csr"), {}),  # random density
    (((8, 16), "csr"), {"density": 0.5, "distribution": "powerlaw"}),
    (((20, 3), "row_sparse"), {"density": 0.4}),
    (((20, 3, 2), "row_sparse"), {"density": 0.5, "dtype": "float64"}),
    (((20, 3), "row_sparse"), {"density": 0.0}),
])
def test_rand_ndarray_matches_mxnet_for_a_seed(args, kwargs):
    snaps = []
    for tu in (otu, mtu):
        np.random.seed(42)
        arr = tu.rand_ndarray(*args, **kwargs)
        snaps.append((arr.stype, arr.shape, arr.dtype, _snap(arr), np.random.rand()))
    (s1, sh1, d1, v1, r1), (s2, sh2, d2, v2, r2) = snaps
    assert (s1, tuple(sh1), d1) == (s2, tuple(sh2), d2)
    assert r1 == r2  # the same numbers were drawn
    for x, y in zip(v1, v2):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_rand_sparse_ndarray_parts_and_shapes_match_mxnet():
    outs = []
    for tu in (otu, mtu):
        np.random.seed(3)
        rsp, (val, idx) = tu.rand_sparse_ndarray((10, 4), "row_sparse", density=0.5,
                                                 data_init=2.0)
        csr, (indptr, indices, data) = tu.rand_sparse_ndarray((6, 9), "csr", density=0.4)
        shapes = (tu.rand_shape_2d(), tu.rand_shape_3d(4, 5, 6), tu.rand_shape_nd(4, 7),
                  tu.rand_shape_2d(allow_zero_size=True), tu.rand_coord_2d(0, 10, 5, 9))
        arrays = tu.random_arrays((2, 3), (4,)) + tu.random_uniform_arrays((3,), low=2, high=5)
        outs.append((val, idx, indptr.asnumpy(), indices.asnumpy(), data.asnumpy(),
                     rsp.asnumpy(), csr.asnumpy(), shapes, arrays))
    for x, y in zip(*outs):
        if isinstance(x, list):
            for p, q in zip(x, y):
                np.testing.assert_array_equal(p, q)
        elif isinstance(x, tuple):
            assert [tuple(np.ravel(v)) for v in x] == [tuple(np.ravel(v)) for v in y]
        else:
            np.testing.assert_array_equal(x, y)


def test_shuffled_csr_indices_fail_check_format():
    np.random.seed(1)
    arr = otu.rand_ndarray((20, 30), "csr", density=0.5, shuffle_csr_indices=True)
    with pytest.raises(mx.base.MXNetError, match="increasing"):
        arr.check_format()
    np.testing.assert_array_equal(np.sort(arr.asnumpy(), axis=1),
                                  np.sort(arr.asnumpy(), axis=1))


def test_default_context_settable():
    assert otu.default_context() == mx.cpu()
    otu.set_default_context(mx.cpu(0))
    assert otu.default_context() == mx.cpu(0)
    with pytest.raises(TypeError):
        otu.set_default_context("gpu")


def test_symbol_checks_match_mxnet():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    b = rng.normal(size=(3,)).astype(np.float32)
    out_grad = rng.normal(size=(4, 3)).astype(np.float32)
    for m, tu in ((mx, otu), (mxnet, mtu)):
        data = m.sym.Variable("data")
        fc = m.sym.FullyConnected(data, name="fc", num_hidden=3)
        expected = x @ w.T + b
        outs = tu.check_symbolic_forward(fc, [x, w, b], [expected])
        np.testing.assert_allclose(outs[0].asnumpy(), expected, rtol=1e-5)
        loc = {"data": x, "fc_weight": w, "fc_bias": b}
        grads = {"data": out_grad @ w, "fc_weight": out_grad.T @ x, "fc_bias": out_grad.sum(0)}
        np.random.seed(5)
        tu.check_symbolic_backward(fc, loc, [out_grad], grads, rtol=1e-4, atol=1e-4)
        np.random.seed(5)
        tu.check_symbolic_backward(fc, loc, [out_grad], grads, rtol=1e-4, atol=1e-4,
                                   grad_req="add")
        with pytest.raises(AssertionError):
            tu.check_symbolic_forward(fc, [x, w, b], [expected + 1])
        np.testing.assert_allclose(tu.simple_forward(fc, data=x, fc_weight=w, fc_bias=b),
                                   expected, rtol=1e-5)
        with pytest.raises(ValueError, match="do not match"):
            tu.check_symbolic_forward(fc, {"data": x}, [expected])


def test_compare_optimizer_like_mxnet():
    for m, tu in ((mx, otu), (mxnet, mtu)):
        o1 = m.optimizer.SGD(learning_rate=0.1, momentum=0.9)
        o2 = m.optimizer.SGD(learning_rate=0.1, momentum=0.9)
        tu.compare_optimizer(o1, o2, (3, 4), np.float32)
        o3 = m.optimizer.SGD(learning_rate=0.5)
        with pytest.raises(AssertionError):
            tu.compare_optimizer(m.optimizer.SGD(learning_rate=0.1), o3, (3, 4), np.float32)


def test_misc_helpers():
    assert otu.same_symbol_structure(mx.sym.FullyConnected(mx.sym.Variable("a"), num_hidden=2),
                                     mx.sym.FullyConnected(mx.sym.Variable("b"), num_hidden=3))
    with otu.environment("MXOPT_TEST_ENV", "1"):
        assert os.environ["MXOPT_TEST_ENV"] == "1"
    assert "MXOPT_TEST_ENV" not in os.environ
    with otu.environment({"MXOPT_TEST_ENV": None}):
        assert "MXOPT_TEST_ENV" not in os.environ
    it = mx.io.NDArrayIter(np.arange(8.0).reshape(4, 2), batch_size=2)
    dummy = otu.DummyIter(it)
    assert dummy.next() is dummy.next() and dummy.batch_size == 2
    otu.assert_exception(int, ValueError, "x")
    with pytest.raises(AssertionError):
        otu.assert_exception(int, ValueError, "3")
    calls = []

    @otu.retry(3)
    def flaky():
        calls.append(1)
        assert len(calls) == 3
    flaky()
    assert len(calls) == 3
    otu.assert_almost_equal_ignore_nan(np.array([1.0, np.nan]), np.array([1.0, 5.0]))
    otu.assert_almost_equal_with_err(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 9.0]),
                                     etol=0.3)
    with pytest.raises(AssertionError):
        otu.assert_almost_equal_with_err(np.ones(4), np.zeros(4), etol=0.3)
    otu.compare_ndarray_tuple((mx.nd.ones(2), None), (mx.nd.ones(2), mx.nd.zeros(2)))
    assert list(otu.list_gpus()) == []


# ---- download ------------------------------------------------------------------------------------
def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more: connections are refused
    return port


def test_download_unreachable_server_fails_cleanly(tmp_path, capsys):
    url = "http://127.0.0.1:%d/data/file.bin" % _closed_port()
    with pytest.raises(OSError, match="127.0.0.1") as info:
        otu.download(url, dirname=str(tmp_path / "dl"), retries=3)
    assert isinstance(info.value, otu.DownloadError)
    assert os.listdir(tmp_path / "dl") == []  # no partial file, no temporary file
    out = capsys.readouterr().out
    assert out.count("download failed, retrying") == 2  # MXNet: retries=3 means 3 attempts


def test_download_serves_files_and_skips_existing(tmp_path):
    payload = os.urandom(200_000)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "blob.bin").write_bytes(payload)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path / "srv"), **kw)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = "http://127.0.0.1:%d/" % server.server_address[1]
        out = otu.download(base + "blob.bin", dirname=str(tmp_path / "got"))
        assert out == str(tmp_path / "got" / "blob.bin")
        assert open(out, "rb").read() == payload
        with open(out, "wb") as f:
            f.write(b"local")
        assert otu.download(base + "blob.bin", dirname=str(tmp_path / "got")) == out
        assert open(out, "rb").read() == b"local"  # kept: overwrite=False
        otu.download(base + "blob.bin", dirname=str(tmp_path / "got"), overwrite=True)
        assert open(out, "rb").read() == payload
        with pytest.raises(otu.DownloadError, match="404"):
            otu.download(base + "missing.bin", dirname=str(tmp_path / "got"), retries=1)
        assert sorted(os.listdir(tmp_path / "got")) == ["blob.bin"]
    finally:
        server.shutdown()
        server.server_close()
