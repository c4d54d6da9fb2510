"""Differential tests of mx.io, mx.metric and mx.callback against MXNet 1.9.1."""
import logging

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt


# ---- NDArrayIter -------------------------------------------------------------------------------
def _epochs(it, n):
    out = []
    for _ in range(n):
        epoch = []
        for b in it:
            epoch.append(([d.asnumpy().tolist() for d in b.data],
                          [l.asnumpy().tolist() for l in b.label], b.pad))
        out.append(epoch)
        it.reset()
    return out


@pytest.mark.parametrize("handle, batch_size", [
    (h, b) for h in ("pad", "discard", "roll_over", "foo") for b in (4, 5, 10, 25)
    if (h, b) != ("roll_over", 25)])  # MXNet itself fails there (slice end 15 > 10 rows)
def test_ndarrayiter_batches_match(handle, batch_size):
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    label = np.arange(10)
    a = _epochs(mxnet.io.NDArrayIter(data, label, batch_size, last_batch_handle=handle), 3)
    b = _epochs(mxopt.io.NDArrayIter(data, label, batch_size, last_batch_handle=handle), 3)
    assert b == a


@pytest.mark.parametrize("handle", ["pad", "roll_over", "discard"])
def test_ndarrayiter_shuffle_compounds_like_mxnet(handle):
    data = np.arange(30, dtype=np.float64).reshape(15, 2)
    label = np.arange(15, dtype=np.int64)
    np.random.seed(11)
    a = _epochs(mxnet.io.NDArrayIter(data, label, 4, shuffle=True, last_batch_handle=handle), 4)
    np.random.seed(11)
    b = _epochs(mxopt.io.NDArrayIter(data, label, 4, shuffle=True, last_batch_handle=handle), 4)
    assert b == a


def test_ndarrayiter_dict_list_names_dtypes_and_provide():
    def cases():  # fresh inputs each time: MXNet converts dict values in place
        d = {"b_in": np.ones((6, 3)), "a_in": np.zeros((6, 2), dtype=np.int64)}
        lab = [np.arange(6), np.arange(6) * 2]
        return (dict(data=d, label=lab), dict(data=[np.ones((6, 2))], label=None),
                dict(data=np.ones((6, 2)), label=np.arange(6), data_name="x", label_name="y"))
    for kw_a, kw_b in zip(cases(), cases()):
        ia = mxnet.io.NDArrayIter(batch_size=4, **kw_a)
        ib = mxopt.io.NDArrayIter(batch_size=4, **kw_b)
        assert [repr(x) for x in ib.provide_data] == [repr(x) for x in ia.provide_data]
        assert [repr(x) for x in ib.provide_label] == [repr(x) for x in ia.provide_label]
        assert _epochs(ib, 1) == _epochs(ia, 1)
    nd_label = mxopt.nd.array([1, 2, 3], dtype="int32")
    it = mxopt.io.NDArrayIter(np.ones((3, 2)), nd_label, 2)
    assert it.provide_label[0].dtype == np.int32  # NDArrays keep their dtype


def test_ndarrayiter_exhausted_and_hard_reset():
    data = np.arange(10, dtype=np.float32).reshape(10, 1)
    for mx in (mxnet, mxopt):
        it = mx.io.NDArrayIter(data, None, 4, last_batch_handle="roll_over")
        assert len(list(it)) == 2
        assert list(it) == []
        it.hard_reset()
        assert [b.pad for b in it] == [0, 0]


@pytest.mark.parametrize("handle, batch_size", [
    ("pad", 4), ("pad", 10), ("pad", 25), ("discard", 3), ("roll_over", 4), ("roll_over", 7)])
def test_ndarrayiter_shuffled_batch_sizes_match(handle, batch_size):
    # padding from the (shuffled) start, tiling when the pad exceeds the data, roll-over caches
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    label = np.arange(10, dtype=np.float32)
    np.random.seed(3)
    a = _epochs(mxnet.io.NDArrayIter(data, label, batch_size, shuffle=True,
                                     last_batch_handle=handle), 3)
    np.random.seed(3)
    b = _epochs(mxopt.io.NDArrayIter(data, label, batch_size, shuffle=True,
                                     last_batch_handle=handle), 3)
    assert b == a


def test_ndarrayiter_shuffled_attributes_like_mxnet():
    # mxopt never copies the dataset per epoch (batches gather rows of the original arrays
    # through the composed permutation); MXNet's attributes must still read the same.
    def run(mx):
        np.random.seed(5)
        src = mx.nd.array(np.arange(26).reshape(13, 2), dtype="int32")
        lab = mx.nd.array(np.arange(13), dtype="int32")
        it = mx.io.NDArrayIter(src, lab, 4, shuffle=True, last_batch_handle="roll_over")
        src[:] = 0  # the first shuffle copied the inputs: this edit is not seen
        out = [it.provide_data[0].dtype, it.provide_label[0].dtype, _epochs(it, 2)]
        out += [[(k, v.asnumpy().tolist()) for k, v in it.data + it.label],
                [v.asnumpy().tolist() for v in it.data_list]]
        it.data = [("data", mx.nd.array(np.arange(26, dtype=np.float32).reshape(13, 2) * 10))]
        out += [_epochs(it, 2), [(k, v.asnumpy().tolist()) for k, v in it.data + it.label]]
        it.label = [("softmax_label", mx.nd.array(-np.arange(13, dtype=np.float32)))]
        it.hard_reset()
        out += [_epochs(it, 2), [b.pad for b in it]]
        it.data_list = ["anything"]  # a plain attribute in MXNet
        out.append(it.data_list)
        return out
    assert run(mxopt) == run(mxnet)


@pytest.mark.parametrize("handle", ["pad", "roll_over"])
def test_ndarrayiter_kept_shuffled_batches_are_never_overwritten(handle):
    # mxopt gathers shuffled batches into buffers it reuses once nobody references them: batches
    # (and views of them) kept across epochs must still hold their own rows, as in MXNet.
    data = np.arange(3 * 37 * 5, dtype=np.float32).reshape(37, 3, 5)
    label = np.arange(37, dtype=np.float32)

    def run(mx):
        np.random.seed(21)
        it = mx.io.NDArrayIter(data, label, 6, shuffle=True, last_batch_handle=handle)
        kept, views = [], []
        for epoch in range(3):
            for i, b in enumerate(it):
                if i % 2 == 0:
                    kept.append(b)
                else:  # only a slice of the batch survives the loop
                    views.append(b.data[0][1:3])
            it.reset()
        return ([[d.asnumpy().tolist() for d in b.data + b.label] for b in kept],
                [v.asnumpy().tolist() for v in views])
    assert run(mxopt) == run(mxnet)


def test_ndarrayiter_shuffle_reproducible_with_seed():
    x = np.random.RandomState(0).normal(size=(50, 3)).astype(np.float32)
    y = np.arange(50, dtype=np.float32)

    def run():
        np.random.seed(7)
        it = mxopt.io.NDArrayIter(x, y, 8, shuffle=True)
        return _epochs(it, 3)
    a, b = run(), run()
    assert a == b
    rows = [r for batch in a[1] for r in batch[1][0]]
    assert sorted(rows[:50]) == list(range(50))  # each epoch is a permutation (+ pad rows)
    assert a[0] != a[1]  # and the order changes between epochs
    for epoch in a:  # every data row still matches its label
        for data, label, _ in epoch:
            assert np.array_equal(np.asarray(data[0], np.float32), x[np.asarray(label[0], int)])


def test_datadesc_and_databatch():
    for mx in (mxnet, mxopt):
        desc = mx.io.DataDesc("data", (2, 3))
        assert desc == ("data", (2, 3))
        assert repr(desc) == "DataDesc[data,(2, 3),<class 'numpy.float32'>,NCHW]"
        assert mx.io.DataDesc.get_batch_axis("TNC") == 1 and mx.io.DataDesc.get_batch_axis(None) == 0
        batch = mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.ones((2,))])
        assert str(batch) == "DataBatch: data shapes: [(2, 3)] label shapes: [(2,)]"
        with pytest.raises(AssertionError):
            mx.io.DataBatch(mx.nd.ones((2, 3)))


# ---- metrics -------------------------------------------------------------------------------------
def _data(seed=0, n=12, k=4):
    rng = np.random.RandomState(seed)
    pred = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    label = rng.randint(0, k, size=n).astype(np.float32)
    return label, pred


METRICS = [("acc", {}), ("accuracy", {}), ("ce", {}), ("nll_loss", {}), ("mse", {}),
           ("rmse", {}), ("mae", {}), ("top_k_accuracy", {"top_k": 2}), ("top_k_acc", {"top_k": 3}),
           ("loss", {}), ("f1", {}), ("f1", {"average": "micro"})]


@pytest.mark.parametrize("name, kw", METRICS)
def test_metric_values_match(name, kw):
    binary = name == "f1"
    ma, mb = mxnet.metric.create(name, **kw), mxopt.metric.create(name, **kw)
    assert mb.name == ma.name
    for step in range(4):
        label, pred = _data(step, k=2 if binary else 4)
        if name in ("mse", "rmse", "mae"):
            pred = pred[:, 0]
        la, pa = [mxnet.nd.array(label)], [mxnet.nd.array(pred)]
        lb, pb = [mxopt.nd.array(label)], [mxopt.nd.array(pred)]
        ma.update(la, pa)
        mb.update(lb, pb)
        if step == 1:
            ma.reset_local()
            mb.reset_local()
        na, va = ma.get()
        nb, vb = mb.get()
        assert nb == na
        np.testing.assert_allclose(vb, va, rtol=1e-6)
        np.testing.assert_allclose(mb.get_global()[1], ma.get_global()[1], rtol=1e-6)
    assert mb.get_name_value()[0][0] == ma.get_name_value()[0][0]
    assert str(mxopt.metric.create(name, **kw)) == str(mxnet.metric.create(name, **kw))


def test_composite_custom_and_np_metrics():
    def feval(label, pred):
        return float(np.abs(label - pred.argmax(axis=1)).sum()), len(label)
    for make in (lambda mx: mx.metric.create(["acc", "ce", feval]),
                 lambda mx: mx.metric.create(lambda l, p: float(p.sum())),
                 lambda mx: mx.metric.np(feval),
                 lambda mx: mx.metric.CompositeEvalMetric(metrics=["mse", "mae"])):
        ma, mb = make(mxnet), make(mxopt)
        for step in range(3):
            label, pred = _data(step)
            ma.update_dict({"softmax_label": mxnet.nd.array(label)},
                           {"softmax_output": mxnet.nd.array(pred)})
            mb.update_dict({"softmax_label": mxopt.nd.array(label)},
                           {"softmax_output": mxopt.nd.array(pred)})
        (na, va), (nb, vb) = ma.get(), mb.get()
        assert nb == na
        np.testing.assert_allclose(vb, va, rtol=1e-6)
        assert [n for n, _ in mb.get_name_value()] == [n for n, _ in ma.get_name_value()]
        np.testing.assert_allclose([v for _, v in mb.get_name_value()],
                                   [v for _, v in ma.get_name_value()], rtol=1e-6)


def test_metric_errors_match():
    for mx in (mxnet, mxopt):
        with pytest.raises(AssertionError, match="nosuch is not registered"):
            mx.metric.create("nosuch")
        with pytest.raises(AssertionError, match="Please use Accuracy"):
            mx.metric.create("top_k_accuracy")
        with pytest.raises(ValueError, match="Shape of labels 2 does not match shape of predictions 1"):
            mx.metric.create("acc").update([mx.nd.ones((2,)), mx.nd.ones((2,))], [mx.nd.ones((2, 3))])
        with pytest.raises(ValueError, match="only supports binary"):
            mx.metric.create("f1").update([mx.nd.array([0, 1, 2])], [mx.nd.ones((3, 3))])


def test_empty_metric_is_nan():
    for mx in (mxnet, mxopt):
        name, value = mx.metric.create("acc").get()
        assert name == "accuracy" and np.isnan(value)


# ---- callbacks ---------------------------------------------------------------------------------
class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def capture():
    h = _Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(h)
    root.setLevel(logging.INFO)
    yield h
    root.removeHandler(h)
    root.setLevel(old)


def _drive(mx, cb_factory, metric_name, nbatches, epochs=2):
    cb = cb_factory(mx)
    m = mx.metric.create(metric_name) if metric_name else None
    for epoch in range(epochs):
        if m is not None:
            m.reset()
        for nbatch in range(nbatches):
            if m is not None:
                label, pred = _data(nbatch + 10 * epoch)
                m.update([mx.nd.array(label)], [mx.nd.array(pred)])
            cb(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=m, locals=None))


@pytest.mark.parametrize("factory, metric_name", [
    (lambda mx: mx.callback.Speedometer(16, frequent=3), "acc"),
    (lambda mx: mx.callback.Speedometer(16, frequent=2, auto_reset=False), "ce"),
    (lambda mx: mx.callback.Speedometer(16, frequent=4), None),
    (lambda mx: mx.callback.ProgressBar(total=7, length=20), None),
    (lambda mx: mx.callback.log_train_metric(3), "acc"),
    (lambda mx: mx.callback.log_train_metric(2, auto_reset=True), "mse"),
    (lambda mx: mx.callback.LogValidationMetricsCallback(), "acc"),
])
def test_callback_log_lines_match(capture, factory, metric_name):
    def strip_speed(lines):
        import re
        return [re.sub(r"Speed: [0-9.]+|Speed: inf", "Speed: S", l) for l in lines]
    _drive(mxnet, factory, metric_name, 7)
    theirs = strip_speed(capture.lines)
    capture.lines.clear()
    _drive(mxopt, factory, metric_name, 7)
    assert strip_speed(capture.lines) == theirs
    assert theirs  # the callbacks did log something


def test_do_checkpoint_files_load_in_mxnet(tmp_path, capture):
    sym = mxopt.sym.SoftmaxOutput(mxopt.sym.FullyConnected(mxopt.sym.var("data"), num_hidden=3,
                                                           name="fc"), name="softmax")
    arg = {"fc_weight": mxopt.nd.array(np.arange(12).reshape(3, 4)), "fc_bias": mxopt.nd.ones((3,))}
    cb = mxopt.callback.do_checkpoint(str(tmp_path / "ck"), period=2)
    for epoch in range(4):
        cb(epoch, sym, arg, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-0002.params", "ck-0004.params",
                                                          "ck-symbol.json"]
    s, a, x = mxnet.model.load_checkpoint(str(tmp_path / "ck"), 4)
    assert s.tojson() == sym.tojson()
    np.testing.assert_array_equal(a["fc_weight"].asnumpy(), arg["fc_weight"].asnumpy())
    assert x == {}
    assert 'Saved checkpoint to "%s"' % (tmp_path / "ck-0002.params") in capture.lines
