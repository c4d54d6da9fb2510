"""``KVStoreBase``: the key-value store interface, its registry of store classes, MXNet's
``TestStore`` and ``create(name)``.

``create`` looks the (lower-cased) name up in ``KVStoreBase.kv_registry`` first (classes
registered with ``@KVStoreBase.register``, keyed by their lower-cased class name), then in the
list of built-in backends: a backend is a ``(matches(name), factory(name))`` pair added with
:func:`register_backend`; the last one added that matches wins. The single-process store
(:class:`~mxopt.kvstore.KVStore`, every name MXNet 1.9.1 serves with its local store) is the
default; names MXNet serves with its parameter server (``dist*``) or with NCCL raise an
``MXNetError`` naming the type until a backend for them is registered.

Example::

    >>> import mxopt as mx
    >>> @mx.kv.KVStoreBase.register
    ... class MyStore(mx.kv.KVStoreBase):
    ...     pass
    >>> type(mx.kv.create('mystore')).__name__
    'MyStore'
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, ClassVar, Dict, List, Tuple

from ..base import MXNetError
from ..ndarray import NDArray

__all__ = ["KVStoreBase", "TestStore", "create", "register_backend"]


class KVStoreBase:
    """The interface every key-value store implements (MXNet's ``mx.kv.KVStoreBase``).

    Subclasses override ``broadcast``, ``pushpull``, ``set_optimizer``, ``is_capable``,
    ``save_optimizer_states``, ``load_optimizer_states`` and the ``type``, ``rank`` and
    ``num_workers`` properties; the defaults raise ``NotImplementedError``.
    """

    OPTIMIZER = "optimizer"
    kv_registry: ClassVar[Dict[str, type]] = {}

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        """Store ``value`` under ``key`` (rank 0's value wins) and copy it into ``out``."""
        raise NotImplementedError()

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        """Sum ``value`` into the store under ``key`` and copy the result into ``out``
        (into ``value`` when ``out`` is None)."""
        raise NotImplementedError()

    def set_optimizer(self, optimizer: Any) -> None:
        """Let the store apply ``optimizer`` to every pushed value."""
        raise NotImplementedError()

    def is_capable(self, capability: str) -> bool:
        """Whether the store supports ``capability`` (``KVStoreBase.OPTIMIZER``)."""
        raise NotImplementedError()

    def save_optimizer_states(self, fname: str, dump_optimizer: bool = False) -> None:
        """Write the store's optimizer states to ``fname``."""
        raise NotImplementedError()

    def load_optimizer_states(self, fname: str) -> None:
        """Read optimizer states written by ``save_optimizer_states``."""
        raise NotImplementedError()

    @property
    def type(self) -> str:
        """The store's type name (``'local'``, ``'device'``, ...)."""
        raise NotImplementedError()

    @property
    def rank(self) -> int:
        """This worker's rank in ``[0, num_workers)``."""
        raise NotImplementedError()

    @property
    def num_workers(self) -> int:
        """The number of workers."""
        raise NotImplementedError()

    @staticmethod
    def register(klass: type) -> type:
        """Class decorator: make ``klass`` creatable as ``mx.kv.create(klass.__name__.lower())``.

        Registering a name twice warns and the newer class wins.
        """
        assert isinstance(klass, type), "KVStoreBase.register expects a class, got %r" % (klass,)
        name = klass.__name__.lower()
        old = KVStoreBase.kv_registry.get(name)
        if old is not None:
            warnings.warn("WARNING: New kvstore %s.%s is overriding existing kvstore %s.%s"
                          % (klass.__module__, klass.__name__, old.__module__, old.__name__),
                          stacklevel=2)
        KVStoreBase.kv_registry[name] = klass
        return klass


@KVStoreBase.register
class TestStore(KVStoreBase):
    """MXNet's example of a registered store (``mx.kv.create('teststore')``): pushpull sums a
    list of values with Python's ``sum``, broadcast copies; it cannot hold an optimizer."""

    def broadcast(self, key: Any, value: Any, out: Any, priority: int = 0) -> None:
        for dst in (out if isinstance(out, list) else [out]):
            dst[:] = value

    def pushpull(self, key: Any, value: Any, out: Any = None, priority: int = 0) -> None:
        if isinstance(value, NDArray):
            if out is not None:
                for dst in (out if isinstance(out, list) else [out]):
                    dst[:] = value
            return
        total = sum(value)
        for dst in (value if out is None else (out if isinstance(out, list) else [out])):
            dst[:] = total

    @staticmethod
    def is_capable(capability: str) -> bool:  # type: ignore[override]
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return False
        raise ValueError("Unknown capability: {}".format(capability))

    @property
    def type(self) -> str:
        return "teststore"

    @property
    def rank(self) -> int:
        return 0

    @property
    def num_workers(self) -> int:
        return 1


# (matches(lower-cased name), factory(lower-cased name)); searched last to first.
_BACKENDS: List[Tuple[Callable[[str], bool], Callable[[str], Any]]] = []


def register_backend(matches: Callable[[str], bool], factory: Callable[[str], Any]) -> None:
    """Serve the store names for which ``matches(name)`` is true with ``factory(name)``.

    For built-in store families that are selected by a pattern of the name rather than by a
    class name (MXNet's native store serves ``'dist_sync'``, ``'dist_device_sync'``, ...). A
    backend added later takes precedence over earlier ones; names in ``kv_registry`` take
    precedence over every backend.
    """
    if not callable(matches) or not callable(factory):
        raise TypeError("register_backend expects two callables: matches(name) and factory(name)")
    _BACKENDS.append((matches, factory))


def _unavailable(what: str, instead: str) -> Callable[[str], Any]:
    def factory(name: str) -> Any:
        raise MXNetError(f"KVStore type '{name}' needs {what}, which mxopt does not provide: "
                         f"{instead}")
    return factory


def _local(name: str) -> Any:
    from .kvstore import KVStore
    return KVStore(name)


# MXNet 1.9.1 serves every name with its local store except those containing 'dist' (the
# ps-lite parameter server) or 'nccl'; 'horovod' is a plain local store there too.
register_backend(lambda name: True, _local)
register_backend(lambda name: "nccl" in name,
                 _unavailable("NCCL (GPU collectives)",
                              "use 'device' or 'local' to sum over the contexts of one process"))
register_backend(lambda name: "dist" in name,
                 _unavailable("a distributed (multi-process) backend",
                              "use 'local' or 'device' for the contexts of one process, or "
                              "kvstore=None"))


def create(name: str = "local") -> Any:
    """A new key-value store of type ``name`` (case-insensitive).

    ``'local'``, ``'device'`` (and any other name MXNet 1.9.1 serves with its single-process
    store, e.g. ``'horovod'`` or ``'local_allreduce_device'``) give a
    :class:`~mxopt.kvstore.KVStore` of that type: rank 0 of 1 worker. Names registered with
    ``KVStoreBase.register`` give an instance of the registered class.

    Raises:
        TypeError: ``name`` is not a str.
        MXNetError: a distributed (``'dist*'``) or ``'nccl'`` type, which needs a backend
            mxopt does not have.

    Example::

        >>> kv = mx.kv.create('device')
        >>> kv.type, kv.rank, kv.num_workers
        ('device', 0, 1)
    """
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    name = name.lower()
    klass = KVStoreBase.kv_registry.get(name)
    if klass is not None:
        return klass()
    for matches, factory in reversed(_BACKENDS):
        if matches(name):
            return factory(name)
    raise MXNetError(f"no KVStore backend serves type '{name}'")  # unreachable: local matches all
