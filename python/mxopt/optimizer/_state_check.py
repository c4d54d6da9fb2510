"""Clear errors for malformed optimizer states passed to ``Optimizer.update`` directly.

``update(index, weight, grad, state)`` trusts ``state`` to be what ``create_state`` made; a
wrong tuple length, ``None`` where an array belongs or a wrong type would otherwise surface as
"not enough values to unpack" or an attribute error. Every optimizer's ``update`` /
``update_multi_precision`` is wrapped (``Optimizer.__init_subclass__``): the happy path costs
one call; when the call raises, the given state's structure is compared with the one
``create_state`` builds for this weight (for a list call, each item's, in order), and a
mismatch raises ``TypeError`` naming the index, the expected and the given structure. Kernels
validate before writing, so the weight and the state arrays are untouched (the update count
advances, as in MXNet 1.9.1, whose Python side counts before the state is used).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

_UNKNOWN = object()


def structure(x: Any) -> str:
    """A readable structure of a state: None, array, (a, b, ...), [a, b], or the type name."""
    if x is None:
        return "None"
    if isinstance(x, tuple):
        return "(" + ", ".join(structure(v) for v in x) + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, list):
        return "[" + ", ".join(structure(v) for v in x) + "]"
    if isinstance(x, np.ndarray) or hasattr(x, "asnumpy"):
        return "array"
    return type(x).__name__


def _same(expected: Any, given: Any) -> bool:
    if expected is None or given is None:
        return expected is None and given is None
    if isinstance(expected, (tuple, list)):
        return (isinstance(given, (tuple, list)) and len(given) == len(expected)
                and all(_same(e, g) for e, g in zip(expected, given)))
    if isinstance(expected, np.ndarray) or hasattr(expected, "asnumpy"):
        return isinstance(given, np.ndarray) or hasattr(given, "asnumpy")
    return isinstance(given, type(expected)) or (
        isinstance(expected, (int, float)) and isinstance(given, (int, float)))


def _expected(opt: Any, method: str, index: Any, weight: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "update_multi_precision":
            return opt.create_state_multi_precision(index, weight)
        return opt.create_state(index, weight)


def checked(fn: Callable[..., None], method: str) -> Callable[..., None]:
    """``fn`` (an ``update``-like method) with the malformed-state diagnosis described above."""
    if getattr(fn, "_mxopt_state_checked", False):
        return fn

    @functools.wraps(fn)
    def wrapper(self: Any, index: Any, weight: Any, grad: Any, state: Any) -> None:
        try:
            return fn(self, index, weight, grad, state)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
            items = [(index, weight, state)]
            if isinstance(index, (list, tuple)):  # aggregated call: the first malformed item
                try:
                    lists = len(weight) == len(index) == len(state)
                except TypeError:
                    lists = False
                if not lists:
                    raise
                items = list(zip(index, weight, state))
            for i, w, st in items:
                try:
                    expected = _expected(self, method, i, w)
                except Exception:  # the weight itself is bad: the original error says so
                    expected = _UNKNOWN
                if expected is _UNKNOWN or _same(expected, st):
                    continue
                raise TypeError(
                    f"{type(self).__name__}.{method}: malformed state for index {i!r}: "
                    f"expected {structure(expected)} (what create_state"
                    f"{'_multi_precision' if method == 'update_multi_precision' else ''} "
                    f"returns for this weight), got {structure(st)}") from exc
            raise

    wrapper._mxopt_state_checked = True  # type: ignore[attr-defined]
    return wrapper
