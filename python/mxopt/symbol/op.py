"""The operators of ``mx.sym``: parameter schemas (parsed like MXNet's dmlc parameters), input
lists, output counts and shape inference. The kernels that run them are C++
(``cpp/src/ops``); ``OpDef.code`` is the operator's id there.

Shapes follow MXNet's legacy convention: ``()`` is an unknown shape and a ``0`` dimension is an
unknown dimension.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..base import MXNetError

Shape = Tuple[int, ...]

__all__ = ["OpDef", "OPS", "ShapeError", "merge_shape", "known"]


# ---- parameter parsing (what MXNet's dmlc::Parameter accepts) -----------------------------------
class _Param:
    def __init__(self, name: str, kind: str, default: Any = None, required: bool = False,
                 choices: Sequence[str] = (), lower: Optional[float] = None,
                 upper: Optional[float] = None) -> None:
        self.name, self.kind, self.default, self.required = name, kind, default, required
        self.choices, self.lower, self.upper = tuple(choices), lower, upper

    def type_name(self) -> str:
        return {"int": "int", "float": "float", "bool": "boolean", "enum": "int",
                "shape": "Shape(tuple)", "str": "string"}[self.kind]

    def parse(self, text: str, where: str) -> Any:
        bad = MXNetError(f"Invalid Parameter format for {self.name} expect {self.type_name()} "
                         f"but value='{text}', in operator {where}")
        if self.kind == "int":
            if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
                raise bad
            value: Any = int(text)
        elif self.kind == "float":
            try:
                value = float(text)
            except ValueError:
                raise bad from None
        elif self.kind == "bool":
            t = text.strip()
            if t in ("True", "true", "1"):
                value = True
            elif t in ("False", "false", "0"):
                value = False
            else:
                raise bad
        elif self.kind == "enum":
            if text not in self.choices:
                opts = ", ".join(f"'{c}'" for c in sorted(self.choices))
                raise MXNetError(f"Invalid Input: '{text}', valid values are: {{{opts}}}, "
                                 f"in operator {where}")
            value = text
        elif self.kind == "shape":
            t = text.strip()
            if not re.fullmatch(r"[\(\[]\s*(-?\d+\s*(,\s*-?\d+\s*)*,?)?\s*[\)\]]", t):
                raise bad
            value = tuple(int(v) for v in re.findall(r"-?\d+", t))
        else:
            value = text
        if self.lower is not None and self.upper is not None and not (self.lower <= value <= self.upper):
            raise MXNetError(f"value {text} for Parameter {self.name} exceed bound "
                             f"[{_num(self.lower)},{_num(self.upper)}], in operator {where}")
        if self.lower is not None and self.upper is None and value < self.lower:
            raise MXNetError(f"value {text} for Parameter {self.name} should be greater equal to "
                             f"{_num(self.lower)}, in operator {where}")
        return value


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# ---- shapes ------------------------------------------------------------------------------------
def known(shape: Shape) -> bool:
    """A fully known shape: ndim > 0 and no unknown (0) dimension."""
    return len(shape) > 0 and all(d > 0 for d in shape)


def _fmt(shape: Shape, brackets: str = "[]") -> str:
    return brackets[0] + ",".join(str(d) for d in shape) + brackets[1]


class ShapeError(Exception):
    """Inconsistent shapes at input/output ``index`` of an operator (converted to MXNetError)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def merge_shape(old: Shape, new: Shape) -> Shape:
    """The shape knowing both ``old`` and ``new``; ShapeError if they conflict."""
    if not old:
        return tuple(new)
    if not new:
        return tuple(old)
    if len(old) != len(new):
        raise ShapeError(f"Shape inconsistent, Provided = {_fmt(old)}, inferred shape={_fmt(new)}")
    out = []
    for a, b in zip(old, new):
        if a and b and a != b:
            raise ShapeError(f"Shape inconsistent, Provided = {_fmt(old)}, inferred shape={_fmt(new)}")
        out.append(a or b)
    return tuple(out)


def _prod(dims: Sequence[int]) -> int:
    return int(math.prod(dims))


# ---- operator definitions ------------------------------------------------------------------------
ShapeFn = Callable[[Dict[str, Any], List[Shape], List[Shape]], None]


class OpDef:
    """One operator: ``name`` (as in the JSON), parameters, inputs, outputs and shape rule."""

    def __init__(self, name: str, code: int, params: Sequence[_Param],
                 inputs: Callable[[Dict[str, Any]], List[str]], infer: ShapeFn,
                 num_outputs: int = 1, is_loss: bool = False, label_input: Optional[int] = None,
                 hint: Optional[str] = None) -> None:
        self.name, self.code = name, code
        self.params = {p.name: p for p in params}
        self.inputs, self.infer = inputs, infer
        self.num_outputs = num_outputs      # outputs in the JSON graph (Dropout: 2)
        self.is_loss = is_loss              # ignores head gradients
        self.label_input = label_input      # input index that never receives a gradient
        self.hint = hint or name.lower()

    def parse_params(self, attrs: Dict[str, str]) -> Dict[str, Any]:
        """Typed parameters from string attributes (``__x__`` attributes are skipped)."""
        where = self.describe(attrs)
        out: Dict[str, Any] = {}
        for key, text in attrs.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            p = self.params.get(key)
            if p is None:
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


def _assign(shapes: List[Shape], i: int, value: Shape) -> None:
    shapes[i] = merge_shape(shapes[i], value)


def _fc_inputs(p: Dict[str, Any]) -> List[str]:
    return ["data", "weight"] if p["no_bias"] else ["data", "weight", "bias"]


def _fc_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    nh = p["num_hidden"]
    num_input = _prod(d[1:]) if p["flatten"] else d[-1]
    _assign(ins, 1, (nh, num_input))
    if not p["no_bias"] and tuple(ins[2]) != (nh, 1):  # MXNet also accepts a (nh, 1) bias
        _assign(ins, 2, (nh,))
    _assign(outs, 0, (d[0], nh) if p["flatten"] else tuple(d[:-1]) + (nh,))
    if outs[0]:
        _assign(ins, 0, (outs[0][0],) + tuple(ins[0][1:]))


def _same_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    # Element-wise: input and output shapes are the same, both ways.
    if ins[0]:
        _assign(outs, 0, ins[0])
    if outs[0]:
        _assign(ins, 0, outs[0])
    for i in range(1, len(outs)):  # Dropout's hidden mask
        if ins[0]:
            _assign(outs, i, ins[0])


def _flatten_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if d:
        _assign(outs, 0, (d[0], _prod(d[1:])))


def _softmax_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not d:
        return
    if tuple(ins[1]) != tuple(d):  # equal shapes: probability labels
        if p["multi_output"]:
            size = _prod(d)
            lshape1 = (d[0], size // d[0] // d[1] if d[0] and d[1] else 0)
            lshape2 = (d[0],) + tuple(d[2:])
            lshape3 = (d[0], 1) + tuple(d[2:])
            label = tuple(ins[1])
            if not label:
                ins[1] = lshape1
            elif label not in (lshape1, lshape2, lshape3):
                raise ShapeError(f"Expecting {_fmt(lshape1, '()')} or {_fmt(lshape2, '()')}. "
                                 f"But got {_fmt(label, '()')}")
        else:
            _assign(ins, 1, tuple(d[:-1]))
    _assign(outs, 0, d)


def _regression_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    d = ins[0]
    if not known(d):
        return
    label = ins[1]
    if not label:
        ins[1] = (d[0],) if len(d) == 2 and d[1] == 1 else tuple(d)
    elif label[0] != d[0] or _prod(label) != _prod(d):
        raise ShapeError(f"Shape inconsistent, Provided={_fmt(label)}, inferred shape={_fmt(d)}")
    _assign(outs, 0, d)


_F = _Param
OPS: Dict[str, OpDef] = {}


def _register(op: OpDef) -> OpDef:
    OPS[op.name] = op
    return op


FULLY_CONNECTED = _register(OpDef(
    "FullyConnected", 0,
    [_F("num_hidden", "int", required=True, lower=1), _F("no_bias", "bool", False),
     _F("flatten", "bool", True)],
    _fc_inputs, _fc_infer))
ACTIVATION = _register(OpDef(
    "Activation", 1,
    [_F("act_type", "enum", required=True,
        choices=("relu", "sigmoid", "softrelu", "softsign", "tanh"))],
    lambda p: ["data"], _same_infer))
DROPOUT = _register(OpDef(
    "Dropout", 2,
    [_F("p", "float", 0.5, lower=0, upper=1), _F("mode", "enum", "training",
                                                  choices=("always", "training")),
     _F("axes", "shape", ()), _F("cudnn_off", "bool", False)],
    lambda p: ["data"], _same_infer, num_outputs=2))
FLATTEN = _register(OpDef("Flatten", 3, [], lambda p: ["data"], _flatten_infer))
SOFTMAX_OUTPUT = _register(OpDef(
    "SoftmaxOutput", 4,
    [_F("grad_scale", "float", 1.0), _F("ignore_label", "float", -1.0),
     _F("multi_output", "bool", False), _F("use_ignore", "bool", False),
     _F("preserve_shape", "bool", False),
     _F("normalization", "enum", "null", choices=("batch", "null", "valid")),
     _F("out_grad", "bool", False), _F("smooth_alpha", "float", 0.0)],
    lambda p: ["data", "label"], _softmax_infer, is_loss=True, label_input=1))
LINEAR_REGRESSION = _register(OpDef(
    "LinearRegressionOutput", 5, [_F("grad_scale", "float", 1.0)],
    lambda p: ["data", "label"], _regression_infer, is_loss=True, label_input=1))
LOGISTIC_REGRESSION = _register(OpDef(
    "LogisticRegressionOutput", 6, [_F("grad_scale", "float", 1.0)],
    lambda p: ["data", "label"], _regression_infer, is_loss=True, label_input=1))
MAE_REGRESSION = _register(OpDef(
    "MAERegressionOutput", 7, [_F("grad_scale", "float", 1.0)],
    lambda p: ["data", "label"], _regression_infer, is_loss=True, label_input=1))

# MXNet's alias: mx.sym.Softmax creates a SoftmaxOutput node.
ALIASES = {"Softmax": "SoftmaxOutput"}
