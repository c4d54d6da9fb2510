"""``mx.symbol`` (alias ``mx.sym``): symbolic graphs of MXNet 1.9.1's training operators.

Operators: FullyConnected, Activation, Dropout, Flatten, SoftmaxOutput (alias Softmax),
LinearRegressionOutput, LogisticRegressionOutput, MAERegressionOutput. Their forward and
backward run in C++ (``mxopt.executor``).
"""

from __future__ import annotations

from .op import ALIASES, OPS
from .symbol import Group, Symbol, Variable, _creator, load, load_json, var

FullyConnected = _creator(OPS["FullyConnected"], "FullyConnected")
Activation = _creator(OPS["Activation"], "Activation")
Dropout = _creator(OPS["Dropout"], "Dropout")
Flatten = _creator(OPS["Flatten"], "Flatten")
SoftmaxOutput = _creator(OPS["SoftmaxOutput"], "SoftmaxOutput")
Softmax = _creator(OPS[ALIASES["Softmax"]], "Softmax")
LinearRegressionOutput = _creator(OPS["LinearRegressionOutput"], "LinearRegressionOutput")
LogisticRegressionOutput = _creator(OPS["LogisticRegressionOutput"], "LogisticRegressionOutput")
MAERegressionOutput = _creator(OPS["MAERegressionOutput"], "MAERegressionOutput")

__all__ = ["Symbol", "Variable", "var", "Group", "load", "load_json", "FullyConnected",
           "Activation", "Dropout", "Flatten", "SoftmaxOutput", "Softmax",
           "LinearRegressionOutput", "LogisticRegressionOutput", "MAERegressionOutput"]
