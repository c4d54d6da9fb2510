"""mx.io file iterators on malformed, missing and large input: every bad file is a clear
MXNetError naming the file and the line (raised at construction or at the batch that needs the
line, after the good batches before it), never a crash, a hang or a short epoch; chunked and
parallel parsing give the same batches as one pass; the prefetching thread is safe to abandon."""
import gc
import gzip
import os
import struct
import threading

import numpy as np
import pytest

import mxopt as mx
from mxopt.base import MXNetError
from mxopt._data_iters import DataFileNotFoundError


def write(path, text):
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return str(path)


def batches(it):
    return [(b.data[0], b.label[0], b.pad) for b in it]


def csr_rows(batch_list):
    """The rows of a LibSVM epoch as dense numpy (pad rows dropped)."""
    out = []
    for data, _, pad in batch_list:
        dense = data.asnumpy()
        out.extend(dense[:dense.shape[0] - pad])
    return np.array(out)


# ---- LibSVM errors -------------------------------------------------------------------------------
GOOD = "1 0:1 3:2\n0 2:0.5\n"


@pytest.mark.parametrize("bad,message", [
    ("1 2:1 5:1", r"feature index 5 is out of range: data_shape=\(4,\) allows indices 0..3"),
    ("1 2:1 1:1", r"feature index 1 follows index 2: the indices of a line must be sorted"),
    ("1 2:1 2:3", r"feature index 2 follows index 2"),
    ("1 2:1 3", r"feature '3' has no value"),
    ("1 2:1 x:3", r"invalid feature 'x:3'"),
    ("1 -2:1", r"invalid feature '-2:1'"),
    ("abc 1:1", r"invalid label 'abc'"),
    ("1 1:zz", r"invalid value in feature '1:zz'"),
    ("1 1:2.5x", r"invalid value in feature"),
    ("1:x 1:2", r"invalid instance weight"),
    ("1 99999999999999999999999:1", r"feature index 99999999999999999999999 is out of range"),
])
def test_libsvm_malformed_line_is_named(tmp_path, bad, message):
    # 6 good rows, the bad one (line 8: after a comment line and a blank line), more good rows
    text = GOOD * 3 + "# comment\n\n" + bad + "\n" + GOOD
    path = write(tmp_path / "bad.t", text)
    it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(4,), batch_size=2)
    got = [it.next() for _ in range(3)]  # rows 0..5: the batches before the bad line
    assert [b.pad for b in got] == [0, 0, 0]
    with pytest.raises(MXNetError, match=r"bad.t', line 9: " + message):
        it.next()
    with pytest.raises(MXNetError, match="line 9"):  # the error stays until reset
        it.next()
    it.reset()
    assert len([it.next() for _ in range(3)]) == 3
    with pytest.raises(MXNetError, match="line 9"):
        it.next()


def test_libsvm_error_in_first_batch_raises_at_construction(tmp_path):
    path = write(tmp_path / "first.t", "1 0:1\n1 7:1\n")
    with pytest.raises(MXNetError, match=r"first.t', line 2: feature index 7 is out of range"):
        mx.io.LibSVMIter(data_libsvm=path, data_shape=(4,), batch_size=2)


@pytest.mark.parametrize("chunk", [16, 40, 1000, 1 << 24])
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_libsvm_line_numbers_across_chunks_and_line_ends(tmp_path, chunk, eol):
    lines = ["%d %d:1" % (i % 2, i % 4) for i in range(57)]
    lines[44] = "1 9:1"
    path = write(tmp_path / "lines.t", eol.join(lines) + eol)
    it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(4,), batch_size=4, _chunk_bytes=chunk)
    for _ in range(11):  # rows 0..43
        it.next()
    with pytest.raises(MXNetError, match="line 45: feature index 9"):
        it.next()


def test_libsvm_error_names_the_file_of_a_directory(tmp_path):
    d = tmp_path / "parts"
    d.mkdir()
    write(d / "a.t", GOOD * 2)
    write(d / "b.t", GOOD + "1 3:1 3:1\n")
    write(d / "empty.t", "")
    it = mx.io.LibSVMIter(data_libsvm=str(d), data_shape=(4,), batch_size=2, _chunk_bytes=16)
    with pytest.raises(MXNetError, match=r"b.t', line 3: feature index 3 follows index 3"):
        for _ in range(10):
            it.next()


def test_libsvm_label_file_shorter_than_data(tmp_path):
    data = write(tmp_path / "d.t", GOOD * 3)
    label = write(tmp_path / "l.t", "0 0:1\n0 1:1\n0 0:1\n")
    it = mx.io.LibSVMIter(data_libsvm=data, data_shape=(4,), label_libsvm=label,
                          label_shape=(2,), batch_size=3)
    it.next()
    with pytest.raises(MXNetError, match=r"l.t' has fewer rows than data_libsvm"):
        it.next()


def test_libsvm_mid_epoch_reset_rewinds_cleanly(tmp_path):
    # (MXNet 1.9.1 may replay the rest of a parse block after a mid-epoch reset.)
    rows = "".join("%d %d:%d\n" % (i, i % 5, i + 1) for i in range(40))
    path = write(tmp_path / "r.t", rows)
    it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(5,), batch_size=1)
    for _ in range(3):
        it.next()
    it.reset()
    labels = [b.label[0].asnumpy()[0] for b in it]
    assert labels == list(range(40))


def test_libsvm_partitions_cover_every_row_once(tmp_path):
    rows = "".join("%d %d:%d\n" % (i, i % 7, i + 1) for i in range(301))
    path = write(tmp_path / "p.t", rows)
    for parts in (1, 2, 3, 7, 16):
        seen = []
        for k in range(parts):
            try:
                it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(7,), batch_size=1,
                                      num_parts=parts, part_index=k)
            except StopIteration:
                continue
            seen += [int(b.label[0].asnumpy()[0]) for b in it]
        assert seen == list(range(301)), parts


# ---- CSV errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,message", [
    ("1,2", r"the row has 2 values but data_shape=\(3,\) needs 3"),
    ("1,2,3,4", r"the row has 4 values"),
    ("1,,3", r"empty value in column 2"),
    ("1,abc,3", r"invalid value 'abc' in column 2"),
    ("1,2.5.5,3", r"invalid value '2.5.5' in column 2"),
    ("1, 2 3,4", r"invalid value ' 2 3' in column 2"),
])
def test_csv_malformed_row_is_named(tmp_path, bad, message):
    path = write(tmp_path / "bad.csv", "1,2,3\n" * 4 + "\n" + bad + "\n" + "7,8,9\n")
    it = mx.io.CSVIter(data_csv=path, data_shape=(3,), batch_size=2)
    it.next()
    it.next()
    with pytest.raises(MXNetError, match=r"bad.csv', line 6: " + message):
        it.next()


@pytest.mark.parametrize("dtype,value", [("int32", "2147483648"), ("int32", "-2147483649"),
                                         ("int64", "9223372036854775808"), ("int32", "1.5"),
                                         ("int64", "08")])
def test_csv_integer_out_of_range_or_not_integer(tmp_path, dtype, value):
    path = write(tmp_path / "i.csv", "1,%s\n" % value)
    with pytest.raises(MXNetError, match=r"i.csv', line 1: invalid value"):
        mx.io.CSVIter(data_csv=path, data_shape=(2,), batch_size=1, dtype=dtype)


def test_csv_int_extremes(tmp_path):
    path = write(tmp_path / "i.csv", "2147483647,-2147483648\n")
    b = mx.io.CSVIter(data_csv=path, data_shape=(2,), batch_size=1, dtype="int32").next()
    assert b.data[0].asnumpy().tolist() == [[2147483647, -2147483648]]


def test_csv_label_file_shorter_than_data(tmp_path):
    data = write(tmp_path / "d.csv", "1,2\n" * 5)
    label = write(tmp_path / "l.csv", "1\n2\n")
    it = mx.io.CSVIter(data_csv=data, data_shape=(2,), label_csv=label, batch_size=2)
    it.next()
    with pytest.raises(MXNetError, match=r"l.csv' has fewer rows than data_csv"):
        it.next()


def test_csv_regex_and_list_uris(tmp_path):
    d = tmp_path / "shards"
    d.mkdir()
    for k in range(3):
        write(d / ("part-%d" % k), "%d,%d\n" % (k, k))
    write(d / "other", "9,9\n")
    it = mx.io.CSVIter(data_csv=str(d / "part-.*"), data_shape=(2,), batch_size=3)
    assert sorted(it.next().data[0].asnumpy()[:, 0].tolist()) == [0, 1, 2]
    both = str(d / "part-0") + ";" + str(d / "other")
    it = mx.io.CSVIter(data_csv=both, data_shape=(2,), batch_size=2)
    assert it.next().data[0].asnumpy()[:, 0].tolist() == [0, 9]


# ---- missing and empty files ---------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda p: mx.io.CSVIter(data_csv=p, data_shape=(2,), batch_size=1),
    lambda p: mx.io.LibSVMIter(data_libsvm=p, data_shape=(2,), batch_size=1),
    lambda p: mx.io.MNISTIter(image=p, label=p, batch_size=1, silent=True),
])
def test_missing_file_is_named(tmp_path, make):
    missing = str(tmp_path / "nope.data")
    with pytest.raises(DataFileNotFoundError) as info:
        make(missing)
    err = info.value
    assert isinstance(err, MXNetError) and isinstance(err, FileNotFoundError)
    assert err.filename == missing and "nope.data" in str(err)


def test_missing_label_file_is_named(tmp_path):
    data = write(tmp_path / "d.csv", "1,2\n")
    with pytest.raises(DataFileNotFoundError, match="nolabel.csv"):
        mx.io.CSVIter(data_csv=data, data_shape=(2,), label_csv=str(tmp_path / "nolabel.csv"),
                      batch_size=1)


def test_empty_file_and_empty_directory(tmp_path):
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(MXNetError, match="empty.csv' is empty"):
        mx.io.CSVIter(data_csv=empty, data_shape=(2,), batch_size=1)
    (tmp_path / "void").mkdir()
    with pytest.raises(MXNetError, match="holds no non-empty data file"):
        mx.io.LibSVMIter(data_libsvm=str(tmp_path / "void"), data_shape=(2,), batch_size=1)
    blank = write(tmp_path / "blank.csv", "\n\n  \n")
    with pytest.raises(StopIteration, match="holds no rows"):
        mx.io.CSVIter(data_csv=blank, data_shape=(2,), batch_size=1)


# ---- MNIST errors --------------------------------------------------------------------------------
def idx_bytes(arr, magic=None):
    magic = (0x0800 | arr.ndim) if magic is None else magic
    return (struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
            + arr.astype(np.uint8).tobytes())


@pytest.fixture
def mnist(tmp_path):
    images = np.arange(20 * 4 * 3).reshape(20, 4, 3) % 256
    labels = np.arange(20) % 10
    return (write(tmp_path / "img", idx_bytes(images)), write(tmp_path / "lab", idx_bytes(labels)),
            images, labels, tmp_path)


@pytest.mark.parametrize("which,cut,message", [
    ("img", 3, r"idx file '.*img' is truncated: 3 bytes, the 4-byte magic"),
    ("img", 10, r"img' is truncated: 10 bytes, its header needs 16"),
    ("img", 16 + 100, r"img' is truncated: its header announces 240 bytes of data but only 100"),
    ("lab", 8 + 19, r"lab' is truncated: its header announces 20 bytes of data but only 19"),
])
def test_mnist_truncated_files(mnist, which, cut, message):
    img, lab, _, _, tmp = mnist
    path = img if which == "img" else lab
    raw = open(path, "rb").read()[:cut]
    write(path, raw)
    with pytest.raises(MXNetError, match=message):
        mx.io.MNISTIter(image=img, label=lab, batch_size=5, silent=True)


def test_mnist_wrong_magic_and_swapped_files(mnist):
    img, lab, images, _, tmp = mnist
    with pytest.raises(MXNetError, match=r"lab' has magic number 0x00000801, expected 0x00000803"):
        mx.io.MNISTIter(image=lab, label=img, batch_size=5, silent=True)
    bad = write(tmp / "bad", idx_bytes(images, magic=0x0D03))
    with pytest.raises(MXNetError, match=r"magic number 0x00000D03"):
        mx.io.MNISTIter(image=bad, label=lab, batch_size=5, silent=True)


def test_mnist_count_mismatch(mnist):
    img, _, _, labels, tmp = mnist
    short = write(tmp / "short", idx_bytes(labels[:19]))
    with pytest.raises(MXNetError, match=r"holds 20 images but label file .* holds 19 labels"):
        mx.io.MNISTIter(image=img, label=short, batch_size=5, silent=True)


def test_mnist_gzip_files_and_corrupt_gzip(mnist):
    img, lab, images, labels, tmp = mnist
    gz_img = write(tmp / "img.gz", gzip.compress(idx_bytes(images)))
    gz_lab = write(tmp / "lab.gz", gzip.compress(idx_bytes(labels)))
    a = mx.io.MNISTIter(image=img, label=lab, batch_size=20, shuffle=False, silent=True).next()
    b = mx.io.MNISTIter(image=gz_img, label=gz_lab, batch_size=20, shuffle=False,
                        silent=True).next()
    np.testing.assert_array_equal(a.data[0].asnumpy(), b.data[0].asnumpy())
    np.testing.assert_array_equal(a.data[0].asnumpy()[:, 0], images / np.float32(256))
    corrupt = write(tmp / "bad.gz", gzip.compress(idx_bytes(images))[:-9])
    with pytest.raises(MXNetError, match=r"gzip file '.*bad.gz' is corrupt or truncated"):
        mx.io.MNISTIter(image=corrupt, label=lab, batch_size=5, silent=True)


@pytest.mark.parametrize("kw,message", [
    (dict(batch_size=0), "should be greater equal to 1"),
    (dict(num_parts=2, part_index=2), "part_index"),
    (dict(dtype="float16"), "not supported"),
    (dict(seed=2**40), "does not fit"),
])
def test_mnist_bad_arguments(mnist, kw, message):
    img, lab = mnist[:2]
    with pytest.raises(MXNetError, match=message):
        mx.io.MNISTIter(image=img, label=lab, silent=True, **kw)


# ---- chunked / parallel parsing, threads ---------------------------------------------------------
def test_large_files_parse_identically_in_chunks_and_in_parallel(tmp_path):
    rng = np.random.RandomState(0)
    n, cols = 60000, 50
    lines = []
    for i in range(n):
        idx = np.sort(rng.choice(cols, size=rng.randint(0, 6), replace=False))
        lines.append("%d %s" % (i % 3, " ".join("%d:%.5f" % (j, rng.rand()) for j in idx)))
    path = write(tmp_path / "big.t", "\n".join(lines) + "\n")
    assert os.path.getsize(path) > 1 << 20  # several parallel pieces per chunk
    ref = None
    for chunk in (1 << 24, 1 << 20, 4096):
        it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(cols,), batch_size=1000,
                              _chunk_bytes=chunk)
        got = batches(it)
        labels = np.concatenate([lab.asnumpy() for _, lab, _ in got])
        rows = csr_rows(got)
        if ref is None:
            ref = (labels, rows)
            assert labels.shape == (n,)
            np.testing.assert_array_equal(labels, np.arange(n) % 3)
        else:
            np.testing.assert_array_equal(labels, ref[0])
            np.testing.assert_array_equal(rows, ref[1])


def test_abandoned_iterators_stop_their_threads(tmp_path):
    path = write(tmp_path / "many.csv", "".join("%d,%d\n" % (i, i) for i in range(5000)))
    before = threading.active_count()
    for _ in range(30):
        it = mx.io.CSVIter(data_csv=path, data_shape=(2,), batch_size=3)
        it.next()
        del it
    gc.collect()
    assert threading.active_count() <= before + 1


def test_iterators_in_parallel_threads(tmp_path):
    path = write(tmp_path / "par.csv", "".join("%d,%d\n" % (i, -i) for i in range(997)))
    results = {}

    def run(k):
        it = mx.io.CSVIter(data_csv=path, data_shape=(2,), batch_size=10)
        total = 0.0
        for _ in range(3):
            for b in it:
                total += float(b.data[0].asnumpy()[:10 - b.pad, 0].sum())
            it.reset()
        results[k] = total
    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results.values())) == 1 and len(results) == 4


# ---- the parsed-rows cache -----------------------------------------------------------------------
def _first_column(it):
    return [float(v) for b in it for v in b.data[0].asnumpy()[:b.data[0].shape[0] - b.pad, 0]]


def test_cache_replays_and_notices_changed_files(tmp_path):
    path = write(tmp_path / "c.csv", "".join("%d,0\n" % (i + 10) for i in range(10)))
    it = mx.io.CSVIter(data_csv=path, data_shape=(2,), batch_size=5)
    assert _first_column(it) == list(range(10, 20))
    it.reset()
    assert _first_column(it) == list(range(10, 20))  # replayed from memory
    write(path, "".join("%d,0\n" % (i + 50) for i in range(10)))  # same size, new values
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    it.reset()
    assert _first_column(it) == [float(i + 50) for i in range(10)]


@pytest.mark.parametrize("cache_mb", ["0", "1"])
def test_cache_disabled_or_too_small_gives_the_same_batches(tmp_path, monkeypatch, cache_mb):
    rows = "".join("%d %d:%d\n" % (i % 2, i % 9, i) for i in range(60000))
    path = write(tmp_path / "s.t", rows)
    ref = None
    for limit in (None, cache_mb):
        if limit is None:
            monkeypatch.delenv("MXOPT_IO_CACHE_MB", raising=False)
        else:
            monkeypatch.setenv("MXOPT_IO_CACHE_MB", limit)
        it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(9,), batch_size=1000,
                              _chunk_bytes=1 << 18)
        got = []
        for _ in range(3):
            got.append(csr_rows(batches(it)))
            it.reset()
        if ref is None:
            ref = got
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b)


def test_batch_buffers_are_recycled_safely(tmp_path):
    # buffers go back to the iterator's pool only when numpy drops them: kept batches stay intact
    images = np.arange(300 * 16 * 16).reshape(300, 16, 16) % 251
    img = write(tmp_path / "i", idx_bytes(images))
    lab = write(tmp_path / "l", idx_bytes(np.arange(300) % 10))
    it = mx.io.MNISTIter(image=img, label=lab, batch_size=100, shuffle=False, flat=True,
                         silent=True)
    kept = [b.data[0] for b in it]
    for _ in range(5):
        it.reset()
        for b in it:
            b.data[0].asnumpy()
    expected = (images.reshape(300, -1) / np.float32(256)).astype(np.float32)
    np.testing.assert_array_equal(np.concatenate([k.asnumpy() for k in kept]), expected)


# ---- random corruption: a clear error or batches, nothing else -----------------------------------
def _drain(make):
    try:
        it = make()
    except (MXNetError, StopIteration):
        return "rejected"
    try:
        for _ in range(2):
            for b in it:
                b.data[0].asnumpy()
                b.label[0].asnumpy()
            it.reset()
    except MXNetError:
        return "rejected"
    return "accepted"


@pytest.mark.parametrize("kind", ["csv", "libsvm", "mnist"])
def test_randomly_corrupted_files_never_crash(tmp_path, kind):
    rng = np.random.RandomState({"csv": 1, "libsvm": 2, "mnist": 3}[kind])
    if kind == "csv":
        good = "".join("%d,%.3f,%d\n" % (i, i / 7, -i) for i in range(40)).encode()
    elif kind == "libsvm":
        good = "".join("%d %d:%.2f %d:1\n" % (i % 2, i % 5, i / 3, 5 + i % 4)
                       for i in range(40)).encode()
    else:
        good = idx_bytes(np.arange(30 * 3 * 3).reshape(30, 3, 3) % 256)
    outcomes = set()
    alphabet = np.frombuffer(b"0123456789.,:-+eE \n\r\t#xnai\x00\xff", np.uint8)
    for trial in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            op, at = rng.randint(0, 3), rng.randint(0, len(data))
            if op == 0:
                data[at] = int(rng.choice(alphabet))
            elif op == 1:
                del data[at:at + rng.randint(1, 4)]
            else:
                data[at:at] = bytes(rng.choice(alphabet, size=rng.randint(1, 4)))
        path = write(tmp_path / ("f%d" % trial), bytes(data))
        if kind == "csv":
            make = lambda: mx.io.CSVIter(data_csv=path, data_shape=(3,), batch_size=7)
        elif kind == "libsvm":
            make = lambda: mx.io.LibSVMIter(data_libsvm=path, data_shape=(9,), batch_size=7,
                                            _chunk_bytes=64)
        else:
            lab = write(tmp_path / "lab", idx_bytes(np.arange(30) % 10))
            make = lambda: mx.io.MNISTIter(image=path, label=lab, batch_size=7, silent=True)
        outcomes.add(_drain(make))
    assert "rejected" in outcomes  # the corruption was noticed at least sometimes


def test_mnist_header_whose_size_overflows_64_bits(tmp_path):
    # 2^30 x 2^30 x 16 bytes = 2^64: a 64-bit product wraps to 0 (found by the corruption test
    # under ASan, where it aborted on a huge allocation)
    forged = struct.pack(">IIII", 0x803, 1 << 30, 1 << 30, 16)
    img = write(tmp_path / "forged", forged)
    lab = write(tmp_path / "lab", idx_bytes(np.arange(4) % 10))
    for image_file in (img, write(tmp_path / "forged.gz", gzip.compress(forged))):
        with pytest.raises(MXNetError,
                           match="is truncated: its header announces 18446744073709551615"):
            mx.io.MNISTIter(image=image_file, label=lab, batch_size=2, silent=True)
