"""Differential tests of the operator kernels `mxopt._core.op_*` against MXNet 1.9.1.

Each kernel runs on numpy buffers and is compared with the same MXNet operator run through
`mxnet.autograd` (forward output, and the input gradients for a random head gradient, with
grad_req 'write' and 'add'; req 0 must leave the gradient buffer alone):

- `assert_bits`: identical bit patterns (element-wise math, and the reductions whose order and
  accumulator the kernel reproduces: Kahan sums of sum/mean/broadcast gradients, softmax's
  sequential sum, Embedding/CSR accumulations).
- `assert_f32_close`: equal to float32 rounding, used where this MXNet build runs a oneDNN
  (MKLDNN) kernel instead of its own CPU code -- float32 softmax/log_softmax along the last axis
  without temperature, float32 LeakyReLU leaky/elu/gelu, float32 Activation
  relu/sigmoid/tanh/softrelu, float32 SoftmaxOutput -- and for FullyConnected (GEMM order).
  `test_mkldnn_routed_cases_bit_identical_to_mxnet_native_kernels` then checks those float32 cases
  bit for bit against MXNet's own CPU kernels, in a subprocess with MXNET_MKLDNN_ENABLED=0.

Bad input (dtype/shape mismatch, non-contiguous, read-only output, overlapping buffers, bad
CSR structure, out-of-range values) must raise a clear error and leave every output untouched.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
from mxopt import _core as C

DTYPES = [np.float32, np.float64]
# (req for the kernel, grad_req for MXNet)
REQS = [(1, "write"), (3, "add"), (0, "null")]
LARGE = (400, 400)  # 160000 elements: above the kernels' OpenMP threshold (131072)


# ---- comparison helpers --------------------------------------------------------------------------

def assert_bits(ours, theirs, what=""):
    """Bit-identical: same dtype, shape and bit pattern (-0.0 != 0.0). NaNs must be NaN in both
    but their sign/payload is not compared: MXNet's libmxnet binds glibc's old compat entry
    points (logf@GLIBC_2.2.5, powf@GLIBC_2.2.5 ...), which return +NaN for a domain error where
    the current ones return -NaN, and which NaN an addition of two NaNs keeps depends on the
    operand order a compiler picks."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} != {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    if ours.dtype.kind != "f":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    ib = {4: np.uint32, 8: np.uint64}[ours.dtype.itemsize]
    a, b = ours.view(ib), theirs.view(ib)
    both_nan = np.isnan(ours) & np.isnan(theirs)
    bad = np.flatnonzero((a != b) & ~both_nan)
    assert bad.size == 0, (f"{what}: {bad.size} of {a.size} elements differ in bits, first at "
                           f"{bad[0]}: {ours.flat[bad[0]]!r} vs {theirs.flat[bad[0]]!r}")


def assert_f32_close(ours, theirs, what="", rtol=2e-5, atol=2e-6):
    """Equal to float32 rounding (used where MXNet runs oneDNN or a different GEMM order)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, what
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def rng(seed):
    return np.random.RandomState(seed)


def rand(shape, dtype, seed=0, lo=-2.0, hi=2.0):
    return rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def sentinel(shape, dtype, seed=99):
    """A gradient buffer's previous content (req 3 adds to it, req 0 must keep it)."""
    return rand(shape, dtype, seed, -1.0, 1.0)


def mx_run(fn, inputs, head=None, grad_reqs=None, init_grads=None, train=True):
    """Runs fn on MXNet NDArrays under autograd; returns (output, [grad or None per input]).

    grad_reqs[i] None marks a non-differentiable input (indices); init_grads[i] is the initial
    content of a 'add' gradient buffer.
    """
    arrs = [mxnet.nd.array(v, dtype=v.dtype) for v in inputs]
    grad_reqs = grad_reqs or ["write"] * len(arrs)
    for i, (a, req) in enumerate(zip(arrs, grad_reqs)):
        if req is None:
            continue
        a.attach_grad(grad_req=req)
        if init_grads is not None and init_grads[i] is not None:
            a.grad[:] = init_grads[i]
    with mxnet.autograd.record(train_mode=train):
        y = fn(*arrs)
    if isinstance(y, list):  # e.g. LeakyReLU rrelu outside training also returns its mask
        y = y[0]
    out = y.asnumpy()
    if head is not None and any(r not in (None, "null") for r in grad_reqs):
        y.backward(mxnet.nd.array(head, dtype=head.dtype))
    grads = [a.grad.asnumpy() if req not in (None, "null") and head is not None else None
             for a, req in zip(arrs, grad_reqs)]
    return out, grads


def check_grad(req, ours, theirs, before, what, close=False):
    """req 0: untouched; otherwise equal to MXNet's write/add result."""
    if req == 0:
        if ours is not None:
            assert_bits(ours, before, what + " (req 0 must leave it untouched)")
        return
    (assert_f32_close if close else assert_bits)(ours, theirs, what)


def grad_buffer(req, shape, dtype, seed=99):
    """(buffer passed to the kernel, its content before the call)."""
    if req == 1:
        buf = np.full(shape, np.nan, dtype)  # every element must be written
    else:
        buf = sentinel(shape, dtype, seed)
    return buf, buf.copy()


# ---- 1. broadcast binary operators -------------------------------------------------------------

BINARY = {"add": "broadcast_add", "sub": "broadcast_sub", "mul": "broadcast_mul",
          "div": "broadcast_div", "maximum": "broadcast_maximum",
          "minimum": "broadcast_minimum", "power": "broadcast_power"}
ELEMWISE = {"add": "elemwise_add", "sub": "elemwise_sub", "mul": "elemwise_mul",
            "div": "elemwise_div"}
BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),              # same shape: MXNet's elemwise path
    ((1, 4), (1, 4)),
    ((3, 4), (4,)),                # different ndim
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (1, 3, 1)),
    ((5, 1, 4, 1), (3, 1, 2)),
    ((1,), (6, 5)),
    ((2, 1, 3, 1, 2), (1, 4, 1, 5, 2)),
    ((1, 1), (1, 1)),
    ((2, 3, 4, 5, 6, 2), (2, 3, 1, 1, 6, 2)),  # six dimensions, five after merging
    ((300, 600), (600,)),          # OpenMP paths (forward and gradient reduction)
    ((600, 1), (600, 300)),
]


def binary_inputs(op, lshape, rshape, dtype, seed=0):
    r = rng(seed)
    if op in ("maximum", "minimum"):  # small integers: ties exercise ge/lt, le/gt
        lhs = r.randint(-3, 4, size=lshape).astype(dtype)
        rhs = r.randint(-3, 4, size=rshape).astype(dtype)
    elif op == "power":
        lhs = r.uniform(0.2, 2.0, size=lshape).astype(dtype)
        rhs = r.uniform(-2.0, 2.5, size=rshape).astype(dtype)
    else:
        lhs = r.uniform(-2, 2, size=lshape).astype(dtype)
        rhs = r.uniform(-2, 2, size=rshape).astype(dtype)
        if op == "div":
            rhs = np.where(np.abs(rhs) < 0.1, 0.5, rhs).astype(dtype)
    return lhs, rhs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("op", list(BINARY))
def test_broadcast_forward_bit_identical(op, shapes, dtype):
    lhs, rhs = binary_inputs(op, *shapes, dtype)
    expected, _ = mx_run(lambda a, b: getattr(mxnet.nd, BINARY[op])(a, b), [lhs, rhs])
    out = np.full(expected.shape, np.nan, dtype)
    C.op_broadcast(op, lhs, rhs, out)
    assert_bits(out, expected, f"{op} forward")
    if shapes[0] == shapes[1] and op in ELEMWISE:  # the same kernel is elemwise_<op>
        elem, _ = mx_run(lambda a, b: getattr(mxnet.nd, ELEMWISE[op])(a, b), [lhs, rhs])
        assert_bits(out, elem, f"{op} forward vs {ELEMWISE[op]}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reqs", [(1, 1), (3, 3), (0, 1), (3, 0)], ids=str)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("op", list(BINARY))
def test_broadcast_backward_bit_identical(op, shapes, reqs, dtype):
    """Gradients are Kahan sums over the broadcast axes in MXNet's order: bit-identical."""
    lshape, rshape = shapes
    lhs, rhs = binary_inputs(op, lshape, rshape, dtype)
    oshape = np.broadcast_shapes(lshape, rshape)
    head = rand(oshape, dtype, seed=5)
    names = {0: "null", 1: "write", 3: "add"}
    gl, gl0 = grad_buffer(reqs[0], lshape, dtype, 11)
    gr, gr0 = grad_buffer(reqs[1], rshape, dtype, 12)
    _, (el, er) = mx_run(lambda a, b: getattr(mxnet.nd, BINARY[op])(a, b), [lhs, rhs], head,
                         [names[reqs[0]], names[reqs[1]]], [gl0, gr0])
    C.op_broadcast_backward(op, head, lhs, rhs, gl, reqs[0], gr, reqs[1])
    check_grad(reqs[0], gl, el, gl0, f"{op} d/dlhs")
    check_grad(reqs[1], gr, er, gr0, f"{op} d/drhs")


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5, 0.5, 3e38, -1e-30]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(BINARY))
def test_broadcast_special_values_bit_identical(op, dtype):
    """NaN, infinities, signed zeros and huge values on both sides of every operator (and
    through the Kahan sums of the gradients, where an infinite partial sum drops the residual)."""
    lhs = np.array(SPECIAL, dtype).reshape(-1, 1)
    rhs = np.array(SPECIAL, dtype).reshape(1, -1)
    head = rand((len(SPECIAL), len(SPECIAL)), dtype, 6)
    y, (el, er) = mx_run(lambda a, b: getattr(mxnet.nd, BINARY[op])(a, b), [lhs, rhs], head)
    out = np.empty_like(y)
    C.op_broadcast(op, lhs, rhs, out)
    assert_bits(out, y, f"{op} forward on special values")
    gl, gr = np.empty_like(lhs), np.empty_like(rhs)
    C.op_broadcast_backward(op, head, lhs, rhs, gl, 1, gr, 1)
    assert_bits(gl, el, f"{op} d/dlhs on special values")
    assert_bits(gr, er, f"{op} d/drhs on special values")


def test_broadcast_gradient_none_with_req_null():
    lhs, rhs = rand((3, 4), np.float32), rand((4,), np.float32, 1)
    head = rand((3, 4), np.float32, 2)
    gr = np.zeros(4, np.float32)
    C.op_broadcast_backward("mul", head, lhs, rhs, None, 0, gr, 1)
    _, (_, er) = mx_run(mxnet.nd.broadcast_mul, [lhs, rhs], head, ["null", "write"])
    assert_bits(gr, er, "d/drhs with glhs None")


def test_broadcast_output_may_be_an_input_of_the_same_shape():
    lhs, rhs = rand((50, 7), np.float64), rand((7,), np.float64, 1)
    expected = lhs + rhs
    C.op_broadcast("add", lhs, rhs, lhs)  # in place: element-wise, allowed
    assert_bits(lhs, expected, "in-place add")


@pytest.mark.parametrize("op", list(BINARY))
def test_broadcast_empty(op):
    """Zero-size outputs (MXNet's np_shape mode): nothing to compute; the gradient of a
    broadcast operand is a sum over nothing, 0 (MXNet skips it for mul/div/..., and crashes
    for add/sub in backward)."""
    lhs, rhs = np.zeros((0, 4), np.float32), np.ones((1, 4), np.float32)
    with mxnet.util.np_shape(True):
        expected, _ = mx_run(lambda a, b: getattr(mxnet.nd, BINARY[op])(a, b), [lhs, rhs])
    out = np.zeros((0, 4), np.float32)
    C.op_broadcast(op, lhs, rhs, out)
    assert out.shape == expected.shape == (0, 4)
    gl, gr = np.zeros((0, 4), np.float32), np.full((1, 4), 7.0, np.float32)
    C.op_broadcast_backward(op, np.zeros((0, 4), np.float32), lhs, rhs, gl, 1, gr, 1)
    assert_bits(gr, np.zeros((1, 4), np.float32), "gradient over an empty broadcast")


def test_broadcast_more_than_five_merged_dimensions_raise_like_mxnet():
    lhs, rhs = rand((2, 3, 4, 5, 6, 2), np.float32), rand((2, 1, 4, 1, 6, 1), np.float32)
    out = np.zeros((2, 3, 4, 5, 6, 2), np.float32)
    with pytest.raises(mxnet.base.MXNetError, match="Too many broadcast dimensions"):
        mxnet.nd.broadcast_add(mxnet.nd.array(lhs), mxnet.nd.array(rhs)).wait_to_read()
    with pytest.raises(ValueError, match="Too many broadcast dimensions with operands"):
        C.op_broadcast("add", lhs, rhs, out)
    assert not out.any()


def test_broadcast_incompatible_shapes_raise_like_mxnet():
    lhs, rhs = rand((2, 3), np.float32), rand((3, 2), np.float32)
    out = np.zeros((2, 3), np.float32)
    with pytest.raises(mxnet.base.MXNetError, match="could not be broadcast"):
        mxnet.nd.broadcast_add(mxnet.nd.array(lhs), mxnet.nd.array(rhs)).wait_to_read()
    with pytest.raises(ValueError, match=r"could not be broadcast together with shapes \(2, 3\) \(3, 2\)"):
        C.op_broadcast("add", lhs, rhs, out)
    assert not out.any()


# ---- 2. unary math ------------------------------------------------------------------------------

UNARY_DOMAIN = {"exp": (-5, 5), "log": (0.01, 5), "sqrt": (0.0, 5), "rsqrt": (0.01, 5),
                "square": (-3, 3), "abs": (-3, 3), "sign": (-3, 3), "negative": (-3, 3),
                "reciprocal": (-3, 3)}
UNARY_SHAPES = [(7,), (3, 5), (1, 1), (2, 3, 4), LARGE]


def unary_input(op, shape, dtype):
    lo, hi = UNARY_DOMAIN[op]
    x = rand(shape, dtype, 3, lo, hi)
    flat = x.reshape(-1)
    if op in ("abs", "sign", "square", "negative") and flat.size >= 3:
        flat[:3] = [0.0, -0.0, 1.0]  # abs/sign gradients at 0 are 0
    if op == "reciprocal":
        flat[np.abs(flat) < 0.05] = 0.5
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", list(UNARY_DOMAIN))
def test_unary_forward_bit_identical(op, shape, dtype):
    x = unary_input(op, shape, dtype)
    expected, _ = mx_run(getattr(mxnet.nd, op), [x])
    out = np.full(shape, np.nan, dtype)
    C.op_unary(op, x, out)
    assert_bits(out, expected, op)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req,mxreq", REQS, ids=["write", "add", "null"])
@pytest.mark.parametrize("shape", [(3, 5), LARGE], ids=str)
@pytest.mark.parametrize("op", list(UNARY_DOMAIN))
def test_unary_backward_bit_identical(op, shape, req, mxreq, dtype):
    x = unary_input(op, shape, dtype)
    head = rand(shape, dtype, 4)
    gx, gx0 = grad_buffer(req, shape, dtype)
    y, (expected,) = mx_run(getattr(mxnet.nd, op), [x], head, [mxreq], [gx0])
    C.op_unary_backward(op, head, x, y, gx, req)
    check_grad(req, gx, expected, gx0, f"{op} backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(UNARY_DOMAIN))
def test_unary_special_values_bit_identical(op, dtype):
    x = np.array(SPECIAL + [-1.0, 100.0, -100.0], dtype)
    head = rand(x.shape, dtype, 4)
    y, (expected,) = mx_run(getattr(mxnet.nd, op), [x], head)
    out, gx = np.empty_like(x), np.empty_like(x)
    C.op_unary(op, x, out)
    C.op_unary_backward(op, head, x, out, gx, 1)
    assert_bits(out, y, f"{op} on special values")
    assert_bits(gx, expected, f"{op} gradient on special values")


def test_unary_backward_reads_only_what_mxnet_reads():
    x = rand((4, 5), np.float32, lo=0.1, hi=2)
    y = np.exp(x)
    head = rand((4, 5), np.float32, 1)
    g1, g2 = np.zeros_like(x), np.zeros_like(x)
    C.op_unary_backward("exp", head, None, y, g1, 1)  # exp's gradient reads the output
    C.op_unary_backward("exp", head, x, y, g2, 1)
    assert_bits(g1, g2, "exp gradient without x")
    C.op_unary_backward("negative", head, None, None, g1, 1)
    assert_bits(g1, -head, "negative gradient")
    with pytest.raises(ValueError, match="x is required"):
        C.op_unary_backward("log", head, None, y, g1, 1)
    with pytest.raises(ValueError, match="y is required"):
        C.op_unary_backward("sqrt", head, x, None, g1, 1)


def test_unary_empty():
    with mxnet.util.np_shape(True):
        expected, _ = mx_run(mxnet.nd.exp, [np.zeros((0, 3), np.float32)])
    out = np.zeros((0, 3), np.float32)
    C.op_unary("exp", np.zeros((0, 3), np.float32), out)
    assert out.shape == expected.shape


# ---- 3. sum / mean ------------------------------------------------------------------------------

REDUCE_CASES = [  # (shape, axes)
    ((4, 5, 6), [1]),
    ((4, 5, 6), [0, 2]),
    ((4, 5, 6), None),
    ((4, 5, 6), [-1]),
    ((4, 5, 6), [0, 1, 2]),
    ((3, 1, 4), [1]),
    ((7,), [0]),
    ((2, 3, 4, 5), [1, 3]),
    ((512, 300), [0]),        # parallel over blocks of kept columns
    ((300, 512), [1]),
    ((640, 480), None),       # one long Kahan sum
]


def mx_reduce(op, axes, keepdims):
    axis = () if axes is None else tuple(axes)
    return lambda a: getattr(mxnet.nd, op)(a, axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("case", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduce_forward_bit_identical(op, case, keepdims, dtype):
    """MXNet's red::sum is Kahan-compensated, in row-major order of the reduced positions."""
    shape, axes = case
    x = rand(shape, dtype, 7, -3, 3)
    expected, _ = mx_run(mx_reduce(op, axes, keepdims), [x])
    out = np.full(expected.shape, np.nan, dtype)
    C.op_reduce(op, x, out, axes)
    assert_bits(out, expected, f"{op} over {axes}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req,mxreq", REQS, ids=["write", "add", "null"])
@pytest.mark.parametrize("case", REDUCE_CASES[:8] + [((512, 300), [0])], ids=str)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduce_backward_bit_identical(op, case, req, mxreq, dtype):
    shape, axes = case
    x = rand(shape, dtype, 7)
    y, _ = mx_run(mx_reduce(op, axes, False), [x])
    head = rand(y.shape, dtype, 8)
    gx, gx0 = grad_buffer(req, shape, dtype)
    _, (expected,) = mx_run(mx_reduce(op, axes, False), [x], head, [mxreq], [gx0])
    if op == "mean" and req == 3:
        # MXNet's _backward_mean divides the accumulated buffer: (gx + ograd) / M.
        C.op_reduce_backward(op, head, x, gx, axes, req, mean_scales_accumulated=True)
        check_grad(req, gx, expected, gx0, "mean backward, MXNet's req-add quirk")
        # The default accumulates: gx + ograd / M (numpy's IEEE float ops: same bits).
        gx2 = gx0.copy()
        C.op_reduce_backward(op, head, x, gx2, axes, req)
        m = dtype(x.size // y.size)
        full = np.broadcast_to(head.reshape(reduced_keepdims(shape, axes)), shape)
        assert_bits(gx2, (gx0 + full / m).astype(dtype), "mean backward, req add accumulates")
        return
    C.op_reduce_backward(op, head, x, gx, axes, req)
    check_grad(req, gx, expected, gx0, f"{op} backward")


def reduced_keepdims(shape, axes):
    axes = range(len(shape)) if axes is None else [a % len(shape) for a in axes]
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def test_reduce_accepts_keepdims_and_dropped_shapes():
    x = rand((3, 4, 5), np.float64)
    a, b = np.zeros((3, 1, 5)), np.zeros((3, 5))
    C.op_reduce("sum", x, a, [1])
    C.op_reduce("sum", x, b, [1])
    assert_bits(a.reshape(3, 5), b, "keepdims vs dropped")
    full = [np.zeros(()), np.zeros((1,)), np.zeros((1, 1, 1))]
    for o in full:
        C.op_reduce("mean", x, o, None)
    assert full[0] == full[1][0] == full[2].flat[0]
    with pytest.raises(ValueError, match=r"expected \(3, 1, 5\) \(keepdims\) or \(3, 5\)"):
        C.op_reduce("sum", x, np.zeros((5, 3)), [1])
    with pytest.raises(ValueError, match="duplicates"):
        C.op_reduce("sum", x, np.zeros((3,)), [1, -1, 2])
    with pytest.raises(ValueError, match="exceeds"):
        C.op_reduce("sum", x, np.zeros((3, 4)), [3])


def test_reduce_empty():
    """Reducing a zero-length axis: sum 0, mean 0/0 = NaN, like MXNet (np_shape mode)."""
    x = np.ones((2, 0, 3), np.float32)
    for op in ("sum", "mean"):
        with mxnet.util.np_shape(True):
            expected, _ = mx_run(mx_reduce(op, [1], False), [x])
        out = np.full((2, 3), 5.0, np.float32)
        C.op_reduce(op, x, out, [1])
        assert_bits(out, expected, f"{op} over an empty axis")


# ---- 4. softmax / log_softmax -------------------------------------------------------------------

SOFTMAX_CASES = [  # (shape, axis)
    ((4, 10), -1), ((4, 10), 0), ((2, 3, 5), 1), ((2, 3, 5), -1), ((2, 3, 5), 0),
    ((3, 1), -1), ((6,), 0), ((1, 7), 1), ((300, 1000), -1), ((1000, 300), 0),
]


def mkldnn_softmax(dtype, shape, axis, temperature):
    """Does this MXNet build run oneDNN's softmax (SupportMKLDNNSoftmax)?"""
    return (dtype == np.float32 and temperature is None and axis % len(shape) == len(shape) - 1
            and 1 <= len(shape) <= 4)


def mx_softmax(log, axis, temperature):
    kw = {} if temperature is None else {"temperature": temperature}
    fn = mxnet.nd.log_softmax if log else mxnet.nd.softmax
    return lambda a: fn(a, axis=axis, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [None, 1.0, 0.5, 3.0])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
def test_softmax_forward(case, log, temperature, dtype):
    shape, axis = case
    x = rand(shape, dtype, 9, -6, 6)
    expected, _ = mx_run(mx_softmax(log, axis, temperature), [x])
    out = np.full(shape, np.nan, dtype)
    C.op_softmax(x, out, axis, temperature, log)
    if mkldnn_softmax(dtype, shape, axis, temperature):  # oneDNN in this MXNet build
        assert_f32_close(out, expected, "softmax vs oneDNN")
        # temperature=1.0 makes MXNet run its own kernel: then bit for bit.
        native, _ = mx_run(mx_softmax(log, axis, 1.0), [x])
        assert_bits(out, native, "softmax vs MXNet's CPU kernel")
    else:
        assert_bits(out, expected, "softmax")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req,mxreq", REQS, ids=["write", "add", "null"])
@pytest.mark.parametrize("temperature", [None, 0.5])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
def test_softmax_backward(case, log, temperature, req, mxreq, dtype):
    shape, axis = case
    x = rand(shape, dtype, 9, -6, 6)
    head = rand(shape, dtype, 10)
    gx, gx0 = grad_buffer(req, shape, dtype)
    t = 1.0 if temperature is None and dtype == np.float32 else temperature
    # MXNet's CPU kernel (temperature 1.0 explicitly keeps oneDNN out for float32)
    y, (expected,) = mx_run(mx_softmax(log, axis, t), [x], head, [mxreq], [gx0])
    C.op_softmax_backward(head, y, gx, axis, temperature, log, req)
    check_grad(req, gx, expected, gx0, "softmax backward")
    if mkldnn_softmax(dtype, shape, axis, temperature) and req == 1:
        y2, (onednn,) = mx_run(mx_softmax(log, axis, None), [x], head, ["write"])
        gx2 = np.empty_like(gx)
        C.op_softmax_backward(head, y2, gx2, axis, None, log, 1)
        assert_f32_close(gx2, onednn, "softmax backward vs oneDNN", atol=2e-5)


def test_softmax_empty_and_bad_axis():
    x = np.zeros((0, 3), np.float32)
    with mxnet.util.np_shape(True):
        expected, _ = mx_run(mx_softmax(False, -1, None), [x])
    out = np.zeros((0, 3), np.float32)
    C.op_softmax(x, out, -1, None, False)
    assert out.shape == expected.shape
    x = rand((2, 3), np.float32)
    out = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="axis 2 exceeds the input dimension of 2"):
        C.op_softmax(x, out, 2, None, False)
    assert not out.any()


# ---- 5. one_hot ---------------------------------------------------------------------------------

ONE_HOT_INDICES = {
    "float32": np.array([0, 3, -1, 4, 2.7, -0.5, np.nan, np.inf, 1e10, 1], np.float32),
    "float64": np.array([0, 3, -1, 4, 2.7, -0.5, np.nan, -np.inf, 3.999, 1], np.float64),
    "int32": np.array([0, 3, -1, 4, 2, 1, -2147483648], np.int32),
    "int64": np.array([0, 3, -1, 4, 2**32 + 1, 2**31 + 2, -2**32 - 2, 2], np.int64),
    "uint8": np.array([0, 3, 255, 4, 2], np.uint8),
    "int8": np.array([0, 3, -1, 4, -128, 2], np.int8),
}


@pytest.mark.parametrize("odtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("itype", list(ONE_HOT_INDICES))
def test_one_hot_bit_identical(itype, odtype):
    """Out-of-range / negative / NaN indices give an all-off row; floats truncate toward zero
    (-0.5 -> 0); 64-bit integers wrap to MXNet's 32-bit index (2**32 + 1 -> 1)."""
    idx = ONE_HOT_INDICES[itype].reshape(-1, 1) if itype == "int64" else ONE_HOT_INDICES[itype]
    on, off = (3.7, -1.5)
    expected = mxnet.nd.one_hot(mxnet.nd.array(idx, dtype=idx.dtype), depth=4, on_value=on,
                                off_value=off, dtype=odtype).asnumpy()
    out = np.zeros(idx.shape + (4,), odtype)
    C.op_one_hot(idx, out, 4, on, off)
    assert_bits(out, expected, f"one_hot {itype} -> {odtype}")


def test_one_hot_large_and_empty():
    idx = rng(1).randint(-2, 300, size=(700, 3)).astype(np.float32)
    expected = mxnet.nd.one_hot(mxnet.nd.array(idx), depth=256).asnumpy()
    out = np.zeros((700, 3, 256), np.float32)
    C.op_one_hot(idx, out, 256)
    assert_bits(out, expected, "one_hot large")
    with mxnet.util.np_shape(True):
        e = mxnet.nd.one_hot(mxnet.nd.zeros((0,)), depth=3).asnumpy()
    out = np.zeros((0, 3), np.float32)
    C.op_one_hot(np.zeros((0,), np.float32), out, 3)
    assert out.shape == e.shape


# ---- 6. Embedding -------------------------------------------------------------------------------

def embedding_indices(itype, shape, rows, seed=2, out_of_range=True):
    r = rng(seed)
    idx = r.randint(0, rows, size=shape).astype(itype)
    if out_of_range and idx.size >= 4:
        flat = idx.reshape(-1)
        flat[:2] = [-3, rows + 5]  # clipped to 0 and rows - 1
        if np.dtype(itype).kind == "f":
            flat[2:4] = [2.7, np.nan]  # truncated; NaN casts to INT_MIN -> row 0
    return idx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("itype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,rows,dim", [((5,), 10, 4), ((2, 3), 7, 3), ((4000,), 500, 50)],
                         ids=str)
def test_embedding_forward_bit_identical(shape, rows, dim, itype, dtype):
    idx = embedding_indices(itype, shape, rows)
    w = rand((rows, dim), dtype, 3)
    expected, _ = mx_run(lambda d, wt: mxnet.nd.Embedding(d, wt, input_dim=rows, output_dim=dim),
                         [idx, w], grad_reqs=[None, "write"])
    out = np.full(shape + (dim,), np.nan, dtype)
    C.op_embedding(idx, w, out)
    assert_bits(out, expected, "Embedding forward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req,mxreq", REQS, ids=["write", "add", "null"])
@pytest.mark.parametrize("itype", [np.float32, np.int64])
@pytest.mark.parametrize("shape,rows,dim", [((6,), 5, 4), ((3, 4), 6, 3), ((4000,), 300, 60)],
                         ids=str)
def test_embedding_backward_dense_bit_identical(shape, rows, dim, itype, req, mxreq, dtype):
    """Repeated indices accumulate in index order (4000 indices over 300 rows: many repeats,
    and the grouped parallel path)."""
    idx = embedding_indices(itype, shape, rows)
    w = rand((rows, dim), dtype, 3)
    head = rand(shape + (dim,), dtype, 4)
    gw, gw0 = grad_buffer(req, (rows, dim), dtype)
    _, (_, expected) = mx_run(
        lambda d, wt: mxnet.nd.Embedding(d, wt, input_dim=rows, output_dim=dim),
        [idx, w], head, [None, mxreq], [None, gw0])
    C.op_embedding_backward(idx, head, gw, req)
    check_grad(req, gw, expected, gw0, "Embedding dense weight gradient")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("itype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("shape,rows,dim", [((6,), 5, 4), ((3, 4), 50, 3), ((4000,), 3000, 40)],
                         ids=str)
def test_embedding_backward_row_sparse_bit_identical(shape, rows, dim, itype, dtype):
    idx = embedding_indices(itype, shape, rows, out_of_range=False)
    if np.dtype(itype).kind == "f":
        idx.reshape(-1)[:2] = [2.7, 0.2]  # in range: truncated to rows 2 and 0
    w = rand((rows, dim), dtype, 3)
    head = rand(shape + (dim,), dtype, 4)
    d = mxnet.nd.array(idx, dtype=idx.dtype)
    wt = row_sparse_grad_variable(w)
    with mxnet.autograd.record():
        y = mxnet.nd.Embedding(d, wt, input_dim=rows, output_dim=dim, sparse_grad=True)
    y.backward(mxnet.nd.array(head, dtype=dtype))
    assert wt.grad.stype == "row_sparse"
    rows_out, values = C.op_embedding_backward_rsp(idx, head, rows)
    assert_bits(rows_out, wt.grad.indices.asnumpy().astype(np.int64), "row_sparse rows")
    assert_bits(values, wt.grad.data.asnumpy(), "row_sparse values")
    # The dense gradient restricted to these rows is the same sum.
    dense = np.zeros((rows, dim), dtype)
    C.op_embedding_backward(idx, head, dense, 1)
    assert_bits(values, dense[rows_out], "row_sparse values vs dense rows")


def row_sparse_grad_variable(value):
    """An MXNet variable with a row_sparse gradient of its own dtype (attach_grad(stype=...)
    would make a float32 gradient)."""
    v = mxnet.nd.array(value, dtype=value.dtype)
    g = mxnet.nd.sparse.zeros("row_sparse", value.shape, dtype=value.dtype)
    mxnet.autograd.mark_variables([v], [g])
    return v


def test_embedding_row_sparse_out_of_bound_raises_like_mxnet():
    idx = np.array([0, 5, 2], np.float32)
    head = rand((3, 2), np.float32)
    wt = mxnet.nd.zeros((5, 2))
    wt.attach_grad(stype="row_sparse")
    with mxnet.autograd.record():
        y = mxnet.nd.Embedding(mxnet.nd.array(idx), wt, input_dim=5, output_dim=2, sparse_grad=True)
    with pytest.raises(mxnet.base.MXNetError, match="out of bound"):
        y.backward(mxnet.nd.array(head))
        wt.grad.wait_to_read()
    with pytest.raises(ValueError, match=r"indices: Embedding input contains data out of bound"):
        C.op_embedding_backward_rsp(idx, head, 5)
    for bad in (np.array([0, -0.5, 1], np.float32), np.array([0, np.nan, 1], np.float32)):
        with pytest.raises(ValueError, match="out of bound"):
            C.op_embedding_backward_rsp(bad, head, 5)


def test_embedding_empty():
    with mxnet.util.np_shape(True):
        e = mxnet.nd.Embedding(mxnet.nd.zeros((0,)), mxnet.nd.ones((3, 2)), input_dim=3,
                               output_dim=2).asnumpy()
    out = np.zeros((0, 2), np.float32)
    C.op_embedding(np.zeros((0,), np.float32), np.ones((3, 2), np.float32), out)
    assert out.shape == e.shape
    rows, values = C.op_embedding_backward_rsp(np.zeros((0,), np.int64), np.zeros((0, 2)), 3)
    assert rows.shape == (0,) and rows.dtype == np.int64 and values.shape == (0, 2)


# ---- 7. Concat ----------------------------------------------------------------------------------

CONCAT_CASES = [  # (shapes, axis)
    ([(2, 3), (2, 4), (2, 1)], 1),
    ([(2, 3), (5, 3)], 0),
    ([(2, 3, 4), (2, 3, 2)], -1),
    ([(2, 1, 4), (2, 5, 4), (2, 2, 4)], 1),
    ([(3,), (4,)], 0),
    ([(200, 500), (200, 400)], 1),  # parallel blocks
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONCAT_CASES, ids=str)
def test_concat_forward_bit_identical(case, dtype):
    shapes, axis = case
    xs = [rand(s, dtype, i) for i, s in enumerate(shapes)]
    expected, _ = mx_run(lambda *a: mxnet.nd.concat(*a, dim=axis), xs)
    out = np.full(expected.shape, np.nan, dtype)
    C.op_concat(xs, out, axis)
    assert_bits(out, expected, "concat")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reqs", [(1, 1, 1), (3, 3, 3), (0, 1, 3), (3, 0, 0)], ids=str)
@pytest.mark.parametrize("case", [c for c in CONCAT_CASES if len(c[0]) >= 2], ids=str)
def test_concat_backward_bit_identical(case, reqs, dtype):
    shapes, axis = case
    reqs = reqs[:len(shapes)]
    names = {0: "null", 1: "write", 3: "add"}
    xs = [rand(s, dtype, i) for i, s in enumerate(shapes)]
    bufs = [grad_buffer(r, s, dtype, 20 + i) for i, (r, s) in enumerate(zip(reqs, shapes))]
    head = rand(mx_concat_shape(shapes, axis), dtype, 30)
    _, expected = mx_run(lambda *a: mxnet.nd.concat(*a, dim=axis), xs, head,
                         [names[r] for r in reqs], [b[1] for b in bufs])
    grads = [None if r == 0 and i % 2 else b[0] for i, (r, b) in enumerate(zip(reqs, bufs))]
    C.op_concat_backward(head, grads, list(reqs), axis,
                         [s[axis] for s in shapes] if sum(g is None for g in grads) > 1 else None)
    for i, (r, g, (_, before)) in enumerate(zip(reqs, grads, bufs)):
        check_grad(r, g, expected[i], before, f"concat d/dinput{i}")


def mx_concat_shape(shapes, axis):
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


def test_concat_empty_input_and_errors():
    a, b = np.zeros((2, 0), np.float32), rand((2, 3), np.float32)
    with mxnet.util.np_shape(True):
        expected, _ = mx_run(lambda *x: mxnet.nd.concat(*x, dim=1), [a, b])
    out = np.zeros((2, 3), np.float32)
    C.op_concat([a, b], out, 1)
    assert_bits(out, expected, "concat with an empty input")
    out = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match=r"inputs\[1\] has shape \(3, 3\)"):
        C.op_concat([b, rand((3, 3), np.float32)], out, 1)
    with pytest.raises(ValueError, match=r"sizes is required"):
        C.op_concat_backward(rand((2, 9), np.float32), [None, None, np.zeros((2, 3), np.float32)],
                             [0, 0, 1], 1)
    assert not out.any()


# ---- 8. LeakyReLU -------------------------------------------------------------------------------

LEAKY_ACTS = ["leaky", "elu", "selu", "gelu", "rrelu"]
LEAKY_SHAPES = [(4, 6), (2, 3, 5), (8,), LARGE]


def mkldnn_leaky(act, dtype):
    """This MXNet build runs oneDNN for float32 leaky, elu and gelu (SupportMKLDNNLeakyRelu)."""
    return dtype == np.float32 and act in ("leaky", "elu", "gelu")


def leaky_input(shape, dtype):
    x = rand(shape, dtype, 13, -4, 4)
    x.reshape(-1)[:2] = [0.0, -0.0]
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", LEAKY_SHAPES, ids=str)
@pytest.mark.parametrize("act", LEAKY_ACTS)
def test_leaky_relu_forward(act, shape, dtype):
    x = leaky_input(shape, dtype)
    kw = dict(slope=0.3, lower_bound=0.1, upper_bound=0.4)
    # rrelu outside training: slope (lower + upper) / 2
    expected, _ = mx_run(lambda a: mxnet.nd.LeakyReLU(a, act_type=act, **kw), [x], train=False)
    out = np.full(shape, np.nan, dtype)
    C.op_leaky_relu(act, x, None, out, **kw)
    if mkldnn_leaky(act, dtype):
        assert_f32_close(out, expected, f"{act} vs oneDNN")
    else:
        assert_bits(out, expected, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req,mxreq", REQS, ids=["write", "add", "null"])
@pytest.mark.parametrize("shape", [(4, 6), LARGE], ids=str)
@pytest.mark.parametrize("act", ["leaky", "elu", "selu", "gelu"])
def test_leaky_relu_backward(act, shape, req, mxreq, dtype):
    x = leaky_input(shape, dtype)
    head = rand(shape, dtype, 14)
    gx, gx0 = grad_buffer(req, shape, dtype)
    y, (expected,) = mx_run(lambda a: mxnet.nd.LeakyReLU(a, act_type=act, slope=0.3), [x], head,
                            [mxreq], [gx0])
    C.op_leaky_relu_backward(act, head, x, y, gx, req, slope=0.3)
    check_grad(req, gx, expected, gx0, f"{act} backward", close=mkldnn_leaky(act, dtype))


PRELU_CASES = [  # (data shape, gamma shape)
    ((4, 3), (3,)), ((2, 3, 5), (3,)), ((2, 3, 4, 4), (3,)), ((4, 3), (1,)),
    ((5,), (5,)), ((4, 3), (4, 3)), ((2, 3, 5), (2, 3)), ((256, 64, 10), (64,)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reqs", [(1, 1), (3, 3), (0, 1), (1, 0)], ids=str)
@pytest.mark.parametrize("case", PRELU_CASES, ids=str)
def test_prelu_forward_backward_bit_identical(case, reqs, dtype):
    """gamma broadcasts along axis 1 (MXNet's expand_shape); its gradient is a Kahan sum."""
    dshape, gshape = case
    x = leaky_input(dshape, dtype)
    gamma = rand(gshape, dtype, 15, 0.05, 0.5)
    head = rand(dshape, dtype, 16)
    names = {0: "null", 1: "write", 3: "add"}
    gx, gx0 = grad_buffer(reqs[0], dshape, dtype, 17)
    gg, gg0 = grad_buffer(reqs[1], gshape, dtype, 18)
    y, (ex, eg) = mx_run(lambda a, g: mxnet.nd.LeakyReLU(a, g, act_type="prelu"), [x, gamma],
                         head, [names[reqs[0]], names[reqs[1]]], [gx0, gg0])
    out = np.full(dshape, np.nan, dtype)
    C.op_leaky_relu("prelu", x, gamma, out)
    assert_bits(out, y, "prelu forward")
    C.op_leaky_relu_backward("prelu", head, x, out, gx, reqs[0], gamma=gamma, ggamma=gg,
                             greq=reqs[1])
    check_grad(reqs[0], gx, ex, gx0, "prelu d/dx")
    check_grad(reqs[1], gg, eg, gg0, "prelu d/dgamma")


def test_prelu_gamma_that_cannot_broadcast():
    x = rand((4, 3), np.float32)
    out = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"Cannot broadcast gamma to data. gamma: \(5,\)"):
        C.op_leaky_relu("prelu", x, rand((5,), np.float32), out)
    assert not out.any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_rrelu_training(dtype):
    """Training slopes: lower + u * (upper - lower) from given draws, the negative branch
    float(x) * float(slope), the gradient xelu_grad(y, slope) * ograd. MXNet 1.9.1 itself cannot
    be the oracle here: its CPU rrelu in training mode segfaults (mx.nd under autograd and the
    symbolic executor alike), so this checks the formula of leaky_relu-inl.h in numpy."""
    shape = (6, 50)
    x = rand(shape, dtype, 19, -3, 3)
    lb, ub = 0.1, 0.4
    u = rand(shape, dtype, 20, 0, 1)
    out, mask = np.empty(shape, dtype), np.empty(shape, dtype)
    C.op_leaky_relu("rrelu", x, None, out, lower_bound=lb, upper_bound=ub, uniform=u, mask=mask)
    ref_mask = (u * dtype(np.float32(ub) - np.float32(lb))).astype(dtype) + dtype(np.float32(lb))
    assert_bits(mask, ref_mask.astype(dtype), "rrelu slopes")
    neg = (x.astype(np.float32) * ref_mask.astype(np.float32)).astype(dtype)
    assert_bits(out, np.where(x > 0, x, neg), "rrelu training forward")
    head = rand(shape, dtype, 21)
    gx = sentinel(shape, dtype)
    before = gx.copy()
    C.op_leaky_relu_backward("rrelu", head, None, out, gx, 3, mask=mask, lower_bound=lb,
                             upper_bound=ub)
    assert_bits(gx, before + np.where(out > 0, dtype(1), mask) * head, "rrelu backward, req add")


def test_rrelu_backward_inference_slope():
    """Without a mask the gradient uses the inference slope (lower + upper) / 2. MXNet 1.9.1's
    backward outside training reads its mask output, which only training writes (garbage for
    x <= 0); for x > 0 it agrees bit for bit."""
    x = rand((5, 4), np.float64, 22)
    head = rand((5, 4), np.float64, 23)
    y, (expected,) = mx_run(lambda a: mxnet.nd.LeakyReLU(a, act_type="rrelu"), [x], head,
                            train=False)
    gx = np.empty_like(x)
    C.op_leaky_relu_backward("rrelu", head, None, y, gx, 1)
    pos = y > 0
    assert_bits(gx[pos], expected[pos], "rrelu backward, x > 0")
    slope = np.float64(np.float32((np.float32(0.125) + np.float32(0.334)) / np.float32(2)))
    assert_bits(gx[~pos], slope * head[~pos], "rrelu backward, x <= 0: the inference slope")


# ---- 9. CSR sparse dot --------------------------------------------------------------------------

def random_csr(rows, cols, density, dtype, seed=0, empty_rows=True):
    import scipy.sparse as sp
    m = sp.random(rows, cols, density=density, format="csr", dtype=np.float64,
                  random_state=seed)
    m.data = rng(seed).uniform(-2, 2, size=m.nnz)
    if empty_rows and rows > 3:
        m = sp.csr_matrix(m.multiply(np.arange(rows)[:, None] % 4 != 1))  # some empty rows
    m.sort_indices()
    return (m.data.astype(dtype), m.indices.astype(np.int64), m.indptr.astype(np.int64),
            (rows, cols))


def mx_csr(data, indices, indptr, shape):
    return mxnet.nd.sparse.csr_matrix((data, indices, indptr), shape=shape, dtype=data.dtype)


CSR_CASES = [(7, 5, 0.4, 3), (40, 30, 0.2, 8), (1, 6, 0.5, 2), (2000, 800, 0.01, 64)]


def csr_dot_reference(data, indices, indptr, rhs, out, transpose):
    """MXNet's DotCsrDnsDns kernels in numpy: each entry's product rhs * value added onto its
    output row in entry order (numpy's IEEE float ops: the same bits as a C loop)."""
    for row in range(len(indptr) - 1):
        for e in range(indptr[row], indptr[row + 1]):
            if transpose:
                out[indices[e]] += rhs[row] * data[e]
            else:
                out[row] += rhs[indices[e]] * data[e]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CSR_CASES, ids=str)
def test_csr_dot_dense_bit_identical(case, dtype):
    rows, cols, density, k = case
    data, indices, indptr, shape = random_csr(rows, cols, density, dtype)
    a = mx_csr(data, indices, indptr, shape)
    rhs = rand((cols, k), dtype, 1)
    expected = mxnet.nd.sparse.dot(a, mxnet.nd.array(rhs, dtype=dtype)).asnumpy()
    out = np.full((rows, k), np.nan, dtype)
    C.op_csr_dot(data, indices, indptr, shape, rhs, out, False)
    assert_bits(out, expected, "csr x dense")
    rhs_t = rand((rows, k), dtype, 2)
    expected_t = mxnet.nd.sparse.dot(a, mxnet.nd.array(rhs_t, dtype=dtype), transpose_a=True,
                                     forward_stype="default").asnumpy()
    out_t = np.full((cols, k), np.nan, dtype)
    C.op_csr_dot(data, indices, indptr, shape, rhs_t, out_t, True)
    assert_bits(out_t, expected_t, "csr^T x dense")


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_dot_req_add_and_null(dtype, transpose):
    """req 3 adds each product onto the buffer in entry order, as MXNet's kernels do with
    kAddTo (which no MXNet 1.9.1 Python call reaches on these kernels: checked against the
    kernel's loop in numpy); req 0 leaves out alone."""
    data, indices, indptr, shape = random_csr(40, 30, 0.2, dtype)
    rhs = rand((shape[0] if transpose else shape[1], 8), dtype, 1)
    oshape = (shape[1] if transpose else shape[0], 8)
    before = sentinel(oshape, dtype)
    out = before.copy()
    C.op_csr_dot(data, indices, indptr, shape, rhs, out, transpose, 3)
    ref = csr_dot_reference(data, indices, indptr, rhs, before.copy(), transpose)
    assert_bits(out, ref, "csr dot, req add")
    out = before.copy()
    C.op_csr_dot(data, indices, indptr, shape, rhs, out, transpose, 0)
    assert_bits(out, before, "csr dot, req null")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CSR_CASES, ids=str)
def test_csr_t_dot_rsp_bit_identical(case, dtype):
    """dot(csr.T, dense) as row_sparse, and the same thing as the row_sparse weight gradient
    of dot(csr, W) through autograd."""
    rows, cols, density, k = case
    data, indices, indptr, shape = random_csr(rows, cols, density, dtype)
    a = mx_csr(data, indices, indptr, shape)
    rhs = rand((rows, k), dtype, 3)
    res = mxnet.nd.sparse.dot(a, mxnet.nd.array(rhs, dtype=dtype), transpose_a=True)
    assert res.stype == "row_sparse"
    r, v = C.op_csr_t_dot_rsp(data, indices, indptr, shape, rhs)
    assert_bits(r, res.indices.asnumpy().astype(np.int64), "rsp rows")
    assert_bits(v, res.data.asnumpy(), "rsp values")
    assert_bits(r, np.unique(indices), "rows are the distinct column indices")
    # weight gradient of dot(csr, W)
    w = row_sparse_grad_variable(rand((cols, k), dtype, 4))
    with mxnet.autograd.record():
        y = mxnet.nd.sparse.dot(a, w)
    y.backward(mxnet.nd.array(rhs, dtype=dtype))
    assert_bits(r, w.grad.indices.asnumpy().astype(np.int64), "weight gradient rows")
    assert_bits(v, w.grad.data.asnumpy(), "weight gradient values")


def test_csr_duplicates_and_empty():
    # duplicate column indices inside a row accumulate in entry order
    data = np.array([1.5, -2.0, 0.25, 3.0], np.float32)
    indices = np.array([2, 2, 0, 2], np.int64)
    indptr = np.array([0, 3, 3, 4], np.int64)
    rhs = rand((3, 5), np.float32, 5)
    a = mx_csr(data, indices, indptr, (3, 4))
    r, v = C.op_csr_t_dot_rsp(data, indices, indptr, (3, 4), rhs)
    res = mxnet.nd.sparse.dot(a, mxnet.nd.array(rhs), transpose_a=True)
    assert_bits(r, res.indices.asnumpy().astype(np.int64), "rows")
    assert_bits(v, res.data.asnumpy(), "values")
    # no stored entry at all
    e = np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(4, np.int64)
    r, v = C.op_csr_t_dot_rsp(*e, (3, 9), rhs)
    assert r.shape == (0,) and v.shape == (0, 5)
    out = np.full((3, 5), 7.0, np.float32)
    C.op_csr_dot(*e, (3, 9), rand((9, 5), np.float32), out)
    assert_bits(out, np.zeros((3, 5), np.float32), "empty csr x dense")


BAD_CSR = [  # (indices, indptr, message)
    ([0, 1, 2], [0, 2, 1, 3], "indptr must be non-decreasing"),
    ([0, 1, 2], [1, 2, 3, 3], r"indptr\[0\] must be 0"),
    ([0, 1, 2], [0, 1, 2, 2], r"indptr\[-1\] = 2 must equal"),
    ([0, 5, 2], [0, 1, 2, 3], r"indices\[1\] = 5 is out of range for 5 columns"),
    ([0, -1, 2], [0, 1, 2, 3], r"indices\[1\] = -1 is out of range"),
    ([0, 1, 2], [0, 1, 3], "indptr has 3 entries, expected rows \\+ 1 = 4"),
    ([0, 1], [0, 1, 2, 3], "indices has 2 entries, data has 3"),
]


@pytest.mark.parametrize("bad", BAD_CSR, ids=lambda b: b[2][:30])
def test_csr_bad_structure_raises_before_writing(bad):
    indices, indptr, msg = bad
    data = np.ones(3, np.float32)
    out = np.full((3, 2), 7.0, np.float32)
    with pytest.raises(ValueError, match=msg):
        C.op_csr_dot(data, np.array(indices, np.int64), np.array(indptr, np.int64), (3, 5),
                     np.ones((5, 2), np.float32), out)
    assert np.all(out == 7.0)
    with pytest.raises(ValueError, match=msg):
        C.op_csr_t_dot_rsp(data, np.array(indices, np.int64), np.array(indptr, np.int64),
                           (3, 5), np.ones((3, 2), np.float32))


def test_csr_index_dtypes_must_be_int64():
    with pytest.raises(TypeError, match="indptr must be an int64 array, got dtype int32"):
        C.op_csr_dot(np.ones(1, np.float32), np.zeros(1, np.int64), np.array([0, 1], np.int32),
                     (1, 1), np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32))


@pytest.mark.parametrize("cols", [1000, 10_000_000, 1 << 50])
def test_csr_t_dot_rsp_needs_nothing_of_the_feature_count(cols):
    """dot(csr, W)'s weight gradient at any feature count, even 2^50 (an array of that many
    rows, or bits, could not be allocated): nothing of size cols is touched, and both ways of
    grouping the entries (a column bitmap while cols / 64 is small next to nnz, else a sort)
    give the same rows and the same bits."""
    k, rows, nnz = 3, 64, 2000
    r = rng(0)
    indptr = np.linspace(0, nnz, rows + 1).astype(np.int64)
    indices = np.concatenate([np.sort(r.choice(min(cols, 10 ** 6), size=b - a, replace=False))
                              for a, b in zip(indptr[:-1], indptr[1:])]).astype(np.int64)
    indices = indices * (cols // min(cols, 10 ** 6))  # spread over the whole feature range
    data = r.uniform(-1, 1, nnz).astype(np.float32)
    rhs = r.uniform(-1, 1, (rows, k)).astype(np.float32)
    got_rows, got = C.op_csr_t_dot_rsp(data, indices, indptr, (rows, cols), rhs)
    want_rows = np.unique(indices)
    np.testing.assert_array_equal(got_rows, want_rows)
    want = np.zeros((want_rows.size, k), np.float32)
    pos = np.searchsorted(want_rows, indices)
    for row in range(rows):  # CSR order, as the kernel accumulates
        for p in range(indptr[row], indptr[row + 1]):
            want[pos[p]] += rhs[row] * data[p]
    np.testing.assert_array_equal(got, want)


# ---- 10. the kernels of mxopt/ops.h ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reqs", [(1, 1, 1), (3, 3, 3), (0, 1, 0)], ids=str)
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("no_bias", [False, True])
@pytest.mark.parametrize("dshape", [(5, 7), (4, 3, 6), (130, 784)], ids=str)
def test_fully_connected(dshape, no_bias, flatten, reqs, dtype):
    """GEMM accumulation order differs from MXNet's (OpenBLAS/oneDNN): float32 tolerance."""
    nh = 6 if dshape[0] < 100 else 300
    k = int(np.prod(dshape[1:])) if flatten else dshape[-1]
    x, w = rand(dshape, dtype, 1), rand((nh, k), dtype, 2, -0.1, 0.1)
    b = None if no_bias else rand((nh,), dtype, 3)
    fn = (lambda a, wt, *bb: mxnet.nd.FullyConnected(a, wt, *bb, num_hidden=nh, no_bias=no_bias,
                                                     flatten=flatten))
    oshape = (dshape[0], nh) if flatten else dshape[:-1] + (nh,)
    head = rand(oshape, dtype, 4)
    names = {0: "null", 1: "write", 3: "add"}
    bufs = [grad_buffer(r, s, dtype, 40 + i) for i, (r, s) in
            enumerate(zip(reqs, [dshape, (nh, k), (nh,)]))]
    inputs = [x, w] + ([] if no_bias else [b])
    y, exp = mx_run(fn, inputs, head, [names[r] for r in reqs[:len(inputs)]],
                    [bb[1] for bb in bufs[:len(inputs)]])
    out = np.empty(oshape, dtype)
    C.op_fully_connected(x, w, b, out, flatten)
    tol = dict(rtol=1e-4, atol=1e-4)
    assert_f32_close(out, y, "FullyConnected forward", **tol)
    gb = None if no_bias else bufs[2][0]
    C.op_fully_connected_backward(head, x, w, bufs[0][0], reqs[0], bufs[1][0], reqs[1], gb,
                                  0 if no_bias else reqs[2], flatten)
    for i in range(len(inputs)):
        r, (g, before) = reqs[i], bufs[i]
        if r == 0:
            assert_bits(g, before, "req 0 untouched")
        else:
            assert_f32_close(g, exp[i], f"FullyConnected gradient {i}", rtol=1e-4, atol=1e-3)


ACTS = ["relu", "sigmoid", "tanh", "softrelu", "softsign"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req,mxreq", REQS[:2], ids=["write", "add"])
@pytest.mark.parametrize("shape", [(6, 9), LARGE], ids=str)
@pytest.mark.parametrize("act", ACTS)
def test_activation(act, shape, req, mxreq, dtype):
    """float64 and softsign: MXNet's own kernels, bit for bit; float32 relu/sigmoid/tanh/
    softrelu run in oneDNN here (float32 tolerance; bits in the MKLDNN_ENABLED=0 test)."""
    x = rand(shape, dtype, 5, -25, 25)
    x.reshape(-1)[:4] = [0.0, 21.0, 19.5, -0.0]
    head = rand(shape, dtype, 6)
    gx, gx0 = grad_buffer(req, shape, dtype)
    y, (expected,) = mx_run(lambda a: mxnet.nd.Activation(a, act_type=act), [x], head, [mxreq],
                            [gx0])
    out = np.empty(shape, dtype)
    C.op_activation(act, x, out)
    C.op_activation_backward(act, head, x, out, gx, req)
    close = dtype == np.float32 and act != "softsign"
    (assert_f32_close if close else assert_bits)(out, y, f"{act} forward")
    check_grad(req, gx, expected, gx0, f"{act} backward", close=close)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9])
def test_dropout(p, dtype):
    """MXNet's mask (read off Dropout(ones) in training) holds 0 or 1/(1-p) like the kernel's,
    and the kernel's backward with MXNet's mask reproduces MXNet's gradient bit for bit."""
    shape = (30, 40)
    x = rand(shape, dtype, 7)
    u = rng(8).uniform(0, 1, size=x.size).astype(np.float32)
    out, mask = np.empty(shape, dtype), np.empty(shape, dtype)
    C.op_dropout(p, u, x, out, mask)
    keep = np.float32(1) - np.float32(p)
    scale = dtype(np.float32(1) / keep) if keep > 0 else dtype(0)
    ref_mask = np.where(u.reshape(shape) < keep, scale, dtype(0)).astype(dtype)
    assert_bits(mask, ref_mask, "dropout mask")
    assert_bits(out, x * mask, "dropout forward")
    mxnet.random.seed(3)
    mx_mask, _ = mx_run(lambda a: mxnet.nd.Dropout(a, p=p), [np.ones(shape, dtype)])
    assert set(np.unique(mx_mask)) <= {dtype(0), scale}
    head = rand(shape, dtype, 9)
    mxnet.random.seed(3)
    _, (g_mx,) = mx_run(lambda a: mxnet.nd.Dropout(a, p=p), [x], head)
    gx = np.empty(shape, dtype)
    C.op_dropout_backward(head, mx_mask.astype(dtype), gx, 1)
    assert_bits(gx, g_mx, "dropout backward with MXNet's mask")
    before = gx.copy()
    C.op_dropout_backward(head, mask, gx, 3)
    assert_bits(gx, before + head * mask, "dropout backward, req add")


def test_dropout_p_one_differs_from_mxnet():
    """p = 1: the kernel drops everything (mask 0). MXNet 1.9.1 computes its mask as
    (u <= 0) * (1.0f / 0) = 0 * inf = NaN, so its output is NaN: a known difference of the
    existing Dropout kernel (mxopt/ops.h), reported rather than reproduced."""
    x = rand((4, 5), np.float32)
    out, mask = np.empty_like(x), np.empty_like(x)
    C.op_dropout(1.0, rng(1).uniform(0, 1, x.size).astype(np.float32), x, out, mask)
    assert_bits(mask, np.zeros_like(x), "p=1 mask")
    assert_bits(out, x * 0, "p=1 output")
    mx_out, _ = mx_run(lambda a: mxnet.nd.Dropout(a, p=1.0), [x])
    assert np.isnan(mx_out).all()


SOFTMAX_OUTPUT_PARAMS = [
    dict(),
    dict(grad_scale=0.5, normalization="batch"),
    dict(use_ignore=True, ignore_label=2.0, normalization="valid"),
    dict(smooth_alpha=0.1),
    dict(preserve_shape=True),
    dict(multi_output=True, normalization="valid"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", [1, 3], ids=["write", "add"])
@pytest.mark.parametrize("params", SOFTMAX_OUTPUT_PARAMS, ids=str)
def test_softmax_output(params, req, dtype):
    """float64: bit for bit; float32 forward runs oneDNN in this build (tolerance; bits in the
    MKLDNN_ENABLED=0 test)."""
    if params.get("multi_output"):
        shape, lshape = (3, 4, 5), (3, 5)
    elif params.get("preserve_shape"):
        shape, lshape = (3, 4, 5), (3, 4)
    else:
        shape, lshape = (6, 5), (6,)
    x = rand(shape, dtype, 10, -3, 3)
    label = rng(11).randint(0, shape[1] if params.get("multi_output") else shape[-1],
                            size=lshape).astype(dtype)
    gx, gx0 = grad_buffer(req, shape, dtype)
    # MXNet's SoftmaxOutput backward ignores req (it overwrites even with grad_req 'add'): its
    # 'write' result is the reference, and req 3 must add exactly that onto the buffer.
    y, (expected, _) = mx_run(lambda a, lab: mxnet.nd.SoftmaxOutput(a, lab, **params), [x, label],
                              np.ones(shape, dtype), ["write", "null"])
    out = np.empty(shape, dtype)
    C.op_softmax_output(x, out, **params)
    C.op_softmax_output_backward(out, label, gx, req, **params)
    close = dtype == np.float32
    (assert_f32_close if close else assert_bits)(out, y, "SoftmaxOutput forward")
    if req == 3:
        written = np.empty_like(gx)
        C.op_softmax_output_backward(out, label, written, 1, **params)
        assert_bits(gx, gx0 + written, "SoftmaxOutput backward, req add")
        _, (mx_add, _) = mx_run(lambda a, lab: mxnet.nd.SoftmaxOutput(a, lab, **params),
                                [x, label], np.ones(shape, dtype), ["add", "null"], [gx0, None])
        assert_bits(mx_add, expected, "MXNet overwrites with grad_req add")
    check_grad(1, written if req == 3 else gx, expected, gx0, "SoftmaxOutput backward",
               close=close)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", [1, 3, 0], ids=["write", "add", "null"])
@pytest.mark.parametrize("kind,mxop", [("linear", "LinearRegressionOutput"),
                                       ("logistic", "LogisticRegressionOutput"),
                                       ("mae", "MAERegressionOutput")])
def test_regression(kind, mxop, req, dtype):
    shape = (8, 3)
    x, label = rand(shape, dtype, 12), rand(shape, dtype, 13)
    gx, gx0 = grad_buffer(req, shape, dtype)
    # MXNet's 'write' result is the reference; with grad_req 'add' MXNet 1.9.1 scales the
    # accumulated buffer too ((g + d) + (g + d) * scale): req 3 here adds the written value.
    y, (expected, _) = mx_run(lambda a, lab: getattr(mxnet.nd, mxop)(a, lab, grad_scale=0.7),
                              [x, label], np.ones(shape, dtype), ["write", "null"])
    out = np.empty(shape, dtype)
    C.op_regression(kind, x, out)
    C.op_regression_backward(kind, out, label, gx, req, grad_scale=0.7)
    assert_bits(out, y, f"{kind} forward")
    if req == 3:
        assert_bits(gx, gx0 + expected, f"{kind} backward, req add")
    else:
        check_grad(req, gx, expected, gx0, f"{kind} backward")


# ---- oneDNN-routed float32 cases against MXNet's own CPU kernels ------------------------------

def _native_cases():
    """(name, fn(mx, arrays) -> list of outputs, arrays, mxopt fn(arrays) -> list of outputs)."""
    f32 = np.float32
    cases = []
    for shape in [(4, 10), (2, 3, 5), (300, 1000)]:
        x = rand(shape, f32, 9, -6, 6)
        head = rand(shape, f32, 10)
        for log in (False, True):
            def mx_fn(mx, a, h, log=log):
                xa = mx.nd.array(a)
                xa.attach_grad()
                with mx.autograd.record():
                    y = (mx.nd.log_softmax if log else mx.nd.softmax)(xa, axis=-1)
                y.backward(mx.nd.array(h))
                return [y.asnumpy(), xa.grad.asnumpy()]

            def ours(a, h, log=log):
                y, g = np.empty_like(a), np.empty_like(a)
                C.op_softmax(a, y, -1, None, log)
                C.op_softmax_backward(h, y, g, -1, None, log, 1)
                return [y, g]
            cases.append((f"{'log_' if log else ''}softmax{shape}", mx_fn, [x, head], ours))
    for act in ("leaky", "elu", "gelu"):
        for shape in [(4, 6), LARGE]:
            x, head = leaky_input(shape, f32), rand(shape, f32, 14)

            def mx_fn(mx, a, h, act=act):
                xa = mx.nd.array(a)
                xa.attach_grad()
                with mx.autograd.record():
                    y = mx.nd.LeakyReLU(xa, act_type=act, slope=0.3)
                y.backward(mx.nd.array(h))
                return [y.asnumpy(), xa.grad.asnumpy()]

            def ours(a, h, act=act):
                y, g = np.empty_like(a), np.empty_like(a)
                C.op_leaky_relu(act, a, None, y, slope=0.3)
                C.op_leaky_relu_backward(act, h, a, y, g, 1, slope=0.3)
                return [y, g]
            cases.append((f"{act}{shape}", mx_fn, [x, head], ours))
    for act in ("relu", "sigmoid", "tanh", "softrelu"):
        x = rand((6, 9), f32, 5, -25, 25)
        x.reshape(-1)[:4] = [0.0, 21.0, 19.5, -0.0]
        head = rand((6, 9), f32, 6)

        def mx_fn(mx, a, h, act=act):
            xa = mx.nd.array(a)
            xa.attach_grad()
            with mx.autograd.record():
                y = mx.nd.Activation(xa, act_type=act)
            y.backward(mx.nd.array(h))
            return [y.asnumpy(), xa.grad.asnumpy()]

        def ours(a, h, act=act):
            y, g = np.empty_like(a), np.empty_like(a)
            C.op_activation(act, a, y)
            C.op_activation_backward(act, h, a, y, g, 1)
            return [y, g]
        cases.append((f"Activation {act}", mx_fn, [x, head], ours))
    x = rand((6, 5), f32, 10, -3, 3)
    label = rng(11).randint(0, 5, size=(6,)).astype(f32)

    def mx_fn(mx, a, lab):
        return [mx.nd.SoftmaxOutput(mx.nd.array(a), mx.nd.array(lab)).asnumpy()]

    def ours(a, lab):
        y = np.empty_like(a)
        C.op_softmax_output(a, y)
        return [y]
    cases.append(("SoftmaxOutput", mx_fn, [x, label], ours))
    return cases


def _native_main(in_path, out_path):
    """Subprocess entry: MXNet with MXNET_MKLDNN_ENABLED=0 computes every case."""
    import mxnet as mx
    with open(in_path, "rb") as f:
        wanted = pickle.load(f)
    results = {}
    for name, fn, arrays, _ in _native_cases():
        if name in wanted:
            results[name] = fn(mx, *arrays)
    with open(out_path, "wb") as f:
        pickle.dump(results, f)


def test_mkldnn_routed_cases_bit_identical_to_mxnet_native_kernels(tmp_path):
    cases = _native_cases()
    in_path, out_path = tmp_path / "cases.pkl", tmp_path / "results.pkl"
    with open(in_path, "wb") as f:
        pickle.dump([c[0] for c in cases], f)
    env = dict(os.environ, MXNET_MKLDNN_ENABLED="0", MXNET_STORAGE_FALLBACK_LOG_VERBOSE="0")
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys; sys.path.insert(0, {here!r}); import test_op_kernels_mxnet as t; "
            f"t._native_main({str(in_path)!r}, {str(out_path)!r})")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)
    with open(out_path, "rb") as f:
        native = pickle.load(f)
    assert sorted(native) == sorted(c[0] for c in cases)
    for name, _, arrays, ours in cases:
        for i, (a, b) in enumerate(zip(ours(*arrays), native[name])):
            assert_bits(a, b, f"{name} output {i} vs MXNet's CPU kernel")


# ---- bad input: clear errors, outputs untouched ---------------------------------------------------

def _untouched(*arrays):
    return [a.copy() for a in arrays]


def test_dtype_mismatch_is_a_type_error_naming_the_argument():
    x32, x64 = rand((3, 4), np.float32), rand((3, 4), np.float64)
    out = np.full((3, 4), 7.0, np.float32)
    with pytest.raises(TypeError, match=r"rhs has dtype float64, expected float32 \(the dtype of lhs\)"):
        C.op_broadcast("add", x32, x64, out)
    with pytest.raises(TypeError, match="out has dtype float64"):
        C.op_unary("exp", x32, np.zeros((3, 4)))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array, got dtype int32"):
        C.op_unary("exp", np.zeros((3, 4), np.int32), out)
    with pytest.raises(TypeError, match="x must be a numpy.ndarray, got list"):
        C.op_unary("exp", [1.0, 2.0], out)
    with pytest.raises(TypeError, match="weight"):
        C.op_embedding(np.zeros(3, np.int64), np.zeros((4, 2), np.float16), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="indices must be a float32, float64, int8, uint8, int32 or int64"):
        C.op_one_hot(np.zeros(3, np.uint16), np.zeros((3, 2), np.float32), 2)
    assert np.all(out == 7.0)


def test_shape_mismatch_is_a_value_error_with_both_shapes():
    x = rand((3, 4), np.float32)
    out = np.full((4, 3), 7.0, np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(4, 3\), expected \(3, 4\)"):
        C.op_unary("exp", x, out)
    with pytest.raises(ValueError, match=r"glhs has shape \(4, 3\), expected \(3, 4\)"):
        C.op_broadcast_backward("add", x, x, x, out, 1, None, 0)
    with pytest.raises(ValueError, match=r"ograd has shape \(4, 3\), expected \(3, 4\)"):
        C.op_broadcast_backward("add", out, x, x, None, 0, None, 0)
    with pytest.raises(ValueError, match=r"out has shape \(4, 3\), expected \(3, 4, 5\)"):
        C.op_one_hot(np.zeros((3, 4), np.int64), out, 5)
    assert np.all(out == 7.0)


def test_non_contiguous_read_only_and_overlapping_buffers():
    x = rand((6, 8), np.float64)
    out = np.full((6, 4), 7.0)
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        C.op_unary("exp", x[:, ::2], out)
    ro = np.full((6, 8), 7.0)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        C.op_unary("exp", x, ro)
    buf = np.full(100, 7.0)
    a, b = buf[:48].reshape(6, 8), buf[8:56].reshape(6, 8)
    with pytest.raises(ValueError, match="out overlaps x in memory"):
        C.op_unary("exp", a, b)
    with pytest.raises(ValueError, match="out overlaps x in memory"):  # reductions: no aliasing
        C.op_reduce("sum", a, buf[:8], [0])
    g = np.full(8, 7.0)
    with pytest.raises(ValueError, match="glhs and grhs overlap"):
        C.op_broadcast_backward("add", x[:1].copy(), g[None, :], g, g[None, :], 1, g, 1)
    assert np.all(buf == 7.0) and np.all(out == 7.0) and np.all(g == 7.0)


def test_req_checks():
    x = rand((3, 4), np.float32)
    g = np.full((3, 4), 7.0, np.float32)
    with pytest.raises(ValueError, match=r"req must be 0 \(null\), 1 \(write\) or 3 \(add\), got 2"):
        C.op_unary_backward("exp", x, x, x, g, 2)
    with pytest.raises(ValueError, match="gx is None but its req is 1"):
        C.op_unary_backward("exp", x, x, x, None, 1)
    C.op_unary_backward("exp", x, x, x, None, 0)  # nothing to do
    C.op_unary_backward("exp", x, x, x, g, 0)
    assert np.all(g == 7.0)
    with pytest.raises(ValueError, match="op must be one of 'add'"):
        C.op_broadcast("plus", x, x, g)
    with pytest.raises(ValueError, match="act_type must be one of"):
        C.op_leaky_relu("swish", x, None, g)
    assert np.all(g == 7.0)
