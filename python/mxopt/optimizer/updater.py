"""``Updater``: applies an optimizer to (index, grad, weight) triples, creating each index's
state lazily, and (de)serialises all states (``get_states`` / ``set_states``) so that training
resumes bit-identically.

Example::

    >>> import numpy as np, mxopt as mx
    >>> updater = mx.optimizer.get_updater(mx.optimizer.Adam(learning_rate=0.1))
    >>> w, g = np.ones(2, np.float32), np.ones(2, np.float32)
    >>> updater(0, g, w)
    >>> blob = updater.get_states()          # restore later with set_states(blob)
"""

from __future__ import annotations

import pickle
from typing import Any, Dict, List, Optional

import numpy as np

from . import _arrays as A
from .base import MultiBatch, Optimizer

__all__ = ["Updater", "get_updater"]


class Updater:
    """Calls ``optimizer.update_multi_precision`` with lazily created per-index states.

    ``updater(index, grad, weight)`` (note the argument order) takes one index or a list of
    indices (with lists of gradients and weights). When ``optimizer.aggregate_num > 0`` the
    indices are grouped by weight dtype and passed to the optimizer in chunks of
    ``aggregate_num`` (MXNet's multi-tensor path).
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.states: Dict[Any, Any] = {}
        self.states_synced: Dict[Any, bool] = {}
        self.aggregate_updates = optimizer.aggregate_num > 0

    def __call__(self, index: Any, grad: Any, weight: Any) -> None:
        if not isinstance(index, (list, tuple)):
            indices: List[Any] = [index]
            grads = [grad]
            weights = [weight]
        else:
            indices = list(index)
            grads = list(grad)
            weights = list(weight)
        if weights:
            self.optimizer._set_current_context(A.device_id(weights[0]))
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                indices[i] = idx.decode("utf-8")
                idx = indices[i]
            if idx not in self.states:
                self.states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
            elif not self.states_synced[idx]:
                self.states[idx] = self.sync_state_context(self.states[idx],
                                                           getattr(weights[i], "context", None))
                self.states_synced[idx] = True
        if self.aggregate_updates:
            type_map: Dict[np.dtype, list] = {}
            for i, w, g in zip(indices, weights, grads):
                type_map.setdefault(A.dtype(w), []).append((i, w, g))
            step = self.optimizer.aggregate_num
            for group in type_map.values():
                idxs, ws, gs = zip(*group)
                pending: Optional[MultiBatch] = None
                for start in range(0, len(idxs), step):
                    chunk = slice(start, start + step)
                    # MXNet passes tuples of indices/weights/grads and a list of states.
                    states = [self.states[i] for i in idxs[chunk]]
                    # Chunks keep MXNet's update-count order; their kernels run as one call.
                    batch = (self.optimizer._multi_prepare(idxs[chunk], ws[chunk], gs[chunk],
                                                           states)
                             if len(set(idxs)) == len(idxs) else None)
                    if batch is not None and (pending is None or not pending.merge(batch)):
                        if pending is not None:
                            pending.run()
                        pending = batch
                    elif batch is None:
                        if pending is not None:
                            pending.run()
                            pending = None
                        self.optimizer.update_multi_precision(idxs[chunk], ws[chunk],
                                                              gs[chunk], states)
                if pending is not None:
                    pending.run()
        else:
            if len(indices) > 1:
                batch = self.optimizer._multi_prepare(indices, weights, grads,
                                                      [self.states[i] for i in indices])
                if batch is not None:
                    batch.run()
                    return
            for i, w, g in zip(indices, weights, grads):
                self.optimizer.update_multi_precision(i, w, g, self.states[i])

    def sync_state_context(self, state: Any, context: Any) -> Any:
        """Move ``state`` (arrays, or tuples/lists of them) to ``context`` (CPU only: no-op)."""
        if hasattr(state, "as_in_context") and context is not None:
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            synced = (self.sync_state_context(s, context) for s in state)
            return tuple(synced) if isinstance(state, tuple) else list(synced)
        return state

    def set_states(self, states: bytes) -> None:
        """Restore states (and the optimizer, if dumped with it) from ``get_states``."""
        loaded = pickle.loads(states)
        if isinstance(loaded, tuple) and len(loaded) == 2:
            self.states, self.optimizer = loaded
        else:
            self.states = loaded
        self.states_synced = dict.fromkeys(self.states.keys(), False)

    def get_states(self, dump_optimizer: bool = False) -> bytes:
        """Pickled states (with the optimizer when ``dump_optimizer``)."""
        return pickle.dumps((self.states, self.optimizer) if dump_optimizer else self.states)


def get_updater(optimizer: Optimizer) -> Updater:
    """An ``Updater`` for ``optimizer``."""
    return Updater(optimizer)
