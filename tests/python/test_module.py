"""mx.mod.Module unit tests (no MXNet): binding rules, parameters, gradients requests,
checkpoints, bad input and mxopt-specific errors."""
import logging

import numpy as np
import pytest

import mxopt as mx
from mxopt.base import MXNetError


def net(hidden=10, dropout=False):
    h = mx.sym.Variable("data")
    if dropout:
        h = mx.sym.Dropout(h, p=0.2, name="drop")
    fc = mx.sym.FullyConnected(h, name="fc", num_hidden=hidden)
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def data(n=64, d=20, k=10, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(k, d))
    y = rng.randint(0, k, size=n)
    return (centres[y] + rng.normal(scale=0.5, size=(n, d))).astype(np.float32), y.astype(np.float32)


def bound(batch=16, **kw):
    mod = mx.mod.Module(net(), **{k: v for k, v in kw.items() if k in ("fixed_param_names",)})
    mod.bind([("data", (batch, 20))], [("softmax_label", (batch,))],
             **{k: v for k, v in kw.items() if k not in ("fixed_param_names",)})
    mod.init_params(mx.init.Xavier())
    return mod


def batch_of(x, y):
    return mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)])


def test_gpu_and_bad_contexts_are_rejected():
    with pytest.raises(ValueError, match="mxopt runs on CPU"):
        mx.gpu()
    with pytest.raises(ValueError, match="non-empty list"):
        mx.mod.Module(net(), context=[])
    with pytest.raises(ValueError, match="mx.cpu"):
        mx.mod.Module(net(), context=["cpu"])
    with pytest.raises(AssertionError, match="work_load_list has 1 entries for 2 contexts"):
        mx.mod.Module(net(), context=[mx.cpu(0), mx.cpu(1)], work_load_list=[1])
    mod = mx.mod.Module(net(), context=mx.cpu())
    assert mod.binded is False and mod.params_initialized is False
    assert mod.optimizer_initialized is False and mod.for_training is False


def test_state_flags_and_properties():
    mod = bound()
    assert mod.binded and mod.params_initialized and mod.for_training
    assert mod.data_names == ["data"] and mod.label_names == ["softmax_label"]
    assert mod.output_names == ["softmax_output"]
    assert mod.output_shapes == [("softmax_output", (16, 10))]
    assert mod.data_shapes[0].shape == (16, 20)
    assert mod.symbol.tojson() == net().tojson()


@pytest.mark.parametrize("kvstore", [None, "local", "device"])
def test_single_machine_kvstores_are_accepted(kvstore):
    mod = bound()
    mod.init_optimizer(kvstore=kvstore)
    assert mod.optimizer_initialized


def test_distributed_kvstore_and_bad_types_are_rejected():
    mod = bound()
    with pytest.raises(MXNetError, match="KVStore type 'dist_sync' needs a distributed"):
        mod.init_optimizer(kvstore="dist_sync")
    with pytest.raises(TypeError, match="kvstore"):
        mod.init_optimizer(kvstore=3)
    with pytest.raises(TypeError, match="optimizer"):
        mod.init_optimizer(optimizer=42)
    assert not mod.optimizer_initialized


def test_bind_argument_errors():
    mod = mx.mod.Module(net())
    with pytest.raises(TypeError):
        mod.bind("data")
    with pytest.raises(TypeError, match="shape"):
        mod.bind([("data", "not a shape")])
    with pytest.raises(ValueError, match="don't match names specified by data_names"):
        mod.bind([("x", (4, 20))])
    with pytest.raises(ValueError, match="batch size"):
        mod.bind([("data", (4, 20))], [("softmax_label", (5,))])
    assert not mod.binded


def test_label_shapes_none_warns_and_infers():
    mod = mx.mod.Module(net())
    with pytest.warns(UserWarning, match="label_shapes don't match names specified by label_names"):
        mod.bind([("data", (4, 20))])
    assert mod.label_shapes is None
    mod.init_params()
    x, _ = data(4)
    assert mod.predict(x).shape == (4, 10)


def test_wrong_shaped_arg_params_fail_before_anything_changes():
    mod = bound()
    before = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
    with pytest.raises(ValueError, match=r"fc_weight.*\(10, 21\).*\(10, 20\)"):
        mod.set_params({"fc_bias": mx.nd.ones((10,)), "fc_weight": mx.nd.ones((10, 21))}, {})
    with pytest.raises(RuntimeError, match="fc_bias is not presented"):
        mod.set_params({"fc_weight": mx.nd.ones((10, 20))}, {})
    after = mod.get_params()[0]
    np.testing.assert_array_equal(after["fc_weight"].asnumpy(), before["fc_weight"])


def test_batch_with_incompatible_feature_shape_is_rejected():
    mod = bound()
    x = np.ones((16, 21), np.float32)
    with pytest.raises(MXNetError, match="fc_weight"):
        mod.forward(batch_of(x, np.zeros(16)))
    with pytest.raises(ValueError, match="softmax_label"):
        mod.forward(mx.io.DataBatch([mx.nd.ones((16, 20))], [mx.nd.ones((15,))]))


def test_set_params_allow_missing_keeps_other_values():
    mod = bound()
    w = mod.get_params()[0]["fc_weight"].asnumpy()
    mod.set_params({"fc_bias": mx.nd.full((10,), 3.0)}, {}, allow_missing=True)
    arg = mod.get_params()[0]
    np.testing.assert_array_equal(arg["fc_bias"].asnumpy(), np.full(10, 3.0))
    np.testing.assert_array_equal(arg["fc_weight"].asnumpy(), w)
    with pytest.warns(UserWarning, match="set_params call ignored"):
        mod.set_params({}, {}, allow_missing=True, force_init=False)


def test_numpy_arg_params_are_accepted_and_cast():
    mod = bound()
    mod.set_params({"fc_weight": np.ones((10, 20), np.float64), "fc_bias": np.zeros(10)}, {})
    w = mod.get_params()[0]["fc_weight"]
    assert w.dtype == np.float32 and float(w.asnumpy().sum()) == 200.0


def test_get_params_refreshes_the_same_objects_in_place():
    mod = bound()
    mod.init_optimizer(optimizer_params=(("learning_rate", 0.5),))
    arg, _ = mod.get_params()
    before = arg["fc_weight"].asnumpy()
    x, y = data(16)
    mod.forward_backward(batch_of(x, y))
    mod.update()
    arg2, _ = mod.get_params()
    assert arg2["fc_weight"] is arg["fc_weight"]
    assert not np.array_equal(arg["fc_weight"].asnumpy(), before)


def test_fixed_params_get_no_gradient_and_no_update():
    mod = bound(fixed_param_names=["fc_bias"])
    mod.init_optimizer(optimizer_params=(("learning_rate", 1.0),))
    bias = mod.get_params()[0]["fc_bias"].asnumpy()
    x, y = data(16)
    mod.forward_backward(batch_of(x, y))
    mod.update()
    np.testing.assert_array_equal(mod.get_params()[0]["fc_bias"].asnumpy(), bias)
    assert mod._optimizer.num_update == 1


def test_grad_req_add_accumulates_until_zeroed():
    mod = bound(grad_req="add")
    x, y = data(16)
    mod.forward_backward(batch_of(x, y))
    g1 = mod._exec.grad_dict["fc_weight"].asnumpy()
    mod.forward_backward(batch_of(x, y))
    np.testing.assert_allclose(mod._exec.grad_dict["fc_weight"].asnumpy(), 2 * g1, rtol=1e-6)


def test_input_grads_and_non_loss_heads_need_out_grads():
    mod = mx.mod.Module(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc"),
                        label_names=None)
    mod.bind([("data", (4, 5))], inputs_need_grad=True)
    mod.init_params()
    mod.forward(mx.io.DataBatch([mx.nd.ones((4, 5))], []), is_train=True)
    with pytest.raises(MXNetError, match="head_gradient is required"):
        mod.backward()
    mod.backward([mx.nd.ones((4, 3))])
    w = mod.get_params()[0]["fc_weight"].asnumpy()
    np.testing.assert_allclose(mod.get_input_grads()[0].asnumpy(), np.ones((4, 3)) @ w, rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        mod.backward([mx.nd.ones((4, 2))])


def test_shared_module_shares_parameters():
    a = bound(batch=16)
    a.init_optimizer()
    b = mx.mod.Module(net())
    b.bind([("data", (4, 20))], [("softmax_label", (4,))], shared_module=a)
    assert b.params_initialized and b.optimizer_initialized
    assert b._exec.arg_dict["fc_weight"]._data is a._exec.arg_dict["fc_weight"]._data


def test_dropout_network_trains_and_predicts_deterministically():
    x, y = data(256)
    mod = mx.mod.Module(net(dropout=True))
    it = mx.io.NDArrayIter(x, y, 32, shuffle=True)
    mod.fit(it, num_epoch=5, optimizer_params=(("learning_rate", 0.5),))
    p1 = mod.predict(mx.io.NDArrayIter(x, y, 32)).asnumpy()
    p2 = mod.predict(mx.io.NDArrayIter(x, y, 32)).asnumpy()
    np.testing.assert_array_equal(p1, p2)  # inference: dropout off
    assert (p1.argmax(1) == y).mean() > 0.5


def test_save_and_load_params_and_checkpoint(tmp_path):
    mod = bound()
    f = str(tmp_path / "p.params")
    mod.save_params(f)
    assert list(mx.nd.load(f)) == ["arg:fc_weight", "arg:fc_bias"]
    other = bound()
    other.load_params(f)
    np.testing.assert_array_equal(other.get_params()[0]["fc_weight"].asnumpy(),
                                  mod.get_params()[0]["fc_weight"].asnumpy())
    mx.nd.save(str(tmp_path / "bad.params"), {"foo:x": mx.nd.ones((1,))})
    with pytest.raises(ValueError, match="Invalid param file"):
        other.load_params(str(tmp_path / "bad.params"))
    mod.save_checkpoint(str(tmp_path / "ck"), 12345)
    loaded = mx.mod.Module.load(str(tmp_path / "ck"), 12345)
    assert loaded.params_initialized and not loaded.binded
    with pytest.warns(UserWarning, match="label_shapes don't match"):
        loaded.bind([("data", (3, 20))], for_training=False)
    x, _ = data(3)
    with pytest.warns(UserWarning, match="label_shapes"):  # 3 rows: reshaped without labels
        expected = mod.predict(x).asnumpy()
    np.testing.assert_allclose(loaded.predict(x).asnumpy(), expected, rtol=1e-6)


def test_optimizer_state_files_round_trip(tmp_path):
    # SGD momentum: the state is all there is (Adam would also need its update counts, which a
    # .states file without the optimizer does not hold, in MXNet either).
    opt = dict(optimizer="sgd", optimizer_params=(("learning_rate", 0.1), ("momentum", 0.9)))
    mod = bound()
    mod.init_optimizer(**opt)
    x, y = data(16)
    mod.forward_backward(batch_of(x, y))
    mod.update()
    mod.save_optimizer_states(str(tmp_path / "s.states"))
    other = bound()
    other.set_params(*mod.get_params())
    other.init_optimizer(**opt)
    other.load_optimizer_states(str(tmp_path / "s.states"))
    for m in (mod, other):
        m.forward_backward(batch_of(x, y))
        m.update()
    np.testing.assert_array_equal(other.get_params()[0]["fc_weight"].asnumpy(),
                                  mod.get_params()[0]["fc_weight"].asnumpy())


def test_predict_requires_data_iter_or_array():
    mod = bound()
    with pytest.raises(ValueError, match="eval_data must be of type NDArray or DataIter"):
        mod.predict([[1, 2]])


def test_fit_asserts_num_epoch_and_empty_iterator_stops():
    mod = mx.mod.Module(net())
    x, y = data(16)
    with pytest.raises(AssertionError, match="please specify number of epochs"):
        mod.fit(mx.io.NDArrayIter(x, y, 16))
    it = mx.io.NDArrayIter(x, y, 32, last_batch_handle="discard")
    with pytest.raises(StopIteration):
        mod.fit(it, num_epoch=1)


def test_monitor_logs_statistics(caplog):
    x, y = data(64)
    mod = mx.mod.Module(net())
    mon = mx.mon.Monitor(2, pattern=".*_output|fc_weight")
    with caplog.at_level(logging.INFO):
        mod.fit(mx.io.NDArrayIter(x, y, 16), num_epoch=1, monitor=mon)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Batch:")]
    assert any("fc_output" in l for l in lines) and any("fc_weight" in l for l in lines)
    assert len({l.split()[1] for l in lines}) == 2  # batches 1 and 3 of 4


def test_iter_predict_strips_padding():
    mod = bound()
    x, y = data(40)
    shapes = [o[0].shape for o, _, _ in mod.iter_predict(mx.io.NDArrayIter(x, y, 16))]
    assert shapes == [(16, 10), (16, 10), (8, 10)]


def test_float64_data_binds_a_float64_module():
    x, y = data(32)
    it = mx.io.NDArrayIter(mx.nd.array(x, dtype="float64"), mx.nd.array(y, dtype="float64"), 16)
    mod = mx.mod.Module(net())
    mod.fit(it, num_epoch=2, optimizer_params=(("learning_rate", 0.1),))
    assert mod.get_params()[0]["fc_weight"].dtype == np.float64


def test_dropout_masks_follow_mx_random_seed():
    def masks(seed):
        mx.random.seed(seed)
        ex = mx.sym.Dropout(mx.sym.var("x"), p=0.5).simple_bind(mx.cpu(), x=(50, 40))
        ex.arg_dict["x"][:] = 1.0
        return [ex.forward(is_train=True)[0].asnumpy() for _ in range(2)]
    a, c, b = masks(3), masks(4), masks(3)  # a new seed value restarts the executor streams
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], c[0])
    # Re-seeding with the SAME value also restarts them (reproducible runs in one process).
    d, e = masks(3), masks(3)
    np.testing.assert_array_equal(d[0], a[0])
    np.testing.assert_array_equal(e[1], a[1])


def test_weights_gradients_and_states_start_apart_modulo_4096():
    """Large parameters: the gradient starts 1024 bytes and each optimizer state 2048 bytes
    (modulo 4096, rounded down to 64) after the weight, so the update kernels never wait on
    4K aliasing between them (ndarray.zeros_apart); small ones are plain arrays."""
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=256, name="fc1")   # 784 x 256 weight
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")     # 256 x 10: small
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    mod = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
    mod.bind(data_shapes=[("data", (8, 784))], label_shapes=[("softmax_label", (8,))])
    mod.init_params()
    mod.init_optimizer(optimizer="adam")
    x = np.random.default_rng(0).standard_normal((8, 784)).astype(np.float32)
    batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(np.arange(8) % 10)])
    mod.forward_backward(batch)
    mod.update()

    def phase(a, b):
        return (a._data.ctypes.data - b._data.ctypes.data) % 4096
    w, g = mod._exec.arg_dict["fc1_weight"], mod._exec.grad_dict["fc1_weight"]
    assert 960 <= phase(g, w) <= 1024
    states = mod._updater.states
    idx = [i for i, n in mod._updater.optimizer.idx2name.items() if n == "fc1_weight"][0]
    for s in states[idx]:
        assert 1984 <= phase(s, w) <= 2048
    small = mod._exec.grad_dict["fc2_weight"]._data
    assert small.base is None
