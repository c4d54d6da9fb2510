"""Imperative operators (``mx.nd.X``): every operator of the registry (``mxopt._ops``) called on
arrays, computed at once by the same C++ kernels the executor runs.

``mx.nd.X(*inputs, out=None, name=None, **params)`` takes its inputs positionally or by name
(NDArrays, numpy arrays or sparse arrays), its parameters as keywords (any value whose ``str``
MXNet's parameter parser accepts), and returns an NDArray, or a list for operators with several
visible outputs. Operators run in inference mode (``is_train=False``), as MXNet's imperative
calls do outside ``autograd.record``. Auxiliary states (BatchNorm's moving statistics) are
passed after the arguments and are read, not updated, in inference mode.

Example::

    >>> import mxopt as mx
    >>> mx.nd.broadcast_add(mx.nd.ones((2, 3)), mx.nd.ones((1, 3))).asnumpy()
    array([[2., 2., 2.],
           [2., 2., 2.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import numpy as np

from .._ops.registry import OpDef, ShapeError, attr_str, known, split_positional
from ..base import MXNetError
from .ndarray import NDArray
from .sparse import RowSparseNDArray

__all__ = ["imperative"]


def _is_array(x: Any) -> bool:
    return isinstance(x, (NDArray, np.ndarray)) or getattr(x, "stype", None) in ("csr", "row_sparse")


def _value(x: Any, sparse_ok: bool) -> Any:
    """What a kernel takes for an input: a numpy buffer, or a sparse array where accepted
    (others get the dense form: MXNet's storage fallback)."""
    if isinstance(x, NDArray):
        return x._data
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x)
    if sparse_ok:
        return x
    return x.asnumpy()


class _Ctx:
    """``create_state``'s view of an imperative call."""

    def __init__(self, name: str, in_shapes: List[Any], out_shapes: List[Any], dtype: Any) -> None:
        self.name, self.in_shapes, self.out_shapes, self.dtype = name, in_shapes, out_shapes, dtype

    def seed(self) -> int:
        from .. import _core
        return int(_core.random_current_seed())


_PARSED_CACHE_SIZE = 256  # parameter sets kept per operator


def imperative(op: OpDef, func_name: str) -> Callable[..., Any]:
    """The ``mx.nd.<func_name>`` function of ``op``."""
    parsed: Dict[Any, Dict[str, Any]] = {}  # attribute strings -> typed parameters

    def params_of(attrs: Dict[str, str]) -> Dict[str, Any]:
        # A training loop calls the same operator with the same parameters at every step.
        key = tuple(attrs.items())
        p = parsed.get(key)
        if p is None:
            p = op.parse_params(attrs)
            if len(parsed) >= _PARSED_CACHE_SIZE:
                parsed.clear()
            parsed[key] = p
        return dict(p)

    def call(*args: Any, out: Any = None, name: Any = None, **kwargs: Any) -> Any:
        given_kw: Dict[str, Any] = {}
        attrs: Dict[str, str] = {}
        for key, value in kwargs.items():
            if _is_array(value):
                given_kw[key] = value
            elif value is not None:
                attrs[key] = attr_str(value)
        args = split_positional(op, args, _is_array, attrs, func_name)
        if op.variadic and op.variadic not in attrs:
            attrs[op.variadic] = str(len(args))
        p = params_of(attrs)
        arg_names = op.inputs(p)
        names = arg_names + op.aux(p)
        if len(args) > len(names):
            raise MXNetError(f"{op.name} takes {len(names)} inputs ({names}) but {len(args)} "
                             f"were given, in operator {op.describe(attrs)}")
        values: Dict[str, Any] = {}
        for n, a in zip(names, args):
            if not _is_array(a):
                raise TypeError(f"{func_name}: input {n} must be an NDArray, got "
                                f"{type(a).__name__}")
            values[n] = a
        for key, a in given_kw.items():
            if key not in names:
                raise MXNetError(f"{func_name}: unknown input {key!r} (inputs: {names}), in "
                                 f"operator {op.describe(attrs)}")
            values[key] = a
        missing = [n for n in names if n not in values]
        if missing:
            raise MXNetError(f"{func_name}: missing input(s) {missing}, in operator "
                             f"{op.describe(attrs)}")
        ins = [_value(values[n], i in op.sparse_inputs) for i, n in enumerate(arg_names)]
        aux = [_value(values[n], False) for n in names[len(arg_names):]]
        in_shapes = [tuple(v.shape) for v in ins + aux]
        out_shapes: List[Any] = [()] * op.num_outputs(p)
        try:
            for _ in range(2):
                op.infer(p, in_shapes, out_shapes)
        except ShapeError as exc:
            raise MXNetError(f"Error in operator {func_name}: {exc}") from None
        for i, s in enumerate(out_shapes):
            if not known(s) and 0 not in s:
                raise MXNetError(f"{func_name}: cannot infer the shape of output {i}")
        dtypes = [v.dtype for v in ins + aux if getattr(v, "dtype", None) is not None
                  and np.dtype(v.dtype).kind == "f"]
        dtype = np.dtype(dtypes[0]) if dtypes else np.dtype(np.float32)
        odt = op.out_dtype(p, dtype) if op.out_dtype else dtype
        ost = (op.out_stypes(p, [getattr(v, "stype", "default") for v in ins])
               if op.out_stypes else ["default"] * len(out_shapes))
        outs = [np.zeros(s, dtype=odt) if st != "row_sparse" else
                RowSparseNDArray(np.zeros((0,) + tuple(s[1:]), odt), np.zeros((0,), np.int64), s)
                for s, st in zip(out_shapes, ost)]
        state = op.create_state(p, _Ctx(func_name, in_shapes, out_shapes, dtype)) \
            if op.create_state else None
        op.forward(p, ins, outs, aux, False, state)
        visible = [NDArray(o) if isinstance(o, np.ndarray) else o
                   for o in outs[:op.num_visible(p)]]
        if out is not None:
            targets = out if isinstance(out, (list, tuple)) else [out]
            for t, v in zip(targets, visible):
                v.copyto(t)
            return out
        return visible[0] if len(visible) == 1 else visible

    call.__name__ = func_name
    call.__qualname__ = func_name
    call.__doc__ = f"Imperative ``{op.name}`` (see ``mx.sym.{op.name}``)."
    return call
