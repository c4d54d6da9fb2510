"""BatchNorm against MXNet 1.9.1: forward (training and inference), backward, the moving
statistics over several steps (MXNet updates them in the backward pass), every parameter
combination, channel axis 1 and -1, 2-D to 4-D data, float32 and float64, every grad_req."""

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

SHAPES = [((6, 3), 1), ((6, 3), -1), ((4, 3, 5), 1), ((2, 3, 4, 5), 1), ((2, 3, 4, 5), -1),
          ((2, 4, 3, 3), 2)]
PARAMS = [dict(), dict(fix_gamma=False), dict(fix_gamma=False, momentum=0.5, eps=1e-5),
          dict(use_global_stats=True, fix_gamma=False), dict(output_mean_var=True, fix_gamma=False),
          dict(output_mean_var=True)]


def _run(mx, shape, axis, params, dtype, steps, grad_req="write", is_train=True):
    rng = np.random.default_rng(7)
    sym = mx.sym.BatchNorm(mx.sym.var("x"), name="bn", axis=axis, **params)
    ex = sym.simple_bind(mx.cpu(), x=shape, type_dict={"x": dtype}, grad_req=grad_req)
    c = shape[axis]
    ex.arg_dict["bn_gamma"][:] = rng.uniform(0.5, 1.5, c)
    ex.arg_dict["bn_beta"][:] = rng.uniform(-1, 1, c)
    ex.aux_dict["bn_moving_mean"][:] = rng.uniform(-0.5, 0.5, c)
    ex.aux_dict["bn_moving_var"][:] = rng.uniform(0.5, 2, c)
    for g in ex.grad_dict.values():
        if g is not None:
            g[:] = 0.25
    record = []
    for step in range(steps):
        ex.arg_dict["x"][:] = rng.standard_normal(shape) * 2 + step
        outs = [o.asnumpy().copy() for o in ex.forward(is_train=is_train)]
        heads = [mx.nd.array(rng.standard_normal(o.shape), dtype=dtype) for o in outs]
        ex.backward(heads)
        record.append((outs, {k: v.asnumpy().copy() for k, v in ex.grad_dict.items()
                              if v is not None},
                       {k: v.asnumpy().copy() for k, v in ex.aux_dict.items()},
                       ex.arg_dict["bn_gamma"].asnumpy().copy()))
    return sym.list_arguments(), sym.list_outputs(), sym.list_auxiliary_states(), record


def _close(a, b, dtype, what):
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b, a, err_msg=what, **tol)


@pytest.mark.parametrize("shape, axis", SHAPES)
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "default")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_steps_match_mxnet(shape, axis, params, dtype):
    a = _run(mxnet, shape, axis, params, dtype, steps=3)
    b = _run(mxopt, shape, axis, params, dtype, steps=3)
    assert a[:3] == b[:3]
    for step, (ra, rb) in enumerate(zip(a[3], b[3])):
        for i, (u, v) in enumerate(zip(ra[0], rb[0])):
            _close(u, v, dtype, f"step {step} output {i}")
        assert ra[1].keys() == rb[1].keys()
        for k in ra[1]:
            _close(ra[1][k], rb[1][k], dtype, f"step {step} grad {k}")
        for k in ra[2]:
            _close(ra[2][k], rb[2][k], dtype, f"step {step} aux {k}")
        _close(ra[3], rb[3], dtype, f"step {step} gamma")


@pytest.mark.parametrize("grad_req", ["add", {"x": "write", "bn_gamma": "null", "bn_beta": "add"}])
def test_grad_req_modes_match_mxnet(grad_req):
    for params in (dict(), dict(fix_gamma=False)):
        a = _run(mxnet, (4, 3, 2), 1, params, np.float32, steps=2, grad_req=grad_req)
        b = _run(mxopt, (4, 3, 2), 1, params, np.float32, steps=2, grad_req=grad_req)
        for ra, rb in zip(a[3], b[3]):
            assert ra[1].keys() == rb[1].keys()
            for k in ra[1]:
                _close(ra[1][k], rb[1][k], np.float32, k)


def test_inference_forward_uses_moving_statistics():
    for shape, axis in SHAPES[:4]:
        a = _run(mxnet, shape, axis, dict(fix_gamma=False), np.float32, steps=1, is_train=False)
        b = _run(mxopt, shape, axis, dict(fix_gamma=False), np.float32, steps=1, is_train=False)
        _close(a[3][0][0][0], b[3][0][0][0], np.float32, "inference output")


def test_imperative_batch_norm_matches_mxnet():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    args = [x, rng.uniform(0.5, 1.5, 3), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3),
            rng.uniform(0.5, 2, 3)]
    outs = []
    for mx in (mxnet, mxopt):
        nds = [mx.nd.array(a, dtype=np.float32) for a in args]
        outs.append(mx.nd.BatchNorm(*nds, fix_gamma=False, eps=1e-4).asnumpy())
    _close(outs[0], outs[1], np.float32, "imperative")


def test_bad_axis_is_an_error():
    with pytest.raises(mxopt.base.MXNetError, match="Channel axis out of range"):
        mxopt.sym.BatchNorm(mxopt.sym.var("x"), axis=3).infer_shape(x=(2, 3))
