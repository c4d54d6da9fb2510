"""Automatic operator names (``mx.name``): ``NameManager`` gives ``<hint><k>`` names, counting
per hint; ``Prefix`` prepends a string to every operator name (and so to the parameters named
after it). Use either as a ``with`` block; the innermost one names the operators created in it.

Example::

    >>> import mxopt as mx
    >>> with mx.name.Prefix("net1_"):
    ...     fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4, name="fc")
    >>> fc.list_arguments()
    ['data', 'net1_fc_weight', 'net1_fc_bias']
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional

__all__ = ["NameManager", "Prefix", "current"]


class NameManager:
    """Names ``hint0``, ``hint1``, ... for operators created without a name (a counter per
    hint, advancing only when used); a given name is kept as it is."""

    _state = threading.local()

    def __init__(self) -> None:
        self._counter: Dict[str, int] = {}
        self._old: Optional["NameManager"] = None

    def get(self, name: Optional[str], hint: str) -> str:
        """The name of a new operator: ``name`` if given, else the next ``<hint><k>``."""
        if name:
            return name
        k = self._counter.get(hint, 0)
        self._counter[hint] = k + 1
        return f"{hint}{k}"

    def __enter__(self) -> "NameManager":
        self._old = current()
        NameManager._state.value = self
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._old is not None, "NameManager.__exit__ without __enter__"
        NameManager._state.value = self._old


class Prefix(NameManager):
    """A NameManager that prepends ``prefix`` to every operator name."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def get(self, name: Optional[str], hint: str) -> str:
        return self._prefix + super().get(name, hint)


def current() -> NameManager:
    """The NameManager in effect in this thread (a process-wide default outside ``with``)."""
    value = getattr(NameManager._state, "value", None)
    if value is None:
        value = NameManager._state.value = NameManager()
    return value

