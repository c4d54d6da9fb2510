"""Every registry operator through mxopt's front ends against MXNet 1.9.1: the symbol (names,
shapes, JSON), the executor's forward and backward (float32 and float64, random head
gradients), and the imperative mx.nd call. The kernels themselves are tested in
test_op_kernels_mxnet.py; this checks the wiring: parameters, shape inference, which inputs get
gradients and how they accumulate."""
import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

# (id, builder(mx) -> symbol, {input: shape}, {input: (low, high)} value ranges, exact?)
_VARS = {}


def V(mx, n):
    """The variable ``n`` of the symbol being built (one node per name, as a user writes it)."""
    key = (mx.__name__, n)
    if key not in _VARS:
        _VARS[key] = mx.sym.var(n)
    return _VARS[key]
CASES = [
    ("broadcast_add", lambda mx: mx.sym.broadcast_add(V(mx, "a"), V(mx, "b")), {"a": (2, 3), "b": (1, 3)}, {}, True),
    ("broadcast_sub", lambda mx: mx.sym.broadcast_sub(V(mx, "a"), V(mx, "b")), {"a": (2, 1, 4), "b": (3, 1)}, {}, True),
    ("broadcast_mul", lambda mx: mx.sym.broadcast_mul(V(mx, "a"), V(mx, "b")), {"a": (4, 3), "b": (4, 1)}, {}, False),
    ("broadcast_div", lambda mx: mx.sym.broadcast_div(V(mx, "a"), V(mx, "b")), {"a": (2, 3), "b": (3,)}, {"b": (1, 2)}, False),
    ("broadcast_maximum", lambda mx: mx.sym.broadcast_maximum(V(mx, "a"), V(mx, "b")), {"a": (2, 3), "b": (2, 1)}, {}, True),
    ("broadcast_power", lambda mx: mx.sym.broadcast_power(V(mx, "a"), V(mx, "b")), {"a": (2, 3), "b": (1, 3)}, {"a": (0.5, 2)}, False),
    ("elemwise_add", lambda mx: mx.sym.elemwise_add(V(mx, "a"), V(mx, "b")), {"a": (3, 4), "b": (3, 4)}, {}, True),
    ("elemwise_mul", lambda mx: mx.sym.elemwise_mul(V(mx, "a"), V(mx, "b")), {"a": (3, 4), "b": (3, 4)}, {}, True),
    ("elemwise_div", lambda mx: mx.sym.elemwise_div(V(mx, "a"), V(mx, "b")), {"a": (3, 4), "b": (3, 4)}, {"b": (1, 2)}, True),
    ("arith", lambda mx: (V(mx, "a") + 1) * 2 - V(mx, "b") / 3 + 1 / V(mx, "b") - 2 ** V(mx, "a") + V(mx, "a") ** 2 - (1 - V(mx, "a")),
     {"a": (2, 3), "b": (2, 3)}, {"b": (1, 2)}, False),  # a's gradient: a sum of 5 terms
    ("neg", lambda mx: -V(mx, "a"), {"a": (5,)}, {}, True),
    ("exp", lambda mx: mx.sym.exp(V(mx, "a")), {"a": (3, 4)}, {}, True),
    ("log", lambda mx: mx.sym.log(V(mx, "a")), {"a": (3, 4)}, {"a": (0.1, 3)}, True),
    ("sqrt", lambda mx: mx.sym.sqrt(V(mx, "a")), {"a": (3, 4)}, {"a": (0.1, 3)}, True),
    ("square_abs_sign", lambda mx: mx.sym.square(V(mx, "a")) + mx.sym.abs(V(mx, "a")) * mx.sym.sign(V(mx, "a")), {"a": (3, 4)}, {}, True),
    ("reciprocal_rsqrt", lambda mx: mx.sym.reciprocal(V(mx, "a")) + mx.sym.rsqrt(V(mx, "a")), {"a": (3, 4)}, {"a": (0.5, 2)}, True),
    ("sum_all", lambda mx: mx.sym.sum(V(mx, "a")), {"a": (3, 4)}, {}, False),
    ("sum_axis", lambda mx: mx.sym.sum(V(mx, "a"), axis=1), {"a": (3, 4, 2)}, {}, False),
    ("sum_keepdims", lambda mx: mx.sym.sum(V(mx, "a"), axis=(0, 2), keepdims=True), {"a": (3, 4, 2)}, {}, False),
    ("sum_exclude", lambda mx: mx.sym.sum(V(mx, "a"), axis=1, exclude=True), {"a": (3, 4, 2)}, {}, False),
    ("mean", lambda mx: mx.sym.mean(V(mx, "a"), axis=-1), {"a": (3, 5)}, {}, False),
    ("sum_axis_alias", lambda mx: mx.sym.sum_axis(V(mx, "a"), axis=0), {"a": (3, 5)}, {}, False),
    ("softmax", lambda mx: mx.sym.softmax(V(mx, "a")), {"a": (3, 5)}, {}, False),
    ("softmax_axis0_t", lambda mx: mx.sym.softmax(V(mx, "a"), axis=0, temperature=2.0), {"a": (3, 5)}, {}, False),
    ("log_softmax", lambda mx: mx.sym.log_softmax(V(mx, "a"), axis=1), {"a": (2, 4, 3)}, {}, False),
    ("reshape", lambda mx: mx.sym.Reshape(V(mx, "a"), shape=(0, -1)), {"a": (2, 3, 4)}, {}, True),
    ("reshape_split", lambda mx: mx.sym.reshape(V(mx, "a"), shape=(-4, 1, 2, -2)), {"a": (2, 3, 4)}, {}, True),
    ("flatten", lambda mx: mx.sym.flatten(V(mx, "a")), {"a": (2, 3, 4)}, {}, True),
    ("concat", lambda mx: mx.sym.Concat(V(mx, "a"), V(mx, "b"), V(mx, "c"), dim=1), {"a": (2, 1), "b": (2, 3), "c": (2, 2)}, {}, True),
    ("concat_dim0", lambda mx: mx.sym.concat(V(mx, "a"), V(mx, "b"), dim=0), {"a": (2, 3), "b": (1, 3)}, {}, True),
    ("embedding", lambda mx: mx.sym.Embedding(V(mx, "idx"), input_dim=6, output_dim=3, name="emb"), {"idx": (4, 2)}, {"idx": (0, 6)}, False),
    ("leaky", lambda mx: mx.sym.LeakyReLU(V(mx, "a"), act_type="leaky", slope=0.1), {"a": (3, 4)}, {}, True),
    ("prelu", lambda mx: mx.sym.LeakyReLU(V(mx, "a"), act_type="prelu", name="pr"), {"a": (3, 4, 2)}, {}, False),
    ("elu", lambda mx: mx.sym.LeakyReLU(V(mx, "a"), act_type="elu", slope=0.3), {"a": (3, 4)}, {}, False),
    ("selu", lambda mx: mx.sym.LeakyReLU(V(mx, "a"), act_type="selu"), {"a": (3, 4)}, {}, True),
    ("gelu", lambda mx: mx.sym.LeakyReLU(V(mx, "a"), act_type="gelu"), {"a": (3, 4)}, {}, False),
    ("blockgrad", lambda mx: mx.sym.BlockGrad(V(mx, "a")) + V(mx, "b"), {"a": (2, 3), "b": (2, 3)}, {}, True),
    ("makeloss", lambda mx: mx.sym.MakeLoss(mx.sym.square(V(mx, "a")), grad_scale=0.5, normalization="batch"), {"a": (4, 3)}, {}, True),
    ("makeloss_valid", lambda mx: mx.sym.MakeLoss(V(mx, "a") * 2, normalization="valid", valid_thresh=0.1), {"a": (4, 3)}, {}, True),
    ("make_loss", lambda mx: mx.sym.make_loss(mx.sym.sum(V(mx, "a") * V(mx, "b"))), {"a": (2, 3), "b": (2, 3)}, {}, False),
    ("dot", lambda mx: mx.sym.dot(V(mx, "a"), V(mx, "b")), {"a": (3, 4), "b": (4, 2)}, {}, False),
    ("dot_t", lambda mx: mx.sym.dot(V(mx, "a"), V(mx, "b"), transpose_a=True, transpose_b=True), {"a": (4, 3), "b": (2, 4)}, {}, False),
    ("dot_nd", lambda mx: mx.sym.dot(V(mx, "a"), V(mx, "b")), {"a": (2, 3, 4), "b": (4, 5)}, {}, False),
    ("softmax_output", lambda mx: mx.sym.SoftmaxOutput(mx.sym.FullyConnected(V(mx, "a"), num_hidden=3, name="fc"), name="sm"),
     {"a": (4, 5), "sm_label": (4,)}, {"sm_label": (0, 3)}, False),
]


def _inputs(shapes, ranges, seed, dtype):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        lo, hi = ranges.get(name, (-2, 2))
        if name in ("idx", "sm_label"):
            out[name] = rng.integers(lo, hi, shape).astype(dtype)
        else:
            out[name] = rng.uniform(lo, hi, shape).astype(dtype)
    return out


def _run(mx, build, values, dtype, seed):
    _VARS.clear()
    with mx.name.NameManager():  # automatic names from 0 in both libraries
        sym = build(mx)
    shapes = {k: v.shape for k, v in values.items()}
    no_grad = {"idx", "sm_label"}
    req = {n: ("null" if n in no_grad else "write") for n in sym.list_arguments()}
    ex = sym.simple_bind(mx.cpu(), grad_req=req, type_dict={k: dtype for k in shapes}, **shapes)
    rng = np.random.default_rng(seed + 1)
    for name in sym.list_arguments():
        arr = ex.arg_dict[name]
        arr[:] = values[name] if name in values else rng.uniform(-1, 1, arr.shape).astype(dtype)
    outs = [o.asnumpy().copy() for o in ex.forward(is_train=True)]
    heads = [mx.nd.array(rng.uniform(-1, 1, o.shape), dtype=dtype) for o in outs]
    ex.backward(heads)
    grads = {k: v.asnumpy() for k, v in ex.grad_dict.items() if v is not None}
    return sym, outs, grads


# MXNet's Embedding weight takes the type of its dtype parameter (float32 by default) whatever
# the data's type: its float64 case needs dtype='float64' (mxopt graphs compute in one dtype).
CASES.append(("embedding_f64", lambda mx: mx.sym.Embedding(V(mx, "idx"), input_dim=6, output_dim=3,
                                                          dtype="float64", name="emb"),
              {"idx": (4, 2)}, {"idx": (0, 6)}, False))
PAIRS = [(c, dt) for c in CASES for dt in (np.float32, np.float64)
         if not (c[0] == "embedding" and dt == np.float64)
         and not (c[0] == "embedding_f64" and dt == np.float32)]


@pytest.mark.parametrize("case, dtype", PAIRS, ids=[f"{c[0]}-{dt.__name__}" for c, dt in PAIRS])
def test_symbolic_forward_backward_match_mxnet(case, dtype):
    name, build, shapes, ranges, exact = case
    values = _inputs(shapes, ranges, 3, dtype)
    sa, oa, ga = _run(mxnet, build, values, dtype, 3)
    sb, ob, gb = _run(mxopt, build, values, dtype, 3)
    assert sa.list_arguments() == sb.list_arguments()
    assert sa.list_outputs() == sb.list_outputs()
    assert sa.infer_shape(**shapes) == sb.infer_shape(**shapes)
    assert mxopt.sym.load_json(sa.tojson()).tojson() == sa.tojson()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    check = np.testing.assert_array_equal if exact else \
        (lambda u, v, err_msg: np.testing.assert_allclose(v, u, err_msg=err_msg, **tol))
    for i, (u, v) in enumerate(zip(oa, ob)):
        check(u, v, err_msg=f"output {i}")
    assert ga.keys() == gb.keys()
    for k in ga:
        check(ga[k], gb[k], err_msg=f"grad {k}")


def test_embedding_sparse_grad_gives_row_sparse_gradient():
    idx = np.array([[1, 4], [4, 0]], np.float32)
    w = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((2, 2, 3)).astype(np.float32)
    res = {}
    for mx in (mxnet, mxopt):
        sym = mx.sym.Embedding(mx.sym.var("idx"), mx.sym.var("w"), input_dim=6, output_dim=3,
                               sparse_grad=True)
        ex = sym.simple_bind(mx.cpu(), idx=(2, 2), w=(6, 3),
                             grad_req={"idx": "null", "w": "write"})
        ex.arg_dict["idx"][:] = idx
        ex.arg_dict["w"][:] = w
        ex.forward(is_train=True)
        ex.backward(mx.nd.array(g))
        grad = ex.grad_dict["w"]
        res[mx.__name__] = (grad.stype, grad.indices.asnumpy().tolist(), grad.asnumpy())
    assert res["mxnet"][0] == res["mxopt"][0] == "row_sparse"
    assert res["mxnet"][1] == res["mxopt"][1] == [0, 1, 4]
    np.testing.assert_allclose(res["mxopt"][2], res["mxnet"][2], rtol=1e-6)


def test_imperative_calls_match_mxnet():
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 2, (3, 4)).astype(np.float32)
    y = rng.uniform(0.5, 2, (1, 4)).astype(np.float32)
    lab = np.array([0, 2, 1], np.float32)
    calls = [
        lambda mx: mx.nd.broadcast_div(mx.nd.array(x), mx.nd.array(y)),
        lambda mx: mx.nd.one_hot(mx.nd.array(lab), 3),
        lambda mx: mx.nd.one_hot(mx.nd.array(lab), depth=4, on_value=2, off_value=-1, dtype="float64"),
        lambda mx: mx.nd.sum(mx.nd.array(x), axis=1, keepdims=True),
        lambda mx: mx.nd.log_softmax(mx.nd.array(x)),
        lambda mx: mx.nd.SoftmaxOutput(mx.nd.array(x), mx.nd.array(lab)),
        lambda mx: mx.nd.Concat(mx.nd.array(x), mx.nd.array(y), dim=0),
        lambda mx: mx.nd.reshape(mx.nd.array(x), shape=(-1,)),
        lambda mx: mx.nd.exp(mx.nd.array(x)),
        lambda mx: mx.nd.Embedding(mx.nd.array(lab), mx.nd.array(x), input_dim=3, output_dim=4),
    ]
    for i, call in enumerate(calls):
        a, b = call(mxnet), call(mxopt)
        assert a.dtype == b.dtype and a.shape == b.shape, i
        np.testing.assert_allclose(b.asnumpy(), a.asnumpy(), rtol=1e-5, atol=1e-7, err_msg=str(i))


@pytest.mark.parametrize("build, message", [
    (lambda mx: mx.sym.broadcast_add(mx.sym.var("a"), mx.sym.var("b")).infer_shape(a=(2, 3), b=(4, 3)),
     "could not be broadcast"),
    (lambda mx: mx.sym.sum(mx.sym.var("a"), axis=(1, 1)).infer_shape(a=(2, 3)), "duplicates"),
    (lambda mx: mx.sym.sum(mx.sym.var("a"), axis=3).infer_shape(a=(2, 3)), "Exceeds input dimensions"),
    (lambda mx: mx.sym.dot(mx.sym.var("a"), mx.sym.var("b")).infer_shape(a=(2, 3), b=(4, 3)), "dot shape error"),
    (lambda mx: mx.sym.Reshape(mx.sym.var("a"), shape=(-1, -1)).infer_shape(a=(2, 3)), "One and only one dim"),
])
def test_shape_errors_match_mxnet(build, message):
    with pytest.raises(mxnet.base.MXNetError, match=message):
        build(mxnet)
    with pytest.raises(mxopt.base.MXNetError, match=message):
        build(mxopt)


# ---- dot on csr data -------------------------------------------------------------------------------
def _csr(mx, dense):
    return mx.nd.sparse.csr_matrix(dense)


CSR = (np.random.default_rng(9).uniform(-1, 1, (6, 10)) *
       (np.random.default_rng(10).uniform(0, 1, (6, 10)) < 0.3)).astype(np.float32)


@pytest.mark.parametrize("w_stype", ["default", "row_sparse"])
def test_csr_dot_forward_backward_match_mxnet(w_stype):
    """dot(csr data, w) in a graph: the output, and w's gradient (row_sparse: the rows of the
    columns the batch touches), as MXNet's storage-type dispatch gives them."""
    w = np.random.default_rng(2).standard_normal((10, 3)).astype(np.float32)
    head = np.random.default_rng(3).standard_normal((6, 3)).astype(np.float32)
    res = {}
    for mx in (mxnet, mxopt):
        data = mx.sym.var("data", stype="csr")
        weight = mx.sym.var("w", stype=w_stype)
        sym = mx.sym.sparse.dot(data, weight)
        ex = sym.simple_bind(mx.cpu(), data=(6, 10), w=(10, 3),
                             stype_dict={"data": "csr", "w": w_stype},
                             grad_req={"data": "null", "w": "write"})
        ex.arg_dict["data"][:] = _csr(mx, CSR) if mx is mxnet else _csr(mx, CSR)
        ex.copy_params_from({"w": mx.nd.array(w).tostype(w_stype)})
        out = ex.forward(is_train=True)[0].asnumpy()
        ex.backward(mx.nd.array(head))
        g = ex.grad_dict["w"]
        res[mx.__name__] = (out, g.stype, g.asnumpy(),
                            g.indices.asnumpy().tolist() if g.stype == "row_sparse" else None)
    a, b = res["mxnet"], res["mxopt"]
    np.testing.assert_allclose(b[0], a[0], rtol=1e-6, atol=1e-7)
    assert a[1] == b[1]
    np.testing.assert_allclose(b[2], a[2], rtol=1e-6, atol=1e-7)
    assert a[3] == b[3]


@pytest.mark.parametrize("kwargs", [dict(), dict(transpose_a=True),
                                    dict(transpose_a=True, forward_stype="default")])
def test_imperative_sparse_dot_matches_mxnet(kwargs):
    rhs = np.random.default_rng(4).standard_normal((6 if kwargs else 10, 4)).astype(np.float32)
    out = {}
    for mx in (mxnet, mxopt):
        r = mx.nd.sparse.dot(_csr(mx, CSR), mx.nd.array(rhs), **kwargs)
        out[mx.__name__] = (r.stype, r.asnumpy(),
                            r.indices.asnumpy().tolist() if r.stype == "row_sparse" else None)
    assert out["mxnet"][0] == out["mxopt"][0]
    assert out["mxnet"][2] == out["mxopt"][2]
    np.testing.assert_allclose(out["mxopt"][1], out["mxnet"][1], rtol=1e-6, atol=1e-7)
    # csr x row_sparse weight (every row stored) gives the dense product
    w = mxopt.nd.array(rhs).tostype("row_sparse")
    if not kwargs:
        np.testing.assert_allclose(mxopt.nd.sparse.dot(_csr(mxopt, CSR), w).asnumpy(),
                                   CSR @ rhs, rtol=1e-5, atol=1e-6)
