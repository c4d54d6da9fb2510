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
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _arrays as A
from . import _mxnet_pickle, _plan, _state_format
from .base import MultiBatch, Optimizer

__all__ = ["Updater", "get_updater"]


class Updater:
    """Calls ``optimizer.update_multi_precision`` with lazily created per-index states.

    ``updater(index, grad, weight)`` (note the argument order) takes one index or a list of
    indices (with lists of gradients and weights). When ``optimizer.aggregate_num > 0`` the
    indices are grouped by weight dtype and passed to the optimizer in chunks of
    ``aggregate_num`` (MXNet's multi-tensor path). A list call that ran as one multi-tensor
    kernel call is remembered: repeating it with the same arrays replays it with O(1) Python
    work per step and the same results (see ``_plan``); so is a one-tensor call of the
    optimizers whose plans are cheaper than their per-index path (``_plan.plans_one_tensor``).
    When plans keep being dropped before they run (new arrays every call), building them backs
    off.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.states: Dict[Any, Any] = {}
        self.states_synced: Dict[Any, bool] = {}
        # {index: (state, fits)}: the state objects this Updater created or checked, and
        # whether each has the layout of a fresh one. A state put into ``states`` behind its
        # back is checked once; one that does not fit takes the per-index path, whose errors
        # (the malformed-state diagnosis) and accepted forms are MXNet's.
        self._own: Dict[Any, Tuple[Any, bool]] = {}
        self.aggregate_updates = optimizer.aggregate_num > 0
        self._lock = threading.RLock()
        self._plan: Optional[_plan.StepPlan] = None  # see _plan.py
        # Plans that never ran (a new gradient array every call, say) would cost a build per
        # call: after the 2nd, 3rd, ... such plan in a row the next build waits for 1, 3, 7, ...
        # (at most 63) calls.
        self._plan_unused = 0
        self._plan_wait = 0

    def __call__(self, index: Any, grad: Any, weight: Any) -> None:
        if not isinstance(index, (list, tuple)):  # one tensor: a list of one (plans apply)
            index, grad, weight = [index], [grad], [weight]
        with self._lock:
            plan = self._plan
            if plan is not None:
                fast = plan.fast  # the plan's steady state in one C++ call (see _plan.py)
                if fast is not None:
                    if fast(self, index, grad, weight):
                        plan.used = True
                        return
                    plan.fast = None  # until the plan's next prepare
                if plan.matches(self, index, grad, weight) and plan.run(self):
                    plan.used = True
                    return
            if plan is not None:
                self._plan = None
                self._plan_unused = 0 if plan.used else min(self._plan_unused + 1, 7)
                self._plan_wait = min(2 ** max(self._plan_unused - 1, 0) - 1, _MAX_PLAN_WAIT)
            ran: Optional[List[MultiBatch]] = []
            keys = self._call(index, grad, weight, ran)
            if self._plan_wait:
                self._plan_wait -= 1
            elif ran and ran[0] is not None:
                self._plan = _plan.build(self, index, grad, weight, keys, ran)

    def _call(self, index: Any, grad: Any, weight: Any,
              ran: Optional[List[MultiBatch]] = None) -> List[Any]:
        """The per-index path; appends every MultiBatch it runs to ``ran`` (replaced by None
        if any tensor is updated through ``update_multi_precision``). Returns the indices."""
        indices = list(index)
        grads = list(grad)
        weights = list(weight)
        if not len(indices) == len(grads) == len(weights):
            raise ValueError(f"Updater: got {len(indices)} indices, {len(grads)} gradients "
                             f"and {len(weights)} weights; the lengths must match")
        for i, w, g in zip(indices, weights, grads):
            _check_pair(i, w, g)
        if weights:
            self.optimizer._set_current_context(A.device_id(weights[0]))
        new_states: Dict[Any, Any] = {}
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                indices[i] = idx.decode("utf-8")
                idx = indices[i]
            if idx not in self.states and idx not in new_states:
                new_states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
            elif idx in self.states and not self.states_synced[idx]:
                # States restored by set_states must fit this weight: compare with a fresh one.
                _check_state(idx, self.states[idx],
                             self.optimizer.create_state_multi_precision(idx, weights[i]))
        # Everything is validated: only now does the Updater change.
        own = self._own
        for idx, state in new_states.items():
            self.states[idx] = state
            own[idx] = (state, True)
            self.states_synced[idx] = True
        for i, idx in enumerate(indices):
            if not self.states_synced[idx]:
                self.states[idx] = self.sync_state_context(self.states[idx],
                                                           getattr(weights[i], "context", None))
                own[idx] = (self.states[idx], True)
                self.states_synced[idx] = True
        owned = self._owned(indices, weights)
        if self.aggregate_updates:
            type_map: Dict[np.dtype, list] = {}
            for i, w, g in zip(indices, weights, grads):
                type_map.setdefault(A.dtype(w), []).append((i, w, g))
            step = self.optimizer.aggregate_num
            for group in type_map.values():
                idxs, ws, gs = zip(*group)
                multi = owned and len(set(idxs)) == len(idxs)
                pending: Optional[MultiBatch] = None
                for start in range(0, len(idxs), step):
                    chunk = slice(start, start + step)
                    # MXNet passes tuples of indices/weights/grads and a list of states.
                    states = [self.states[i] for i in idxs[chunk]]
                    # Chunks keep MXNet's update-count order; their kernels run as one call.
                    batch = (self.optimizer._multi_prepare(idxs[chunk], ws[chunk], gs[chunk],
                                                           states)
                             if multi else None)
                    if batch is not None and (pending is None or not pending.merge(batch)):
                        if pending is not None:
                            _run(pending, ran)
                        pending = batch
                    elif batch is None:
                        if pending is not None:
                            _run(pending, ran)
                            pending = None
                        _no_plan(ran)
                        self.optimizer.update_multi_precision(idxs[chunk], ws[chunk],
                                                              gs[chunk], states)
                if pending is not None:
                    _run(pending, ran)
        else:
            # One tensor: the multi-tensor kernel only for a call that may be planned.
            if owned and (len(indices) > 1 or (_plan.plans_one_tensor(self.optimizer)
                                               and not self._plan_wait)):
                batch = self.optimizer._multi_prepare(indices, weights, grads,
                                                      [self.states[i] for i in indices])
                if batch is not None:
                    _run(batch, ran)
                    return indices
            _no_plan(ran)
            for i, w, g in zip(indices, weights, grads):
                self.optimizer.update_multi_precision(i, w, g, self.states[i])
        return indices

    def _owned(self, indices: List[Any], weights: List[Any]) -> bool:
        """Whether every state has the layout of a fresh one (see ``_own``)."""
        own = self._own
        for idx, weight in zip(indices, weights):
            state = self.states[idx]
            mark = own.get(idx)
            if mark is None or mark[0] is not state:
                mark = own[idx] = (state, _fits(self.optimizer, idx, state, weight))
            if not mark[1]:
                return False
        return True

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
                self._own = {}
                self._plan = None
            return
        if format != "pickle":
            raise ValueError(f"format must be 'pickle' or 'safe', got {format!r}")
        if isinstance(states, (bytes, bytearray)) and bytes(states[:len(_state_format.MAGIC)]) \
                == _state_format.MAGIC:
            raise ValueError("these states were written with format='safe': "
                             "call set_states(states, format='safe')")
        loaded = _mxnet_pickle.loads(states)  # MXNet's own NDArrays become mxopt arrays
        with self._lock:
            if isinstance(loaded, tuple) and len(loaded) == 2:
                self.states, self.optimizer = loaded
            else:
                self.states = loaded
            self.states_synced = dict.fromkeys(self.states.keys(), False)
            self._own = {}
            self._plan = None

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
        ret.pop("_plan", None)
        return ret

    def __setstate__(self, state: dict) -> None:
        self.__dict__ = state
        self.__dict__.setdefault("_own", {})  # pickled before these existed
        self.__dict__.setdefault("_plan_unused", 0)
        self.__dict__.setdefault("_plan_wait", 0)
        self._lock = threading.RLock()
        self._plan = None


_MAX_PLAN_WAIT = 63


def _run(batch: MultiBatch, ran: Optional[List[MultiBatch]]) -> None:
    batch.run()
    if ran is not None:
        ran.append(batch)


def _no_plan(ran: Optional[List[MultiBatch]]) -> None:
    if ran is not None:
        ran.clear()
        ran.append(None)  # type: ignore[arg-type]


_FLOAT_DTYPES = tuple(np.dtype(t) for t in ("=f2", "=f4", "=f8"))


def _check_pair(index: Any, weight: Any, grad: Any) -> None:
    """Reject (before any state is created or any weight written) a weight/gradient pair that
    no optimizer accepts, so that a bad item in a list leaves every item unchanged."""
    for name, x in (("weight", weight), ("grad", grad)):
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"Updater: {name} of index {index!r} must be an mx.nd.NDArray or a "
                            f"numpy.ndarray, got {type(x).__name__}")
    if tuple(grad.shape) != tuple(weight.shape):
        raise ValueError(f"Updater: grad of index {index!r} has shape {tuple(grad.shape)} but "
                         f"weight has shape {tuple(weight.shape)}")
    if np.dtype(grad.dtype) != np.dtype(weight.dtype):
        raise TypeError(f"Updater: grad of index {index!r} has dtype {np.dtype(grad.dtype)} but "
                        f"weight has dtype {np.dtype(weight.dtype)}")
    if A.is_rsp(grad) and len(weight.shape) >= 1:
        A.check_rows(np.asarray(grad._indices), int(weight.shape[0]), f"grad of index {index!r}")
    if np.dtype(weight.dtype) not in _FLOAT_DTYPES:
        raise TypeError(f"Updater: weight of index {index!r} must have dtype float16, float32 or "
                        f"float64 (native byte order), got {np.dtype(weight.dtype)}")
    if not A.is_rsp(grad) and not A.buf(grad, "grad").flags.c_contiguous:
        raise ValueError(f"Updater: grad of index {index!r} must be C-contiguous (got a strided "
                         f"view of shape {tuple(grad.shape)})")
    if A.is_rsp(weight):
        return
    buf = A.buf(weight)
    if not buf.flags.writeable:
        raise ValueError(f"Updater: weight of index {index!r} is read-only; it is updated in place")
    if not buf.flags.c_contiguous:
        raise ValueError(f"Updater: weight of index {index!r} must be C-contiguous (got a "
                         f"strided view of shape {buf.shape})")


def _check_state(index: Any, got: Any, fresh: Any, where: str = "state") -> None:
    """A restored state must have the layout of a freshly created one (arrays: shape, dtype)."""
    def bad(msg: str) -> ValueError:
        return ValueError(f"Updater: the restored {where} of index {index!r} does not fit the "
                          f"weight: {msg} (were the states saved for another model or optimizer?)")
    if isinstance(fresh, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(fresh):
            raise bad(f"expected a sequence of {len(fresh)} entries, got {type(got).__name__}")
        for k, (g, f) in enumerate(zip(got, fresh)):
            _check_state(index, g, f, f"{where}[{k}]")
    elif fresh is None:
        if got is not None:
            raise bad(f"expected no state (None), got {type(got).__name__}")
    elif hasattr(fresh, "shape") and hasattr(fresh, "dtype"):
        if not hasattr(got, "shape") or not hasattr(got, "dtype"):
            raise bad(f"expected an array, got {type(got).__name__}")
        if tuple(got.shape) != tuple(fresh.shape) or np.dtype(got.dtype) != np.dtype(fresh.dtype):
            raise bad(f"expected shape {tuple(fresh.shape)} dtype {np.dtype(fresh.dtype)}, got "
                      f"shape {tuple(got.shape)} dtype {np.dtype(got.dtype)}")
        if A.is_rsp(fresh) != A.is_rsp(got):
            raise bad(f"expected stype {A.stype(fresh)}, got {A.stype(got)}")


def _fits(opt: Optimizer, index: Any, state: Any, weight: Any) -> bool:
    """Whether ``state`` has the layout of the state ``opt`` creates for ``weight``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # float16 without multi_precision
            fresh = opt.create_state_multi_precision(index, weight)
        _check_state(index, state, fresh)
    except Exception:  # noqa: BLE001 - any misfit: the per-index path reports it
        return False
    return True


def get_updater(optimizer: Optimizer) -> Updater:
    """An ``Updater`` for ``optimizer``."""
    return Updater(optimizer)
