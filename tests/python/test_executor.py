"""The executor: gradients against finite differences, gradient accumulation (write / add /
values used twice), loss heads, Group heads, bind-time validation, imperative calls of the same
operators."""
import numpy as np
import pytest

import mxopt as mx


def mlp():
    data = mx.sym.var("data")
    h = mx.sym.FullyConnected(data, num_hidden=3, name="fc1")
    h = mx.sym.Activation(h, act_type="tanh", name="act")
    h = mx.sym.FullyConnected(h, num_hidden=2, name="fc2")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def bound(sym, **shapes):
    rng = np.random.default_rng(11)
    ex = sym.simple_bind(mx.cpu(), type_dict={k: np.float64 for k in shapes},
                         grad_req={n: "write" for n in sym.list_arguments()
                                   if n != "softmax_label"}, **shapes)
    for name, arr in ex.arg_dict.items():
        if name == "softmax_label":
            arr[:] = np.arange(arr.shape[0]) % 2
        else:
            arr[:] = rng.uniform(-1, 1, arr.shape)
    return ex


def test_mlp_gradients_match_finite_differences():
    ex = bound(mlp(), data=(4, 5), softmax_label=(4,))
    label = ex.arg_dict["softmax_label"].asnumpy().astype(int)

    def loss():  # the cross-entropy whose gradient SoftmaxOutput computes
        out = ex.forward(is_train=False)[0].asnumpy()
        return -np.log(out[np.arange(4), label]).sum()
    ex.forward(is_train=True)
    ex.backward()
    for name in ("fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "data"):
        analytic = ex.grad_dict[name].asnumpy().copy()
        arr = ex.arg_dict[name]._data
        for i in np.ndindex(arr.shape):
            keep = arr[i]
            arr[i] = keep + 1e-6
            lp = loss()
            arr[i] = keep - 1e-6
            lm = loss()
            arr[i] = keep
            assert abs(analytic[i] - (lp - lm) / 2e-6) < 1e-6, (name, i)


def test_value_used_twice_accumulates_and_add_req_keeps_adding():
    x = mx.sym.var("x")
    y = mx.sym.elemwise_add(mx.sym.Activation(x, act_type="relu"), x)  # x feeds two consumers
    ex = y.simple_bind(mx.cpu(), x=(2, 3), grad_req="add")
    ex.arg_dict["x"][:] = np.array([[-1, 2, 3], [4, -5, 6]], np.float32)
    ex.grad_dict["x"][:] = 10
    g = np.ones((2, 3), np.float32)
    for step in (1, 2):
        ex.forward(is_train=True)
        ex.backward(mx.nd.array(g))
        relu_grad = (ex.arg_dict["x"].asnumpy() > 0).astype(np.float32)
        np.testing.assert_array_equal(ex.grad_dict["x"].asnumpy(), 10 + step * (relu_grad + 1))


def test_non_loss_head_needs_out_grads_and_group_heads():
    x = mx.sym.var("x")
    fc = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    ex = fc.simple_bind(mx.cpu(), x=(3, 4))
    ex.forward(is_train=True)
    with pytest.raises(mx.base.MXNetError, match="head_gradient is required"):
        ex.backward()
    ex.backward(mx.nd.ones((3, 2)))
    np.testing.assert_allclose(ex.grad_dict["fc_bias"].asnumpy(), [3, 3])
    grp = mx.sym.Group([fc, mx.sym.SoftmaxOutput(fc, name="sm")])
    ex = grp.simple_bind(mx.cpu(), x=(3, 4), grad_req={"fc_weight": "write", "fc_bias": "write"})
    ex.forward(is_train=True)
    ex.backward([mx.nd.ones((3, 2)), None])  # the loss head needs none


def test_bind_rejects_bad_arrays_before_running():
    sym = mlp()
    with pytest.raises(mx.base.MXNetError, match="fc1"):
        sym.bind(mx.cpu(), args={"data": mx.nd.zeros((4, 5)), "fc1_weight": mx.nd.zeros((3, 4)),
                                 "fc1_bias": mx.nd.zeros(3), "fc2_weight": mx.nd.zeros((2, 3)),
                                 "fc2_bias": mx.nd.zeros(2), "softmax_label": mx.nd.zeros(4)})
    with pytest.raises(ValueError, match="missing"):
        sym.bind(mx.cpu(), args={"data": mx.nd.zeros((4, 5))})
    with pytest.raises(TypeError):
        mx.nd.FullyConnected(mx.nd.zeros((2, 3)), mx.nd.zeros((4, 3), dtype="float64"),
                             mx.nd.zeros(4), num_hidden=4)


def test_imperative_and_symbolic_calls_share_kernels():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    imp = mx.nd.FullyConnected(mx.nd.array(x), mx.nd.array(w), mx.nd.array(b), num_hidden=3)
    ex = mx.sym.FullyConnected(mx.sym.var("x"), num_hidden=3, name="fc").simple_bind(
        mx.cpu(), x=(5, 4))
    out = ex.forward(x=mx.nd.array(x), fc_weight=mx.nd.array(w), fc_bias=mx.nd.array(b))[0]
    np.testing.assert_array_equal(imp.asnumpy(), out.asnumpy())
    # parameters positionally after the inputs, as MXNet's generated functions take them
    soft = mx.nd.SoftmaxOutput(mx.nd.array(x), mx.nd.zeros(5), 1.0)
    np.testing.assert_allclose(soft.asnumpy().sum(axis=1), 1, rtol=1e-6)
    assert mx.nd.Dropout(mx.nd.array(x), p=0.5).asnumpy().tolist() == x.tolist()  # inference


def test_reshape_special_values_match_mxnet_rules():
    cases = [((2, 3, 4), (-1,), (24,)), ((2, 3, 4), (0, -1), (2, 12)),
             ((2, 3, 4), (-2,), (2, 3, 4)), ((2, 3, 4), (-3, 4), (6, 4)),
             ((2, 3, 4), (0, -4, 1, 3, -2), (2, 1, 3, 4)), ((2, 3, 4), (-4, 1, 2, -2), (1, 2, 3, 4)),
             ((2, 3, 4), (6, -1), (6, 4))]
    for dshape, spec, want in cases:
        s = mx.sym.Reshape(mx.sym.var("x"), shape=spec)
        assert s.infer_shape(x=dshape)[1] == [want], (dshape, spec)
    s = mx.sym.Reshape(mx.sym.var("x"), shape=(-1, 0), reverse=True)
    assert s.infer_shape(x=(10, 5, 4))[1] == [(50, 4)]
    with pytest.raises(mx.base.MXNetError, match="Target shape size is different"):
        mx.sym.Reshape(mx.sym.var("x"), shape=(5, 5)).infer_shape(x=(2, 3))
