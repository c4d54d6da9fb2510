"""``mx.kvstore`` (alias ``mx.kv``): key-value stores that sum values (gradients) over the
contexts of a process and optionally apply an optimizer to the stored weights, with MXNet
1.9.1's API (``create``, ``KVStoreBase``, ``KVStore``).

Example::

    >>> import mxopt as mx
    >>> kv = mx.kv.create('local')
    >>> kv.init(3, mx.nd.ones((2, 3)))
    >>> kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
    >>> kv.push(3, mx.nd.ones((2, 3)))          # weight -= 0.1 * grad
    >>> w = mx.nd.zeros((2, 3)); kv.pull(3, out=w)
"""

from __future__ import annotations

from .base import KVStoreBase, TestStore, create, register_backend
from .kvstore import KVStore

__all__ = ["create", "KVStoreBase", "KVStore", "TestStore", "register_backend"]
