"""``Updater``: applies an optimizer to (index, grad, weight) triples, creating each index's
state lazily, and (de)serialises all states (``get_states`` / ``set_states``) so that training
resumes bit-identically.

Example::

    >>> import numpy as np, mxopt as mx
    >>> updater = mx.optimizer.get_updater(mx.optimizer.Adam(learning_rate=0.1))
    >>> w, g = np.ones(2, np.float32), np.ones(2, np.float32)
    >>> updater(0, g, w)
    >>> blob = updater.get_states()          # restore later with set_states(blob)
    >>> safe = updater.get_states(dump_optimizer=True, format="safe")   # no pickle
    >>> updater.set_states(safe, format="safe")

Security: like MXNet, the default format is a pickle, and ``set_states`` UNPICKLES its input,
which can execute arbitrary code: only load pickled states you wrote yourself. For states from
untrusted sources use ``format="safe"`` (an MXNet ``.params`` image plus a JSON manifest; see
``_state_format``), which only ever builds arrays, numbers and containers.

Thread safety: one ``Updater`` may be called from several threads; its calls (and
``get_states`` / ``set_states``) are serialised by a lock. Different ``Updater`` objects on
different parameters run concurrently (the C++ kernels release the GIL).
"""

from __future__ import annotations

import pickle
import threading
from typing import Any, Dict, List

import numpy as np

from . import _arrays as A
from . import _state_format
from .base import Optimizer

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
        self._lock = threading.RLock()

    def __call__(self, index: Any, grad: Any, weight: Any) -> None:
        with self._lock:
            self._call(index, grad, weight)

    def _call(self, index: Any, grad: Any, weight: Any) -> None:
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
                for start in range(0, len(idxs), step):
                    chunk = slice(start, start + step)
                    # MXNet passes tuples of indices/weights/grads and a list of states.
                    self.optimizer.update_multi_precision(
                        idxs[chunk], ws[chunk], gs[chunk], [self.states[i] for i in idxs[chunk]])
        else:
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

    def set_states(self, states: bytes, format: str = "pickle") -> None:  # noqa: A002
        """Restore states (and the optimizer, if dumped with it) from ``get_states``.

        Args:
            states: the bytes ``get_states`` returned.
            format: ``"pickle"`` (MXNet's format: UNPICKLES ``states``, which can run arbitrary
                code: never use it on untrusted bytes) or ``"safe"`` (no code execution; an
                optimizer section restores the update counts and scalar attributes such as
                Nadam's ``m_schedule`` into this Updater's optimizer, which must be of the
                same class). Bad safe-format bytes raise ``ValueError`` and change nothing.
        """
        if format == "safe":
            loaded, opt_manifest = _state_format.loads(states)
            with self._lock:
                if opt_manifest is not None:
                    _state_format.apply_optimizer(self.optimizer, opt_manifest)
                self.states = loaded
                self.states_synced = dict.fromkeys(self.states.keys(), False)
            return
        if format != "pickle":
            raise ValueError(f"format must be 'pickle' or 'safe', got {format!r}")
        if isinstance(states, (bytes, bytearray)) and bytes(states[:len(_state_format.MAGIC)]) \
                == _state_format.MAGIC:
            raise ValueError("these states were written with format='safe': "
                             "call set_states(states, format='safe')")
        loaded = pickle.loads(states)
        with self._lock:
            if isinstance(loaded, tuple) and len(loaded) == 2:
                self.states, self.optimizer = loaded
            else:
                self.states = loaded
            self.states_synced = dict.fromkeys(self.states.keys(), False)

    def get_states(self, dump_optimizer: bool = False, format: str = "pickle") -> bytes:  # noqa: A002
        """The states as bytes: pickled (MXNet's format) or ``format="safe"`` (no pickle).

        With ``dump_optimizer`` the pickle holds the whole optimizer; the safe format holds its
        update counts and scalar attributes (enough to continue training bit-identically with
        an optimizer created with the same arguments).
        """
        with self._lock:
            if format == "safe":
                return _state_format.dumps(self.states,
                                           self.optimizer if dump_optimizer else None)
            if format != "pickle":
                raise ValueError(f"format must be 'pickle' or 'safe', got {format!r}")
            return pickle.dumps((self.states, self.optimizer) if dump_optimizer else self.states)

    def __getstate__(self) -> dict:
        ret = self.__dict__.copy()
        del ret["_lock"]
        return ret

    def __setstate__(self, state: dict) -> None:
        self.__dict__ = state
        self._lock = threading.RLock()


def get_updater(optimizer: Optimizer) -> Updater:
    """An ``Updater`` for ``optimizer``."""
    return Updater(optimizer)
