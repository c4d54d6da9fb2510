"""Neural-network layers: FullyConnected, Activation, Dropout, Flatten, SoftmaxOutput and the
regression outputs and BatchNorm (kernels: ``_core.op_*``, cpp/src/ops)."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from .. import _core
from ..base import MXNetError
from .registry import OpDef, Param, Shape, ShapeError, assign_shape, fmt_shape, known, prod, register

_ACT_TYPES = ("relu", "sigmoid", "softrelu", "softsign", "tanh")


def same_shape_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    """Element-wise: every output (hidden ones too) has the first input's shape, both ways."""
    if ins[0]:
        for i in range(len(outs)):
            assign_shape(outs, i, ins[0])
    if outs[0]:
        assign_shape(ins, 0, outs[0])


# ---- FullyConnected ------------------------------------------------------------------------------
def _fc_inputs(p: Dict[str, Any]) -> List[str]:
    return ["data", "weight"] if p["no_bias"] else ["data", "weight", "bias"]


def _fc_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    nh = p["num_hidden"]
    num_input = prod(d[1:]) if p["flatten"] else d[-1]
    assign_shape(ins, 1, (nh, num_input))
    if not p["no_bias"] and tuple(ins[2]) != (nh, 1):  # MXNet also accepts a (nh, 1) bias
        assign_shape(ins, 2, (nh,))
    assign_shape(outs, 0, (d[0], nh) if p["flatten"] else tuple(d[:-1]) + (nh,))
    if outs[0]:
        assign_shape(ins, 0, (outs[0][0],) + tuple(ins[0][1:]))


def _fc_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_fully_connected(ins[0], ins[1], None if p["no_bias"] else ins[2], outs[0],
                             p["flatten"])


def _fc_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    nb = p["no_bias"]
    _core.op_fully_connected_backward(og[0], ins[0], ins[1], ig[0], reqs[0], ig[1], reqs[1],
                                      None if nb else ig[2], 0 if nb else reqs[2], p["flatten"])


register(OpDef(
    "FullyConnected",
    [Param("num_hidden", "int", required=True, lower=1), Param("no_bias", "bool", False),
     Param("flatten", "bool", True)],
    _fc_inputs, _fc_infer, forward=_fc_forward, backward=_fc_backward))


# ---- Activation ----------------------------------------------------------------------------------
def _act_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_activation(p["act_type"], ins[0], outs[0])


def _act_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    _core.op_activation_backward(p["act_type"], og[0], ins[0], outs[0], ig[0], reqs[0])


register(OpDef(
    "Activation",
    [Param("act_type", "enum", required=True, choices=_ACT_TYPES)],
    ["data"], same_shape_infer, forward=_act_forward, backward=_act_backward))


# ---- Dropout -------------------------------------------------------------------------------------
class _DropoutState:
    """The node's random stream: std::mt19937 outputs (numpy's legacy MT19937 seeded the same
    way), turned into float32 draws in [0, 1) with 24 random bits each."""

    __slots__ = ("rng",)

    def __init__(self, seed: int) -> None:
        self.rng = np.random.RandomState(seed & 0xFFFFFFFF)

    def uniform(self, n: int) -> np.ndarray:
        raw = self.rng.randint(0, 1 << 32, size=n, dtype=np.uint32)
        return (raw >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def _dropout_state(p: Dict[str, Any], ctx: Any) -> _DropoutState:
    if p["axes"]:
        raise MXNetError(f"Dropout {ctx.name}: axes={p['axes']} (variational dropout) is not "
                         "supported by mxopt")
    return _DropoutState(ctx.seed())


def _dropout_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    x, y, mask = ins[0], outs[0], outs[1]
    if (is_train or p["mode"] == "always") and p["p"] > 0:
        _core.op_dropout(p["p"], st.uniform(x.size), x, y, mask)
    else:
        mask.fill(1)
        np.copyto(y, x)


def _dropout_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    _core.op_dropout_backward(og[0], outs[1], ig[0], reqs[0])


register(OpDef(
    "Dropout",
    [Param("p", "float", 0.5, lower=0, upper=1),
     Param("mode", "enum", "training", choices=("always", "training")),
     Param("axes", "shape", ()), Param("cudnn_off", "bool", False)],
    ["data"], same_shape_infer, forward=_dropout_forward, backward=_dropout_backward,
    create_state=_dropout_state, outputs=("output", "mask"), num_visible=1))


# ---- Flatten -------------------------------------------------------------------------------------
def _flatten_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if d:
        assign_shape(outs, 0, (d[0], prod(d[1:])))


def _copy_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_copy(ins[0], outs[0], 1)


def _copy_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    _core.op_copy(og[0], ig[0], reqs[0])


register(OpDef("Flatten", [], ["data"], _flatten_infer, forward=_copy_forward,
               backward=_copy_backward), "flatten")


# ---- SoftmaxOutput -------------------------------------------------------------------------------
def _softmax_output_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    if tuple(ins[1]) != tuple(d):  # equal shapes: probability labels
        if p["multi_output"]:
            size = prod(d)
            lshape1 = (d[0], size // d[0] // d[1] if d[0] and d[1] else 0)
            lshape2 = (d[0],) + tuple(d[2:])
            lshape3 = (d[0], 1) + tuple(d[2:])
            label = tuple(ins[1])
            if not label:
                ins[1] = lshape1
            elif label not in (lshape1, lshape2, lshape3):
                raise ShapeError(f"Expecting {fmt_shape(lshape1, '()')} or "
                                 f"{fmt_shape(lshape2, '()')}. But got {fmt_shape(label, '()')}")
        else:
            assign_shape(ins, 1, tuple(d[:-1]))
    assign_shape(outs, 0, d)


def _softmax_param(p: Dict[str, Any]) -> Dict[str, Any]:
    if p["out_grad"]:
        raise MXNetError("SoftmaxOutput: out_grad=True is not supported by mxopt (MXNet 1.9.1 "
                         "multiplies the gradient by the softmax output instead of the head "
                         "gradient)")
    return {"grad_scale": p["grad_scale"], "ignore_label": p["ignore_label"],
            "multi_output": p["multi_output"], "use_ignore": p["use_ignore"],
            "preserve_shape": p["preserve_shape"], "normalization": p["normalization"],
            "smooth_alpha": p["smooth_alpha"]}


def _softmax_output_state(p: Dict[str, Any], ctx: Any) -> Dict[str, Any]:
    return _softmax_param(p)


def _softmax_output_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_softmax_output(ins[0], outs[0], **st)


def _softmax_output_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    _core.op_softmax_output_backward(outs[0], ins[1], ig[0], reqs[0], **st)


register(OpDef(
    "SoftmaxOutput",
    [Param("grad_scale", "float", 1.0), Param("ignore_label", "float", -1.0),
     Param("multi_output", "bool", False), Param("use_ignore", "bool", False),
     Param("preserve_shape", "bool", False),
     Param("normalization", "enum", "null", choices=("batch", "null", "valid")),
     Param("out_grad", "bool", False), Param("smooth_alpha", "float", 0.0)],
    ["data", "label"], _softmax_output_infer, forward=_softmax_output_forward,
    backward=_softmax_output_backward, create_state=_softmax_output_state, is_loss=True,
    no_grad=(1,), hint="softmaxoutput"), "Softmax")


# ---- Linear / Logistic / MAE regression outputs ----------------------------------------------------
def _regression_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not known(d):
        return
    label = ins[1]
    if not label:
        ins[1] = (d[0],) if len(d) == 2 and d[1] == 1 else tuple(d)
    elif label[0] != d[0] or prod(label) != prod(d):
        raise ShapeError(f"Shape inconsistent, Provided={fmt_shape(label)}, inferred shape="
                         f"{fmt_shape(d)}")
    assign_shape(outs, 0, d)


def _regression(name: str, kind: str) -> None:
    def forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
        _core.op_regression(kind, ins[0], outs[0])

    def backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
        _core.op_regression_backward(kind, outs[0], ins[1], ig[0], reqs[0], p["grad_scale"])

    register(OpDef(name, [Param("grad_scale", "float", 1.0)], ["data", "label"],
                   _regression_infer, forward=forward, backward=backward, is_loss=True,
                   no_grad=(1,)))


_regression("LinearRegressionOutput", "linear")
_regression("LogisticRegressionOutput", "logistic")
_regression("MAERegressionOutput", "mae")


# ---- BatchNorm -----------------------------------------------------------------------------------
def _bn_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    axis = p["axis"] + len(d) if p["axis"] < 0 else p["axis"]
    if not 0 <= axis < len(d):
        raise ShapeError(f"Channel axis out of range: {p['axis']}")
    c = d[axis]
    for i in range(1, 5):  # gamma, beta, moving_mean, moving_var
        assign_shape(ins, i, (c,))
    assign_shape(outs, 0, d)
    assign_shape(outs, 1, (c,))
    assign_shape(outs, 2, (c,))


def _bn_args(p: Dict[str, Any]) -> tuple:
    return (p["eps"], p["momentum"], p["fix_gamma"], p["use_global_stats"])


def _bn_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_batch_norm(*_bn_args(p), bool(is_train), p["axis"], ins[0], ins[1], ins[2], aux[0],
                        aux[1], outs[0], outs[1], outs[2])


def _bn_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    # MXNet's backward runs in training mode: the moving statistics are updated here.
    _core.op_batch_norm_backward(*_bn_args(p), True, p["axis"], og[0], ins[0], ins[1], outs[1],
                                 outs[2], aux[0], aux[1], ig[0], reqs[0], ig[1], reqs[1], ig[2],
                                 reqs[2])


register(OpDef(
    "BatchNorm",
    # eps is a double whose default is the float literal 1e-3f (so 1e-3 rounded to float32)
    [Param("eps", "float", float(np.float32(1e-3))), Param("momentum", "float", 0.9),
     Param("fix_gamma", "bool", True), Param("use_global_stats", "bool", False),
     Param("output_mean_var", "bool", False), Param("axis", "int", 1),
     Param("cudnn_off", "bool", False), Param("min_calib_range", "float?", None),
     Param("max_calib_range", "float?", None)],
    ["data", "gamma", "beta"], _bn_infer, forward=_bn_forward, backward=_bn_backward,
    outputs=("output", "mean", "var"), aux=("moving_mean", "moving_var"),
    num_visible=lambda p: 3 if p["output_mean_var"] else 1, hint="batchnorm",
    init_hints=lambda p: {"moving_mean": '["zero", {}]', "moving_var": '["one", {}]'}))
