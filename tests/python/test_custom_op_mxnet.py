"""Python custom operators (mx.operator) against MXNet 1.9.1: the same operator classes,
defined once per library, give the same names, shapes, outputs and gradients in symbolic graphs
(every grad_req) and imperatively."""
import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt


def define(mx):
    """The test operators, written against one library's API (as a user writes them)."""

    class Scale(mx.operator.CustomOp):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0] * self.factor + in_data[1])

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            self.assign(in_grad[0], req[0], out_grad[0] * self.factor)
            self.assign(in_grad[1], req[1], out_grad[0])

    @mx.operator.register("scale_add")
    class ScaleProp(mx.operator.CustomOpProp):
        def __init__(self, factor="1.0"):
            super().__init__(need_top_grad=True)
            self.factor = float(factor)

        def list_arguments(self):
            return ["data", "bias"]

        def create_operator(self, ctx, shapes, dtypes):
            return Scale(self.factor)

    class WeightedCE(mx.operator.CustomOp):
        def __init__(self, pos_weight):
            super().__init__()
            self.pos_weight = pos_weight

        def forward(self, is_train, req, in_data, out_data, aux):
            pred = mx.nd.SoftmaxOutput(in_data[0], in_data[1])
            self.assign(out_data[0], req[0], pred)

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            pred, label = out_data[0], in_data[1]
            dx = pred - mx.nd.one_hot(label, 2)
            scale = ((1 + label * self.pos_weight) / self.pos_weight).reshape((pred.shape[0], 1))
            self.assign(in_grad[0], req[0], scale * dx)

    @mx.operator.register("weighted_ce")
    class WeightedCEProp(mx.operator.CustomOpProp):
        def __init__(self, pos_weight):
            super().__init__(need_top_grad=False)
            self.pos_weight = float(pos_weight)

        def list_arguments(self):
            return ["data", "label"]

        def list_outputs(self):
            return ["output"]

        def infer_shape(self, in_shape):
            return [in_shape[0], (in_shape[0][0],)], [in_shape[0]], []

        def create_operator(self, ctx, shapes, dtypes):
            return WeightedCE(self.pos_weight)

    class Counter(mx.operator.CustomOp):
        """Two outputs and an auxiliary state updated in training forwards."""

        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0] * 2)
            self.assign(out_data[1], req[1], in_data[0] + aux[0])
            if is_train:
                aux[0][:] += 1

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            self.assign(in_grad[0], req[0], out_grad[0] * 2 + out_grad[1])

    @mx.operator.register("counter")
    class CounterProp(mx.operator.CustomOpProp):
        def list_outputs(self):
            return ["double", "shifted"]

        def list_auxiliary_states(self):
            return ["count"]

        def infer_shape(self, in_shape):
            return in_shape, [in_shape[0], in_shape[0]], [in_shape[0]]

        def create_operator(self, ctx, shapes, dtypes):
            return Counter()


define(mxnet)
define(mxopt)

RNG = np.random.default_rng(5)
X = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal((4, 3)).astype(np.float32)
G = RNG.standard_normal((4, 3)).astype(np.float32)


def _run(mx, build, args, grad_req, out_grads=None, aux=None, steps=1):
    sym = build(mx)
    shapes = {k: v.shape for k, v in args.items()}
    ex = sym.simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
    for k, v in args.items():
        ex.arg_dict[k][:] = v
    for k, v in (aux or {}).items():
        ex.aux_dict[k][:] = v
    for name, g in ex.grad_dict.items():
        if g is not None:  # None for grad_req 'null', in both libraries
            g[:] = 0.5  # visible under grad_req 'add'
    outs = None
    for _ in range(steps):
        outs = [o.asnumpy() for o in ex.forward(is_train=True)]
        ex.backward([mx.nd.array(g) for g in out_grads] if out_grads else None)
    return (sym.list_arguments(), sym.list_outputs(), sym.list_auxiliary_states(), outs,
            {k: v.asnumpy() for k, v in ex.grad_dict.items() if v is not None},
            {k: v.asnumpy() for k, v in ex.aux_dict.items()})


def _scale(mx):
    return mx.sym.Custom(mx.sym.var("x"), mx.sym.var("b"), op_type="scale_add", factor=2.5,
                         name="sc")


@pytest.mark.parametrize("grad_req", ["write", "add", {"x": "write", "b": "null"}])
def test_symbolic_custom_op_matches_mxnet(grad_req):
    a = _run(mxnet, _scale, {"x": X, "b": B}, grad_req, out_grads=[G], steps=2)
    b = _run(mxopt, _scale, {"x": X, "b": B}, grad_req, out_grads=[G], steps=2)
    assert a[:3] == b[:3]
    for u, v in zip(a[3], b[3]):
        np.testing.assert_array_equal(u, v)
    assert a[4].keys() == b[4].keys()
    for k in a[4]:
        np.testing.assert_array_equal(a[4][k], b[4][k])


def test_loss_custom_op_needs_no_head_gradient_and_matches_mxnet():
    def build(mx):
        return mx.sym.MakeLoss(mx.sym.Custom(mx.sym.var("data"), mx.sym.var("softmax_label"),
                                             op_type="weighted_ce", pos_weight=2, name="out"))
    label = np.array([0, 1, 1, 0], dtype=np.float32)
    data = RNG.standard_normal((4, 2)).astype(np.float32)
    req = {"data": "write", "softmax_label": "null"}
    a = _run(mxnet, build, {"data": data, "softmax_label": label}, req)
    b = _run(mxopt, build, {"data": data, "softmax_label": label}, req)
    assert a[:3] == b[:3]
    np.testing.assert_allclose(b[3][0], a[3][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b[4]["data"], a[4]["data"], rtol=1e-6, atol=1e-7)
    # need_top_grad=False alone: backward() without head gradients works in both
    def bare(mx):
        return mx.sym.Custom(mx.sym.var("data"), mx.sym.var("softmax_label"),
                             op_type="weighted_ce", pos_weight=2, name="out")
    a = _run(mxnet, bare, {"data": data, "softmax_label": label}, req)
    b = _run(mxopt, bare, {"data": data, "softmax_label": label}, req)
    np.testing.assert_allclose(b[4]["data"], a[4]["data"], rtol=1e-6, atol=1e-7)


def test_outputs_and_auxiliary_states():
    """Two outputs and an auxiliary state. MXNet 1.9.1 itself usually cannot bind a custom
    operator with auxiliary states (simple_bind fails in its storage-type inference: "Storage
    type inconsistent, Provided = default, inferred storage type = unknown"; not in every
    process), so the reference here is the operator's own arithmetic."""
    def build(mx):
        return mx.sym.Custom(mx.sym.var("x"), op_type="counter", name="cnt")
    b = _run(mxopt, build, {"x": X}, "write", out_grads=[G, G * 3], aux={"cnt_count": B}, steps=3)
    assert b[:3] == (["x"], ["cnt_double", "cnt_shifted"], ["cnt_count"])
    np.testing.assert_array_equal(b[3][0], X * 2)
    one = np.float32(1)
    np.testing.assert_array_equal(b[3][1], X + ((B + one) + one))  # the third forward's count
    np.testing.assert_array_equal(b[4]["x"], G * 2 + G * 3)
    np.testing.assert_array_equal(b[5]["cnt_count"], ((B + one) + one) + one)


def test_imperative_custom_and_json_round_trip():
    for mx in (mxnet, mxopt):
        out = mx.nd.Custom(mx.nd.array(X), mx.nd.array(B), op_type="scale_add", factor=2.5)
        np.testing.assert_array_equal(out.asnumpy(), X * np.float32(2.5) + B)
    ja, jb = _scale(mxnet).tojson(), _scale(mxopt).tojson()
    assert ja == jb
    assert mxopt.sym.load_json(ja).tojson() == ja


def test_unknown_op_type_and_bad_operator_are_clear_errors():
    with pytest.raises(mxopt.base.MXNetError, match="no_such_op"):
        mxopt.sym.Custom(mxopt.sym.var("x"), op_type="no_such_op")

    class NotAnOp:
        pass

    @mxopt.operator.register("returns_junk")
    class JunkProp(mxopt.operator.CustomOpProp):
        def create_operator(self, ctx, shapes, dtypes):
            return NotAnOp()
    sym = mxopt.sym.Custom(mxopt.sym.var("x"), op_type="returns_junk")
    with pytest.raises(mxopt.base.MXNetError, match="must return a CustomOp"):
        sym.simple_bind(mxopt.cpu(), x=(2, 2))
    with pytest.raises(TypeError, match="CustomOpProp"):
        mxopt.operator.register("bad")(NotAnOp)
