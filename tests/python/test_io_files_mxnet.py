"""Differential tests: mx.io.MNISTIter / CSVIter / LibSVMIter against real MXNet 1.9.1 on files
written here in the real formats (idx, gzip idx, CSV, LibSVM): every batch's data, label, pad
and index over several epochs with reset, for the parameter combinations that change batches."""
import gzip
import os
import struct
import time

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt as mx

N_IMAGES = 1003


def write_idx(path, arr, compress=False):
    head = struct.pack(">I", 0x0800 | arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    raw = head + arr.astype(np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if compress else raw)


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist")
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(N_IMAGES, 7, 5))
    labels = rng.randint(0, 10, size=(N_IMAGES,))
    paths = {"img": str(d / "img"), "lab": str(d / "lab"), "img_gz": str(d / "img.gz"),
             "lab_gz": str(d / "lab.gz")}
    write_idx(paths["img"], images)
    write_idx(paths["lab"], labels)
    write_idx(paths["img_gz"], images, compress=True)
    write_idx(paths["lab_gz"], labels, compress=True)
    return paths


def snap_array(a):
    if a.stype == "csr":
        return ("csr", a.shape, a.dtype, a.data.asnumpy(), a.indices.asnumpy(), a.indptr.asnumpy())
    return ("dense", a.shape, a.dtype, a.asnumpy())


def snap(batch):
    return (snap_array(batch.data[0]), snap_array(batch.label[0]), batch.pad,
            None if batch.index is None else np.asarray(batch.index))


def epochs(it, n=2):
    """n epochs, reset between them. The iterator is left exhausted, not reset: MXNet's
    LibSVMIter can crash when it is destroyed while its threads read the next epoch."""
    out = []
    for e in range(n):
        if e:
            it.reset()
        out.append([snap(b) for b in it])
    return out


def assert_same_array(a, b, what):
    assert a[0] == b[0] and tuple(a[1]) == tuple(b[1]) and a[2] == b[2], (what, a[:3], b[:3])
    for x, y in zip(a[3:], b[3:]):
        assert x.dtype == y.dtype, what
        assert x.tobytes() == y.tobytes(), (what, x, y)


def assert_same_epochs(ours, theirs, skip_stale_pad=False):
    assert [len(e) for e in ours] == [len(e) for e in theirs]
    for e, (eo, et) in enumerate(zip(ours, theirs)):
        for i, (bo, bt) in enumerate(zip(eo, et)):
            where = f"epoch {e} batch {i}"
            assert bo[2] == bt[2], where + " pad"
            if skip_stale_pad and len(eo) == 1 and bo[2]:
                # round_batch=False with fewer rows than batch_size: the filler rows were never
                # written (uninitialised memory in MXNet)
                keep = bo[0][1][0] - bo[2]
                bo = ((bo[0][0], bo[0][1], bo[0][2], bo[0][3][:keep]),
                      (bo[1][0], bo[1][1], bo[1][2], bo[1][3][:keep]), bo[2], bo[3][:keep])
                bt = ((bt[0][0], bt[0][1], bt[0][2], bt[0][3][:keep]),
                      (bt[1][0], bt[1][1], bt[1][2], bt[1][3][:keep]), bt[2], bt[3][:keep])
            assert_same_array(bo[0], bt[0], where + " data")
            assert_same_array(bo[1], bt[1], where + " label")
            assert (bo[3] is None) == (bt[3] is None)
            if bo[3] is not None:
                assert bo[3].dtype == bt[3].dtype == np.uint64
                np.testing.assert_array_equal(bo[3], bt[3], err_msg=where + " index")


def both(factory, **kwargs):
    theirs = factory(mxnet, **kwargs)
    ours = factory(mx, **kwargs)
    return ours, theirs


def same_descs(ours, theirs):
    for a, b in ((ours.provide_data, theirs.provide_data),
                 (ours.provide_label, theirs.provide_label)):
        assert [(d.name, tuple(d.shape), d.dtype, d.layout) for d in a] == \
               [(d.name, tuple(d.shape), d.dtype, d.layout) for d in b]
    assert ours.batch_size == theirs.batch_size


# ---- MNIST ---------------------------------------------------------------------------------------
MNIST_CASES = [
    dict(batch_size=100, shuffle=False),
    dict(batch_size=128, shuffle=False),          # 1003 % 128 != 0: the tail is dropped
    dict(batch_size=100, shuffle=True),           # seed 0
    dict(batch_size=64, shuffle=True, seed=7),
    dict(batch_size=50, shuffle=True, seed=-3),
    dict(batch_size=100, flat=True),
    dict(batch_size=32, flat=True, shuffle=True, seed=11),
    dict(batch_size=10, num_parts=3, part_index=0, shuffle=False),
    dict(batch_size=10, num_parts=3, part_index=1, shuffle=False),
    dict(batch_size=10, num_parts=3, part_index=2, shuffle=True, seed=5),
    dict(batch_size=7, num_parts=4, part_index=3, flat=True),
    dict(batch_size=1003, shuffle=True),
    dict(batch_size=1, num_parts=200, part_index=17, shuffle=True),
]


@pytest.mark.parametrize("case", MNIST_CASES)
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_batches_match(mnist_files, case, gz):
    def make(m, **kw):
        if m is mxnet or not gz:
            return m.io.MNISTIter(image=mnist_files["img"], label=mnist_files["lab"], silent=True,
                                  **kw)
        return m.io.MNISTIter(image=mnist_files["img_gz"], label=mnist_files["lab_gz"],
                              silent=True, **kw)
    ours, theirs = both(make, **case)
    assert isinstance(ours, mx.io.MXDataIter)
    same_descs(ours, theirs)
    assert_same_epochs(epochs(ours, 3), epochs(theirs, 3))


def test_mnist_shuffle_order_is_mxnets_on_a_large_file(tmp_path):
    n = 4000
    write_idx(str(tmp_path / "i"), np.arange(n * 4).reshape(n, 2, 2) % 251)
    write_idx(str(tmp_path / "l"), np.arange(n) % 10)
    for seed in (0, 1, 123456, 2**31 - 1):
        kw = dict(image=str(tmp_path / "i"), label=str(tmp_path / "l"), batch_size=n,
                  shuffle=True, seed=seed, silent=True)
        a = mx.io.MNISTIter(**kw).next().data[0].asnumpy()
        b = mxnet.io.MNISTIter(**kw).next().data[0].asnumpy()
        assert a.tobytes() == b.tobytes(), seed


def test_mnist_log_line_like_mxnet(mnist_files, capfd):
    for flat in (False, True):
        mx.io.MNISTIter(image=mnist_files["img"], label=mnist_files["lab"], batch_size=100,
                        flat=flat, shuffle=False)
        ours = capfd.readouterr().err.strip().split("] ", 1)[1]
        mxnet.io.MNISTIter(image=mnist_files["img"], label=mnist_files["lab"], batch_size=100,
                           flat=flat, shuffle=False)
        theirs = capfd.readouterr().err.strip().split("] ", 1)[1]
        assert ours == theirs
    mx.io.MNISTIter(image=mnist_files["img"], label=mnist_files["lab"], silent=True)
    assert capfd.readouterr().err == ""


def test_mnist_too_large_batch_raises_stopiteration_like_mxnet(mnist_files):
    kw = dict(image=mnist_files["img"], label=mnist_files["lab"], batch_size=2000, silent=True)
    with pytest.raises(StopIteration):
        mxnet.io.MNISTIter(**kw)
    with pytest.raises(StopIteration, match="larger than the 1003 images"):
        mx.io.MNISTIter(**kw)


# ---- CSV -----------------------------------------------------------------------------------------
FLOAT_TEXTS = ["0.1", "1.23456789012345678901", "3.4028235e38", "1e-45", "1.17549435e-38",
               "123456789012", "-0", ".5", "5.", "+7", "-2.5e+3", "1E5", "7.0f", "1e39", "-1e-39",
               "0.30000000000000004", "16777217", "2.5e-10", "9.999999e37", "6e38", "  42 ",
               "99999999999999999999999", "0.000001", "314.159265358979", "-inf", "Infinity",
               "nan", "NaN(123)", "1.5e", "1e-400"]


def _float_csv(path, rows, cols, rng):
    vals = rng.choice(FLOAT_TEXTS, size=(rows, cols))
    with open(path, "w") as f:
        for r in vals:
            f.write(",".join(r) + "\n")


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    rng = np.random.RandomState(1)
    files = {}
    files["data"] = str(d / "data.csv")
    with open(files["data"], "w") as f:
        for i in range(23):
            f.write(",".join(repr(float(v)) for v in rng.uniform(-10, 10, 6)) + "\n")
    files["label"] = str(d / "label.csv")
    with open(files["label"], "w") as f:
        for i in range(23):
            f.write("%d,%g\n" % (i, rng.uniform()))
    files["floats"] = str(d / "floats.csv")
    _float_csv(files["floats"], 40, 5, rng)
    files["ints"] = str(d / "ints.csv")
    with open(files["ints"], "w") as f:
        for i in range(11):
            f.write("%d,-%d,0x%x,0%o,%d\n" % (i, i * 1000, i * 37, i + 8, 2**31 - 1 - i))
    files["crlf"] = str(d / "crlf.csv")
    with open(files["crlf"], "wb") as f:
        f.write(b"\xef\xbb\xbf1,2,3\r\n4,5,6\r\n\r\n7,8,9,\n\n10,11,12")  # BOM, blank lines, no EOL
    os.makedirs(d / "dir")
    for k in range(3):
        with open(d / "dir" / ("part%d.csv" % k), "w") as f:
            for i in range(5 + k):
                f.write("%d,%d\n" % (k, i))
    files["dir"] = str(d / "dir")
    return files


CSV_CASES = [
    dict(batch_size=5),
    dict(batch_size=5, round_batch=False),
    dict(batch_size=23),
    dict(batch_size=1),
    dict(batch_size=4, data_shape=(2, 3)),
    dict(batch_size=7, round_batch=False, data_shape=(3, 2)),
    dict(batch_size=6, label="label", label_shape=(2,)),
    dict(batch_size=6, label="label", label_shape=(1, 2)),  # MXNet's (batch, 1, ...) label hack
    dict(batch_size=10, label="label", label_shape=(2,), round_batch=False),
    dict(batch_size=30, round_batch=False),  # one short batch: filler rows never written
    dict(batch_size=5, data_name="x", label_name="y"),
]


@pytest.mark.parametrize("case", CSV_CASES)
def test_csv_batches_match(csv_files, case):
    case = dict(case)
    label = case.pop("label", None)
    kw = dict(data_csv=csv_files["data"], data_shape=case.pop("data_shape", (6,)), **case)
    if label:
        kw["label_csv"] = csv_files[label]

    def make(m):
        return m.io.CSVIter(**kw)
    ours, theirs = make(mx), make(mxnet)
    same_descs(ours, theirs)
    assert_same_epochs(epochs(ours, 3), epochs(theirs, 3),
                       skip_stale_pad=not kw.get("round_batch", True))


@pytest.mark.parametrize("name,shape,kw", [
    ("floats", (5,), {}),
    ("ints", (5,), {"dtype": "int32"}),
    ("ints", (5,), {"dtype": "int64"}),
    ("crlf", (3,), {}),
    ("dir", (2,), {}),
])
def test_csv_value_syntax_matches_mxnet_bit_for_bit(csv_files, name, shape, kw):
    args = dict(data_csv=csv_files[name], data_shape=shape, batch_size=3, **kw)
    assert_same_epochs(epochs(mx.io.CSVIter(**args), 2), epochs(mxnet.io.CSVIter(**args), 2))


def test_csv_hex_value_in_a_float_file_is_an_error(csv_files):
    # MXNet's float parser reads "0x25" as 0 and drops "x25" silently: mxopt refuses the value.
    with pytest.raises(mx.base.MXNetError,
                       match=r"ints.csv', line 1: invalid value '0x0' in column 3"):
        mx.io.CSVIter(data_csv=csv_files["ints"], data_shape=(5,), batch_size=3)


def test_csv_reset_timing_follows_mxnets_prefetcher(csv_files):
    # MXNet's prefetch thread runs up to 16 batches ahead: a reset with at most 16 batches left
    # sees the round_batch epoch as finished (the next epoch continues after the borrowed rows),
    # an earlier reset rewinds to row 0.
    for batch_size, consumed in ((5, 0), (5, 2), (1, 0), (1, 3), (1, 10)):
        runs = []
        for m in (mx, mxnet):
            it = m.io.CSVIter(data_csv=csv_files["data"], data_shape=(6,), batch_size=batch_size)
            for _ in range(consumed):
                it.next()
            time.sleep(0.05)  # let MXNet's thread get ahead, as it always does on small files
            it.reset()
            runs.append(epochs(it, 2))
        assert_same_epochs(*runs)


# ---- LibSVM --------------------------------------------------------------------------------------
def _libsvm_lines(rng, rows, cols, label_values=True):
    lines = []
    for i in range(rows):
        k = rng.randint(0, min(cols, 6) + 1)
        idx = np.sort(rng.choice(cols, size=k, replace=False))
        feats = " ".join("%d:%s" % (j, repr(float(np.float32(rng.uniform(-3, 3))))) for j in idx)
        label = ("%g" % rng.randint(-2, 3)) if label_values else "0"
        lines.append((label + " " + feats).rstrip())
    return lines


@pytest.fixture(scope="module")
def libsvm_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("libsvm")
    rng = np.random.RandomState(2)
    files = {}
    lines = _libsvm_lines(rng, 37, 10)
    lines[3] = lines[3] + "  # a comment"
    lines[5] = "1:0.5 " + lines[5].split(" ", 1)[1] if " " in lines[5] else "1:0.5"  # weight
    lines[8] = lines[8].split(" ", 1)[0] + " qid:3 " + (lines[8].split(" ", 1)[1]
                                                       if " " in lines[8] else "")
    files["data"] = str(d / "data.t")
    with open(files["data"], "w") as f:
        f.write("\n".join(lines) + "\n")
    files["label"] = str(d / "label.t")
    with open(files["label"], "w") as f:
        f.write("\n".join(_libsvm_lines(rng, 37, 4, label_values=False)) + "\n")
    files["wide"] = str(d / "wide.t")
    with open(files["wide"], "w") as f:
        for i in range(9):
            idx = np.sort(rng.choice(1_000_001, size=5, replace=False))
            f.write("%d %s\n" % (i % 2, " ".join("%d:%d" % (j, i + 1) for j in idx)))
    return files


LIBSVM_CASES = [
    dict(batch_size=5),
    dict(batch_size=37),
    dict(batch_size=1),
    dict(batch_size=8, num_parts=3, part_index=0),
    dict(batch_size=8, num_parts=3, part_index=1),
    dict(batch_size=4, num_parts=3, part_index=2),
    dict(batch_size=4, num_parts=5, part_index=4),
    dict(batch_size=6, label=True),
    dict(batch_size=7, label=True, num_parts=2, part_index=1),
]


@pytest.mark.parametrize("case", LIBSVM_CASES)
def test_libsvm_batches_match(libsvm_files, case):
    case = dict(case)
    kw = dict(data_libsvm=libsvm_files["data"], data_shape=(10,), **case)
    if kw.pop("label", False):
        kw.update(label_libsvm=libsvm_files["label"], label_shape=(4,))
    ours, theirs = mx.io.LibSVMIter(**kw), mxnet.io.LibSVMIter(**kw)
    same_descs(ours, theirs)
    assert_same_epochs(epochs(ours, 3), epochs(theirs, 3))
    ours.reset()
    assert type(ours.next().data[0]).__name__ == "CSRNDArray"


def test_libsvm_wide_file(libsvm_files):
    kw = dict(data_libsvm=libsvm_files["wide"], data_shape=(1_000_001,), batch_size=4)
    ours, theirs = mx.io.LibSVMIter(**kw), mxnet.io.LibSVMIter(**kw)
    same_descs(ours, theirs)
    assert_same_epochs(epochs(ours, 2), epochs(theirs, 2))


def test_libsvm_empty_part_raises_stopiteration_like_mxnet(tmp_path):
    path = str(tmp_path / "two.t")
    with open(path, "w") as f:
        f.write("1 0:1\n0 1:2\n")
    kw = dict(data_libsvm=path, data_shape=(10,), batch_size=4, num_parts=8, part_index=7)
    with pytest.raises(StopIteration):
        mxnet.io.LibSVMIter(**kw)
    with pytest.raises(StopIteration, match="no rows"):
        mx.io.LibSVMIter(**kw)
    kw["part_index"] = 8
    with pytest.raises(mxnet.base.MXNetError):
        mxnet.io.LibSVMIter(**kw)
    with pytest.raises(mx.base.MXNetError, match="part_index 8 must be < num_parts 8"):
        mx.io.LibSVMIter(**kw)


# ---- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(batch_size="abc"), dict(batch_size=2.5), dict(batch_size=True), dict(round_batch="yes"),
    dict(data_shape="(3"), dict(dtype="float16"), dict(dtype="float64"), dict(dtype="abc"),
    dict(dtype=None),
    dict(ctx="tpu"), dict(batch_size=100), dict(data_shape=(4,)), dict(label_csv="LABEL"),
])
def test_csv_parameter_errors_are_mxnet_errors(csv_files, kw):
    args = dict(data_csv=csv_files["crlf"], data_shape=(3,), batch_size=2)
    args.update(kw)
    if args.get("label_csv") == "LABEL":
        args["label_csv"] = csv_files["crlf"]
    with pytest.raises(mxnet.base.MXNetError):
        mxnet.io.CSVIter(**args)
    with pytest.raises(mx.base.MXNetError):
        mx.io.CSVIter(**args)


@pytest.mark.parametrize("kw", [
    dict(batch_size=" 2"), dict(batch_size="2 "), dict(data_shape=3), dict(data_shape=[3]),
    dict(data_shape="[3]"), dict(data_shape="3"), dict(round_batch=0), dict(round_batch="TRUE"),
    dict(dtype="int32"), dict(ctx="cpu"), dict(prefetch_buffer=1),
    dict(seed=5, unknown_argument="ignored"), dict(label_shape=(2,)),
])
def test_csv_parameter_spellings_accepted_like_mxnet(csv_files, kw):
    args = dict(data_csv=csv_files["crlf"], data_shape=(3,), batch_size=2)
    args.update(kw)
    assert_same_epochs(epochs(mx.io.CSVIter(**args), 2), epochs(mxnet.io.CSVIter(**args), 2))


def test_positional_arguments_are_refused(csv_files):
    with pytest.raises(TypeError, match="keyword"):
        mx.io.CSVIter(csv_files["crlf"])


def test_iteration_after_exhaustion_stays_exhausted(csv_files):
    for m in (mx, mxnet):
        it = m.io.CSVIter(data_csv=csv_files["crlf"], data_shape=(3,), batch_size=2)
        assert len(list(it)) == 2
        for _ in range(3):
            with pytest.raises(StopIteration):
                it.next()
            assert not it.iter_next()


def test_iter_next_getters_give_the_batches_of_next(csv_files):
    # (MXNet's iter_next() returns True forever while the first batch is unconsumed, so a
    # `while it.iter_next()` loop never ends there: MXNet's side uses next().)
    outs = []
    it = mx.io.CSVIter(data_csv=csv_files["data"], data_shape=(6,), batch_size=5)
    got = []
    while it.iter_next():
        got.append((it.getdata().asnumpy(), it.getlabel().asnumpy(), it.getpad(), it.getindex()))
    outs.append(got)
    outs.append([(b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad, b.index) for b in
                 mxnet.io.CSVIter(data_csv=csv_files["data"], data_shape=(6,), batch_size=5)])
    assert len(outs[0]) == len(outs[1]) == 5
    for a, b in zip(*outs):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


# ---- ResizeIter, PrefetchingIter, NDArrayIter over CSR -------------------------------------------
def _ndarray_iter(m, n=10, batch_size=3, **kw):
    data = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return m.io.NDArrayIter(data, np.arange(n, dtype=np.float32), batch_size, **kw)


def _plain(batches):
    return [([d.asnumpy() for d in b.data], [l.asnumpy() for l in b.label], b.pad,
             None if b.index is None else np.asarray(b.index)) for b in batches]


def _same_plain(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x[2] == y[2]
        for p, q in zip(x[0] + x[1], y[0] + y[1]):
            assert p.dtype == q.dtype
            np.testing.assert_array_equal(p, q)
        assert (x[3] is None) == (y[3] is None)
        if x[3] is not None:
            np.testing.assert_array_equal(x[3], y[3])


@pytest.mark.parametrize("size,reset_internal", [(2, True), (5, True), (7, False), (3, False)])
def test_resize_iter_matches_mxnet(size, reset_internal):
    runs = []
    for m in (mx, mxnet):
        it = m.io.ResizeIter(_ndarray_iter(m), size, reset_internal=reset_internal)
        assert it.batch_size == 3
        assert [tuple(d.shape) for d in it.provide_data] == [(3, 2)]
        out = []
        for _ in range(3):
            out += _plain(it)
            it.reset()
        runs.append(out)
    _same_plain(*runs)


def test_resize_iter_over_a_file_iterator(csv_files):
    runs = []
    for m in (mx, mxnet):
        it = m.io.ResizeIter(m.io.CSVIter(data_csv=csv_files["data"], data_shape=(6,),
                                          batch_size=4), 9)
        runs.append(_plain(it) + (it.reset() or []) + _plain(it))
    _same_plain(*runs)


@pytest.mark.parametrize("rename", [False, True])
def test_prefetching_iter_matches_mxnet(rename):
    runs = []
    for m in (mx, mxnet):
        a = m.io.NDArrayIter({"data": np.arange(40, dtype=np.float32).reshape(20, 2)},
                             {"softmax_label": np.arange(20, dtype=np.float32)}, 6)
        b = m.io.NDArrayIter({"data": -np.arange(60, dtype=np.float32).reshape(20, 3)},
                             {"softmax_label": -np.arange(20, dtype=np.float32)}, 6)
        kw = {}
        if rename:
            kw = dict(rename_data=[{"data": "a"}, {"data": "b"}],
                      rename_label=[{"softmax_label": "la"}, {"softmax_label": "lb"}])
        it = m.io.PrefetchingIter([a, b], **kw)
        descs = [(d.name, tuple(d.shape)) for d in it.provide_data + it.provide_label]
        out = []
        for _ in range(3):
            out += _plain(it)
            it.reset()
        runs.append((descs, out, it.batch_size))
    assert runs[0][0] == runs[1][0] and runs[0][2] == runs[1][2]
    _same_plain(runs[0][1], runs[1][1])


def test_prefetching_iter_over_file_iterators(csv_files, libsvm_files):
    runs = []
    for m in (mx, mxnet):
        it = m.io.PrefetchingIter(m.io.CSVIter(data_csv=csv_files["data"], data_shape=(6,),
                                               batch_size=5))
        runs.append(_plain(it) + (it.reset() or []) + _plain(it))
    _same_plain(*runs)
    ours = mx.io.PrefetchingIter(mx.io.LibSVMIter(data_libsvm=libsvm_files["data"],
                                                  data_shape=(10,), batch_size=5))
    assert type(ours.next().data[0]).__name__ == "CSRNDArray"


def test_prefetching_iter_mismatched_iterators_assert_like_mxnet():
    for m in (mx, mxnet):
        it = m.io.PrefetchingIter([_ndarray_iter(m, 10), _ndarray_iter(m, 7)])
        with pytest.raises(AssertionError, match="Number of entry mismatches"):
            list(it)


def test_prefetching_iter_reraises_iterator_errors(tmp_path):
    # MXNet's thread dies on such an error and the consumer waits forever: mxopt re-raises it.
    class Failing(mx.io.DataIter):
        def __init__(self):
            super().__init__(2)
            self.provide_data = [mx.io.DataDesc("data", (2, 1))]
            self.provide_label = []
            self.n = 0

        def next(self):
            self.n += 1
            if self.n == 3:
                raise ValueError("broken batch 3")
            return mx.io.DataBatch([mx.nd.ones((2, 1))], [], pad=0)

    it = mx.io.PrefetchingIter(Failing())
    it.next()
    it.next()
    with pytest.raises(ValueError, match="broken batch 3"):
        it.next()
    assert it.next().data[0].shape == (2, 1)  # the iterator goes on after the failed batch


def _csr_source(m, dtype=np.float32):
    rng = np.random.RandomState(4)
    dense = (rng.rand(11, 6) * (rng.rand(11, 6) < 0.4)).astype(dtype)
    import scipy.sparse as spsp
    return dense, spsp.csr_matrix(dense)


@pytest.mark.parametrize("form", ["csr", "dict_scipy", "list_scipy", "csr_label"])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ndarray_iter_over_csr_matches_mxnet(form, shuffle, dtype):
    runs = []
    for m in (mx, mxnet):
        dense, sp = _csr_source(m, dtype)
        label = np.arange(11)
        if form == "csr":
            data = m.nd.sparse.csr_matrix(sp)
        elif form == "dict_scipy":
            data = {"data": sp}
        elif form == "list_scipy":
            data = [sp, dense[:, :2].copy()]
        else:
            data, label = dense[:, :3].copy(), m.nd.sparse.csr_matrix(sp)
        np.random.seed(7)
        it = m.io.NDArrayIter(data, label, batch_size=3, shuffle=shuffle,
                              last_batch_handle="discard")
        descs = [(d.name, tuple(d.shape), d.dtype) for d in it.provide_data + it.provide_label]
        out = []
        for _ in range(2):
            out += _plain(it)
            it.reset()
        runs.append((descs, out, [type(b).__name__ for b in it.next().data]))
    assert runs[0][0] == runs[1][0]
    assert runs[0][2] == runs[1][2]  # MXNet 1.9.1 slices CSR data into dense batches
    _same_plain(runs[0][1], runs[1][1])


@pytest.mark.parametrize("handle", ["pad", "roll_over"])
def test_ndarray_iter_csr_needs_discard_like_mxnet(handle):
    for m in (mx, mxnet):
        _, sp = _csr_source(m)
        with pytest.raises(NotImplementedError, match="discard"):
            m.io.NDArrayIter(m.nd.sparse.csr_matrix(sp), np.arange(11), 3,
                             last_batch_handle=handle)
        with pytest.raises(TypeError, match="Input must be"):
            m.io.NDArrayIter(sp, np.arange(11), 3, last_batch_handle="discard")


# ---- end to end: Module.fit on a file iterator ---------------------------------------------------
def _fit(m, make_iter, num_hidden):
    it = make_iter(m)
    data = m.sym.Variable("data")
    out = m.sym.SoftmaxOutput(m.sym.FullyConnected(data, name="fc", num_hidden=num_hidden),
                              name="softmax")
    mod = m.mod.Module(out)
    m.random.seed(1)
    mod.fit(it, num_epoch=3, optimizer="sgd", optimizer_params={"learning_rate": 0.1},
            initializer=m.init.Uniform(0.1), eval_metric="acc")
    # (a fresh iterator: a reset right after fit's own reset races MXNet's prefetch thread)
    return mod.get_params()[0]["fc_weight"].asnumpy(), mod.score(make_iter(m), "acc")


def test_module_fit_on_csv_and_mnist_iterators_matches_mxnet(tmp_path, mnist_files):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(500, 20)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0)
    np.savetxt(tmp_path / "x.csv", x, fmt="%.6f", delimiter=",")
    np.savetxt(tmp_path / "y.csv", y, fmt="%d")
    makers = [
        (lambda m: m.io.CSVIter(data_csv=str(tmp_path / "x.csv"), data_shape=(20,),
                                label_csv=str(tmp_path / "y.csv"), batch_size=32), 3),
        (lambda m: m.io.MNISTIter(image=mnist_files["img"], label=mnist_files["lab"],
                                  batch_size=100, flat=True, seed=3, silent=True), 10),
    ]
    for make, hidden in makers:
        w_ours, acc_ours = _fit(mx, make, hidden)
        w_theirs, acc_theirs = _fit(mxnet, make, hidden)
        assert acc_ours == acc_theirs
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("parts", [(1, 0), (2, 0), (2, 1), (3, 1), (3, 2), (4, 3)])
def test_libsvm_directory_partitions_match_mxnet(tmp_path, parts):
    rng = np.random.RandomState(9)
    d = tmp_path / "shards"
    d.mkdir()
    for k in range(3):
        (d / ("part-%d" % k)).write_text("\n".join(_libsvm_lines(rng, 7 + 5 * k, 6)) + "\n")
    kw = dict(data_libsvm=str(d), data_shape=(6,), batch_size=4, num_parts=parts[0],
              part_index=parts[1])
    assert_same_epochs(epochs(mx.io.LibSVMIter(**kw), 2), epochs(mxnet.io.LibSVMIter(**kw), 2))
