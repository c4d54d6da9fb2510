"""The ``Custom`` operator: runs a Python operator registered with ``mx.operator.register``.

Its arguments, outputs and auxiliary states come from the registered CustomOpProp (built from
the node's attributes, which reach it as strings); its shapes from the prop's ``infer_shape``,
called once every argument shape is known; its CustomOp is created once per bound node
(``create_operator``) and called with NDArrays viewing the executor's buffers."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from .. import operator as _operator
from ..base import MXNetError
from .registry import OpDef, Param, Shape, ShapeError, assign_shape, known, register

_REQ_NAMES = {0: "null", 1: "write", 3: "add"}
_props: Dict[Tuple[Any, ...], Any] = {}


def prop_of(p: Dict[str, Any]) -> Any:
    """The CustomOpProp of a node's parameters (one instance per distinct parameter set)."""
    key = tuple(sorted(p.items()))
    prop = _props.get(key)
    if prop is None:
        op_type = p["op_type"]
        kwargs = {k: v for k, v in p.items() if k != "op_type"}
        prop = _operator._prop_class(op_type)(**kwargs)
        _props[key] = prop
    return prop


def _infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    prop = prop_of(p)
    n_args = len(prop.list_arguments())
    if not all(known(s) for s in ins[:n_args]):
        return
    res = prop.infer_shape([list(s) for s in ins[:n_args]])
    op_type = p["op_type"]
    in_shapes = _operator._shape_list(res[0], "input", n_args, op_type)
    out_shapes = _operator._shape_list(res[1], "output", len(outs), op_type)
    aux_shapes = _operator._shape_list(res[2] if len(res) > 2 else [], "auxiliary",
                                       len(ins) - n_args, op_type)
    try:
        for i, s in enumerate(in_shapes + aux_shapes):
            assign_shape(ins, i, s)
        for i, s in enumerate(out_shapes):
            assign_shape(outs, i, s)
    except ShapeError as exc:
        raise ShapeError(f"custom operator {op_type}: {exc}") from None


class _State:
    __slots__ = ("op", "n_out")

    def __init__(self, op: Any, n_out: int) -> None:
        self.op, self.n_out = op, n_out


def _create_state(p: Dict[str, Any], ctx: Any) -> _State:
    from ..context import cpu
    prop = prop_of(p)
    n_args = len(prop.list_arguments())
    dtypes = [ctx.dtype.type] * n_args
    op = prop.create_operator(cpu(), [list(s) for s in ctx.in_shapes[:n_args]], dtypes)
    if not isinstance(op, _operator.CustomOp):
        raise MXNetError(f"custom operator {p['op_type']}: create_operator must return a "
                         f"CustomOp, got {type(op).__name__}")
    return _State(op, len(prop.list_outputs()))


def _wrap(x: Any) -> Any:
    from ..ndarray import NDArray
    return NDArray(x) if isinstance(x, np.ndarray) else x


def _forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    st.op.forward(bool(is_train), ["write"] * len(outs), [_wrap(x) for x in ins],
                  [_wrap(o) for o in outs], [_wrap(a) for a in aux])


def _backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    out_grad = [_wrap(g if g is not None else np.zeros_like(o)) for g, o in zip(og, outs)]
    in_grad = [_wrap(g if g is not None else np.zeros(getattr(x, "shape", ()),
                                                      getattr(x, "dtype", np.float32)))
               for g, x in zip(ig, ins)]
    st.op.backward([_REQ_NAMES[r] for r in reqs], out_grad, [_wrap(x) for x in ins],
                   [_wrap(o) for o in outs], in_grad, [_wrap(a) for a in aux])


def _stypes_ok(p: Dict[str, Any], stypes: List[str]) -> List[str]:
    prop = prop_of(p)
    res = prop.infer_storage_type(list(stypes))
    return list(res[1])


register(OpDef(
    "Custom", [Param("op_type", "str", required=True)],
    lambda p: list(prop_of(p).list_arguments()), _infer,
    forward=_forward, backward=_backward, create_state=_create_state,
    outputs=lambda p: list(prop_of(p).list_outputs()),
    aux=lambda p: list(prop_of(p).list_auxiliary_states()),
    is_loss=lambda p: not prop_of(p).need_top_grad_,
    sparse_inputs=range(64), out_stypes=_stypes_ok, any_params=True, hint="custom"))
