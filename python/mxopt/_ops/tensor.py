"""Tensor operators: element-wise and broadcast arithmetic, unary math, reductions, softmax,
reshaping, concatenation, one_hot, Embedding, LeakyReLU, the loss makers (MakeLoss, make_loss)
and BlockGrad. Kernels: ``_core.op_*`` (cpp/src/ops); pure views and copies stay in numpy."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .. import _core
from ..base import MXNetError
from .nn import same_shape_infer
from .registry import (OpDef, Param, Shape, ShapeError, assign_shape, fmt_shape, known,
                       merge_shape, prod, register)

_DTYPES = ("float16", "float32", "float64", "int32", "int64", "int8", "uint8")


def _tshape(s: Shape) -> str:
    return "(" + ",".join(str(d) for d in s) + ")"


# ---- broadcast and element-wise binary arithmetic -------------------------------------------------
def _broadcast_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    lhs, rhs = ins[0], ins[1]
    if not lhs or not rhs:
        return
    if tuple(lhs) == tuple(rhs):
        assign_shape(outs, 0, lhs)
        return
    nd = max(len(lhs), len(rhs))
    bl, br = nd - len(lhs), nd - len(rhs)
    out = []
    for i in range(nd):
        l = lhs[i - bl] if i >= bl else 1
        r = rhs[i - br] if i >= br else 1
        if l == 0 or r == 0:
            out.append(0)
        elif l != r:
            if l != 1 and r != 1:
                raise ShapeError(f"operands could not be broadcast together with shapes "
                                 f"{_tshape(lhs)} {_tshape(rhs)}")
            out.append(r if l == 1 else l)
        else:
            out.append(l)
    assign_shape(outs, 0, tuple(out))


def _elemwise_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    """Same-shape binary: both inputs and the output share one shape."""
    shape: Shape = ()
    try:
        for s in (ins[0], ins[1], outs[0]):
            shape = merge_shape(shape, s)
    except ShapeError:
        raise ShapeError(f"Incompatible attr in node at 1-th input: expected "
                         f"{fmt_shape(ins[0], '()')}, got {fmt_shape(ins[1], '()')}") from None
    for i in range(2):
        assign_shape(ins, i, shape)
    assign_shape(outs, 0, shape)


def _binary(name: str, kernel: str, infer: Any, aliases: Sequence[str] = ()) -> None:
    def forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
        _core.op_broadcast(kernel, ins[0], ins[1], outs[0])

    def backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
        _core.op_broadcast_backward(kernel, og[0], ins[0], ins[1], ig[0], reqs[0], ig[1], reqs[1])

    register(OpDef(name, [], ["lhs", "rhs"], infer, forward=forward, backward=backward), *aliases)


for _name, _kernel, _aliases in (("add", "add", ("broadcast_plus",)),
                                 ("sub", "sub", ("broadcast_minus",)),
                                 ("mul", "mul", ()), ("div", "div", ()),
                                 ("maximum", "maximum", ()), ("minimum", "minimum", ()),
                                 ("power", "power", ())):
    _binary(f"broadcast_{_name}", _kernel, _broadcast_infer, _aliases)
for _name in ("add", "sub", "mul", "div"):
    _binary(f"elemwise_{_name}", _name, _elemwise_infer)
_binary("_power", "power", _elemwise_infer)


# ---- scalar arithmetic (what Symbol and NDArray operators with a Python number build) -------------
def _scalar(name: str, kernel: str, reverse: bool) -> None:
    def scalar_array(p: Dict[str, Any], dtype: Any) -> np.ndarray:
        return np.array([p["scalar"]], dtype=dtype)  # MXNet: DType(scalar)

    def forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
        s = scalar_array(p, ins[0].dtype)
        if reverse:
            _core.op_broadcast(kernel, s, ins[0], outs[0])
        else:
            _core.op_broadcast(kernel, ins[0], s, outs[0])

    def backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
        s = scalar_array(p, ins[0].dtype)
        if reverse:
            _core.op_broadcast_backward(kernel, og[0], s, ins[0], None, 0, ig[0], reqs[0])
        else:
            _core.op_broadcast_backward(kernel, og[0], ins[0], s, ig[0], reqs[0], None, 0)

    register(OpDef(name, [Param("scalar", "float", required=True),
                          Param("is_int", "bool", False)],
                   ["data"], same_shape_infer, forward=forward, backward=backward))


for _name, _kernel, _rev in (("_plus_scalar", "add", False), ("_minus_scalar", "sub", False),
                             ("_rminus_scalar", "sub", True), ("_mul_scalar", "mul", False),
                             ("_div_scalar", "div", False), ("_rdiv_scalar", "div", True),
                             ("_power_scalar", "power", False), ("_rpower_scalar", "power", True),
                             ("_maximum_scalar", "maximum", False),
                             ("_minimum_scalar", "minimum", False)):
    _scalar(_name, _kernel, _rev)


# ---- unary math ----------------------------------------------------------------------------------
def _unary(name: str, aliases: Sequence[str] = ()) -> None:
    def forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
        _core.op_unary(name, ins[0], outs[0])

    def backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
        _core.op_unary_backward(name, og[0], ins[0], outs[0], ig[0], reqs[0])

    register(OpDef(name, [], ["data"], same_shape_infer, forward=forward, backward=backward),
             *aliases)


for _name in ("exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "negative", "reciprocal"):
    _unary(_name)


# ---- reductions ------------------------------------------------------------------------------------
_REDUCE_PARAMS = [Param("axis", "tuple?", None), Param("keepdims", "bool", False),
                  Param("exclude", "bool", False)]


def _reduce_axes(p: Dict[str, Any], ndim: int) -> Tuple[int, ...]:
    """The reduced axes, sorted (shape inference has checked them)."""
    axis = p["axis"]
    if axis is None or len(axis) == 0:
        return tuple(range(ndim))
    axes = sorted(a + ndim if a < 0 else a for a in axis)
    if p["exclude"]:
        return tuple(i for i in range(ndim) if i not in axes)
    return tuple(axes)


def _reduce_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    axis = p["axis"]
    if axis is None or len(axis) == 0:
        assign_shape(outs, 0, (1,) * len(d) if p["keepdims"] else (1,))
        return
    axes = sorted(a + len(d) if a < 0 else a for a in axis)
    for a, b in zip(axes, axes[1:]):
        if a >= b:
            raise ShapeError(f"Reduction axes have duplicates {_tshape(tuple(axes))}")
    if axes[-1] >= len(d):
        raise ShapeError(f"Reduction axis {axes[-1]} Exceeds input dimensions {_tshape(d)}")
    if axes[0] < 0:
        raise ShapeError(f"Reduction axis {_tshape(tuple(axis))} Exceeds input dimensions "
                         f"{_tshape(d)}")
    if p["keepdims"] and p["exclude"]:
        out = tuple(d[i] if i in axes else 1 for i in range(len(d)))
    elif p["keepdims"]:
        out = tuple(1 if i in axes else d[i] for i in range(len(d)))
    elif p["exclude"]:
        out = tuple(d[a] for a in axes)
    else:
        out = tuple(d[i] for i in range(len(d)) if i not in axes) or (1,)
    assign_shape(outs, 0, out)


def _reduction(name: str, aliases: Sequence[str] = ()) -> None:
    def keep_view(p: Dict[str, Any], x: np.ndarray, out: np.ndarray) -> Tuple[Tuple[int, ...], Any]:
        axes = _reduce_axes(p, x.ndim)
        keep = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return axes, out.reshape(keep)

    def forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
        axes, out = keep_view(p, ins[0], outs[0])
        _core.op_reduce(name, ins[0], out, list(axes))

    def backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
        axes, ograd = keep_view(p, ins[0], og[0])
        # MXNet's mean gradient under req 'add' is (gx + ograd) / count: kept, as MXNet has it
        _core.op_reduce_backward(name, ograd, ins[0], ig[0], list(axes), reqs[0],
                                 mean_scales_accumulated=name == "mean")

    register(OpDef(name, _REDUCE_PARAMS, ["data"], _reduce_infer, forward=forward,
                   backward=backward), *aliases)


_reduction("sum", ("sum_axis",))
_reduction("mean")


# ---- softmax / log_softmax ---------------------------------------------------------------------------
def _softmax(name: str, log: bool) -> None:
    def temperature(p: Dict[str, Any]) -> float:
        t = p["temperature"]
        return 1.0 if t is None else t

    def check(p: Dict[str, Any], x: np.ndarray) -> int:
        if p["use_length"]:
            raise MXNetError(f"{name}: use_length=True is not supported by mxopt")
        axis = p["axis"]
        if not -x.ndim <= axis < x.ndim:
            raise MXNetError(f"{name}: axis {axis} is out of range for data of shape {x.shape}")
        return axis % x.ndim

    def forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
        _core.op_softmax(ins[0], outs[0], check(p, ins[0]), temperature(p), log)

    def backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
        _core.op_softmax_backward(og[0], outs[0], ig[0], check(p, ins[0]), temperature(p), log,
                                  reqs[0])

    register(OpDef(name, [Param("axis", "int", -1), Param("temperature", "float?", None),
                          Param("dtype", "dtype?", None, choices=("float16", "float32",
                                                                    "float64")),
                          Param("use_length", "bool?", False)],
                   ["data"], same_shape_infer, forward=forward, backward=backward))


_softmax("softmax", False)
_softmax("log_softmax", True)


# ---- Reshape / Flatten-like views ---------------------------------------------------------------------
def reshape_shape(dshape: Shape, spec: Sequence[int], reverse: bool) -> Shape:
    """MXNet's Reshape target from the input shape and ``shape`` with its special values
    (0 copy, -1 infer, -2 copy the rest, -3 merge two, -4 split one into the next two)."""
    dims = list(dshape)
    params = list(spec)
    if reverse:
        dims.reverse()
        params.reverse()
    out: List[int] = []
    src = 0
    infer_at = -1
    i = 0
    while i < len(params):
        v = params[i]
        if v == 0:
            if src >= len(dims):
                raise ShapeError(f"Reshape: shape {_tshape(tuple(spec))} copies dimension {src} "
                                 f"which the input {_tshape(dshape)} does not have")
            out.append(dims[src])
            src += 1
        elif v == -1:
            if infer_at >= 0:
                raise ShapeError("One and only one dim can be inferred")
            infer_at = len(out)
            out.append(1)
            src += 1
        elif v == -2:
            out.extend(dims[src:])
            src = len(dims)
        elif v == -3:
            if src + 1 >= len(dims):
                raise ShapeError(f"Reshape: -3 needs two input dimensions at {src} of "
                                 f"{_tshape(dshape)}")
            d1, d2 = dims[src], dims[src + 1]
            out.append(d1 * d2 if d1 and d2 else 0)
            src += 2
        elif v == -4:
            if i + 2 >= len(params) or src >= len(dims):
                raise ShapeError("Reshape: -4 must be followed by two dimensions")
            d0 = dims[src]
            src += 1
            d1, d2 = params[i + 1], params[i + 2]
            i += 2
            if d1 == -1 and d2 == -1:
                raise ShapeError("Split dims cannot both be -1.")
            if d1 == -1 and d0:
                d1 = d0 // d2
            if d2 == -1 and d0:
                d2 = d0 // d1
            if d0 and d1 * d2 != d0:
                raise ShapeError(f"Split dims {d1}, {d2} do not divide original dim {d0}")
            out.extend([d1, d2])
        elif v > 0:
            out.append(v)
            src += 1
        else:
            raise ShapeError(f"Reshape: invalid dimension {v} in shape {_tshape(tuple(spec))}")
        i += 1
    if infer_at >= 0:
        if known(dshape):
            rest = prod(out)
            out[infer_at] = prod(dshape) // rest if rest else 0
        else:
            out[infer_at] = 0
    if reverse:
        out.reverse()
    return tuple(out)


def _reshape_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    if p["shape"]:
        target = reshape_shape(d, p["shape"], p["reverse"])
    elif p["target_shape"]:  # MXNet's deprecated form: one 0 is inferred
        target = tuple(p["target_shape"])
        if p["keep_highest"]:
            target = (d[0],) + target
        if target.count(0) == 1 and known(d):
            rest = prod([t for t in target if t])
            target = tuple(prod(d) // rest if t == 0 else t for t in target)
    else:
        raise ShapeError("Reshape: target shape must be given")
    if known(d) and known(target) and prod(target) != prod(d):
        raise ShapeError(f"Target shape size is different to source. Target: {_tshape(target)}\n"
                         f"Source: {_tshape(d)}")
    assign_shape(outs, 0, target)


def _copy_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_copy(ins[0], outs[0], 1)


def _copy_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    _core.op_copy(og[0], ig[0], reqs[0])


register(OpDef("Reshape",
               [Param("shape", "shape", ()), Param("reverse", "bool", False),
                Param("target_shape", "shape", ()), Param("keep_highest", "bool", False)],
               ["data"], _reshape_infer, forward=_copy_forward, backward=_copy_backward),
         "reshape")
register(OpDef("_copy", [], ["data"], same_shape_infer, forward=_copy_forward,
               backward=_copy_backward), "identity")


# ---- BlockGrad / MakeLoss / make_loss -------------------------------------------------------------------
def _no_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    if reqs[0] == 1:  # the gradient through BlockGrad is zero
        ig[0].fill(0)


register(OpDef("BlockGrad", [], ["data"], same_shape_infer, forward=_copy_forward,
               backward=_no_backward), "stop_gradient")


def _make_loss_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    g, x = ig[0], ins[0]
    norm = p["normalization"]
    scale = np.float32(p["grad_scale"])
    if norm == "batch":
        scale = np.float32(scale / np.float32(x.shape[0] if x.ndim else 1))
    elif norm == "valid":
        count = np.count_nonzero(x > x.dtype.type(np.float32(p["valid_thresh"])))
        scale = scale / max(x.dtype.type(1), x.dtype.type(count))
    value = x.dtype.type(scale)
    if reqs[0] == 3:
        g += value
    else:
        g.fill(value)


register(OpDef("MakeLoss",
               [Param("grad_scale", "float", 1.0), Param("valid_thresh", "float", 0.0),
                Param("normalization", "enum", "null", choices=("null", "batch", "valid"))],
               ["data"], same_shape_infer, forward=_copy_forward, backward=_make_loss_backward,
               is_loss=True, hint="makeloss"))


def _ones_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    if reqs[0] == 3:
        ig[0] += 1
    else:
        ig[0].fill(1)


register(OpDef("make_loss", [], ["data"], same_shape_infer, forward=_copy_forward,
               backward=_ones_backward, is_loss=True, outputs=("loss",)))


# ---- Concat ----------------------------------------------------------------------------------------------
def _concat_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    dim = p["dim"]
    known_in = [s for s in ins if s]
    if not known_in:
        return
    ndim = len(known_in[0])
    axis = dim + ndim if dim < 0 else dim
    if not 0 <= axis < ndim:
        raise ShapeError(f"Concat: dim {dim} is out of range for inputs of {ndim} dimensions")
    common = [0] * ndim
    total, missing = 0, 0
    for s in ins:
        if not s:
            missing += 1
            continue
        if len(s) != ndim:
            raise ShapeError(f"Concat: all inputs must have {ndim} dimensions, got "
                             f"{_tshape(s)}")
        for k in range(ndim):
            if k == axis:
                continue
            if common[k] and s[k] and common[k] != s[k]:
                raise ShapeError(f"Incompatible input shape: expected {_tshape(tuple(common))}, "
                                 f"got {_tshape(s)}")
            common[k] = common[k] or s[k]
        if s[axis] == 0:
            missing += 1
        total += s[axis]
    if outs[0] and missing == 1:
        fill = outs[0][axis] - total
        for i, s in enumerate(ins):
            if not s or s[axis] == 0:
                shape = list(common)
                shape[axis] = fill
                assign_shape(ins, i, tuple(shape))
        missing = 0
        total = outs[0][axis]
    for i, s in enumerate(ins):
        if s:
            shape = list(common)
            shape[axis] = s[axis]
            assign_shape(ins, i, tuple(shape))
    if missing == 0:
        out = list(common)
        out[axis] = total
        assign_shape(outs, 0, tuple(out))


def _concat_axis(p: Dict[str, Any], x: np.ndarray) -> int:
    return p["dim"] % x.ndim


def _concat_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_concat(list(ins), outs[0], _concat_axis(p, outs[0]))


def _concat_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    _core.op_concat_backward(og[0], list(ig), list(reqs), _concat_axis(p, outs[0]))


register(OpDef("Concat", [Param("num_args", "int", required=True, lower=1),
                          Param("dim", "int", 1)],
               (), _concat_infer, forward=_concat_forward, backward=_concat_backward,
               variadic="num_args"), "concat")


# ---- one_hot ----------------------------------------------------------------------------------------------
def _one_hot_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    if p["depth"] < 0:
        raise ShapeError("Dimension size, depth, must be a non-negative integer")
    if ins[0]:
        assign_shape(outs, 0, tuple(ins[0]) + (p["depth"],))


def _one_hot_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_one_hot(ins[0], outs[0], p["depth"], p["on_value"], p["off_value"])


register(OpDef("one_hot",
               [Param("depth", "int", required=True), Param("on_value", "float", 1.0),
                Param("off_value", "float", 0.0),
                Param("dtype", "dtype", "float32", choices=_DTYPES)],
               ["indices"], _one_hot_infer, forward=_one_hot_forward, backward=None,
               no_grad=(0,), out_dtype=lambda p, dt: np.dtype(p["dtype"])))


# ---- Embedding --------------------------------------------------------------------------------------------
def _embedding_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    assign_shape(ins, 1, (p["input_dim"], p["output_dim"]))
    if ins[0]:
        assign_shape(outs, 0, tuple(ins[0]) + (p["output_dim"],))


def _embedding_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    _core.op_embedding(ins[0], ins[1], outs[0])


def _embedding_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    g = ig[1]
    if g is None:
        return
    if getattr(g, "stype", "default") == "row_sparse":
        from .sparse import rsp_assign
        rows, values = _core.op_embedding_backward_rsp(ins[0], og[0], p["input_dim"])
        rsp_assign(g, rows, values, reqs[1])
    else:
        _core.op_embedding_backward(ins[0], og[0], g, reqs[1])


register(OpDef("Embedding",
               [Param("input_dim", "int", required=True, lower=1),
                Param("output_dim", "int", required=True, lower=1),
                Param("dtype", "dtype", "float32", choices=_DTYPES),
                Param("sparse_grad", "bool", False)],
               ["data", "weight"], _embedding_infer, forward=_embedding_forward,
               backward=_embedding_backward, no_grad=(0,),
               grad_stypes=lambda p, st: ["default",
                                          "row_sparse" if p["sparse_grad"] else "default"]))


# ---- LeakyReLU --------------------------------------------------------------------------------------------
def _leaky_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    if p["act_type"] == "prelu" and not ins[1]:
        ins[1] = (d[1] if len(d) > 1 else 1,)
    for i in range(len(outs)):
        assign_shape(outs, i, d)


def _leaky_state(p: Dict[str, Any], ctx: Any) -> Any:
    if p["act_type"] != "rrelu":
        return None
    from .nn import _DropoutState
    return _DropoutState(ctx.seed())


def _leaky_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    act = p["act_type"]
    gamma = ins[1] if act == "prelu" else None
    draws = None
    if act == "rrelu":
        draws = st.uniform(ins[0].size) if is_train else None
    _core.op_leaky_relu(act, ins[0], gamma, outs[0], p["slope"], p["lower_bound"],
                        p["upper_bound"], draws, outs[1] if act == "rrelu" else None)


def _leaky_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    act = p["act_type"]
    prelu = act == "prelu"
    _core.op_leaky_relu_backward(act, og[0], ins[0], outs[0], ig[0], reqs[0],
                                 gamma=ins[1] if prelu else None,
                                 ggamma=ig[1] if prelu else None, greq=reqs[1] if prelu else 0,
                                 mask=outs[1] if act == "rrelu" else None, slope=p["slope"],
                                 lower_bound=p["lower_bound"], upper_bound=p["upper_bound"])


register(OpDef("LeakyReLU",
               [Param("act_type", "enum", "leaky",
                      choices=("elu", "gelu", "leaky", "prelu", "rrelu", "selu")),
                Param("slope", "float", 0.25), Param("lower_bound", "float", 0.125),
                Param("upper_bound", "float", 0.334)],
               lambda p: ["data", "gamma"] if p["act_type"] == "prelu" else ["data"],
               _leaky_infer, forward=_leaky_forward, backward=_leaky_backward,
               create_state=_leaky_state,
               outputs=lambda p: ["output", "mask"] if p["act_type"] == "rrelu" else ["output"],
               num_visible=1,
               init_hints=lambda p: ({"gamma": '["Constant", {"value": 0.25}]'}
                                     if p["act_type"] == "prelu" else {})))

