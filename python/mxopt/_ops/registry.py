"""The operator registry: one :class:`OpDef` per MXNet operator, from which both ``mx.sym.X``
(graph nodes) and ``mx.nd.X`` (imperative calls) are generated, and which the executor runs.

An OpDef holds the operator's parameter schema (parsed as MXNet's dmlc parameters parse their
string attributes), its argument / auxiliary-state / output names, its shape rule and its
kernels. The kernels work on numpy buffers (or mxopt's sparse arrays) and call one C++ function
of ``mxopt._core`` per direction:

* ``forward(p, ins, outs, aux, is_train, state)`` writes ``outs`` (every output, hidden ones
  included) from ``ins`` (the arguments) and ``aux`` (auxiliary states, updated in place);
* ``backward(p, ograds, ins, outs, aux, igrads, reqs, state)`` writes ``igrads[i]`` (None when
  ``reqs[i]`` is 0) with req 1 (write) or 3 (add); ``ograds`` holds the gradients of the
  visible outputs (loss operators ignore them);
* ``create_state(p, ctx)`` makes per-node working state once per bound node (ctx: shapes,
  dtype, random seed).

Shapes follow MXNet's legacy convention: ``()`` is an unknown shape and a ``0`` dimension is an
unknown dimension.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..base import MXNetError

Shape = Tuple[int, ...]

__all__ = ["Param", "OpDef", "OPS", "ALIASES", "SPARSE_NAMESPACE", "register", "lookup",
           "attr_str", "split_positional", "ShapeError", "merge_shape", "known", "assign_shape",
           "REQ"]

# MXNet's OpReqType codes, as the kernels take them.
REQ = {"null": 0, "write": 1, "inplace": 1, "add": 3}


# ---- parameter parsing (what MXNet's dmlc::Parameter accepts) -----------------------------------
class Param:
    """One operator parameter: its kind, default and bounds, parsed from MXNet's string form.

    Kinds: ``int``, ``float``, ``bool``, ``enum`` (``choices``), ``shape`` (a tuple of ints),
    ``tuple`` (a tuple of ints or a single int), ``str``, ``dtype`` (a dtype name among
    ``choices``); a trailing ``?`` also accepts ``None`` (MXNet's ``dmlc::optional``).
    """

    def __init__(self, name: str, kind: str, default: Any = None, required: bool = False,
                 choices: Sequence[str] = (), lower: Optional[float] = None,
                 upper: Optional[float] = None) -> None:
        self.name, self.kind, self.default, self.required = name, kind, default, required
        self.choices, self.lower, self.upper = tuple(choices), lower, upper

    def type_name(self) -> str:
        base = {"int": "int", "float": "float", "bool": "boolean", "enum": "int",
                "shape": "Shape(tuple)", "tuple": "Shape(tuple)", "str": "string",
                "dtype": "int"}[self.kind.rstrip("?")]
        return base + " or None" if self.kind.endswith("?") else base

    def parse(self, text: str, where: str) -> Any:
        bad = MXNetError(f"Invalid Parameter format for {self.name} expect {self.type_name()} "
                         f"but value='{text}', in operator {where}")
        kind = self.kind
        if kind.endswith("?"):
            if text.strip() == "None":
                return None
            kind = kind[:-1]
        if kind == "int":
            if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
                raise bad
            value: Any = int(text)
        elif kind == "float":
            try:
                value = float(text)
            except ValueError:
                raise bad from None
        elif kind == "bool":
            t = text.strip()
            if t in ("True", "true", "1"):
                value = True
            elif t in ("False", "false", "0"):
                value = False
            else:
                raise bad
        elif kind in ("enum", "dtype"):
            if text not in self.choices:
                opts = ", ".join(f"'{c}'" for c in sorted(self.choices))
                raise MXNetError(f"Invalid Input: '{text}', valid values are: {{{opts}}}, "
                                 f"in operator {where}")
            value = text
        elif kind in ("shape", "tuple"):
            t = text.strip()
            if kind == "tuple" and re.fullmatch(r"[+-]?\d+", t):
                return (int(t),)
            if not re.fullmatch(r"[\(\[]\s*(-?\d+\s*(,\s*-?\d+\s*)*,?)?\s*[\)\]]", t):
                raise bad
            value = tuple(int(v) for v in re.findall(r"-?\d+", t))
        else:
            value = text
        if kind in ("int", "float"):
            self._check_bounds(value, text, where)
        return value

    def _check_bounds(self, value: Any, text: str, where: str) -> None:
        if self.lower is not None and self.upper is not None and not (self.lower <= value <= self.upper):
            raise MXNetError(f"value {text} for Parameter {self.name} exceed bound "
                             f"[{_num(self.lower)},{_num(self.upper)}], in operator {where}")
        if self.lower is not None and self.upper is None and value < self.lower:
            raise MXNetError(f"value {text} for Parameter {self.name} should be greater equal to "
                             f"{_num(self.lower)}, in operator {where}")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# ---- shapes ------------------------------------------------------------------------------------
def known(shape: Shape) -> bool:
    """A fully known shape: ndim > 0 and no unknown (0) dimension."""
    return len(shape) > 0 and all(d > 0 for d in shape)


def fmt_shape(shape: Shape, brackets: str = "[]") -> str:
    return brackets[0] + ",".join(str(d) for d in shape) + brackets[1]


class ShapeError(Exception):
    """Inconsistent shapes at an operator (converted to MXNetError naming the node)."""


def merge_shape(old: Shape, new: Shape) -> Shape:
    """The shape knowing both ``old`` and ``new``; ShapeError if they conflict."""
    if not old:
        return tuple(new)
    if not new:
        return tuple(old)
    if len(old) != len(new):
        raise ShapeError(f"Shape inconsistent, Provided = {fmt_shape(old)}, inferred shape="
                         f"{fmt_shape(new)}")
    out = []
    for a, b in zip(old, new):
        if a and b and a != b:
            raise ShapeError(f"Shape inconsistent, Provided = {fmt_shape(old)}, inferred shape="
                             f"{fmt_shape(new)}")
        out.append(a or b)
    return tuple(out)


def assign_shape(shapes: List[Shape], i: int, value: Shape) -> None:
    """``shapes[i]`` merged with ``value`` (MXNet's SHAPE_ASSIGN_CHECK)."""
    shapes[i] = merge_shape(shapes[i], value)


def prod(dims: Sequence[int]) -> int:
    return int(math.prod(dims))


# ---- operator definitions ------------------------------------------------------------------------
Names = Union[Sequence[str], Callable[[Dict[str, Any]], List[str]]]
ShapeFn = Callable[[Dict[str, Any], List[Shape], List[Shape]], None]


def _names(spec: Names) -> Callable[[Dict[str, Any]], List[str]]:
    if callable(spec):
        return spec
    fixed = list(spec)
    return lambda p: fixed


class OpDef:
    """One operator (see the module docstring for the kernel interface).

    Args:
        name: the operator's name in symbol JSON and in ``mx.sym`` / ``mx.nd``.
        params: its parameters.
        inputs: argument names (a list, or a function of the parsed parameters).
        infer: ``infer(p, ins, outs)`` completes the shape lists in place (``ins`` holds the
            arguments followed by the auxiliary states); raises ShapeError on conflicts.
        forward, backward, create_state: the kernels (``backward`` None: no gradient flows).
        outputs: names of every output, hidden ones last (Dropout's ``mask``).
        num_visible: how many outputs a symbol shows (default: all).
        aux: auxiliary state names (updated by forward, never by the optimizer).
        is_loss: the head gradient is ignored (loss layers): backward needs no ``out_grads``
            (a bool, or a function of the parameters).
        no_grad: argument indices that never receive a gradient (labels, indices).
        sparse_inputs: argument indices that may be csr / row_sparse arrays (other arguments
            receive the dense buffer of a row_sparse array that stores every row).
        grad_stypes: ``grad_stypes(p, in_stypes)`` -> storage type of each argument's gradient
            (default: all dense).
        out_dtype: ``out_dtype(p, dtype)`` -> dtype of the outputs (default: ``dtype``).
        out_stypes: ``out_stypes(p, in_stypes)`` -> storage type of each output (default: all
            dense; a row_sparse output is handed to ``forward`` as an empty RowSparseNDArray
            whose contents it replaces).
        variadic: the parameter that counts a variable number of arguments (Concat's
            ``num_args``); the arguments are then named ``arg0``, ``arg1``, ...
        hint: automatic-name prefix (``fullyconnected`` gives ``fullyconnected0``).
        init_hints: ``{argument name: initializer JSON}`` MXNet's operator declares for an
            argument it creates (LeakyReLU's prelu ``gamma``).
    """

    def __init__(self, name: str, params: Sequence[Param], inputs: Names, infer: ShapeFn, *,
                 forward: Callable[..., None], backward: Optional[Callable[..., None]] = None,
                 create_state: Optional[Callable[..., Any]] = None,
                 outputs: Names = ("output",), num_visible: Any = None, aux: Names = (),
                 is_loss: Any = False, no_grad: Sequence[int] = (),
                 sparse_inputs: Sequence[int] = (),
                 grad_stypes: Optional[Callable[[Dict[str, Any], List[str]], List[str]]] = None,
                 out_dtype: Optional[Callable[[Dict[str, Any], Any], Any]] = None,
                 out_stypes: Optional[Callable[[Dict[str, Any], List[str]], List[str]]] = None,
                 variadic: Optional[str] = None, hint: Optional[str] = None,
                 init_hints: Optional[Callable[[Dict[str, Any]], Dict[str, str]]] = None,
                 any_params: bool = False) -> None:
        self.name = name
        self.params = {p.name: p for p in params}
        self.variadic = variadic
        if variadic:
            self.inputs = lambda p: [f"arg{i}" for i in range(p[variadic])]
        else:
            self.inputs = _names(inputs)
        self.infer = infer
        self.forward, self.backward, self.create_state = forward, backward, create_state
        self.outputs = _names(outputs)
        if num_visible is None:
            self.num_visible = lambda p: len(self.outputs(p))
        elif callable(num_visible):
            self.num_visible = num_visible
        else:
            self.num_visible = lambda p, n=int(num_visible): n
        self.aux = _names(aux)
        self.is_loss = is_loss
        self.no_grad = frozenset(no_grad)
        self.sparse_inputs = frozenset(sparse_inputs)
        self.grad_stypes = grad_stypes
        self.out_dtype = out_dtype
        self.out_stypes = out_stypes
        self.hint = hint or name.lower()
        self.init_hints = init_hints
        self.any_params = any_params  # Custom: every attribute is passed on as a string

    def loss(self, p: Dict[str, Any]) -> bool:
        return bool(self.is_loss(p)) if callable(self.is_loss) else self.is_loss

    def num_outputs(self, p: Dict[str, Any]) -> int:
        return len(self.outputs(p))

    def parse_params(self, attrs: Dict[str, str], name: str = "") -> Dict[str, Any]:
        """Typed parameters from string attributes (``__x__`` attributes are skipped)."""
        where = self.describe(attrs, name)
        out: Dict[str, Any] = {}
        for key, text in attrs.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            p = self.params.get(key)
            if p is None:
                if self.any_params:
                    out[key] = text
                    continue
                possible = ", ".join(f"{q.name} : {q.type_name()}" for q in self.params.values())
                raise MXNetError(f"Cannot find argument '{key}', Possible Arguments: "
                                 f"[{possible}], in operator {where}")
            out[key] = p.parse(text, where)
        for p in self.params.values():
            if p.name not in out:
                if p.required:
                    raise MXNetError(f"Required parameter {p.name} of {p.type_name()} is not "
                                     f"presented, in operator {where}")
                out[p.name] = p.default
        return out

    def describe(self, attrs: Dict[str, str], name: str = "") -> str:
        args = "".join(f', {k}="{v}"' for k, v in sorted(attrs.items()))
        return f'{self.name}(name="{name}"{args})'

    def arg_stypes_ok(self, p: Dict[str, Any], stypes: List[str], where: str) -> None:
        """Refuse sparse arguments the operator has no kernel for (csr anywhere it is not
        accepted; row_sparse is accepted everywhere as its dense buffer)."""
        for i, st in enumerate(stypes):
            if st == "csr" and i not in self.sparse_inputs:
                raise MXNetError(f"{where}: input {self.inputs(p)[i]!r} has storage type csr, "
                                 f"which operator {self.name} does not support in mxopt")


OPS: Dict[str, OpDef] = {}
# The operators MXNet 1.9.1 also lists in its ``sparse`` namespaces (mx.nd.sparse, mx.sym.sparse):
# the same operators, taking csr / row_sparse inputs where they have a sparse kernel and the
# dense form of a sparse input otherwise.
SPARSE_NAMESPACE = ("Embedding", "FullyConnected", "LinearRegressionOutput",
                    "LogisticRegressionOutput", "MAERegressionOutput", "abs", "broadcast_add",
                    "broadcast_div", "broadcast_minus", "broadcast_mul", "broadcast_plus",
                    "broadcast_sub", "concat", "dot", "elemwise_add", "elemwise_div",
                    "elemwise_mul", "elemwise_sub", "exp", "log", "make_loss", "mean", "negative",
                    "rsqrt", "sign", "sqrt", "square", "stop_gradient", "sum")
# MXNet's alias names -> the operator they create (mx.sym.Softmax makes a SoftmaxOutput node).
ALIASES: Dict[str, str] = {}


def register(op: OpDef, *aliases: str) -> OpDef:
    """Add ``op`` (and its alias names) to the registry."""
    OPS[op.name] = op
    for a in aliases:
        ALIASES[a] = op.name
    return op


def lookup(name: str) -> Optional[OpDef]:
    return OPS.get(ALIASES.get(name, name))


def attr_str(value: Any) -> str:
    """A parameter value as MXNet's front ends write it into a node's attributes (``str``;
    dtypes by name)."""
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    if isinstance(value, np.dtype):
        return value.name
    return str(value)


def split_positional(op: OpDef, args: Sequence[Any], is_input: Callable[[Any], bool],
                     attrs: Dict[str, str], func_name: str) -> Sequence[Any]:
    """MXNet's generated signature is the inputs, then the parameters in declared order:
    trailing non-input positional arguments become parameters (in ``attrs``); returns the
    inputs. Operators with a variable number of inputs take parameters by keyword only."""
    n = len(args)
    while n and not is_input(args[n - 1]) and args[n - 1] is not None:
        n -= 1
    if op.variadic or n == len(args):
        return args
    names = list(op.params)
    if len(args) - n > len(names):
        raise TypeError(f"{func_name}() takes at most {n + len(names)} positional arguments "
                        f"({len(args)} given)")
    for key, value in zip(names, args[n:]):
        if key in attrs:
            raise TypeError(f"{func_name}() got multiple values for argument {key!r}")
        attrs[key] = attr_str(value)
    return args[:n]

