"""Differential tests of every operator's forward and backward against MXNet 1.9.1 executors."""
import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

TOL = dict(rtol=2e-5, atol=2e-6)


def run(mx, build, values, grad_req="write", out_grads=None, is_train=True, dtype="float32"):
    """Bind build(mx) with the given argument values; return outputs and gradients (numpy)."""
    sym = build(mx)
    shapes = {k: v.shape for k, v in values.items()}
    ex = sym.simple_bind(mx.cpu(), grad_req=grad_req, type_dict={k: dtype for k in shapes}, **shapes)
    for k, v in values.items():
        ex.arg_dict[k][:] = v
    outs = [o.asnumpy() for o in ex.forward(is_train=is_train)]
    if is_train:
        ex.backward(None if out_grads is None else [mx.nd.array(g, dtype=dtype) for g in out_grads])
    grads = {k: g.asnumpy() for k, g in ex.grad_dict.items() if g is not None}
    return outs, grads


def compare(build, values, **kw):
    a_out, a_grad = run(mxnet, build, values, **kw)
    b_out, b_grad = run(mxopt, build, values, **kw)
    assert len(a_out) == len(b_out)
    for x, y in zip(a_out, b_out):
        np.testing.assert_allclose(y, x, **TOL)
    assert sorted(a_grad) == sorted(b_grad)
    for k in a_grad:
        np.testing.assert_allclose(b_grad[k], a_grad[k], err_msg=k, **TOL)
    return b_out, b_grad


def rand(*shape, seed=0, lo=-2.0, hi=2.0):
    return np.random.RandomState(seed).uniform(lo, hi, size=shape).astype(np.float32)


def labels(n, k, seed=1):
    return np.random.RandomState(seed).randint(0, k, size=n).astype(np.float32)


# ---- FullyConnected ----------------------------------------------------------------------------
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("no_bias", [False, True])
@pytest.mark.parametrize("dshape", [(5, 7), (4, 3, 6), (2, 3, 2, 4)])
def test_fully_connected(flatten, no_bias, dshape):
    def build(mx):
        fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=6, no_bias=no_bias,
                                   flatten=flatten, name="fc")
        return fc
    k = int(np.prod(dshape[1:])) if flatten else dshape[-1]
    values = {"data": rand(*dshape), "fc_weight": rand(6, k, seed=2)}
    if not no_bias:
        values["fc_bias"] = rand(6, seed=3)
    out_shape = (dshape[0], 6) if flatten else dshape[:-1] + (6,)
    compare(build, values, out_grads=[rand(*out_shape, seed=4)])


def test_fully_connected_large_parallel_tiles():
    # Big enough to use several GEMM tiles and OpenMP.
    def build(mx):
        return mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=300, name="fc")
    values = {"data": rand(130, 784), "fc_weight": rand(300, 784, seed=2, lo=-0.1, hi=0.1),
              "fc_bias": rand(300, seed=3)}
    a_out, a_grad = run(mxnet, build, values, out_grads=[rand(130, 300, seed=4)])
    b_out, b_grad = run(mxopt, build, values, out_grads=[rand(130, 300, seed=4)])
    np.testing.assert_allclose(b_out[0], a_out[0], rtol=1e-4, atol=1e-4)
    for k in a_grad:
        np.testing.assert_allclose(b_grad[k], a_grad[k], rtol=1e-4, atol=1e-3, err_msg=k)


# ---- Activation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softrelu", "softsign"])
def test_activation(act):
    x = rand(6, 9, lo=-25, hi=25)
    x[0, :4] = [0.0, 21.0, 19.5, -0.0]
    compare(lambda mx: mx.sym.Activation(mx.sym.var("x"), act_type=act, name="a"),
            {"x": x}, out_grads=[rand(6, 9, seed=5)])


# ---- Flatten / Dropout -------------------------------------------------------------------------
def test_flatten():
    compare(lambda mx: mx.sym.Flatten(mx.sym.var("x"), name="f"), {"x": rand(3, 4, 5)},
            out_grads=[rand(3, 20, seed=5)])


def test_dropout_inference_is_identity_and_training_scales_kept_values():
    x = rand(40, 50, lo=0.5, hi=2.0)
    sym = lambda mx: mx.sym.Dropout(mx.sym.var("x"), p=0.3, name="d")
    out, _ = run(mxopt, sym, {"x": x}, is_train=False)
    np.testing.assert_array_equal(out[0], x)
    ex = sym(mxopt).simple_bind(mxopt.cpu(), x=x.shape)
    ex.arg_dict["x"][:] = x
    y = ex.forward(is_train=True)[0].asnumpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / np.float32(0.7), rtol=1e-6)
    assert 0.6 < kept.mean() < 0.8
    g = rand(40, 50, seed=9)
    ex.backward([mxopt.nd.array(g)])
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), np.where(kept, g / np.float32(0.7), 0),
                               rtol=1e-6)


def test_dropout_mode_always_and_p_extremes():
    x = rand(10, 10, lo=1, hi=2)
    ex = mxopt.sym.Dropout(mxopt.sym.var("x"), p=0.5, mode="always").simple_bind(mxopt.cpu(), x=x.shape)
    ex.arg_dict["x"][:] = x
    assert (ex.forward(is_train=False)[0].asnumpy() == 0).any()
    for p, expect in ((0.0, x), (1.0, np.zeros_like(x))):
        ex = mxopt.sym.Dropout(mxopt.sym.var("x"), p=p).simple_bind(mxopt.cpu(), x=x.shape)
        ex.arg_dict["x"][:] = x
        np.testing.assert_array_equal(ex.forward(is_train=True)[0].asnumpy(), expect)


# ---- SoftmaxOutput -----------------------------------------------------------------------------
SOFTMAX_CASES = [
    dict(),
    dict(grad_scale=0.5),
    dict(normalization="batch"),
    dict(normalization="valid"),
    dict(normalization="valid", use_ignore=True, ignore_label=2),
    dict(use_ignore=True, ignore_label=1),
    dict(ignore_label=1, normalization="valid"),
    dict(smooth_alpha=0.1),
    dict(smooth_alpha=0.2, use_ignore=True, ignore_label=0),
    dict(normalization="batch", grad_scale=3.0),
]


@pytest.mark.parametrize("params", SOFTMAX_CASES)
def test_softmax_output_2d(params):
    compare(lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s", **params),
            {"x": rand(8, 5, lo=-4, hi=4), "s_label": labels(8, 5)})


def test_softmax_output_out_of_range_and_fractional_labels():
    lab = np.array([0.9, 4.2, -1, 7, 2.5, 3], np.float32)
    compare(lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s", normalization="valid"),
            {"x": rand(6, 5), "s_label": lab})


def test_softmax_output_probability_labels_ignore_normalization():
    p = np.random.RandomState(3).dirichlet(np.ones(4), size=6).astype(np.float32)
    compare(lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s", grad_scale=2.0,
                                            normalization="batch"),
            {"x": rand(6, 4), "s_label": p})


@pytest.mark.parametrize("params", [dict(), dict(normalization="batch"), dict(normalization="valid"),
                                    dict(use_ignore=True, ignore_label=1, normalization="valid"),
                                    dict(grad_scale=2.0)])
@pytest.mark.parametrize("lshape", [(3, 6), (3, 2, 3)])
def test_softmax_output_multi_output(params, lshape):
    compare(lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s", multi_output=True, **params),
            {"x": rand(3, 4, 2, 3), "s_label": labels(18, 4).reshape(lshape)})


def test_softmax_output_preserve_shape():
    compare(lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s", preserve_shape=True),
            {"x": rand(2, 3, 4), "s_label": labels(6, 4).reshape(2, 3)})


@pytest.mark.parametrize("params", [dict(), dict(normalization="batch"),
                                    dict(normalization="valid", ignore_label=1),
                                    dict(use_ignore=True, ignore_label=0)])
def test_softmax_output_nd_data_without_multi_output(params):
    # MXNet 1.9.1: softmax over size/N per sample; row r of the gradient uses label[r], while
    # 'batch'/'valid' normalization count the whole (inferred data.shape[:-1]) label.
    compare(lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s", **params),
            {"x": rand(2, 3, 4), "s_label": np.array([[0, 1, 2], [3, 0, 1]], np.float32)})


def test_softmax_output_ignores_head_gradient():
    values = {"x": rand(4, 3), "s_label": labels(4, 3)}
    build = lambda mx: mx.sym.SoftmaxOutput(mx.sym.var("x"), name="s")
    _, g1 = run(mxopt, build, values)
    _, g2 = run(mxopt, build, values, out_grads=[rand(4, 3, seed=7)])
    np.testing.assert_array_equal(g1["x"], g2["x"])


# ---- regression outputs ----------------------------------------------------------------------
@pytest.mark.parametrize("op", ["LinearRegressionOutput", "LogisticRegressionOutput",
                                "MAERegressionOutput"])
@pytest.mark.parametrize("dshape, lshape", [((5, 1), (5,)), ((5, 3), (5, 3)), ((5, 3), (5, 1, 3)),
                                            ((4, 2, 3), (4, 6))])
@pytest.mark.parametrize("grad_scale", [1.0, 0.25])
def test_regression_outputs(op, dshape, lshape, grad_scale):
    lab = rand(*lshape, seed=4, lo=0, hi=1)
    if op == "MAERegressionOutput":  # include exact ties: MXNet's gradient is -1 there
        lab.reshape(-1)[0] = 0.0
    x = rand(*dshape)
    if op == "MAERegressionOutput":
        x.reshape(-1)[0] = 0.0
    compare(lambda mx: getattr(mx.sym, op)(mx.sym.var("x"), name="r", grad_scale=grad_scale),
            {"x": x, "r_label": lab})


# ---- graphs: shared inputs, grad_req, float64 --------------------------------------------------
def test_shared_fc_feeding_two_losses_sums_gradients():
    def build(mx):
        f = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=1, name="shared")
        return mx.sym.Group([mx.sym.LinearRegressionOutput(f, name="lin"),
                             mx.sym.LogisticRegressionOutput(f, name="log")])
    compare(build, {"data": rand(6, 4), "shared_weight": rand(1, 4, seed=2),
                    "shared_bias": rand(1, seed=3), "lin_label": rand(6, seed=5),
                    "log_label": rand(6, seed=6, lo=0, hi=1)})


def test_non_loss_head_plus_loss_head():
    def build(mx):
        f = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
        return mx.sym.Group([f, mx.sym.SoftmaxOutput(f, name="sm")])
    compare(build, {"data": rand(4, 5), "fc_weight": rand(3, 5, seed=2), "fc_bias": rand(3, seed=3),
                    "sm_label": labels(4, 3)}, out_grads=[rand(4, 3, seed=8), rand(4, 3, seed=9)])


def test_grad_req_add_accumulates_like_mxnet():
    def build(mx):
        return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3,
                                                          name="fc"), name="sm")
    values = {"data": rand(4, 5), "fc_weight": rand(3, 5, seed=2), "fc_bias": rand(3, seed=3),
              "sm_label": labels(4, 3)}
    results = []
    for mx in (mxnet, mxopt):
        ex = build(mx).simple_bind(mx.cpu(), grad_req="add", **{k: v.shape for k, v in values.items()})
        for k, v in values.items():
            ex.arg_dict[k][:] = v
        for _ in range(3):
            ex.forward(is_train=True)
            ex.backward()
        results.append({k: g.asnumpy() for k, g in ex.grad_dict.items()})
    for k in ("fc_weight", "fc_bias", "data"):
        np.testing.assert_allclose(results[1][k], results[0][k], **TOL)


def test_mlp_float64():
    def build(mx):
        h = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=8, name="f1"),
                              act_type="tanh")
        return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=4, name="f2"), name="sm")
    values = {"data": rand(5, 6).astype(np.float64), "f1_weight": rand(8, 6, seed=2).astype(np.float64),
              "f1_bias": rand(8, seed=3).astype(np.float64), "f2_weight": rand(4, 8, seed=4).astype(np.float64),
              "f2_bias": rand(4, seed=5).astype(np.float64), "sm_label": labels(5, 4).astype(np.float64)}
    a_out, a_grad = run(mxnet, build, values, dtype="float64")
    b_out, b_grad = run(mxopt, build, values, dtype="float64")
    np.testing.assert_allclose(b_out[0], a_out[0], rtol=1e-12)
    for k in a_grad:
        np.testing.assert_allclose(b_grad[k], a_grad[k], rtol=1e-10, atol=1e-12, err_msg=k)
