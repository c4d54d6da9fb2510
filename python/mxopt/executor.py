"""``Executor``: a :class:`~mxopt.symbol.Symbol` bound to arrays.

Binding resolves everything once: the shapes of every value, an output buffer per operator
output, a gradient buffer per value that carries a gradient, each node's working state, and the
order and mode (write / add) of every gradient contribution. ``forward`` and ``backward`` then
walk the nodes and make one C++ kernel call per node (see ``mxopt._ops``): no per-element
Python, and nothing allocated per call for dense graphs.

Arguments may be dense (numpy buffers behind NDArrays), ``csr`` (data of sparse models) or
``row_sparse`` (weights that store every row; their gradient is row_sparse when the operator
produces one, as ``dot(csr, weight)`` and ``Embedding(sparse_grad=True)`` do).

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
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from . import random as _random
from ._ops.registry import REQ, known
from .base import MXNetError
from .ndarray import NDArray
from .ndarray.sparse import RowSparseNDArray
from .symbol.symbol import Symbol

__all__ = ["Executor"]

_FLOAT_TYPES = (np.float32, np.float64)

# Random streams (Dropout masks) follow ``mx.random.seed``: the k-th executor bound after a call
# of mx.random.seed(s) always gets the same streams (binding draws nothing from the global
# generator, so initial weights stay MXNet's).
_seed_state: Dict[str, Any] = {"epoch": None, "counter": itertools.count()}


def _next_seed() -> int:
    epoch = _random._seed_calls()
    if epoch != _seed_state["epoch"]:
        _seed_state["epoch"] = epoch
        _seed_state["counter"] = itertools.count()
    base = int(_core.random_current_seed())
    return (base * 1000003 + next(_seed_state["counter"])) & 0xFFFFFFFF


def _stype(x: Any) -> str:
    return getattr(x, "stype", "default")


def _dense(x: Any) -> Any:
    """What a kernel receives for a value: the numpy buffer of a dense array, the buffer of a
    row_sparse array that stores every row, or the sparse array itself."""
    if isinstance(x, NDArray):
        return x._data
    return x


def _as_value(x: Any, what: str) -> Any:
    if isinstance(x, NDArray):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    if _stype(x) in ("csr", "row_sparse"):
        return x
    raise TypeError(f"{what} must be an mx.nd.NDArray or numpy.ndarray, got {type(x).__name__}")


def _wrap(x: Any) -> Any:
    return NDArray(x) if isinstance(x, np.ndarray) else x


def _rsp_dense(x: RowSparseNDArray) -> np.ndarray:
    """The dense form of a row_sparse value for an operator without a row_sparse kernel: its
    buffer when every row is stored (weights), else a densified copy (MXNet's fallback)."""
    rows = x.shape[0]
    idx = x._indices
    if idx.size == rows and (rows == 0 or (idx[0] == 0 and idx[-1] == rows - 1)):
        return x._data
    return x.asnumpy()


class _Ctx:
    """What ``create_state`` sees of the node it is bound for."""

    def __init__(self, name: str, in_shapes: List[Tuple[int, ...]],
                 out_shapes: List[Tuple[int, ...]], dtype: np.dtype, seed: int) -> None:
        self.name, self.in_shapes, self.out_shapes, self.dtype = name, in_shapes, out_shapes, dtype
        self._seed = seed

    def seed(self) -> int:
        return self._seed


class _Step:
    """One bound node: its kernels and every array they read and write."""

    __slots__ = ("op", "p", "name", "ins", "outs", "aux", "state", "dyn", "ograds", "igrads",
                 "reqs", "zero", "post")

    def forward(self, is_train: bool) -> None:
        for i, get in self.dyn:
            self.ins[i] = get()
        self.op.forward(self.p, self.ins, self.outs, self.aux, is_train, self.state)

    def backward(self) -> None:
        for z in self.zero:
            z.fill(0)
        self.op.backward(self.p, self.ograds, self.ins, self.outs, self.aux, self.igrads,
                         self.reqs, self.state)
        for fn in self.post:
            fn()


class Executor:
    """A bound symbol: argument, gradient, auxiliary-state and output arrays plus
    forward/backward.

    Create one with ``Symbol.simple_bind`` (allocates everything) or ``Symbol.bind`` (uses the
    given arrays in place).
    """

    def __init__(self, symbol: Symbol, dtype: Any, arg_arrays: Sequence[Any],
                 grad_arrays: Sequence[Any], grad_reqs: Sequence[str],
                 aux_arrays: Optional[Sequence[Any]] = None) -> None:
        self._symbol = symbol
        self._dtype = np.dtype(dtype)
        names = symbol.list_arguments()
        aux_names = symbol.list_auxiliary_states()
        aux_arrays = list(aux_arrays) if aux_arrays is not None else []
        if len(aux_arrays) != len(aux_names):
            raise ValueError(f"bind: {len(aux_arrays)} auxiliary arrays for the auxiliary states "
                             f"{aux_names}")
        self._names, self._aux_names = names, aux_names
        self._grad_reqs = list(grad_reqs)
        arg_arrays = [_as_value(a, f"argument {n}") for n, a in zip(names, arg_arrays)]
        grad_arrays = [None if g is None else _as_value(g, f"gradient of {n}")
                       for n, g in zip(names, grad_arrays)]
        aux_arrays = [_as_value(a, f"auxiliary state {n}") for n, a in zip(aux_names, aux_arrays)]
        value_of = dict(zip(names, arg_arrays))
        value_of.update(zip(aux_names, aux_arrays))
        grad_of = dict(zip(names, grad_arrays))
        req_of = dict(zip(names, grad_reqs))

        shapes = {n: tuple(v.shape) for n, v in value_of.items()}
        entry_shapes = symbol._infer(shapes)
        nodes = symbol._nodes()
        seed = _next_seed()
        # Values: (id(node), index) -> value (numpy buffer, or a sparse array); gradients likewise.
        value: Dict[Tuple[int, int], Any] = {}
        grad: Dict[Tuple[int, int], Any] = {}
        producer: Dict[Tuple[int, int], Any] = {}
        needs_grad: Dict[Tuple[int, int], bool] = {}
        steps: List[_Step] = []
        for k, node in enumerate(nodes):
            key0 = (id(node), 0)
            if node.op is None:
                value[key0] = value_of[node.name]
                g = grad_of.get(node.name)
                needs_grad[key0] = g is not None and req_of.get(node.name, "null") != "null"
                if needs_grad[key0]:
                    grad[key0] = g
                continue
            op, p = node.op, node.params
            n_args = len(op.inputs(p))
            in_keys = [(id(c), i) for c, i in node.inputs]
            in_vals = [value[kk] for kk in in_keys]
            op.arg_stypes_ok(p, [_stype(v) for v in in_vals[:n_args]], f"operator {node.name}")
            out_shapes = [entry_shapes[(id(node), i)] for i in range(op.num_outputs(p))]
            for i, s in enumerate(out_shapes):
                if not known(s) and 0 not in s:
                    raise MXNetError(f"cannot bind: the shape of output {i} of {node.name} is "
                                     "unknown")
            odt = op.out_dtype(p, self._dtype) if op.out_dtype else self._dtype
            ost = op.out_stypes(p, [_stype(v) for v in in_vals[:n_args]]) if op.out_stypes \
                else ["default"] * len(out_shapes)
            outs = [self._alloc(s, odt, "row_sparse_empty" if t == "row_sparse" else t)
                    for s, t in zip(out_shapes, ost)]
            for i, o in enumerate(outs):
                value[(id(node), i)] = o
                producer[(id(node), i)] = node
            step = _Step()
            step.op, step.p, step.name = op, p, node.name
            step.ins, step.dyn = [], []
            for i, v in enumerate(in_vals[:n_args]):
                if isinstance(v, RowSparseNDArray) and i not in op.sparse_inputs:
                    step.dyn.append((i, lambda v=v: _rsp_dense(v)))
                    step.ins.append(None)
                else:
                    step.ins.append(v)
            step.aux = in_vals[n_args:]
            step.outs = outs
            ctx = _Ctx(node.name, [tuple(v.shape) for v in in_vals], out_shapes, self._dtype,
                       (seed * 1000003 + k) & 0xFFFFFFFF)
            step.state = op.create_state(p, ctx) if op.create_state else None
            flows = op.backward is not None and any(
                needs_grad[kk] for i, kk in enumerate(in_keys[:n_args]) if i not in op.no_grad)
            for i in range(len(outs)):
                needs_grad[(id(node), i)] = flows
            steps.append(step)
        self._steps = steps

        heads = symbol._outputs
        self.outputs = [_wrap(value[(id(n), i)]) for n, i in heads]
        self._head_keys = [(id(n), i) for n, i in heads]
        self._head_needs_grad = [
            n.op is not None and not n.op.loss(n.params) and needs_grad[(id(n), i)]
            for n, i in heads]
        self._plan_backward(nodes, value, grad, needs_grad, producer, grad_of, req_of)

        self.arg_arrays = [_wrap(a) for a in arg_arrays]
        self.grad_arrays = [None if g is None else _wrap(g) for g in grad_arrays]
        self.aux_arrays = [_wrap(a) for a in aux_arrays]
        self._internal = [(node.output_name(i), _wrap(value[(id(node), i)]))
                          for node in nodes if node.op is not None
                          for i in range(node.op.num_visible(node.params))]
        self._arg_dict: Optional[Dict[str, Any]] = None
        self._grad_dict: Optional[Dict[str, Any]] = None

    # ---- backward plan -----------------------------------------------------------------------
    def _plan_backward(self, nodes: List[Any], value: Dict[Any, Any], grad: Dict[Any, Any],
                       needs_grad: Dict[Any, bool], producer: Dict[Any, Any],
                       grad_of: Dict[str, Any], req_of: Dict[str, str]) -> None:
        """Gradient buffers for operator outputs that carry a gradient, and for each node the
        req (write for the first contribution to a value, add for later ones) of each of its
        input gradients, in the reverse order backward runs them."""
        dtype = self._dtype
        for key, node in producer.items():
            if needs_grad[key] and key[1] < node.op.num_visible(node.params):
                grad[key] = np.zeros(value[key].shape, dtype=dtype)
        self._head_grads = [grad.get(key) for key in self._head_keys]
        written: set = set()
        # Head gradients are copied in first.
        self._head_grad_reqs = []
        for key, need in zip(self._head_keys, self._head_needs_grad):
            self._head_grad_reqs.append(REQ["add"] if key in written else REQ["write"])
            if need:
                written.add(key)
        is_var = {(id(n), 0): n.name for n in nodes if n.op is None}
        step_of = {id(n): s for n, s in zip([n for n in nodes if n.op is not None], self._steps)}
        backward_steps: List[_Step] = []
        for node in reversed(nodes):
            if node.op is None:
                continue
            step = step_of[id(node)]
            op, p = node.op, node.params
            nvis = op.num_visible(p)
            out_keys = [(id(node), i) for i in range(nvis)]
            if op.backward is None or not needs_grad[out_keys[0]]:
                continue
            step.post = []
            # A loss operator ignores its output gradients, but they exist (a Custom loss may
            # still read them; MakeLoss above a loss writes one).
            step.ograds = [grad[k] for k in out_keys]
            step.zero = [grad[k] for k in out_keys if k not in written]
            written.update(out_keys)
            n_args = len(op.inputs(p))
            in_keys = [(id(c), i) for c, i in node.inputs[:n_args]]
            in_stypes = [_stype(value[k]) for k in in_keys]
            op_gst = op.grad_stypes(p, in_stypes) if op.grad_stypes else ["default"] * n_args
            step.igrads, step.reqs = [], []
            for i, key in enumerate(in_keys):
                if i in op.no_grad or not needs_grad[key]:
                    step.igrads.append(None)
                    step.reqs.append(0)
                    continue
                if key in written:
                    req = REQ["add"]
                elif key in is_var:
                    req = REQ[req_of[is_var[key]]]
                else:
                    req = REQ["write"]
                written.add(key)
                target = grad[key]
                have = _stype(target)
                if op_gst[i] == have:
                    step.igrads.append(target)
                elif op_gst[i] == "row_sparse":  # the operator gives rows; the target is dense
                    tmp = RowSparseNDArray(np.zeros((0,) + value[key].shape[1:], dtype),
                                           np.zeros((0,), np.int64), value[key].shape)
                    step.igrads.append(tmp)
                    step.post.append(lambda t=tmp, d=target, r=req: _rsp_into_dense(t, d, r))
                    req = REQ["write"]
                else:  # a dense gradient for a row_sparse target (MXNet's storage fallback)
                    tmp = np.zeros(value[key].shape, dtype)
                    step.igrads.append(tmp)
                    step.post.append(lambda t=tmp, d=target, r=req: _dense_into_rsp(t, d, r))
                    req = REQ["write"]
                step.reqs.append(req)
            backward_steps.append(step)
        self._backward_steps = backward_steps
        # 'write' arguments that received no gradient at all (e.g. labels bound with grad_req
        # 'write') read as zero, as in MXNet.
        self._zero_args = []
        for node in nodes:
            key = (id(node), 0)
            if node.op is None and key in grad and key not in written and \
                    req_of.get(node.name) in ("write", "inplace"):
                self._zero_args.append(grad[key])

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
            if r not in REQ:
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

    @staticmethod
    def _alloc(shape: Tuple[int, ...], dtype: Any, stype: str) -> Any:
        if stype == "row_sparse_empty":  # an operator's row_sparse output: no row yet
            return RowSparseNDArray(np.zeros((0,) + tuple(shape[1:]), dtype),
                                    np.zeros((0,), np.int64), shape)
        if stype == "row_sparse":  # every row stored, as MXNet's initialised weights
            return RowSparseNDArray(np.zeros(shape, dtype), np.arange(shape[0], dtype=np.int64),
                                    shape)
        if stype == "csr":
            from .ndarray.sparse import CSRNDArray
            return CSRNDArray(np.zeros((0,), dtype), np.zeros((0,), np.int64),
                              np.zeros((shape[0] + 1,), np.int64), shape)
        return np.zeros(shape, dtype=dtype)

    @classmethod
    def _simple_bind(cls, symbol: Symbol, grad_req: Any, type_dict: Any, stype_dict: Any,
                     shapes: Dict[str, Any]) -> "Executor":
        names = symbol.list_arguments()
        arg_shapes, _, aux_shapes = symbol.infer_shape_partial(**shapes)
        unknown = [f"{n}: {s}" for n, s in zip(names, arg_shapes) if not known(s)]
        if unknown:
            raise MXNetError("simple_bind: cannot decide the shapes of " + ", ".join(unknown) +
                             " (give their shapes as keyword arguments)")
        dtype = cls._dtype_of(type_dict)
        reqs = cls._reqs(names, grad_req, default_null=True)
        stypes = symbol._arg_stypes(stype_dict)
        gstypes = symbol._grad_stypes(stypes)
        args = [cls._alloc(s, dtype, st) for s, st in zip(arg_shapes, stypes)]
        grads = [None if r == "null" else
                 cls._alloc(s, dtype, "row_sparse_empty" if gst == "row_sparse" else "default")
                 for s, r, gst in zip(arg_shapes, reqs, gstypes)]
        aux = [np.zeros(s, dtype=dtype) for s in aux_shapes]
        return cls(symbol, dtype, args, grads, reqs, aux)

    @classmethod
    def _bind(cls, symbol: Symbol, args: Any, args_grad: Any, grad_req: Any,
              aux_states: Any) -> "Executor":
        names = symbol.list_arguments()
        aux_names = symbol.list_auxiliary_states()

        def listed(arrays: Any, keys: List[str], what: str, required: bool) -> List[Any]:
            if arrays is None:
                if required and keys:
                    raise ValueError(f"bind: {what} is required for {keys}")
                return [None] * len(keys)
            if isinstance(arrays, dict):
                missing = [n for n in keys if n not in arrays]
                if missing and required:
                    raise ValueError(f"bind: {what} is missing {missing}")
                return [None if arrays.get(n) is None else _as_value(arrays[n], f"{what}[{n!r}]")
                        for n in keys]
            if len(arrays) != len(keys):
                raise ValueError(f"bind: {what} has {len(arrays)} arrays for {len(keys)} "
                                 f"names {keys}")
            return [None if a is None else _as_value(a, f"{what}[{i}]")
                    for i, a in enumerate(arrays)]

        arg_arrays = listed(args, names, "args", True)
        if any(a is None for a in arg_arrays):
            raise ValueError("bind: every argument needs an array")
        grads = listed(args_grad, names, "args_grad", False)
        aux_arrays = listed(aux_states, aux_names, "aux_states", True)
        dense = [a for a in arg_arrays + aux_arrays if isinstance(a, np.ndarray)]
        dtypes = {a.dtype for a in dense if a.dtype.kind == "f"} or {np.dtype(np.float32)}
        if len(dtypes) != 1 or next(iter(dtypes)).type not in _FLOAT_TYPES:
            raise TypeError(f"bind: arguments must all be float32 or all float64, got "
                            f"{sorted(str(d) for d in dtypes)}")
        dtype = next(iter(dtypes)).type
        reqs = cls._reqs(names, grad_req, default_null=False)
        reqs = [r if g is not None else "null" for r, g in zip(reqs, grads)]
        shapes = {n: tuple(a.shape) for n, a in zip(names, arg_arrays)}
        shapes.update({n: tuple(a.shape) for n, a in zip(aux_names, aux_arrays)})
        arg_shapes, _, aux_shapes = symbol.infer_shape_partial(**shapes)
        for n, a, s in list(zip(names, arg_arrays, arg_shapes)) + list(
                zip(aux_names, aux_arrays, aux_shapes)):
            if tuple(a.shape) != tuple(s):
                raise ValueError(f"bind: {n} has shape {tuple(a.shape)}, inferred {s}")
        for n, a, g in zip(names, arg_arrays, grads):
            if g is not None and (tuple(g.shape) != tuple(a.shape) or g.dtype != a.dtype):
                raise ValueError(f"bind: gradient of {n} has shape {tuple(g.shape)} dtype "
                                 f"{np.dtype(g.dtype)}, expected {tuple(a.shape)} "
                                 f"{np.dtype(a.dtype)}")
        return cls(symbol, dtype, arg_arrays, grads, reqs, aux_arrays)

    # ---- dictionaries ------------------------------------------------------------------------
    @property
    def arg_dict(self) -> Dict[str, Any]:
        if self._arg_dict is None:
            self._arg_dict = OrderedDict(zip(self._names, self.arg_arrays))
        return self._arg_dict

    @property
    def grad_dict(self) -> Dict[str, Any]:
        if self._grad_dict is None:
            self._grad_dict = OrderedDict(zip(self._names, self.grad_arrays))
        return self._grad_dict

    @property
    def aux_dict(self) -> Dict[str, NDArray]:
        return OrderedDict(zip(self._aux_names, self.aux_arrays))

    @property
    def output_dict(self) -> Dict[str, NDArray]:
        return OrderedDict(zip(self._symbol.list_outputs(), self.outputs))

    # ---- running -----------------------------------------------------------------------------
    def forward(self, is_train: bool = False, **kwargs: Any) -> List[NDArray]:
        """Copy ``kwargs`` (name -> array) into the arguments, then compute the outputs."""
        for name, src in kwargs.items():
            if name not in self.arg_dict:
                raise ValueError(f"Unknown argument {name}")
            _copy_value(src, self.arg_dict[name], name)
        is_train = bool(is_train)
        for step in self._steps:
            step.forward(is_train)
        return self.outputs

    def backward(self, out_grads: Union[None, NDArray, Sequence[NDArray]] = None,
                 is_train: bool = True) -> None:
        """Compute the argument gradients. Loss outputs need no ``out_grads``; other outputs do."""
        if out_grads is None and not any(self._head_needs_grad):
            self._run_backward()
            return
        if out_grads is None:
            out_grads = [None] * len(self.outputs)
        elif isinstance(out_grads, (NDArray, np.ndarray)):
            out_grads = [out_grads]
        if len(out_grads) != len(self.outputs):
            raise ValueError(f"backward: {len(out_grads)} out_grads for {len(self.outputs)} outputs")
        heads: List[Any] = []
        for i, g in enumerate(out_grads):
            if not self._head_needs_grad[i]:
                heads.append(None)
                continue
            if g is None:
                raise MXNetError(
                    f"Gradient of output {i} ({self._symbol.list_outputs()[i]}) is required: "
                    "the last operator is not Loss function, head_gradient is required "
                    "(pass out_grads)")
            buf = g._data if isinstance(g, NDArray) else g
            if not isinstance(buf, np.ndarray):
                raise TypeError(f"out_grads[{i}] must be an mx.nd.NDArray or numpy.ndarray, got "
                                f"{type(g).__name__}")
            if buf.shape != self.outputs[i].shape:
                raise ValueError(f"out_grads[{i}] has shape {buf.shape}, expected "
                                 f"{self.outputs[i].shape}")
            heads.append(np.ascontiguousarray(buf, dtype=self._dtype))
        for h, buf, req in zip(heads, self._head_grads, self._head_grad_reqs):
            if h is not None:
                _core.op_copy(h, buf, req)
        self._run_backward()

    def _run_backward(self) -> None:
        for step in self._backward_steps:
            step.backward()
        for g in self._zero_args:
            _fill_zero(g)

    def copy_params_from(self, arg_params: Dict[str, Any], aux_params: Optional[Dict[str, Any]] = None,
                         allow_extra_params: bool = False) -> None:
        """Copy parameter values into the bound arrays (same shapes)."""
        for name, value in arg_params.items():
            if name in self.arg_dict:
                _copy_value(value, self.arg_dict[name], f"arg_params[{name!r}]")
            elif not allow_extra_params:
                raise ValueError(f"Find name \"{name}\" that is not in the arguments")
        for name, value in (aux_params or {}).items():
            if name in self.aux_dict:
                _copy_value(value, self.aux_dict[name], f"aux_params[{name!r}]")
            elif not allow_extra_params:
                raise ValueError(f"Find name {name} that is not in the auxiliary states")

    def reshape(self, partial_shaping: bool = False, allow_up_sizing: bool = False,
                **kwargs: Any) -> "Executor":
        """A new executor for new input shapes; arrays whose shape is unchanged are shared."""
        arg_shapes, _, aux_shapes = self._symbol.infer_shape_partial(**kwargs)
        args, grads = [], []
        for name, shape, arr, grad in zip(self._names, arg_shapes, self.arg_arrays, self.grad_arrays):
            if not known(shape):
                raise MXNetError(f"reshape: cannot decide the shape of {name}")
            if tuple(shape) == tuple(arr.shape):
                args.append(_dense(arr))
                grads.append(None if grad is None else _dense(grad))
                continue
            if name not in kwargs and not partial_shaping:
                raise MXNetError(f"reshape: shape of unspecified array arg:{name} changed. This can "
                                 "cause the new executor to not share parameters with the old "
                                 "one. Please check for error in network. If this is intended, "
                                 "set partial_shaping=True to suppress this warning.")
            st = _stype(arr)
            args.append(self._alloc(tuple(shape), self._dtype, st))
            gst = "row_sparse_empty" if _stype(grad) == "row_sparse" else "default"
            grads.append(None if grad is None else self._alloc(tuple(shape), self._dtype, gst))
        aux = []
        for name, shape, arr in zip(self._aux_names, aux_shapes, self.aux_arrays):
            if tuple(shape) != tuple(arr.shape):
                raise MXNetError(f"reshape: auxiliary state {name} would change shape from "
                                 f"{tuple(arr.shape)} to {tuple(shape)}")
            aux.append(_dense(arr))
        return Executor(self._symbol, self._dtype.type, args, grads, self._grad_reqs, aux)

    def _internal_outputs(self) -> List[Any]:
        """``(name, NDArray)`` of every visible operator output, in graph order."""
        return list(self._internal)

    def debug_str(self) -> str:
        lines = [f"Symbol outputs: {self._symbol.list_outputs()}"]
        lines += [f"arg {n}: {tuple(a.shape)}" for n, a in zip(self._names, self.arg_arrays)]
        lines += [f"aux {n}: {tuple(a.shape)}" for n, a in zip(self._aux_names, self.aux_arrays)]
        return "\n".join(lines)


# ---- value copies and storage conversions ----------------------------------------------------------
def _copy_value(src: Any, dst: Any, name: str) -> None:
    """Copy ``src`` into the bound value ``dst`` (cast to its dtype; storage converted)."""
    if tuple(src.shape) != tuple(dst.shape):
        raise ValueError(f"Shape not match! Argument {name}, need: {tuple(dst.shape)}, "
                         f"received: {tuple(src.shape)}")
    if isinstance(dst, NDArray):
        data = src._data if isinstance(src, NDArray) else src
        if isinstance(data, np.ndarray):
            np.copyto(dst._data, data, casting="unsafe")
        else:  # a sparse value into a dense one
            np.copyto(dst._data, data.asnumpy(), casting="unsafe")
        return
    if isinstance(src, np.ndarray):
        src = NDArray(src)
    if _stype(dst) == "row_sparse":
        full = src.asnumpy() if _stype(src) != "default" else src._data
        dst._data = np.array(full, dtype=dst._data.dtype, order="C", copy=True)
        dst._indices = np.arange(dst.shape[0], dtype=np.int64)
        return
    src.copyto(dst)


def _fill_zero(g: Any) -> None:
    if isinstance(g, NDArray):
        g._data.fill(0)
    elif isinstance(g, RowSparseNDArray):
        g._data = np.zeros((0,) + tuple(g.shape[1:]), g._data.dtype)
        g._indices = np.zeros((0,), np.int64)
    else:
        g.fill(0)


def _rsp_into_dense(src: RowSparseNDArray, dst: Any, req: int) -> None:
    buf = dst._data if isinstance(dst, NDArray) else dst
    if req == REQ["write"]:
        buf.fill(0)
    if src._indices.size:
        buf[src._indices] += src._data


def _dense_into_rsp(src: np.ndarray, dst: RowSparseNDArray, req: int) -> None:
    if req == REQ["add"] and dst._indices.size:
        src = src.copy()
        src[dst._indices] += dst._data
    flat = src.reshape(src.shape[0], -1)
    rows = np.flatnonzero(np.any(flat != 0, axis=1)).astype(np.int64)
    dst._data = np.ascontiguousarray(src[rows])
    dst._indices = rows
