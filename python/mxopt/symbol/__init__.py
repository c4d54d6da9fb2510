"""``mx.symbol`` (alias ``mx.sym``): symbolic graphs of MXNet 1.9.1's operators.

Every operator of mxopt's registry (``mxopt._ops``) is a function here, under its MXNet name
and aliases (``mx.sym.FullyConnected``, ``mx.sym.Softmax`` ...); ``mx.sym.sparse`` holds the
operators that accept sparse inputs. Their forward and backward run in C++ (``mxopt.executor``).
"""

from __future__ import annotations

from .._ops import ALIASES, OPS
from . import sparse
from .symbol import Group, Symbol, Variable, _creator, load, load_json, var

__all__ = ["Symbol", "Variable", "var", "Group", "load", "load_json", "sparse"]


def _install() -> None:
    for _name, _op in sorted(OPS.items()):
        globals()[_name] = _creator(_op, _name)
        __all__.append(_name)
    for _alias, _target in sorted(ALIASES.items()):
        globals()[_alias] = _creator(OPS[_target], _alias)
        __all__.append(_alias)


_install()
