"""``Executor``: a :class:`~mxopt.symbol.Symbol` bound to arrays, run by the C++ graph
executor (``mxopt._core.GraphExecutor``).

Every buffer (arguments, gradients, outputs) is a numpy array allocated once at bind time and
exposed as an NDArray; ``forward``/``backward`` are single C++ calls that run without the GIL
and without per-element Python.

Example::

    >>> import mxopt as mx
    >>> net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=3,
    ...                                                  name='fc'), name='sm')
    >>> ex = net.simple_bind(mx.cpu(), data=(2, 4))
    >>> ex.forward(is_train=True, data=mx.nd.ones((2, 4)))[0].shape
    (2, 3)
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _core
from . import random as _random
from .base import MXNetError
from .ndarray import NDArray
from .symbol.op import known
from .symbol.symbol import Symbol

__all__ = ["Executor"]

_REQ_CODES = {"null": 0, "write": 1, "inplace": 1, "add": 3}
_ACT_CODES = {"relu": 0, "sigmoid": 1, "tanh": 2, "softrelu": 3, "softsign": 4}
_NORM_CODES = {"null": 0, "batch": 1, "valid": 2}
_FLOAT_TYPES = (np.float32, np.float64)

# Dropout masks come from a per-executor mt19937 whose seed follows ``mx.random.seed``: the
# k-th executor bound after a call of mx.random.seed(s) always gets the same stream (binding
# draws nothing from the global generator, so initial weights stay MXNet's).
_seed_state: Dict[str, Any] = {"epoch": None, "counter": itertools.count()}


def _next_seed() -> int:
    epoch = _random._seed_calls()
    if epoch != _seed_state["epoch"]:
        _seed_state["epoch"] = epoch
        _seed_state["counter"] = itertools.count()
    base = int(_core.random_current_seed())
    return (base * 1000003 + next(_seed_state["counter"])) & 0xFFFFFFFF


def _kernel_params(node: Any) -> Dict[str, Any]:
    p = node.params
    name = node.op.name
    if name == "FullyConnected":
        return {"num_hidden": p["num_hidden"], "no_bias": p["no_bias"], "flatten": p["flatten"]}
    if name == "Activation":
        return {"act_type": _ACT_CODES[p["act_type"]]}
    if name == "Dropout":
        if p["axes"]:
            raise MXNetError(f"Dropout {node.name}: axes={p['axes']} (variational dropout) is not "
                             "supported by mxopt")
        return {"p": p["p"], "always": p["mode"] == "always"}
    if name == "SoftmaxOutput":
        if p["out_grad"]:
            raise MXNetError(f"SoftmaxOutput {node.name}: out_grad=True is not supported by mxopt "
                             "(MXNet 1.9.1 multiplies the gradient by the softmax output instead "
                             "of the head gradient)")
        return {"grad_scale": p["grad_scale"], "ignore_label": p["ignore_label"],
                "multi_output": p["multi_output"], "use_ignore": p["use_ignore"],
                "preserve_shape": p["preserve_shape"],
                "normalization": _NORM_CODES[p["normalization"]],
                "smooth_alpha": p["smooth_alpha"]}
    if name == "Flatten":
        return {}
    return {"grad_scale": p["grad_scale"]}


def _as_buffer(x: Any, what: str) -> np.ndarray:
    if isinstance(x, NDArray):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{what} must be an mx.nd.NDArray or numpy.ndarray, got {type(x).__name__}")


class Executor:
    """A bound symbol: argument, gradient and output arrays plus forward/backward.

    Create one with ``Symbol.simple_bind`` (allocates everything) or ``Symbol.bind`` (uses the
    given argument arrays in place).
    """

    def __init__(self, symbol: Symbol, dtype: type, arg_arrays: List[np.ndarray],
                 grad_arrays: List[Optional[np.ndarray]], grad_reqs: List[str]) -> None:
        self._symbol = symbol
        self._dtype = np.dtype(dtype)
        names = symbol.list_arguments()
        nodes = symbol._nodes()
        shapes = {name: arr.shape for name, arr in zip(names, arg_arrays)}
        entry_shapes = symbol._infer(shapes)
        entries: List[Any] = []
        entry_of: Dict[int, int] = {}
        plan: List[Any] = []
        arg_iter = iter(zip(arg_arrays, grad_arrays, grad_reqs))
        for node in nodes:
            if node.op is None:
                data, grad, req = next(arg_iter)
                entry_of[id(node)] = len(entries)
                entries.append((data, True, grad, _REQ_CODES[req] if grad is not None else 0))
                continue
            shape = entry_shapes[(id(node), 0)]
            if not known(shape) and 0 not in shape:
                raise MXNetError(f"cannot bind: the output shape of {node.name} is unknown")
            out = np.zeros(shape, dtype=self._dtype)
            entry_of[id(node)] = len(entries)
            entries.append((out, False, None, 0))
            plan.append((node.op.code, _kernel_params(node),
                         [entry_of[id(c)] for c, _ in node.inputs], entry_of[id(node)]))
        heads = []
        for node, idx in symbol._outputs:
            if idx != 0:
                raise MXNetError(f"cannot bind output {idx} of {node.name}: only visible outputs "
                                 "can be bound")
            heads.append(entry_of[id(node)])
        self._core = _core.GraphExecutor(self._dtype.name, entries, plan, heads, _next_seed())
        self.arg_arrays = [NDArray(a) for a in arg_arrays]
        self.grad_arrays = [NDArray(g) if g is not None else None for g in grad_arrays]
        self.aux_arrays: List[NDArray] = []
        self.outputs = [NDArray(entries[h][0]) for h in heads]
        self._grad_reqs = list(grad_reqs)
        self._head_shapes = [list(o.shape) for o in self.outputs]
        self._head_needs_grad = [self._core.head_needs_grad(i) for i in range(len(heads))]
        self._no_head_grads: List[Optional[np.ndarray]] = [None] * len(heads)
        self._names = names
        self._internal = [(node.output_name(0), NDArray(entries[entry_of[id(node)]][0]))
                          for node in nodes if node.op is not None]
        self._arg_dict: Optional[Dict[str, NDArray]] = None
        self._grad_dict: Optional[Dict[str, NDArray]] = None

    # ---- construction ------------------------------------------------------------------------
    @staticmethod
    def _reqs(names: List[str], grad_req: Any, default_null: bool) -> List[str]:
        if isinstance(grad_req, str):
            reqs = [grad_req] * len(names)
        elif isinstance(grad_req, (list, tuple)):
            if len(grad_req) != len(names):
                raise ValueError(f"grad_req has {len(grad_req)} entries for {len(names)} arguments")
            reqs = list(grad_req)
        elif isinstance(grad_req, dict):  # names that are not arguments are ignored (MXNet)
            reqs = [grad_req.get(n, "null" if default_null else "write") for n in names]
        else:
            raise TypeError("grad_req must be a str, a list or a dict")
        for r in reqs:
            if r not in _REQ_CODES:
                raise ValueError(f"grad_req must be one of 'null', 'write', 'add', got {r!r}")
        return reqs

    @staticmethod
    def _dtype_of(type_dict: Optional[Dict[str, Any]]) -> type:
        types = {np.dtype(t).type for t in (type_dict or {}).values()}
        if not types:
            return np.float32
        if len(types) > 1 or next(iter(types)) not in _FLOAT_TYPES:
            raise TypeError(f"mxopt executors compute in float32 or float64, got type_dict={type_dict}")
        return next(iter(types))

    @classmethod
    def _simple_bind(cls, symbol: Symbol, grad_req: Any, type_dict: Any,
                     shapes: Dict[str, Any]) -> "Executor":
        names = symbol.list_arguments()
        arg_shapes, _, _ = symbol.infer_shape_partial(**shapes)
        unknown = [f"{n}: {s}" for n, s in zip(names, arg_shapes) if not known(s)]
        if unknown:
            raise MXNetError("simple_bind: cannot decide the shapes of " + ", ".join(unknown) +
                             " (give their shapes as keyword arguments)")
        dtype = cls._dtype_of(type_dict)
        reqs = cls._reqs(names, grad_req, default_null=True)
        args = [np.zeros(s, dtype=dtype) for s in arg_shapes]
        grads = [np.zeros(s, dtype=dtype) if r != "null" else None for s, r in zip(arg_shapes, reqs)]
        return cls(symbol, dtype, args, grads, reqs)

    @classmethod
    def _bind(cls, symbol: Symbol, args: Any, args_grad: Any, grad_req: Any,
              aux_states: Any) -> "Executor":
        names = symbol.list_arguments()

        def listed(arrays: Any, what: str, required: bool) -> List[Optional[np.ndarray]]:
            if arrays is None:
                return [None] * len(names)
            if isinstance(arrays, dict):
                missing = [n for n in names if n not in arrays]
                if missing and required:
                    raise ValueError(f"bind: {what} is missing {missing}")
                return [None if arrays.get(n) is None else _as_buffer(arrays[n], f"{what}[{n!r}]")
                        for n in names]
            if len(arrays) != len(names):
                raise ValueError(f"bind: {what} has {len(arrays)} arrays for {len(names)} "
                                 f"arguments {names}")
            return [None if a is None else _as_buffer(a, f"{what}[{i}]") for i, a in enumerate(arrays)]

        arg_arrays = listed(args, "args", True)
        if any(a is None for a in arg_arrays):
            raise ValueError("bind: every argument needs an array")
        grads = listed(args_grad, "args_grad", False)
        dtypes = {a.dtype for a in arg_arrays}
        if len(dtypes) != 1 or next(iter(dtypes)).type not in _FLOAT_TYPES:
            raise TypeError(f"bind: arguments must all be float32 or all float64, got "
                            f"{sorted(str(d) for d in dtypes)}")
        dtype = next(iter(dtypes)).type
        reqs = cls._reqs(names, grad_req, default_null=False)
        reqs = [r if g is not None else "null" for r, g in zip(reqs, grads)]
        shapes = {n: a.shape for n, a in zip(names, arg_arrays)}
        arg_shapes, _, _ = symbol.infer_shape_partial(**shapes)
        for n, a, s in zip(names, arg_arrays, arg_shapes):
            if tuple(a.shape) != tuple(s):
                raise ValueError(f"bind: argument {n} has shape {a.shape}, inferred {s}")
        for n, a, g in zip(names, arg_arrays, grads):
            if g is not None and (g.shape != a.shape or g.dtype != a.dtype):
                raise ValueError(f"bind: gradient of {n} has shape {g.shape} dtype {g.dtype}, "
                                 f"expected {a.shape} {a.dtype}")
        return cls(symbol, dtype, list(arg_arrays), grads, reqs)

    # ---- dictionaries ------------------------------------------------------------------------
    @property
    def arg_dict(self) -> Dict[str, NDArray]:
        if self._arg_dict is None:
            self._arg_dict = OrderedDict(zip(self._names, self.arg_arrays))
        return self._arg_dict

    @property
    def grad_dict(self) -> Dict[str, NDArray]:
        if self._grad_dict is None:
            self._grad_dict = OrderedDict((n, g) for n, g in zip(self._names, self.grad_arrays)
                                          if g is not None)
        return self._grad_dict

    @property
    def aux_dict(self) -> Dict[str, NDArray]:
        return OrderedDict()

    @property
    def output_dict(self) -> Dict[str, NDArray]:
        return OrderedDict(zip(self._symbol.list_outputs(), self.outputs))

    # ---- running -----------------------------------------------------------------------------
    def forward(self, is_train: bool = False, **kwargs: Any) -> List[NDArray]:
        """Copy ``kwargs`` (name -> array) into the arguments, then compute the outputs."""
        for name, value in kwargs.items():
            if name not in self.arg_dict:
                raise ValueError(f"Unknown argument {name}")
            dst = self.arg_dict[name]._data
            src = value._data if isinstance(value, NDArray) else np.asarray(value)
            if src.shape != dst.shape:
                raise ValueError(f"Shape not match! Argument {name}, need: {dst.shape}, "
                                 f"received: {src.shape}")
            np.copyto(dst, src, casting="unsafe")
        self._core.forward(bool(is_train))
        return self.outputs

    def backward(self, out_grads: Union[None, NDArray, Sequence[NDArray]] = None,
                 is_train: bool = True) -> None:
        """Compute the argument gradients. Loss outputs need no ``out_grads``; other outputs do."""
        if out_grads is None and not any(self._head_needs_grad):
            self._core.backward(self._no_head_grads, self._head_shapes)  # loss heads only
            return
        if out_grads is None:
            out_grads = [None] * len(self.outputs)
        elif isinstance(out_grads, (NDArray, np.ndarray)):
            out_grads = [out_grads]
        if len(out_grads) != len(self.outputs):
            raise ValueError(f"backward: {len(out_grads)} out_grads for {len(self.outputs)} outputs")
        heads: List[Optional[np.ndarray]] = []
        for i, g in enumerate(out_grads):
            if g is None:
                if self._head_needs_grad[i]:
                    raise MXNetError(
                        f"Gradient of output {i} ({self._symbol.list_outputs()[i]}) is required: "
                        "the last operator is not Loss function, head_gradient is required "
                        "(pass out_grads)")
                heads.append(None)
                continue
            buf = _as_buffer(g, f"out_grads[{i}]")
            if buf.shape != self.outputs[i].shape:
                raise ValueError(f"out_grads[{i}] has shape {buf.shape}, expected "
                                 f"{self.outputs[i].shape}")
            heads.append(np.ascontiguousarray(buf, dtype=self._dtype))
        self._core.backward(heads, self._head_shapes)

    def copy_params_from(self, arg_params: Dict[str, Any], aux_params: Optional[Dict[str, Any]] = None,
                         allow_extra_params: bool = False) -> None:
        """Copy parameter values into the bound arrays (same shapes)."""
        for name, value in arg_params.items():
            if name in self.arg_dict:
                dst = self.arg_dict[name]._data
                src = _as_buffer(value, f"arg_params[{name!r}]")
                if src.shape != dst.shape:
                    raise ValueError(f"copy_params_from: {name} has shape {src.shape}, bound "
                                     f"{dst.shape}")
                np.copyto(dst, src, casting="unsafe")
            elif not allow_extra_params:
                raise ValueError(f"Find name \"{name}\" that is not in the arguments")
        for name in (aux_params or {}):
            if not allow_extra_params:
                raise ValueError(f"Find name {name} that is not in the auxiliary states")

    def reshape(self, partial_shaping: bool = False, allow_up_sizing: bool = False,
                **kwargs: Any) -> "Executor":
        """A new executor for new input shapes; arrays whose shape is unchanged are shared."""
        arg_shapes, _, _ = self._symbol.infer_shape_partial(**kwargs)
        args, grads = [], []
        for name, shape, arr, grad in zip(self._names, arg_shapes, self.arg_arrays, self.grad_arrays):
            if not known(shape):
                raise MXNetError(f"reshape: cannot decide the shape of {name}")
            if tuple(shape) == arr.shape:
                args.append(arr._data)
                grads.append(grad._data if grad is not None else None)
                continue
            if name not in kwargs and not partial_shaping:
                raise MXNetError(f"reshape: shape of unspecified array arg:{name} changed. This can "
                                 "cause the new executor to not share parameters with the old "
                                 "one. Please check for error in network. If this is intended, "
                                 "set partial_shaping=True to suppress this warning.")
            args.append(np.zeros(shape, dtype=self._dtype))
            grads.append(np.zeros(shape, dtype=self._dtype) if grad is not None else None)
        return Executor(self._symbol, self._dtype.type, args, grads, self._grad_reqs)

    def _internal_outputs(self) -> List[Any]:
        """``(name, NDArray)`` of every operator output of the last forward, in graph order."""
        return list(self._internal)

    def debug_str(self) -> str:
        lines = [f"Symbol outputs: {self._symbol.list_outputs()}"]
        lines += [f"arg {n}: {a.shape}" for n, a in zip(self._names, self.arg_arrays)]
        return "\n".join(lines)
