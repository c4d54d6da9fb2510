"""Symbolic graphs with MXNet 1.9.1's Python API (``mx.sym``): construction, introspection,
shape inference and the exact ``-symbol.json`` format.

A :class:`Symbol` is a list of output entries ``(node, index)`` of a DAG of nodes; a node is a
variable (``op is None``) or an operator from :mod:`mxopt._ops`. Node order everywhere
(``list_arguments``, JSON) is MXNet's: post-order depth-first from the outputs, inputs left to
right, each node once.

Example::

    >>> import mxopt as mx
    >>> data = mx.sym.Variable('data')
    >>> fc = mx.sym.FullyConnected(data, name='fc', num_hidden=10)
    >>> net = mx.sym.SoftmaxOutput(fc, name='softmax')
    >>> net.list_arguments()
    ['data', 'fc_weight', 'fc_bias', 'softmax_label']
    >>> net.infer_shape(data=(128, 20))[0]
    [(128, 20), (10, 20), (10,), (128,)]
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..base import MXNetError, atomic_write
from .. import name as _name
from .._ops.registry import (OPS, OpDef, Shape, ShapeError, attr_str, known, lookup,
                             merge_shape, split_positional)

__all__ = ["Symbol", "Variable", "var", "Group", "load", "load_json"]

MXNET_VERSION = 10901
_HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage")
_DTYPE_CODES = {np.float32: 0, np.float64: 1, np.float16: 2, np.uint8: 3, np.int32: 4,
                np.int8: 5, np.int64: 6, np.bool_: 7, np.int16: 8, np.uint16: 9, np.uint32: 10,
                np.uint64: 11}
_STYPE_CODES = {"default": 0, "row_sparse": 1, "csr": 2}
_NODE_KEYS = ("op", "name", "attrs", "inputs", "control_deps", "attr", "param",
              "backward_source_id")


class _Node:
    """A graph node: a variable (``op`` None) or an operator application."""

    __slots__ = ("op", "name", "attrs", "inputs", "params")

    def __init__(self, op: Optional[OpDef], name: str, attrs: Dict[str, str],
                 inputs: List[Tuple["_Node", int]], params: Optional[Dict[str, Any]] = None) -> None:
        self.op = op
        self.name = name
        self.attrs = attrs
        self.inputs = inputs
        self.params = params if params is not None else {}

    @property
    def num_outputs(self) -> int:
        return 1 if self.op is None else self.op.num_outputs(self.params)

    def output_name(self, index: int) -> str:
        if self.op is None:
            return self.name
        return f"{self.name}_{self.op.outputs(self.params)[index]}"

    @property
    def num_args(self) -> int:
        """Inputs that are arguments (the rest are auxiliary states)."""
        return len(self.inputs) if self.op is None else len(self.op.inputs(self.params))


Entry = Tuple[_Node, int]


def _hidden(key: str) -> str:
    return f"__{key}__" if key in _HIDDEN_KEYS else key


def _visible_attrs(attrs: Dict[str, str]) -> Dict[str, str]:
    """MXNet's listing of a node's attributes: hidden keys also without underscores."""
    out: Dict[str, str] = {}
    for k, v in attrs.items():
        out[k] = v
        if k.startswith("__") and k.endswith("__") and k[2:-2] in _HIDDEN_KEYS:
            out[k[2:-2]] = v
    return out


def _topo(heads: Sequence[Entry]) -> List[_Node]:
    """Post-order DFS from the heads, inputs left to right, each node once (iterative)."""
    order: List[_Node] = []
    seen = set()
    for head, _ in heads:
        if id(head) in seen:
            continue
        stack: List[Tuple[_Node, int]] = [(head, 0)]
        seen.add(id(head))
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                child = node.inputs[i][0]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                stack.pop()
                order.append(node)
    return order


class Symbol:
    """A symbolic expression: one or more outputs of a graph of operators and variables."""

    __slots__ = ("_outputs", "__weakref__")

    def __init__(self, outputs: List[Entry]) -> None:
        self._outputs = list(outputs)

    # ---- identity ------------------------------------------------------------------------------
    @property
    def name(self) -> Optional[str]:
        """The head node's name; None for a group of several outputs."""
        if len(self._outputs) != 1:
            return None
        return self._outputs[0][0].name

    def __repr__(self) -> str:
        if len(self._outputs) == 1:
            return f"<Symbol {self.name}>"
        return "<Symbol group [" + ", ".join(n.name for n, _ in self._outputs) + "]>"

    def __len__(self) -> int:
        return len(self._outputs)

    def __iter__(self) -> Iterator["Symbol"]:
        return (Symbol([e]) for e in self._outputs)

    def __getitem__(self, index: Union[int, str]) -> "Symbol":
        """Output ``index`` (an int, or a name from ``list_outputs()``)."""
        if isinstance(index, str):
            names = self.list_outputs()
            matches = [i for i, n in enumerate(names) if n == index]
            if not matches:
                raise ValueError(f"There is no output named {index!r} (outputs: {names})")
            if len(matches) > 1:
                raise ValueError(f"There are multiple outputs with name {index!r}")
            index = matches[0]
        if not isinstance(index, int):
            raise TypeError("Symbol only support integer index to fetch i-th output")
        if not -len(self._outputs) <= index < len(self._outputs):
            raise IndexError(f"output index {index} out of range ({len(self._outputs)} outputs)")
        return Symbol([self._outputs[index]])

    def __copy__(self) -> "Symbol":
        return self._clone({})

    def __deepcopy__(self, memo: Any) -> "Symbol":
        return self._clone({})

    def __getstate__(self) -> Dict[str, str]:
        return {"handle": self.tojson()}

    def __setstate__(self, state: Dict[str, str]) -> None:
        self._outputs = load_json(state["handle"])._outputs

    def _clone(self, replace: Dict[int, Entry], name: Optional[str] = None) -> "Symbol":
        """Copy of the graph; variables whose id is in ``replace`` become that entry."""
        memo: Dict[int, _Node] = {}
        for node in _topo(self._outputs):
            if node.op is None and id(node) in replace:
                continue
            inputs = []
            for child, idx in node.inputs:
                if child.op is None and id(child) in replace:
                    inputs.append(replace[id(child)])
                else:
                    inputs.append((memo[id(child)], idx))
            memo[id(node)] = _Node(node.op, node.name, dict(node.attrs), inputs, dict(node.params))
        outs: List[Entry] = []
        for node, idx in self._outputs:
            if node.op is None and id(node) in replace:
                outs.append(replace[id(node)])
            else:
                outs.append((memo[id(node)], idx))
        if name is not None and len(outs) == 1 and outs[0][0].op is not None:
            outs[0][0].name = name
        return Symbol(outs)

    def __call__(self, *args: "Symbol", **kwargs: Any) -> "Symbol":
        """Compose: a copy with free variables replaced (positional = ``list_arguments`` order)."""
        name = kwargs.pop("name", None)
        if args and kwargs:
            raise TypeError("compose only accept input Symbols either as positional or "
                            "keyword arguments, not both")
        variables = [n for n in _topo(self._outputs) if n.op is None]
        replace: Dict[int, Entry] = {}
        given = list(zip(variables, args)) if args else []
        if len(args) > len(variables):
            raise MXNetError(f"compose: {len(args)} inputs given but the symbol has only "
                             f"{len(variables)} arguments")
        for key, value in kwargs.items():
            match = [v for v in variables if v.name == key]
            if not match:
                raise MXNetError(f"Symbol.ComposeKeyword argument name {key} not found.")
            given.extend((v, value) for v in match)
        for var_node, value in given:
            if not isinstance(value, Symbol):
                raise TypeError(f"Compose expect `Symbol` as arguments, got {type(value).__name__}")
            if len(value._outputs) != 1:
                raise MXNetError(f"Keyword Argument {var_node.name} is a tuple, single value is required")
            replace[id(var_node)] = value._outputs[0]
        return self._clone(replace, name)

    # ---- arithmetic (MXNet's operator nodes: elemwise_add for a + b, _plus_scalar for a + 1) --
    def _arith(self, other: Any, op: str, hint: str, scalar_op: str, scalar_hint: str) -> "Symbol":
        if isinstance(other, Symbol):
            return _creator(OPS[op], hint)(self, other)
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return _creator(OPS[scalar_op], scalar_hint)(self, scalar=other)
        raise TypeError(f"type {type(other).__name__} not supported")

    def __add__(self, o: Any) -> "Symbol":
        return self._arith(o, "elemwise_add", "_Plus", "_plus_scalar", "_PlusScalar")

    def __radd__(self, o: Any) -> "Symbol":
        return self.__add__(o)

    def __sub__(self, o: Any) -> "Symbol":
        return self._arith(o, "elemwise_sub", "_Minus", "_minus_scalar", "_MinusScalar")

    def __rsub__(self, o: Any) -> "Symbol":
        return self._arith(o, "elemwise_sub", "_Minus", "_rminus_scalar", "_RMinusScalar")

    def __mul__(self, o: Any) -> "Symbol":
        return self._arith(o, "elemwise_mul", "_Mul", "_mul_scalar", "_MulScalar")

    def __rmul__(self, o: Any) -> "Symbol":
        return self.__mul__(o)

    def __truediv__(self, o: Any) -> "Symbol":
        return self._arith(o, "elemwise_div", "_Div", "_div_scalar", "_DivScalar")

    def __rtruediv__(self, o: Any) -> "Symbol":
        return self._arith(o, "elemwise_div", "_Div", "_rdiv_scalar", "_RDivScalar")

    def __pow__(self, o: Any) -> "Symbol":
        return self._arith(o, "_power", "_Power", "_power_scalar", "_PowerScalar")

    def __rpow__(self, o: Any) -> "Symbol":
        return self._arith(o, "_power", "_Power", "_rpower_scalar", "_rpower_scalar")

    def __neg__(self) -> "Symbol":
        return self.__mul__(-1.0)

    # ---- attributes ----------------------------------------------------------------------------
    def attr(self, key: str) -> Optional[str]:
        """The head node's attribute ``key`` (hidden keys such as ``lr_mult`` also work)."""
        if len(self._outputs) != 1:
            return None
        attrs = self._outputs[0][0].attrs
        return attrs.get(key, attrs.get(_hidden(key)))

    def list_attr(self, recursive: bool = False) -> Dict[str, str]:
        """The head node's attributes (``recursive=True`` is deprecated in MXNet too)."""
        if recursive:
            raise DeprecationWarning("Symbol.list_attr with recursive=True has been deprecated. "
                                     "Please use attr_dict instead.")
        return _visible_attrs(self._outputs[0][0].attrs)  # a group: its first output's node

    def attr_dict(self) -> Dict[str, Dict[str, str]]:
        """``{node name: {key: value}}`` for every node that has attributes."""
        out: Dict[str, Dict[str, str]] = {}
        for node in _topo(self._outputs):
            if node.attrs:
                out.setdefault(node.name, {}).update(_visible_attrs(node.attrs))
        return out

    def _set_attr(self, **kwargs: Any) -> None:
        """Set string attributes on the head node (hidden keys get their ``__x__`` form)."""
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise ValueError("Set Attr only accepts string values")
            for node, _ in self._outputs:
                node.attrs[_hidden(key)] = value

    # ---- structure -----------------------------------------------------------------------------
    def _nodes(self) -> List[_Node]:
        return _topo(self._outputs)

    def _aux_ids(self, nodes: List[_Node]) -> set:
        """ids of the variables that some operator takes as an auxiliary state."""
        out = set()
        for n in nodes:
            if n.op is not None:
                for child, _ in n.inputs[n.num_args:]:
                    out.add(id(child))
        return out

    def list_arguments(self) -> List[str]:
        """Names of all arguments (variables that are not auxiliary states), in graph order."""
        nodes = self._nodes()
        aux = self._aux_ids(nodes)
        return [n.name for n in nodes if n.op is None and id(n) not in aux]

    def list_inputs(self) -> List[str]:
        """All variables, auxiliary states included, in graph order."""
        return [n.name for n in self._nodes() if n.op is None]

    def list_auxiliary_states(self) -> List[str]:
        """Auxiliary states (e.g. BatchNorm's moving statistics), in graph order."""
        nodes = self._nodes()
        aux = self._aux_ids(nodes)
        return [n.name for n in nodes if n.op is None and id(n) in aux]

    def _arg_stypes(self, stype_dict: Optional[Dict[str, str]] = None) -> List[str]:
        """Storage type of each argument: ``stype_dict``, else the variable's ``stype``."""
        codes = {str(v): k for k, v in _STYPE_CODES.items()}
        nodes = self._nodes()
        aux = self._aux_ids(nodes)
        out = []
        for n in nodes:
            if n.op is None and id(n) not in aux:
                st = (stype_dict or {}).get(n.name) or codes.get(n.attrs.get("__storage_type__", "0"),
                                                                 "default")
                if st not in _STYPE_CODES:
                    raise ValueError(f"unknown storage type {st!r} for argument {n.name}")
                out.append(st)
        return out

    def _grad_stypes(self, arg_stypes: Sequence[str]) -> List[str]:
        """Storage type of each argument's gradient, as the operators consuming it produce it
        (row_sparse when every consumer gives a row_sparse gradient: ``dot(csr, w)``,
        ``Embedding(sparse_grad=True)``), given the arguments' storage types."""
        nodes = self._nodes()
        aux = self._aux_ids(nodes)
        args = [n for n in nodes if n.op is None and id(n) not in aux]
        value = {(id(n), 0): st for n, st in zip(args, arg_stypes)}
        votes: Dict[int, List[str]] = {}
        for n in nodes:
            if n.op is None:
                for i in range(n.num_outputs):
                    value.setdefault((id(n), i), "default")
                continue
            k = n.num_args
            ins = [value.get((id(c), i), "default") for c, i in n.inputs[:k]]
            outs = n.op.out_stypes(n.params, ins) if n.op.out_stypes else ["default"] * n.num_outputs
            for i, st in enumerate(outs):
                value[(id(n), i)] = st
            gst = n.op.grad_stypes(n.params, ins) if n.op.grad_stypes else ["default"] * k
            for (c, _), st in zip(n.inputs[:k], gst):
                if c.op is None:
                    votes.setdefault(id(c), []).append(st)
        return ["row_sparse" if votes.get(id(n)) and all(v == "row_sparse" for v in votes[id(n)])
                else "default" for n in args]

    def list_outputs(self) -> List[str]:
        """``<node>_output`` per operator output, the variable name for a variable output."""
        return [node.output_name(idx) for node, idx in self._outputs]

    def get_internals(self) -> "Symbol":
        """A group of every visible output of every node, in graph order."""
        return Symbol([(n, i) for n in self._nodes()
                       for i in range(1 if n.op is None else n.op.num_visible(n.params))])

    def get_children(self) -> Optional["Symbol"]:
        """The inputs of the head node as a group (None for a variable)."""
        ins = [e for node, _ in self._outputs for e in node.inputs]
        return Symbol(ins) if ins else None

    # ---- shape inference -----------------------------------------------------------------------
    def _infer(self, shapes: Dict[str, Shape]) -> Dict[Tuple[int, int], Shape]:
        """Entry shapes (keyed by (id(node), index)) from argument shapes; MXNetError on conflicts."""
        nodes = self._nodes()
        out: Dict[Tuple[int, int], Shape] = {}
        for node in nodes:
            for i in range(node.num_outputs):
                out[(id(node), i)] = ()
            if node.op is None:
                hint = node.attrs.get("__shape__")
                if hint:
                    out[(id(node), 0)] = _parse_shape_attr(hint)
                if node.name in shapes:
                    try:
                        out[(id(node), 0)] = merge_shape(out[(id(node), 0)], shapes[node.name])
                    except ShapeError as exc:
                        raise MXNetError(f"Error in argument {node.name}: {exc}") from None
        ops = [n for n in nodes if n.op is not None]
        for _ in range(2 * len(ops) + 2):
            changed = False
            for node in ops + ops[::-1]:
                ins = [out[(id(c), i)] for c, i in node.inputs]
                outs = [out[(id(node), i)] for i in range(node.num_outputs)]
                before = (list(ins), list(outs))
                try:
                    node.op.infer(node.params, ins, outs)
                    for (c, i), s in zip(node.inputs, ins):
                        out[(id(c), i)] = merge_shape(out[(id(c), i)], s)
                except ShapeError as exc:
                    raise MXNetError(f"Error in operator {node.name}: {exc}") from None
                for i, s in enumerate(outs):
                    out[(id(node), i)] = s
                if (ins, outs) != before:
                    changed = True
            if not changed:
                break
        return out

    def _shape_lists(self, args: Sequence[Any], kwargs: Dict[str, Any]) -> Tuple[
            List[Shape], List[Shape], List[Shape]]:
        names = self.list_arguments()
        inputs = self.list_inputs()
        shapes: Dict[str, Shape] = {}
        if args:
            if kwargs:
                raise ValueError("Can only specify known argument shapes either by positional "
                                 "or kwargs way.")
            for name, s in zip(names, args):
                if s is not None:
                    shapes[name] = tuple(int(d) for d in s)
        for key, s in kwargs.items():
            if key not in inputs:
                cands = "\n".join(f"\t[{i}]{n}" for i, n in enumerate(names))
                raise MXNetError(f"InferShapeKeyword argument name {key} not found.\n"
                                 f"Candidate arguments:\n{cands}\n")
            if not isinstance(s, (tuple, list)):
                raise TypeError(f"Arguments need to be shapes (tuple), but argument {key} is "
                                f"{type(s).__name__}")
            shapes[key] = tuple(int(d) for d in s)
        entries = self._infer(shapes)
        nodes = self._nodes()
        aux = self._aux_ids(nodes)
        arg_shapes = [entries[(id(n), 0)] for n in nodes if n.op is None and id(n) not in aux]
        aux_shapes = [entries[(id(n), 0)] for n in nodes if n.op is None and id(n) in aux]
        out_shapes = [entries[(id(n), i)] for n, i in self._outputs]
        return arg_shapes, out_shapes, aux_shapes

    def infer_shape(self, *args: Any, **kwargs: Any) -> Tuple[Optional[List[Shape]], ...]:
        """Infer all shapes from some argument shapes (``name=shape`` keywords).

        Returns ``(arg_shapes, out_shapes, aux_shapes)`` in ``list_arguments()`` /
        ``list_outputs()`` / ``list_auxiliary_states()`` order, or ``(None, None, None)`` with a
        UserWarning when some argument shape cannot be decided.

        Raises:
            MXNetError: inconsistent shapes or an unknown argument name.
        """
        try:
            arg_shapes, out_shapes, aux_shapes = self._shape_lists(args, kwargs)
        except MXNetError:
            print("infer_shape error. Arguments:")
            for i, a in enumerate(args):
                print(f"  #{i}: {a}")
            for k, v in kwargs.items():
                print(f"  {k}: {v}")
            raise
        complete = all(known(s) for s in arg_shapes + out_shapes + aux_shapes)
        if not complete:
            unknowns = []
            for name, shape in zip(self.list_arguments(), arg_shapes):
                if not shape or not int(np.prod(shape)):
                    if len(unknowns) >= 10:
                        unknowns.append("...")
                        break
                    unknowns.append(f"{name}: {shape}")
            warnings.warn("Cannot decide shape for the following arguments (0s in shape means "
                          "unknown dimensions). Consider providing them as input:\n\t" +
                          "\n\t".join(unknowns), stacklevel=2)
            return None, None, None
        return arg_shapes, out_shapes, aux_shapes

    def infer_shape_partial(self, *args: Any, **kwargs: Any) -> Tuple[List[Shape], ...]:
        """Like :meth:`infer_shape` but unknown shapes are returned as ``()`` (no warning)."""
        return self._shape_lists(args, kwargs)

    def infer_type(self, *args: Any, **kwargs: Any) -> Tuple[List[type], List[type], List[type]]:
        """Types of arguments/outputs: every entry takes the (single) given float type."""
        given = [np.dtype(t).type for t in list(args) + list(kwargs.values()) if t is not None]
        for key in kwargs:
            if key not in self.list_arguments():
                raise MXNetError(f"InferTypeKeyword argument name {key} not found.")
        dtype = given[0] if given else np.float32
        if any(t != dtype for t in given):
            raise MXNetError(f"mxopt graphs compute in one dtype; got {sorted({t.__name__ for t in given})}")
        return ([dtype] * len(self.list_arguments()), [dtype] * len(self._outputs),
                [dtype] * len(self.list_auxiliary_states()))

    # ---- serialization -------------------------------------------------------------------------
    def tojson(self, remove_amp_cast: bool = True) -> str:
        """MXNet's symbol JSON, byte for byte."""
        nodes = self._nodes()
        index = {id(n): i for i, n in enumerate(nodes)}
        w = _JSONWriter()
        w.begin_object(True)
        w.key("nodes")
        w.begin_array(True)
        for n in nodes:
            w.element()
            w.begin_object(True)
            w.key("op")
            w.string("null" if n.op is None else n.op.name)
            w.key("name")
            w.string(n.name)
            if n.attrs:
                w.key("attrs")
                w.begin_object(len(n.attrs) > 1)
                for k in sorted(n.attrs, key=lambda s: s.encode("utf-8")):
                    w.key(k)
                    w.string(n.attrs[k])
                w.end_object()
            w.key("inputs")
            # inputs that are auxiliary states (mutated by the operator) carry version 1
            w.entries([(index[id(c)], i, int(k >= n.num_args))
                       for k, (c, i) in enumerate(n.inputs)])
            w.end_object()
        w.end_array()
        w.key("arg_nodes")
        w.int_array([i for i, n in enumerate(nodes) if n.op is None])
        w.key("node_row_ptr")
        ptr = [0]
        for n in nodes:
            ptr.append(ptr[-1] + n.num_outputs)
        w.int_array(ptr)
        w.key("heads")
        w.entries([(index[id(n)], i) for n, i in self._outputs])
        w.key("attrs")
        w.raw('{"mxnet_version": ["int", %d]}' % MXNET_VERSION)
        w.end_object()
        return w.text()

    def save(self, fname: str, remove_amp_cast: bool = True) -> None:
        """Write :meth:`tojson` to ``fname`` (no trailing newline)."""
        if not isinstance(fname, str):
            raise TypeError("fname need to be string")
        atomic_write(fname, self.tojson())  # temp file + rename: never a truncated file

    # ---- binding -------------------------------------------------------------------------------
    def simple_bind(self, ctx: Any = None, grad_req: Any = "write", type_dict: Any = None,
                    stype_dict: Any = None, group2ctx: Any = None, shared_arg_names: Any = None,
                    shared_exec: Any = None, shared_buffer: Any = None, **kwargs: Any) -> Any:
        """Allocate all arrays from argument shapes and return an :class:`mxopt.executor.Executor`."""
        from ..executor import Executor
        return Executor._simple_bind(self, grad_req, type_dict, stype_dict, kwargs)

    def bind(self, ctx: Any = None, args: Any = None, args_grad: Any = None,
             grad_req: Any = "write", aux_states: Any = None, group2ctx: Any = None,
             shared_exec: Any = None) -> Any:
        """Bind given argument (and gradient) arrays; returns an :class:`mxopt.executor.Executor`."""
        from ..executor import Executor
        return Executor._bind(self, args, args_grad, grad_req, aux_states)


def _parse_shape_attr(text: str) -> Shape:
    try:
        return tuple(int(v) for v in text.strip("()[] ").split(",") if v.strip())
    except ValueError:
        raise MXNetError(f"Invalid __shape__ attribute {text!r}") from None


# ---- JSON writer (dmlc::JSONWriter's exact layout) -----------------------------------------------
class _JSONWriter:
    def __init__(self) -> None:
        self._out: List[str] = []
        self._scopes: List[List[Any]] = []  # [multi_line, count]

    def text(self) -> str:
        return "".join(self._out)

    def _sep(self) -> None:
        scope = self._scopes[-1]
        if scope[1]:
            self._out.append(", ")
        if scope[0]:
            self._out.append("\n" + "  " * len(self._scopes))
        scope[1] += 1

    def begin_object(self, multi: bool) -> None:
        self._out.append("{")
        self._scopes.append([multi, 0])

    def end_object(self) -> None:
        self._end("}")

    def begin_array(self, multi: bool) -> None:
        self._out.append("[")
        self._scopes.append([multi, 0])

    def end_array(self) -> None:
        self._end("]")

    def _end(self, char: str) -> None:
        multi, count = self._scopes.pop()
        if multi and count:
            self._out.append("\n" + "  " * len(self._scopes))
        self._out.append(char)

    def key(self, k: str) -> None:
        self._sep()
        self._out.append(_quote(k) + ": ")

    def element(self) -> None:
        self._sep()

    def string(self, s: str) -> None:
        self._out.append(_quote(s))

    def raw(self, s: str) -> None:
        self._out.append(s)

    def int_array(self, values: List[int]) -> None:
        self.begin_array(len(values) > 10)
        for v in values:
            self.element()
            self._out.append(str(v))
        self.end_array()

    def entries(self, values: Sequence[Tuple[int, ...]]) -> None:
        self.begin_array(len(values) > 10)
        for node, idx, *version in values:
            self.element()
            self._out.append(f"[{node}, {idx}, {version[0] if version else 0}]")
        self.end_array()


def _quote(s: str) -> str:
    return '"' + (s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                  .replace("\r", "\\r").replace("\t", "\\t")) + '"'


# ---- construction --------------------------------------------------------------------------------
def Variable(name: str, attr: Optional[Dict[str, str]] = None, shape: Any = None,
             lr_mult: Any = None, wd_mult: Any = None, dtype: Any = None, init: Any = None,
             stype: Optional[str] = None, **kwargs: Any) -> Symbol:
    """A placeholder variable (data, label or parameter).

    Args:
        name: the variable name (str).
        attr: extra string attributes.
        shape: shape hint used by ``infer_shape`` (stored as ``__shape__``).
        lr_mult, wd_mult: per-parameter multipliers read by the optimizer.
        dtype: dtype hint (stored as MXNet's type code in ``__dtype__``).
        init: an initializer (stored as its ``dumps()``) or an initializer JSON string.
        stype: storage type hint.
        **kwargs: further ``__key__`` attributes.
    """
    if not isinstance(name, str):
        raise TypeError("Expect a string for variable `name`")
    attrs: Dict[str, str] = {}
    for k, v in (attr or {}).items():
        attrs[_hidden(k)] = v
    if shape is not None:
        attrs["__shape__"] = str(shape)
    if lr_mult is not None:
        attrs["__lr_mult__"] = str(lr_mult)
    if wd_mult is not None:
        attrs["__wd_mult__"] = str(wd_mult)
    if dtype is not None:
        attrs["__dtype__"] = str(_DTYPE_CODES[np.dtype(dtype).type])
    if init is not None:
        attrs["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        attrs["__storage_type__"] = str(_STYPE_CODES[stype])
    for k, v in kwargs.items():
        if k.startswith("__") and k.endswith("__"):
            attrs[k] = str(v)
        else:
            raise ValueError(f"Attribute name={k} is not supported. Additional attributes must "
                             "start and end with double underscores, e.g, __yourattr__")
    return Symbol([(_Node(None, name, attrs, []), 0)])


var = Variable


def Group(symbols: Sequence[Symbol]) -> Symbol:
    """A symbol whose outputs are all outputs of ``symbols``, in order."""
    if not symbols or any(not isinstance(s, Symbol) for s in symbols):
        raise TypeError("Expected a list of symbols as input")
    return Symbol([e for s in symbols for e in s._outputs])


def _creator(op: OpDef, func_name: str):  # type: ignore[no-untyped-def]
    """``mx.sym.<func_name>``: a function building a node of ``op``."""
    def create(*args: Any, name: Optional[str] = None, attr: Optional[Dict[str, str]] = None,
               out: Any = None, **kwargs: Any) -> Symbol:
        inputs_kw: Dict[str, Symbol] = {}
        attrs: Dict[str, str] = {}
        for key, value in kwargs.items():
            if isinstance(value, Symbol):
                inputs_kw[key] = value
            elif value is not None or key in op.params:
                attrs[key] = attr_str(value)
        args = split_positional(op, args, lambda a: isinstance(a, Symbol), attrs, func_name)
        if op.variadic and op.variadic not in attrs:
            attrs[op.variadic] = str(len(args))
        name = _name.current().get(name, op.hint if func_name == op.name else func_name.lower())
        for key, value in (attr or {}).items():
            attrs[_hidden(key)] = value
        params = op.parse_params(attrs, name)
        arg_names = op.inputs(params)
        input_names = arg_names + op.aux(params)
        where = op.describe(attrs, name)
        if len(args) > len(input_names):
            raise MXNetError(f"{op.name} takes {len(input_names)} inputs ({input_names}) but "
                             f"{len(args)} were given, in operator {where}")
        given: Dict[str, Symbol] = {}
        for arg_name, value in zip(input_names, args):
            if value is None:
                continue
            if not isinstance(value, Symbol):
                raise TypeError(f"{op.name}: input {arg_name} must be a Symbol, got "
                                f"{type(value).__name__}")
            given[arg_name] = value
        for key, value in inputs_kw.items():
            if key not in input_names:
                cands = "\n".join(f"\t[{i}]{n}" for i, n in enumerate(input_names))
                raise MXNetError(f"Symbol.ComposeKeyword argument name {key} not found.\n"
                                 f"Candidate arguments:\n{cands}\n")
            given[key] = value
        hints = op.init_hints(params) if op.init_hints else {}
        entries: List[Entry] = []
        for arg_name in input_names:
            sym = given.get(arg_name)
            if sym is None:
                var_attrs = dict(attrs)
                if arg_name in hints:  # MXNet lists the operator's initializer first
                    var_attrs = {"__init__": hints[arg_name], **attrs}
                entries.append((_Node(None, f"{name}_{arg_name}", var_attrs, []), 0))
                continue
            if len(sym._outputs) != 1:
                raise MXNetError(f"Keyword Argument {arg_name} is a tuple, single value is required")
            given_node = sym._outputs[0][0]
            if arg_name in hints and given_node.op is None and "__init__" not in given_node.attrs:
                given_node.attrs["__init__"] = hints[arg_name]  # MXNet marks given variables too
            entries.append(sym._outputs[0])
        node = _Node(op, name, attrs, entries, params)
        return Symbol([(node, i) for i in range(op.num_visible(params))])

    create.__name__ = func_name
    create.__qualname__ = func_name
    return create


# ---- loading -------------------------------------------------------------------------------------
def load_json(json_str: str) -> Symbol:
    """Build a symbol from MXNet's symbol JSON (also older MXNet versions' files)."""
    if not isinstance(json_str, str):
        raise TypeError("fname required to be string")
    try:
        doc = json.loads(json_str, strict=False)  # raw control characters, as MXNet writes them
    except ValueError as exc:
        raise MXNetError(f"Invalid symbol JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list) or \
            not isinstance(doc.get("heads"), list):
        raise MXNetError("Invalid symbol JSON: 'nodes' and 'heads' lists are required")
    version = 800
    gattrs = doc.get("attrs", {})
    if isinstance(gattrs, dict) and "mxnet_version" in gattrs:
        try:
            version = int(gattrs["mxnet_version"][1])
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            raise MXNetError("Invalid symbol JSON: bad mxnet_version") from None
    if version > MXNET_VERSION:
        import logging
        logging.warning("loading symbol saved by a newer MXNet version v%d.%d.%d, which may "
                        "not be supported", version // 10000, version // 100 % 100, version % 100)
    nodes: List[_Node] = []
    pending: List[Tuple[_Node, List[Any]]] = []
    for i, spec in enumerate(doc["nodes"]):
        if not isinstance(spec, dict):
            raise MXNetError(f"Invalid symbol JSON: node {i} is not an object")
        for key in spec:
            if key not in _NODE_KEYS:
                raise MXNetError(f"JSONReader: Unknown field {key}")
        op_name, name = spec.get("op"), spec.get("name")
        if not isinstance(op_name, str) or not isinstance(name, str):
            raise MXNetError(f"Invalid symbol JSON: node {i} needs string 'op' and 'name'")
        attrs: Dict[str, str] = {}
        for key, block in spec.items():  # "attrs" and the legacy "attr"/"param": the last wins
            if key in ("attrs", "attr", "param"):
                if not isinstance(block, dict):
                    raise MXNetError(f"Invalid symbol JSON: node {i} '{key}' is not an object")
                attrs = {str(k): str(v) for k, v in block.items()}
        if op_name == "null":
            node = _Node(None, name, attrs, [])
        else:
            op = lookup(op_name)
            if op is None:
                raise MXNetError(f"Operator {op_name} is not supported by mxopt (supported: "
                                 f"{', '.join(sorted(OPS))})")
            if version < 904:
                attrs = {_hidden(k): v for k, v in attrs.items()}
            # Parameters now (the output count may depend on them); parsed again below, after
            # pre-0.9.4 multiplier keys have moved onto their variables.
            known_params = attrs if op.any_params else \
                {k: v for k, v in attrs.items() if k in op.params}
            node = _Node(op, name, attrs, [], op.parse_params(known_params, name))
        inputs = spec.get("inputs", [])
        if not isinstance(inputs, list):
            raise MXNetError(f"Invalid symbol JSON: node {i} 'inputs' is not a list")
        nodes.append(node)
        pending.append((node, inputs))

    def entry(e: Any, where: str) -> Entry:
        if not isinstance(e, list) or len(e) not in (2, 3) or not all(isinstance(v, int) for v in e):
            raise MXNetError(f"Invalid symbol JSON: bad entry {e!r} in {where}")
        nid, idx = e[0], e[1]
        if not 0 <= nid < len(nodes) or not 0 <= idx < nodes[nid].num_outputs:
            raise MXNetError(f"Invalid symbol JSON: entry {e!r} in {where} is out of range")
        return nodes[nid], idx

    position = {id(n): i for i, n in enumerate(nodes)}
    for i, (node, inputs) in enumerate(pending):
        node.inputs = [entry(e, f"node {i}") for e in inputs]
        if node.op is None and node.inputs:
            raise MXNetError(f"Invalid symbol JSON: variable node {i} has inputs")
        for child, _ in node.inputs:
            if position[id(child)] >= i:
                raise MXNetError(f"Invalid symbol JSON: node {i} uses a later node as input")
    for node in nodes:
        if node.op is None:
            continue
        if version < 904:
            _upgrade_mult_keys(node, node.op.inputs(node.params) + node.op.aux(node.params))
        node.params = node.op.parse_params(node.attrs, node.name)
        names = node.op.inputs(node.params) + node.op.aux(node.params)
        if version < 900 and len(node.inputs) < len(names):
            for arg_name in names[len(node.inputs):]:
                node.inputs.append((_Node(None, f"{node.name}_{arg_name}", dict(node.attrs), []), 0))
        if len(node.inputs) != len(names):
            raise MXNetError(f"Invalid symbol JSON: operator {node.name} ({node.op.name}) has "
                             f"{len(node.inputs)} inputs, expected {len(names)} ({names})")
    return Symbol([entry(e, "heads") for e in doc["heads"]])


def _upgrade_mult_keys(node: _Node, input_names: List[str]) -> None:
    """MXNet < 0.9.4: ``<input>_lr_mult``-style op attributes move onto that input variable."""
    for key in list(node.attrs):
        for hidden in _HIDDEN_KEYS:
            suffix = "_" + hidden
            if key.endswith(suffix) and key[:-len(suffix)] in input_names:
                child = node.inputs[input_names.index(key[:-len(suffix)])][0] \
                    if input_names.index(key[:-len(suffix)]) < len(node.inputs) else None
                value = node.attrs.pop(key)
                if child is not None and child.op is None:
                    child.attrs[f"__{hidden}__"] = value


def load(fname: str) -> Symbol:
    """Load a symbol saved with :meth:`Symbol.save` (or MXNet's ``prefix-symbol.json``)."""
    if not isinstance(fname, str):
        raise TypeError("fname required to be string")
    with open(fname, "r", encoding="utf-8") as f:
        return load_json(f.read())
