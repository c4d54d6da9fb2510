"""Differential tests of mx.mod.Module against MXNet 1.9.1: training trajectories, outputs,
gradients, score/predict, checkpoints and the messages of the acceptance program."""
import logging
import re
import warnings

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

RTOL, ATOL = 1e-5, 1e-5


def softmax_net(mx):
    data = mx.symbol.Variable("data")
    label = mx.symbol.Variable("softmax_label")
    fc = mx.symbol.FullyConnected(data, name="fc", num_hidden=10)
    return mx.symbol.SoftmaxOutput(fc, label, name="softmax")


def mlp_net(mx):
    h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=32, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="relu1")
    h = mx.sym.FullyConnected(h, num_hidden=16, name="fc2")
    h = mx.sym.Activation(h, act_type="relu", name="relu2")
    h = mx.sym.FullyConnected(h, num_hidden=10, name="fc3")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def linreg_net(mx):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=1, name="fc")
    return mx.sym.LinearRegressionOutput(fc, name="lro")


def classification_data(n=1000, d=20, k=10, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(k, d))
    y = rng.randint(0, k, size=n)
    x = centres[y] + rng.normal(scale=0.8, size=(n, d))
    return x.astype(np.float32), y.astype(np.float32)


def regression_data(n=600, d=8, seed=1):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=(d,)).astype(np.float32)
    y = (x @ w + 0.1 * rng.normal(size=n)).astype(np.float32)
    return x, y


def initial_params(build, data_shape, label_name="softmax_label", label_shape=None, seed=3):
    """Deterministic initial parameters for the network (numpy, per name)."""
    sym = build(mxnet)
    shapes = {"data": data_shape}
    if label_shape is not None:
        shapes[label_name] = label_shape
    arg_shapes, _, _ = sym.infer_shape(**shapes)
    rng = np.random.RandomState(seed)
    return {n: rng.uniform(-0.5, 0.5, size=s).astype(np.float32)
            for n, s in zip(sym.list_arguments(), arg_shapes) if n not in ("data", label_name)}


def train(mx, build, x, y, batch, optimizer, opt_params, epochs, init, label_name="softmax_label",
          shuffle=True, eval_data=None, metric="acc", **fit_kw):
    np.random.seed(1234)
    it = mx.io.NDArrayIter(x, y, batch, shuffle=shuffle, label_name=label_name)
    mod = mx.mod.Module(build(mx), label_names=(label_name,))
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init.items()})
    mod.init_optimizer(optimizer=optimizer, optimizer_params=opt_params(mx))
    ev = None
    if eval_data is not None:
        ev = mx.io.NDArrayIter(eval_data[0], eval_data[1], batch, label_name=label_name)
    with warnings.catch_warnings():  # "Parameters already initialized": expected, as in MXNet
        warnings.simplefilter("ignore", UserWarning)
        mod.fit(it, num_epoch=epochs, eval_data=ev, eval_metric=metric, **fit_kw)
    return mod, {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


def assert_params_close(a, b, rtol=RTOL, atol=ATOL):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=rtol, atol=atol, err_msg=k)


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


# ---- the acceptance program -------------------------------------------------------------------
def acceptance(mx, x, y, epochs, seed=7, speedometer=True):
    """The issue's program, verbatim apart from the data iterator and the seeds."""
    np.random.seed(seed)
    train_iter = mx.io.NDArrayIter(x, y, 128, shuffle=True)
    data = mx.symbol.Variable('data')
    label = mx.symbol.Variable('softmax_label')
    fc = mx.symbol.FullyConnected(data, name='fc', num_hidden=10)
    loss = mx.symbol.SoftmaxOutput(fc, label, name='softmax')
    mod = mx.mod.Module(loss)
    mod.bind(data_shapes=[('data', (128, 20))], label_shapes=[('softmax_label', (128,))])
    mx.random.seed(seed)
    mod.init_params(mx.initializer.Uniform(scale=1.0))
    lr_sch = mx.lr_scheduler.FactorScheduler(step=100, factor=0.9)
    mod.init_optimizer(optimizer='sgd', optimizer_params=(('learning_rate', 0.1), ('lr_scheduler', lr_sch)))
    cbs = [mx.callback.Speedometer(128, 3)] if speedometer else None
    mod.fit(train_iter, num_epoch=epochs, batch_end_callback=cbs)
    return mod


def test_acceptance_program_matches_mxnet(capture, capsys):
    x, y = classification_data(1500)
    with warnings.catch_warnings(record=True) as wa:
        warnings.simplefilter("always")
        ma = acceptance(mxnet, x, y, epochs=10)
    out_a = capsys.readouterr().out
    lines_a = list(capture.lines)
    capture.lines.clear()
    with warnings.catch_warnings(record=True) as wb:
        warnings.simplefilter("always")
        mb = acceptance(mxopt, x, y, epochs=10)
    out_b = capsys.readouterr().out
    lines_b = list(capture.lines)
    # identical initial weights (MXNet's Uniform stream) and identical training trajectory
    pa = {k: v.asnumpy() for k, v in ma.get_params()[0].items()}
    pb = {k: v.asnumpy() for k, v in mb.get_params()[0].items()}
    assert_params_close(pa, pb)
    assert list(mb.get_params()[0]) == ["fc_weight", "fc_bias"] and mb.get_params()[1] == {}
    assert mb._optimizer.num_update == ma._optimizer.num_update == 120
    assert mb._optimizer.lr_scheduler(120) == ma._optimizer.lr_scheduler(120)
    # the same messages: stdout, warnings, log lines (speed and time values aside)
    assert out_b == out_a
    assert [str(w.message) for w in wb if w.category is UserWarning] == \
        [str(w.message) for w in wa if w.category is UserWarning]

    def normal(lines):
        lines = [re.sub(r"Speed: [0-9.]+|Speed: inf", "Speed: S", l) for l in lines]
        lines = [re.sub(r"Time cost=[0-9.]+", "Time cost=T", l) for l in lines]
        return [re.sub(r"=(\d+\.\d+)", lambda m: "=%.4f" % float(m.group(1)), l) for l in lines]
    assert normal(lines_b) == normal(lines_a)
    assert sum("Train-accuracy" in l for l in lines_b) == 10
    final_acc = float(lines_b[[i for i, l in enumerate(lines_b) if "Train-accuracy" in l][-1]]
                      .split("=")[1])
    assert final_acc > 0.5  # learnable data: far above the 10% of chance


# ---- training trajectories ---------------------------------------------------------------------
def test_mlp_relu_adam_matches_mxnet():
    x, y = classification_data(700)
    init = initial_params(mlp_net, (64, 20))
    params = lambda mx: {"learning_rate": 0.01, "wd": 1e-4}
    _, a = train(mxnet, mlp_net, x, y, 64, "adam", params, 3, init)
    _, b = train(mxopt, mlp_net, x, y, 64, "adam", params, 3, init)
    assert_params_close(a, b, rtol=2e-4, atol=2e-5)


def test_linear_regression_sgd_momentum_matches_mxnet():
    x, y = regression_data()
    init = initial_params(linreg_net, (50, 8), "lro_label", (50,))
    params = lambda mx: (("learning_rate", 0.05), ("momentum", 0.9))
    _, a = train(mxnet, linreg_net, x, y, 50, "sgd", params, 4, init, label_name="lro_label",
                 metric="mse")
    _, b = train(mxopt, linreg_net, x, y, 50, "sgd", params, 4, init, label_name="lro_label",
                 metric="mse")
    assert_params_close(a, b)


def test_eval_data_checkpoint_callbacks_and_scores(tmp_path, capture):
    x, y = classification_data(1300)
    init = initial_params(softmax_net, (128, 20))
    logs = []
    for mx in (mxnet, mxopt):
        capture.lines.clear()
        prefix = str(tmp_path / mx.__name__)
        mod, p = train(mx, softmax_net, x[:1000], y[:1000], 128, "sgd",
                       lambda m: (("learning_rate", 0.1),), 5, init, eval_data=(x[1000:], y[1000:]),
                       epoch_end_callback=mx.callback.do_checkpoint(prefix, 2),
                       eval_end_callback=mx.callback.LogValidationMetricsCallback())
        logs.append([re.sub(r"Time cost=[0-9.]+", "T", l.replace(mx.__name__, "X"))
                     for l in capture.lines])
    assert logs[1] == logs[0]
    for epoch in (2, 4):
        a = mxnet.nd.load(str(tmp_path / ("mxnet-%04d.params" % epoch)))
        b = mxopt.nd.load(str(tmp_path / ("mxopt-%04d.params" % epoch)))
        assert list(a) == list(b) == ["arg:fc_weight", "arg:fc_bias"]
        for k in a:
            np.testing.assert_allclose(b[k].asnumpy(), a[k].asnumpy(), rtol=RTOL, atol=ATOL)
    assert open(tmp_path / "mxopt-symbol.json").read() == open(tmp_path / "mxnet-symbol.json").read()


# ---- forward / backward / score / predict ----------------------------------------------------
def bound_pair(build, batch, inputs_need_grad=False, label_shape=None, for_training=True):
    init = initial_params(build, (batch, 20))
    mods = []
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(build(mx))
        mod.bind([("data", (batch, 20))], [("softmax_label", label_shape or (batch,))],
                 for_training=for_training, inputs_need_grad=inputs_need_grad)
        mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init.items()})
        mods.append(mod)
    return mods


def test_forward_outputs_and_input_gradients_match():
    x, y = classification_data(32)
    ma, mb = bound_pair(mlp_net, 32, inputs_need_grad=True)
    for mod, mx in ((ma, mxnet), (mb, mxopt)):
        mod.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)]), is_train=True)
        mod.backward()
    np.testing.assert_allclose(mb.get_outputs()[0].asnumpy(), ma.get_outputs()[0].asnumpy(),
                               rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(mb.get_input_grads()[0].asnumpy(), ma.get_input_grads()[0].asnumpy(),
                               rtol=1e-4, atol=1e-6)
    assert mb.output_shapes == ma.output_shapes
    assert [repr(d) for d in mb.data_shapes] == [repr(d) for d in ma.data_shapes]
    assert [repr(d) for d in mb.label_shapes] == [repr(d) for d in ma.label_shapes]


def test_forward_with_smaller_batch_reshapes_like_mxnet():
    x, y = classification_data(40)
    ma, mb = bound_pair(softmax_net, 32)
    for mod, mx in ((ma, mxnet), (mb, mxopt)):
        mod.forward(mx.io.DataBatch([mx.nd.array(x[:7])], [mx.nd.array(y[:7])]), is_train=False)
    np.testing.assert_allclose(mb.get_outputs()[0].asnumpy(), ma.get_outputs()[0].asnumpy(),
                               rtol=RTOL, atol=1e-6)
    assert mb.get_outputs()[0].shape == (7, 10)
    assert mb.data_shapes[0].shape == ma.data_shapes[0].shape == (7, 20)


@pytest.mark.parametrize("metric", ["acc", "ce", ["acc", "ce"], "top_k_accuracy"])
def test_score_counts_padded_rows_like_mxnet(metric):
    x, y = classification_data(300)
    ma, mb = bound_pair(softmax_net, 128)
    kw = {"top_k": 3} if metric == "top_k_accuracy" else {}
    ra = ma.score(mxnet.io.NDArrayIter(x, y, 128), mxnet.metric.create(metric, **kw))
    rb = mb.score(mxopt.io.NDArrayIter(x, y, 128), mxopt.metric.create(metric, **kw))
    assert [n for n, _ in rb] == [n for n, _ in ra]
    np.testing.assert_allclose([v for _, v in rb], [v for _, v in ra], rtol=1e-5)


def test_predict_variants_match():
    x, y = classification_data(300)
    ma, mb = bound_pair(softmax_net, 128)
    ia, ib = mxnet.io.NDArrayIter(x, y, 128), mxopt.io.NDArrayIter(x, y, 128)
    pa, pb = ma.predict(ia), mb.predict(ib)
    assert pb.shape == pa.shape == (300, 10)
    np.testing.assert_allclose(pb.asnumpy(), pa.asnumpy(), rtol=RTOL, atol=1e-6)
    la = ma.predict(ia, merge_batches=False)
    lb = mb.predict(ib, merge_batches=False)
    assert [len(b) for b in lb] == [len(b) for b in la]
    assert [b[0].shape for b in lb] == [b[0].shape for b in la]
    assert isinstance(mb.predict(ib, always_output_list=True), list)
    assert mb.predict(ib, num_batch=0) == ma.predict(ia, num_batch=0) == []
    nb = mb.predict(x[:128])  # numpy input: one forward
    na = ma.predict(mxnet.nd.array(x[:128]))
    np.testing.assert_allclose(nb.asnumpy(), na.asnumpy(), rtol=RTOL, atol=1e-6)
    outs_a = [(o[0].shape, n) for o, n, _ in ma.iter_predict(ia)]
    outs_b = [(o[0].shape, n) for o, n, _ in mb.iter_predict(ib)]
    assert outs_b == outs_a


# ---- checkpoints both ways ---------------------------------------------------------------------
def test_checkpoints_interchange(tmp_path):
    x, y = classification_data(256)
    init = initial_params(mlp_net, (64, 20))
    params = lambda mx: (("learning_rate", 0.05), ("momentum", 0.9))
    ma, _ = train(mxnet, mlp_net, x, y, 64, "sgd", params, 1, init)
    mb, _ = train(mxopt, mlp_net, x, y, 64, "sgd", params, 1, init)
    ma.save_checkpoint(str(tmp_path / "a"), 3)
    mb.save_checkpoint(str(tmp_path / "b"), 3, save_optimizer_states=True)
    assert open(tmp_path / "a-symbol.json").read() == open(tmp_path / "b-symbol.json").read()
    for mx, prefix, ref in ((mxopt, "a", ma), (mxnet, "b", mb)):
        loaded = mx.mod.Module.load(str(tmp_path / prefix), 3)
        loaded.bind([("data", (64, 20))], [("softmax_label", (64,))], for_training=False)
        out = loaded.predict(mx.nd.array(x[:64])).asnumpy()
        exp = ref.predict(x[:64] if ref is mb else mxnet.nd.array(x[:64])).asnumpy()
        np.testing.assert_allclose(out, exp, rtol=1e-4, atol=1e-5)
        got = {k: v.asnumpy() for k, v in loaded.get_params()[0].items()}
        want = {k: v.asnumpy() for k, v in ref.get_params()[0].items()}
        assert_params_close(want, got, rtol=0, atol=0)
    # optimizer states round trip (mxopt -> mxopt) keeps training identical
    resumed = mxopt.mod.Module.load(str(tmp_path / "b"), 3, load_optimizer_states=True)
    resumed.bind([("data", (64, 20))], [("softmax_label", (64,))])
    resumed.init_optimizer(optimizer="sgd", optimizer_params=params(mxopt))
    batch = mxopt.io.DataBatch([mxopt.nd.array(x[:64])], [mxopt.nd.array(y[:64])])
    for mod in (mb, resumed):
        mod.forward_backward(batch)
        mod.update()
    assert_params_close({k: v.asnumpy() for k, v in mb.get_params()[0].items()},
                        {k: v.asnumpy() for k, v in resumed.get_params()[0].items()}, rtol=0, atol=0)


# ---- messages and call-order errors --------------------------------------------------------------
def _outcome(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            result = "ok"
        except Exception as e:  # noqa: BLE001 - we compare exception kinds
            result = type(e).__name__
    return result, [str(x.message) for x in w if x.category is UserWarning]


@pytest.mark.parametrize("case", [
    "forward_before_bind", "init_params_before_bind", "init_optimizer_before_init_params",
    "update_before_init_optimizer", "backward_inference_module", "input_grads_not_requested",
    "bind_twice", "init_params_twice", "init_optimizer_twice", "wrong_data_name",
    "missing_label_name", "missing_param", "missing_param_allowed", "bad_data_names",
    "manual_optimizer_rescale", "unknown_optimizer", "get_params_before_init",
    "inputs_need_grad_inference",
])
def test_call_order_and_argument_errors_match_mxnet(case, capture):
    def scenario(mx):
        x = np.ones((8, 20), np.float32)
        batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros((8,))])
        sym = softmax_net(mx)
        mod = mx.mod.Module(sym)
        shapes = ([("data", (8, 20))], [("softmax_label", (8,))])
        if case == "forward_before_bind":
            return lambda: mod.forward(batch)
        if case == "init_params_before_bind":
            return lambda: mod.init_params()
        if case == "get_params_before_init":
            return lambda: mod.get_params()
        if case == "bad_data_names":
            return lambda: mx.mod.Module(sym, data_names=["x"])
        if case == "missing_label_name":
            return lambda: mx.mod.Module(sym, label_names=["nolabel"])
        if case == "wrong_data_name":
            return lambda: mod.bind([("x", (8, 20))], shapes[1])
        if case == "inputs_need_grad_inference":
            return lambda: mod.bind(*shapes, for_training=False, inputs_need_grad=True)
        mod.bind(*shapes, for_training=case != "backward_inference_module")
        if case == "bind_twice":
            return lambda: mod.bind(*shapes)
        if case == "init_optimizer_before_init_params":
            return lambda: mod.init_optimizer()
        if case == "missing_param":
            return lambda: mod.init_params(arg_params={"fc_weight": mx.nd.zeros((10, 20))})
        if case == "missing_param_allowed":
            return lambda: mod.init_params(arg_params={"fc_weight": mx.nd.zeros((10, 20))},
                                           allow_missing=True)
        mod.init_params()
        if case == "init_params_twice":
            return lambda: mod.init_params()
        if case == "backward_inference_module":
            def run():
                mod.forward(batch)
                mod.backward()
            return run
        if case == "input_grads_not_requested":
            return lambda: mod.get_input_grads()
        if case == "update_before_init_optimizer":
            return lambda: mod.update()
        if case == "manual_optimizer_rescale":
            return lambda: mod.init_optimizer(optimizer=mx.optimizer.SGD(learning_rate=0.1))
        if case == "unknown_optimizer":
            return lambda: mod.init_optimizer(optimizer="nosuchopt")
        mod.init_optimizer()
        if case == "init_optimizer_twice":
            return lambda: mod.init_optimizer()
        raise AssertionError(case)

    capture.lines.clear()
    ra = _outcome(scenario(mxnet))
    la = list(capture.lines)
    capture.lines.clear()
    rb = _outcome(scenario(mxopt))
    assert rb == ra
    assert capture.lines == la


@pytest.mark.parametrize("init", ["uniform", "xavier", "normal", "mixed"])
def test_init_params_draws_like_mxnet_bit_for_bit(init):
    """Sorted-name draw order + MXNet's random stream: identical initial weights."""
    def make(mx):
        if init == "uniform":
            return mx.init.Uniform(scale=1.0)
        if init == "xavier":
            return mx.init.Xavier(magnitude=2.24)
        if init == "normal":
            return mx.init.Normal(0.3)
        return mx.init.Mixed([".*bias", ".*"], [mx.init.Constant(0.1), mx.init.Uniform(0.5)])
    out = []
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(mlp_net(mx))
        mod.bind([("data", (8, 20))], [("softmax_label", (8,))])
        mx.random.seed(1234)
        mod.init_params(make(mx))
        out.append({k: v.asnumpy() for k, v in mod.get_params()[0].items()})
    assert list(out[1]) == list(out[0])
    for k in out[0]:
        np.testing.assert_array_equal(out[1][k], out[0][k], err_msg=k)
