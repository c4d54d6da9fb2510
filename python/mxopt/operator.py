"""Operators written in Python (``mx.operator``), with MXNet 1.9.1's interface.

Subclass :class:`CustomOpProp` (what the operator is: its arguments, outputs, auxiliary states,
shapes) and :class:`CustomOp` (what it computes: ``forward`` and ``backward`` on NDArrays),
register the property class under a name, and use the operator as ``mx.sym.Custom(...,
op_type=name)`` in a graph or ``mx.nd.Custom(..., op_type=name)`` on arrays. Keyword arguments
other than ``op_type`` reach the property class's constructor as strings, as in MXNet.

Example::

    >>> import mxopt as mx
    >>> class Square(mx.operator.CustomOp):
    ...     def forward(self, is_train, req, in_data, out_data, aux):
    ...         self.assign(out_data[0], req[0], in_data[0] * in_data[0])
    ...     def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
    ...         self.assign(in_grad[0], req[0], 2 * in_data[0] * out_grad[0])
    >>> @mx.operator.register("square")
    ... class SquareProp(mx.operator.CustomOpProp):
    ...     def create_operator(self, ctx, shapes, dtypes):
    ...         return Square()
    >>> mx.nd.Custom(mx.nd.array([1, 2, 3]), op_type="square").asnumpy()
    array([1., 4., 9.], dtype=float32)
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple, Type

import numpy as np

__all__ = ["CustomOp", "CustomOpProp", "register", "get_all_registered_operators"]

_STYPES = ("default", "row_sparse", "csr")


class CustomOp:
    """An operator's computation. Override :meth:`forward` and :meth:`backward`."""

    def __init__(self) -> None:
        pass

    def forward(self, is_train: bool, req: List[str], in_data: List[Any], out_data: List[Any],
                aux: List[Any]) -> None:
        """Compute ``out_data`` from ``in_data`` (write each with :meth:`assign` and its req)."""

    def backward(self, req: List[str], out_grad: List[Any], in_data: List[Any],
                 out_data: List[Any], in_grad: List[Any], aux: List[Any]) -> None:
        """Compute ``in_grad`` (each written with :meth:`assign` and its req)."""

    def assign(self, dst: Any, req: str, src: Any) -> None:
        """``dst[:] = src`` for req 'write'/'inplace', ``dst[:] += src`` for 'add', nothing for
        'null'."""
        if req == "null":
            return
        if req in ("write", "inplace"):
            dst[:] = src
        elif req == "add":
            dst[:] += src
        else:
            raise ValueError(f"assign: req must be 'null', 'write', 'inplace' or 'add', got {req!r}")


class CustomOpProp:
    """An operator's description: names, shapes, types, storage types and its CustomOp.

    Args:
        need_top_grad: whether ``backward`` uses the gradient of the outputs. An operator that
            does not (a loss) needs no head gradient: ``Module.backward()`` works without one.
    """

    def __init__(self, need_top_grad: bool = True) -> None:
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape: List[Any]) -> Tuple[Any, ...]:
        """``(in_shapes, out_shapes, aux_shapes)``; default: every output has the first input's
        shape, no auxiliary states."""
        return in_shape, (in_shape[0],) * len(self.list_outputs()), ()

    def infer_type(self, in_type: List[Any]) -> Tuple[Any, ...]:
        """``(in_types, out_types, aux_types)``; default: the first input's type everywhere."""
        return (in_type, [in_type[0]] * len(self.list_outputs()),
                [in_type[0]] * len(self.list_auxiliary_states()))

    def infer_storage_type(self, in_stype: List[str]) -> Tuple[Any, ...]:
        """``(in_stypes, out_stypes, aux_stypes)``; the default accepts dense inputs only."""
        for i, stype in enumerate(in_stype):
            assert stype == "default", (
                "Default infer_storage_type implementation doesnt allow non default stypes: "
                f"found non default stype '{stype}' for in_stype[{i}]. Please implement "
                "infer_storage_type and infer_storage_type_backward interface in your custom "
                "operator if you have non-default input/output stypes")
        return (in_stype, ["default"] * len(self.list_outputs()),
                ["default"] * len(self.list_auxiliary_states()))

    def infer_storage_type_backward(self, ograd_stype: List[str], in_stype: List[str],
                                    out_stype: List[str], igrad_stype: List[str],
                                    aux_stype: List[str]) -> Tuple[Any, ...]:
        """Storage types of the backward pass; the default makes everything dense."""
        for i, stype in enumerate(ograd_stype):
            assert stype == "default", (
                "Default infer_storage_type_backward implementation doesnt allow non default "
                f"stypes: found non default stype '{stype}' for ograd_stype[{i}]. Please "
                "implement infer_storage_type and infer_storage_type_backward interface in your "
                "custom operator if you have non-default output gradient stypes")
        lists = [ograd_stype, in_stype, out_stype, igrad_stype, aux_stype]
        return tuple(["default"] * len(x) for x in lists)

    def list_outputs(self) -> List[str]:
        return ["output"]

    def list_arguments(self) -> List[str]:
        return ["data"]

    def list_auxiliary_states(self) -> List[str]:
        return []

    def declare_backward_dependency(self, out_grad: List[int], in_data: List[int],
                                    out_data: List[int]) -> List[int]:
        """Which of the forward arrays backward reads (all of them, by default)."""
        deps: List[int] = []
        if self.need_top_grad_:
            deps.extend(out_grad)
        deps.extend(in_data)
        deps.extend(out_data)
        return deps

    def create_operator(self, ctx: Any, in_shapes: List[Any], in_dtypes: List[Any]) -> CustomOp:
        """The :class:`CustomOp` that computes this operator (called once per bound node)."""
        return CustomOp()


_REGISTRY: Dict[str, Type[CustomOpProp]] = {}


def register(reg_name: str) -> Callable[[Type[CustomOpProp]], Type[CustomOpProp]]:
    """Class decorator: register a :class:`CustomOpProp` subclass as ``op_type=reg_name``."""
    if not isinstance(reg_name, str):
        raise TypeError(f"register: reg_name must be a str, got {type(reg_name).__name__}")

    def do_register(prop_cls: Type[CustomOpProp]) -> Type[CustomOpProp]:
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise TypeError(f"register({reg_name!r}): {prop_cls!r} is not a CustomOpProp subclass")
        _REGISTRY[reg_name] = prop_cls
        return prop_cls
    return do_register


def get_all_registered_operators() -> List[str]:
    """Names of every registered custom operator."""
    return sorted(_REGISTRY)


def _prop_class(op_type: str) -> Type[CustomOpProp]:
    cls = _REGISTRY.get(op_type)
    if cls is None:
        from .base import MXNetError
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise MXNetError(f"Cannot find custom operator {op_type} (registered with "
                         f"mx.operator.register: {known})")
    return cls


def _shape_list(shapes: Sequence[Any], what: str, n: int, op_type: str) -> List[Tuple[int, ...]]:
    shapes = list(shapes)
    if len(shapes) != n:
        from .base import MXNetError
        raise MXNetError(f"custom operator {op_type}: infer_shape returned {len(shapes)} {what} "
                         f"shapes, expected {n}")
    return [tuple(int(d) for d in s) for s in shapes]


def _np_dtype(t: Any) -> Any:
    return np.dtype(t)
