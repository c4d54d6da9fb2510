"""mx.nd.save / mx.nd.load: round trips, MXNet's argument errors, corrupt files."""
import os
import struct

import numpy as np
import pytest

import mxopt as mx
from mxopt.base import MXNetError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
DTYPES = ["float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool",
          "int16", "uint16", "uint32", "uint64"]


def _sample(dtype, shape, seed=0):
    v = np.random.RandomState(seed).uniform(-50, 50, size=shape)
    return (v > 0) if dtype == "bool" else v.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dict_round_trip_keeps_dtype_shape_values(tmp_path, dtype):
    f = str(tmp_path / "a.params")
    data = {"arg:x": mx.nd.array(_sample(dtype, (3, 4)), dtype=dtype),
            "aux:y": mx.nd.array(_sample(dtype, (2, 1, 3), 1), dtype=dtype)}
    mx.nd.save(f, data)
    out = mx.nd.load(f)
    assert list(out) == ["arg:x", "aux:y"]
    for k in data:
        assert out[k].dtype == np.dtype(dtype).type
        assert out[k].shape == data[k].shape
        np.testing.assert_array_equal(out[k].asnumpy(), data[k].asnumpy())


def test_list_form_single_array_and_numpy_values(tmp_path):
    f = str(tmp_path / "l.params")
    mx.nd.save(f, [mx.nd.ones((2,)), np.arange(6, dtype=np.int32).reshape(2, 3)])
    out = mx.nd.load(f)
    assert isinstance(out, list) and len(out) == 2
    assert out[1].dtype == np.int32
    np.testing.assert_array_equal(out[1].asnumpy(), np.arange(6).reshape(2, 3))
    mx.nd.save(f, mx.nd.array([7.0]))
    one = mx.nd.load(f)
    assert isinstance(one, list) and one[0].asnumpy().tolist() == [7.0]


def test_empty_dict_loads_as_empty_list(tmp_path):
    f = str(tmp_path / "e.params")
    mx.nd.save(f, {})
    assert mx.nd.load(f) == []
    mx.nd.save(f, [])
    assert mx.nd.load(f) == []


def test_non_contiguous_and_zero_d_arrays_are_saved_by_value(tmp_path):
    f = str(tmp_path / "v.params")
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    mx.nd.save(f, {"t": base.T, "s": np.array(3.5, dtype=np.float64)})
    out = mx.nd.load(f)
    np.testing.assert_array_equal(out["t"].asnumpy(), base.T)
    assert out["s"].shape == (1,) and out["s"].asnumpy()[0] == 3.5


def test_row_sparse_round_trip(tmp_path):
    f = str(tmp_path / "r.params")
    rsp = mx.nd.sparse.row_sparse_array((np.arange(6, dtype=np.float32).reshape(2, 3), [1, 4]),
                                        shape=(6, 3))
    mx.nd.save(f, {"g": rsp})
    out = mx.nd.load(f)["g"]
    assert out.stype == "row_sparse" and out.shape == (6, 3)
    np.testing.assert_array_equal(out.indices.asnumpy(), [1, 4])
    np.testing.assert_array_equal(out.asnumpy(), rsp.asnumpy())


def test_unicode_names_and_file_order(tmp_path):
    f = str(tmp_path / "u.params")
    names = ["zeta", "ünïcode", "alpha", "arg:with:colons"]
    mx.nd.save(f, {n: mx.nd.full((1,), i) for i, n in enumerate(names)})
    out = mx.nd.load(f)
    assert list(out) == names
    assert [float(out[n].asnumpy()[0]) for n in names] == [0, 1, 2, 3]


def test_pathlike_and_load_frombuffer(tmp_path):
    p = tmp_path / "p.params"
    mx.nd.save(p, {"a": mx.nd.ones((2, 2))})
    again = mx.nd.load_frombuffer(p.read_bytes())
    np.testing.assert_array_equal(again["a"].asnumpy(), np.ones((2, 2)))


@pytest.mark.parametrize("bad, exc, msg", [
    ({1: mx.nd.ones((1,))}, TypeError, "save only accept dict str->NDArray or list of NDArray"),
    ({"a": [1, 2]}, TypeError, "save only accept dict str->NDArray or list of NDArray"),
    ([mx.nd.ones((1,)), 3], TypeError, "save only accept dict str->NDArray or list of NDArray"),
    ((mx.nd.ones((1,)),), ValueError, "data needs to either be a NDArray"),
    ("text", ValueError, "data needs to either be a NDArray"),
])
def test_save_rejects_bad_data_before_writing(tmp_path, bad, exc, msg):
    f = tmp_path / "bad.params"
    with pytest.raises(exc, match=msg.replace("(", r"\(")):
        mx.nd.save(str(f), bad)
    assert not f.exists()


def test_save_rejects_unsupported_dtype_before_writing(tmp_path):
    f = tmp_path / "c.params"
    with pytest.raises(TypeError, match="complex64"):
        mx.nd.save(str(f), {"ok": np.ones(2, np.float32), "c": np.ones(2, np.complex64)})
    assert not f.exists()


def test_fname_must_be_a_string():
    with pytest.raises(TypeError, match="fname required to be a string"):
        mx.nd.load(123)
    with pytest.raises(TypeError, match="fname required to be a string"):
        mx.nd.save(None, [mx.nd.ones((1,))])


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        mx.nd.load(str(tmp_path / "nope.params"))


def test_failed_save_keeps_the_old_file(tmp_path):
    f = tmp_path / "keep.params"
    mx.nd.save(str(f), {"a": mx.nd.ones((3,))})
    before = f.read_bytes()
    with pytest.raises(TypeError):
        mx.nd.save(str(f), {"a": mx.nd.ones((3,)), "b": np.ones(1, np.complex128)})
    assert f.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.params"]  # no temp files left


def test_bad_header_and_truncation_raise_mxneterror(tmp_path):
    f = tmp_path / "t.params"
    mx.nd.save(str(f), {"w": mx.nd.ones((4, 5))})
    good = f.read_bytes()
    (tmp_path / "h.params").write_bytes(b"\x13" + good[1:])
    with pytest.raises(MXNetError, match="Invalid NDArray file format"):
        mx.nd.load(str(tmp_path / "h.params"))
    for n in range(len(good)):
        (tmp_path / "cut.params").write_bytes(good[:n])
        with pytest.raises(MXNetError, match="Invalid NDArray file format"):
            mx.nd.load(str(tmp_path / "cut.params"))
    assert isinstance(MXNetError("x"), RuntimeError)


def test_bogus_sizes_fail_fast_without_huge_allocation(tmp_path):
    head = struct.pack("<QQQ", 0x112, 0, 1)
    huge = head + struct.pack("<Iiiqq", 0xF993FAC9, 0, 2, 1 << 20, 1 << 20) + struct.pack("<iii", 1, 0, 0)
    (tmp_path / "huge.params").write_bytes(huge)
    with pytest.raises(MXNetError, match="truncated"):
        mx.nd.load(str(tmp_path / "huge.params"))
    many = struct.pack("<QQQ", 0x112, 0, (1 << 64) - 1)
    with pytest.raises(MXNetError):
        mx.nd.load_frombuffer(many)


def test_random_corruption_only_raises_mxneterror(tmp_path):
    f = tmp_path / "z.params"
    mx.nd.save(str(f), {"a": mx.nd.ones((2, 3)), "b": mx.nd.array([1, 2], dtype="int64")})
    good = bytearray(f.read_bytes())
    rng = np.random.RandomState(3)
    for _ in range(500):
        b = bytearray(good)
        for i in rng.randint(0, len(b), size=rng.randint(1, 4)):
            b[i] = rng.randint(0, 256)
        try:
            mx.nd.load_frombuffer(bytes(b))
        except MXNetError:
            pass


def test_reads_mxnet_fixture_files():
    d = mx.nd.load(os.path.join(FIXTURES, "mxnet_dict.params"))
    assert d["arg:float16_3x4"].dtype == np.float16
    assert d["arg:bool_7"].dtype == np.bool_
    np.testing.assert_array_equal(d["aux:ünïcode"].asnumpy(), [1.5, -2.5])
    s = mx.nd.load(os.path.join(FIXTURES, "mxnet_sparse.params"))
    assert s["rsp"].stype == "row_sparse"
    np.testing.assert_array_equal(s["csr"].asnumpy(), [[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]])


def test_csr_with_stale_storage_shape_loads(tmp_path):
    # MXNet 1.9.1 can write storage shape (0,) for a fresh csr array; its loader copes, so must we.
    raw = bytearray(open(os.path.join(FIXTURES, "mxnet_sparse.params"), "rb").read())
    marker = struct.pack("<Ii", 0xF993FAC9, 2)
    at = raw.index(marker) + len(marker)
    assert struct.unpack_from("<iq", raw, at) == (1, 4)
    struct.pack_into("<iq", raw, at, 1, 0)
    s = mx.nd.load_frombuffer(bytes(raw))
    np.testing.assert_array_equal(s["csr"].asnumpy(), [[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]])


def test_record_helpers_round_trip():
    from mxopt.ndarray.utils import _record_dumps, _record_loads
    a = mx.nd.array([[1, 2], [3, 4]])
    rec = _record_dumps(a)
    assert len(rec) == 56  # MXNet's pickled 2x2 float32 handle is 56 bytes
    np.testing.assert_array_equal(_record_loads(rec).asnumpy(), a.asnumpy())
