"""The Updater's step plan: the steady-state fast path of a multi-tensor list update.

When ``Updater(indices, grads, weights)`` ran as ONE multi-tensor kernel call (a ``MultiBatch``
over every index), the plan remembers that call: the indices, the weight/gradient objects and
their numpy buffers, the states, how each index resolves its lr/wd multipliers, and a
``_core.MultiTensors`` that caches the kernel's validated arguments. The next call with the same
inputs then costs O(1) Python work per distinct index class instead of per tensor:

1. ``matches``: the same index list, the same weight/gradient objects with the same buffers
   (``NDArray._data`` may be rebound: buffers are compared too), the same state objects and
   state buffers, unchanged multiplier settings, optimizer methods and instance attributes (and
   the same ``aggregate_num``), no unknown lr scheduler, and every index at the same update
   count ``c``. Otherwise the Updater takes its per-index path (and rebuilds the plan), so
   errors and results are exactly those of that path. That every array is unchanged (data
   pointer, dtype, shape, contiguity, writeability) is checked once, by the kernel call itself
   (a strict ``_core.MultiTensors``): if one changed, the call raises ``StaleMultiTensors``
   before writing anything, the plan undoes its step and the per-index path runs instead.
2. The optimizer's own ``_multi_prepare`` runs on ONE representative index per class (indices
   with the same lr/wd multiplier resolution and the same ``optimizer._plan_key(index)``; the
   first index is always one): it advances that index's count, evaluates the scheduler, bias
   corrections and kernel arguments exactly as the per-index path would. The other indices of a
   class, at the same count, get the representative's per-index arguments: its lr, wd and its
   entry of every per-index integer list of the batch (LAMB's step counts t, LARS's use_lars
   flags); their counts advance to ``c + 1`` in one pass.
3. ONE kernel call with the cached arguments and the per-tensor vectors (float64: lr, wd and
   the integer lists; rebuilt only when the representatives' values change).

Classes that also declare ``_MULTI_PLAN_STATIC = True`` promise more: without an lr scheduler,
their ``_multi_prepare`` arguments do not depend on the update count either (SGD, NAG, AdaGrad,
RMSProp; not Adam, whose bias correction does). For them step 2 is skipped while every
attribute of the optimizer (except ``num_update``) is still the very object it was after the
last prepare and nothing was set on its class or a base (the class's version tag): every
index's count is advanced (by the optimizer's own ``_update_count`` for the representatives,
inlined when it is Optimizer's: the prepare's only side effect) and the last kernel arguments
are reused, the shared ones passed positionally (``base.positional``).
That reuse is only set up when every such attribute is an immutable scalar (int, float, bool,
str, None, a tuple, a numpy number) or one of the containers ``matches`` compares by content
(multipliers, names, Parameters) or that hold the update counts; an lr scheduler or any other
object disables it.

Classes whose ``_multi_prepare`` lrs depend on the count only through a method
``_bias_lr(lr, t)`` (Adam, AdamW: the bias correction; their ``_multi_rates`` gives
``_bias_lr(lr_i, count_i)`` for ``lr_i`` from ``_get_lrs`` and count-independent wds) reuse the
last prepare the same way: the representatives' ``_get_lrs`` rates are taken once, when the
prepare is (and only if ``_bias_lr`` turns them into that prepare's lrs), and each step
computes its lrs as ``_bias_lr(rate, c + 1)``. If that raises, the step is undone and the
per-index path runs.

For static classes and those with ``_bias_lr`` whose counts ``Optimizer._update_count``
advances, without a scheduler or Parameters in ``param_dict``, each prepare also makes a
``_core.PlanStep`` (``fast``): the Updater's next calls run the checks of 1. and of the reuse
above, the ``_bias_lr`` rates, the count advance and the kernel call in that one C++ call (a
64-element step: 1.8 us instead of 3.6; Adam 3.3 instead of 5.6). It checks no less than this
module does (it also wants the type's version tag unchanged); when anything differs it returns
False having changed nothing, and is dropped until the next prepare, while this module decides
the step as before.

One-tensor calls are planned for static classes and classes with ``_bias_lr``
(``plans_one_tensor``); the Updater then runs them through ``_multi_prepare`` even when
``aggregate_num`` is 0 (NAG, AdaGrad, RMSProp, Adam), with the per-tensor kernels' results.

Only optimizer classes that declare ``_MULTI_PLAN = True`` in their own class body use plans:
their ``_multi_prepare`` per-index arguments depend only on the index's multipliers, update
count and ``_plan_key``, and its only side effects are the update counts (and ``num_update``),
unless the class also declares ``_MULTI_PLAN_PER_CALL = True`` (LARS: each call records the lr
for its momentum correction). The per-index path calls ``_multi_prepare`` once per chunk of
``aggregate_num`` indices; for such a class split into several chunks the plan calls it twice
on the representatives (their counts reset to ``c`` in between): the first call stands for the
first chunk, the second for every later one (whose per-call state is then at a fixed point),
and the plan runs only if both give the same kernel arguments (the per-index path would then
have merged its chunks into one call). A step the plan does not run resets the
representatives' counts and rebinds every optimizer attribute to its value before the step.
A subclass (which may override ``update``, ``_get_lr``, ...) keeps the per-index path unless it
declares ``_MULTI_PLAN`` too. Schedulers other than mxopt's built-in ones (which return the
same value, with no further side effect, when called again with the same ``num_update``) also
keep that path.

The plan holds references to the arrays of the last planned call until the next call that
does not match it (or until the Updater is dropped); pickling an Updater drops its plan.
"""

from __future__ import annotations

from typing import Any, List, Optional

import numpy as np

from .. import _core
from .. import lr_scheduler as _lrs
from . import _arrays as A
from .base import MultiBatch, Optimizer, positional

# Calling these again with the same num_update returns the same rate and changes nothing.
_IDEMPOTENT_SCHEDULERS = (_lrs.FactorScheduler, _lrs.MultiFactorScheduler, _lrs.PolyScheduler,
                          _lrs.CosineScheduler)

# Methods whose replacement (on the class or the instance) changes what a step computes.
_METHODS = ("_multi_prepare", "update", "update_multi_precision", "_update_count", "_base_lr",
            "_get_lrs", "_get_lr", "_get_wds", "_get_wd", "_set_current_context",
            "create_state", "create_state_multi_precision", "_plan_key", "_bias_lr")

# The MultiBatch layout plans replay (kernel(weights, grads, *states, lrs, wds, **shared)).
_BATCH_FIELDS = ("kernel", "dtype", "shared", "weights", "grads", "states", "lrs", "wds")

# Per-index integer lists (LAMB's steps, LARS's use_lars) reach the kernels as float64 vectors,
# converted to C int: the plan uses them while every value is within the int range.
_INT_LIMIT = 2 ** 31

# Optimizer attributes that may hold mutable containers without disabling the reuse of a
# static class's kernel arguments: ``matches`` compares the first four by content, the last two
# hold the update counts (which such arguments do not depend on).
_CONTAINER_ATTRS = frozenset(("lr_mult", "wd_mult", "idx2name", "param_dict",
                              "_index_update_count", "_all_index_update_counts"))
_IMMUTABLE_TYPES = (int, float, bool, str, tuple, type(None))


def _leaves(state: Any, out: list) -> bool:
    """Append the array leaves of a state (None, an array, or nested tuples); False for
    anything else (e.g. a list, whose entries could be replaced in place)."""
    if state is None:
        return True
    if isinstance(state, tuple):
        return all(_leaves(s, out) for s in state)
    if hasattr(state, "shape") and hasattr(state, "dtype"):
        out.append(state)
        return True
    return False


def _mult_key(opt: Any, index: Any, attr: str, table: dict) -> tuple:
    """How ``_get_lrs`` / ``_get_wds`` resolve index's multiplier (identical keys give
    identical rates)."""
    if index in opt.param_dict:
        m = getattr(opt.param_dict[index], attr)
    elif index in table:
        m = table[index]
    elif index in opt.idx2name:
        m = table.get(opt.idx2name[index], 1.0)
    else:
        return ("none",)
    return ("mult", type(m), repr(m))


class StepPlan:
    """A cached multi-tensor step (see the module docstring)."""

    __slots__ = ("raw_index", "keys", "weights", "wbufs", "grads", "gbufs", "states_dict",
                 "synced_dict", "state_objs", "leaves", "leaf_bufs", "opt", "methods", "type_tag",
                 "attr_keys", "lr_mult", "wd_mult", "idx2name", "param_dict", "params",
                 "param_mults", "dev", "kernel", "dtype", "none_pattern", "value_pos", "mt",
                 "kgrads", "kbufs", "kstates", "reps", "rep_ws", "rep_gs", "others",
                 "class_ids", "last", "lrv", "wdv", "aggregate", "twice", "static", "rates",
                 "memo", "used", "tail", "tail_of", "base_lrs", "inline_count", "fast")

    def matches(self, upd: Any, index: Any, grad: Any, weight: Any) -> bool:
        opt = upd.optimizer
        if (opt is not self.opt or upd.states is not self.states_dict
                or upd.states_synced is not self.synced_dict):
            return False
        if type(index) is list:
            if index != self.raw_index:
                return False
        elif type(index) is not tuple or list(index) != self.raw_index:
            return False
        if not _core.same_keys(opt.__dict__, self.attr_keys):
            return False
        cls = type(opt)
        tag = _core.type_version(cls)  # unchanged: no attribute of cls or a base was set
        if tag == 0 or tag != self.type_tag:
            if any(getattr(cls, m, None) is not f for m, f in zip(_METHODS, self.methods)):
                return False
            self.type_tag = _core.type_version(cls)
        if upd.aggregate_updates is not self.aggregate[0] or opt.aggregate_num is not \
                self.aggregate[1]:  # how the per-index path chunks the list
            return False
        sched = opt.lr_scheduler
        if sched is not None and type(sched) not in _IDEMPOTENT_SCHEDULERS:
            return False
        if not (_same_mults(opt.lr_mult, self.lr_mult) and _same_mults(opt.wd_mult, self.wd_mult)
                and opt.idx2name == self.idx2name and opt.param_dict is self.params
                and opt.param_dict == self.param_dict):
            return False
        if self.param_mults is not None and not all(
                a is b for a, b in zip(_param_mults(opt, self.keys), self.param_mults)):
            return False
        return _core.same_step_arrays(weight, self.weights, self.wbufs, grad, self.grads,
                                      self.gbufs, upd.states, self.keys, self.state_objs,
                                      self.leaves, self.leaf_bufs)

    def run(self, upd: Any) -> bool:
        """One step; False (nothing changed) if the per-index path must run instead."""
        opt = upd.optimizer
        opt._set_current_context(self.dev)
        counts = opt._index_update_count
        c = _core.common_count(counts, self.keys)
        if c is None:
            return False
        saved = opt.__dict__.copy()
        memo = self.memo
        prepared = False
        if (memo is not None and _core.type_version(type(opt)) == memo[3]
                and _core.same_dict_items(opt.__dict__, memo[0], memo[1])):
            batch = memo[2]  # its arguments: self.lrv, self.wdv, self.kstates are current
            if self.rates and not self._bias_rates(opt, c + 1):
                self._undo(opt, saved, counts, c)
                return False
            self._advance(opt, counts, c)  # the prepare's only side effect
        else:
            self.memo = self.fast = None
            prepared = True
            batch = self._prepare(upd)
            vals = None if batch is None else self._values(batch)
            if vals is not None and self.twice:
                # The per-index path's later chunks: the representatives at count c again.
                _core.set_items(counts, self.reps, c)
                again = self._prepare(upd)
                later = None if again is None or again.shared != batch.shared else \
                    self._values(again)
                if later is None or later.tobytes() != vals.tobytes():
                    vals = None
            if not self._set_values(vals):
                self._undo(opt, saved, counts, c)
                return False
            if self.static or self.rates:
                self.memo = _memo(opt, batch)
                if self.rates and self.memo is not None:
                    self.base_lrs = self._base_lrs(opt, batch, c + 1)
                    if self.base_lrs is None:
                        self.memo = None
            if self.others:
                _core.set_items(counts, self.others, c + 1)
        if batch is not self.tail_of:  # the shared arguments as positional ones (or None)
            self.tail_of, self.tail = batch, positional(self.kernel, batch.shared)
        try:
            if self.tail is None:
                MultiBatch(self.kernel, self.dtype, batch.shared, self.mt, self.kgrads,
                           self.kstates, self.lrv, self.wdv).run()
            else:
                self.kernel(self.mt, self.kgrads, *self.kstates, self.lrv, self.wdv, *self.tail)
        except _core.StaleMultiTensors:  # an array changed: nothing was written
            self._undo(opt, saved, counts, c)
            return False
        if (prepared and self.inline_count and self.memo is not None
                and (self.static or self.rates)
                and batch is self.memo[2] and self.tail is not None and self.param_mults is None
                and opt.lr_scheduler is None):
            try:  # the next steps' checks and kernel call in one C++ call
                self.fast = _core.PlanStep(self)
            except TypeError:  # an attribute it does not handle (a property, a non-dict...)
                self.fast = None
        return True

    def _set_values(self, vals: Optional[np.ndarray]) -> bool:
        """Per-tensor vectors from the representatives' values (False: None, no plan step)."""
        if vals is None:
            return False
        key = vals.tobytes()
        if key != self.last:
            # contiguous float64 vectors (the rows themselves when every tensor is its own class)
            full = list(vals) if self.class_ids is None else [row[self.class_ids] for row in vals]
            self.lrv, self.wdv = full[0], full[1]
            for j, row in zip(self.value_pos, full[2:]):
                self.kstates[j] = row
            self.last = key
        return True

    def _advance(self, opt: Any, counts: dict, c: int) -> None:
        """Every index's update count from c to c + 1 (the representatives' through the
        optimizer's ``_update_count``, inlined when it is Optimizer's)."""
        t = c + 1
        if self.inline_count:
            _core.set_items(counts, self.keys, t)
            opt.num_update = max(t, opt.num_update)
            return
        opt._update_count(self.reps)
        if self.others:
            _core.set_items(counts, self.others, t)

    def _base_lrs(self, opt: Any, batch: MultiBatch, t: int) -> Optional[list]:
        """The representatives' ``_get_lrs`` rates, if ``_bias_lr`` at count t turns them into
        the lrs the prepare just gave (else None: no reuse)."""
        try:
            base = list(opt._get_lrs(self.reps))
            same = [opt._bias_lr(lr, t) for lr in base] == list(batch.lrs)
        except Exception:  # noqa: BLE001 - the prepare is then simply not reused
            return None
        return base if same else None

    def _bias_rates(self, opt: Any, t: int) -> bool:
        """The lrs at count t (the wds are the prepare's); False if ``_bias_lr`` raises (the
        per-index path raises it, with its exact side effects) or gives something else than
        floats."""
        try:
            lrs = [opt._bias_lr(lr, t) for lr in self.base_lrs]
        except Exception:  # noqa: BLE001
            return False
        if not all(type(x) is float for x in lrs):
            return False
        # A list of floats reaches the kernel as a float64 vector would (each double -> float).
        self.lrv = lrs if self.class_ids is None else np.array(lrs)[self.class_ids]
        self.last = None  # the vectors are no longer those of the last prepare's values
        return True

    def _undo(self, opt: Any, saved: dict, counts: dict, c: int) -> None:
        """Every update count back to ``c`` and the optimizer's attributes as they were."""
        self.memo = self.fast = None
        _core.set_items(counts, self.reps, c)
        if self.others:
            _core.set_items(counts, self.others, c)
        opt.__dict__.clear()
        opt.__dict__.update(saved)

    def _prepare(self, upd: Any) -> Optional[MultiBatch]:
        """The representatives' batch, or None if it is not this plan's kind of call."""
        try:
            batch = upd.optimizer._multi_prepare(self.reps, self.rep_ws, self.rep_gs,
                                                 [upd.states[i] for i in self.reps])
        except Exception:  # the per-index path raises it, with its exact side effects
            return None
        if (type(batch) is not MultiBatch or batch.kernel is not self.kernel
                or batch.dtype != self.dtype or len(batch.states) != len(self.none_pattern)
                or any((s is None) != n for s, n in zip(batch.states, self.none_pattern))):
            return None
        return batch

    def _values(self, batch: MultiBatch) -> Optional[np.ndarray]:
        """The representatives' lrs, wds and per-index integer lists as float64 rows."""
        try:
            vals = np.array([batch.lrs, batch.wds] + [batch.states[j] for j in self.value_pos],
                            dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if vals.shape != (2 + len(self.value_pos), len(self.reps)):
            return None
        if self.value_pos and not (np.abs(vals[2:]) < _INT_LIMIT).all():
            return None
        return vals


def _memo(opt: Any, batch: MultiBatch) -> Optional[tuple]:
    """(attribute names, their values, batch, the class's version tag) of a static class's
    prepare that just ran, or None if an attribute holds an object that could change without
    being rebound (or the class has no version tag)."""
    tag = _core.type_version(type(opt))  # any attribute set on the class or a base changes it
    if tag == 0:
        return None
    keys, vals = [], []
    for k, v in opt.__dict__.items():
        if k == "num_update":
            continue
        if not (type(v) in _IMMUTABLE_TYPES or isinstance(v, (np.number, np.bool_))
                or k in _CONTAINER_ATTRS):
            return None
        keys.append(k)
        vals.append(v)
    return keys, vals, batch, tag


def _same_mults(cur: dict, snap: dict) -> bool:
    # Values by identity: an equal but different object (1 vs 1.0, 0.0 vs -0.0) rebuilds.
    if not snap:
        return not cur
    return (len(cur) == len(snap) and cur.keys() == snap.keys()
            and all(cur[k] is v for k, v in snap.items()))


def _param_mults(opt: Any, keys: List[Any]) -> list:
    """The multiplier objects of the Parameters in param_dict (compared by identity)."""
    pd = opt.param_dict
    out = []
    for i in keys:
        if i in pd:
            out += [pd[i].lr_mult, pd[i].wd_mult]
    return out


def plans_one_tensor(opt: Any) -> bool:
    """Whether a one-tensor call is planned: only static classes and those with
    ``_bias_lr`` replay it faster than the per-index path runs it (the Updater then also
    takes their multi-tensor kernel for one tensor when ``aggregate_num`` is 0, so that the
    call can be planned)."""
    cls = type(opt)
    return bool(cls.__dict__.get("_MULTI_PLAN", False)
                and (cls.__dict__.get("_MULTI_PLAN_STATIC", False)
                     or callable(getattr(cls, "_bias_lr", None))))


def build(upd: Any, index: Any, grad: Any, weight: Any, keys: List[Any],
          ran: List[MultiBatch]) -> Optional[StepPlan]:
    """A plan for the call that just ran (``keys``: its decoded indices; ``ran``: the batches it
    ran, or None if it updated any tensor through the per-index path), or None."""
    opt = upd.optimizer
    cls = type(opt)
    n = len(keys)
    if (not ran or len(ran) != 1 or ran[0] is None
            or n < (1 if plans_one_tensor(opt) else 2)
            or not cls.__dict__.get("_MULTI_PLAN", False)
            or type(index) not in (list, tuple) or type(grad) not in (list, tuple)
            or type(weight) not in (list, tuple)):
        return None
    if opt.lr_scheduler is not None and type(opt.lr_scheduler) not in _IDEMPOTENT_SCHEDULERS:
        return None
    batch = ran[0]
    if type(batch) is not MultiBatch or tuple(MultiBatch.__slots__) != _BATCH_FIELDS:
        return None
    if len(batch.weights) != n or any(not isinstance(s, list) and s is not None
                                      for s in batch.states):
        return None
    if any(s is not None and len(s) != n for s in batch.states):
        return None
    p = StepPlan()
    p.used = False  # set by the Updater when the plan runs a step
    p.raw_index = list(index)
    p.keys = list(keys)
    p.weights, p.grads = list(weight), list(grad)
    p.wbufs, p.gbufs = list(batch.weights), list(batch.grads)
    if not (_core.same_sources(p.weights, p.weights, p.wbufs)
            and _core.same_sources(p.grads, p.grads, p.gbufs)):
        return None
    p.states_dict, p.synced_dict = upd.states, upd.states_synced
    p.state_objs = [upd.states[i] for i in keys]
    p.leaves = []
    if not all(_leaves(s, p.leaves) for s in p.state_objs):
        return None
    try:
        p.leaf_bufs = [A.buf(s) for s in p.leaves]
    except TypeError:
        return None
    p.opt = opt
    p.methods = tuple(getattr(cls, m, None) for m in _METHODS)
    p.type_tag = _core.type_version(cls)
    p.attr_keys = tuple(opt.__dict__)  # compared by identity and order (_core.same_keys)
    if any(m in opt.__dict__ for m in _METHODS):
        return None
    p.lr_mult, p.wd_mult = dict(opt.lr_mult), dict(opt.wd_mult)
    p.idx2name, p.params, p.param_dict = dict(opt.idx2name), opt.param_dict, dict(opt.param_dict)
    p.param_mults = _param_mults(opt, p.keys) if opt.param_dict else None
    p.dev = _device(weight[0])
    p.kernel, p.dtype = batch.kernel, batch.dtype
    p.none_pattern = [s is None for s in batch.states]
    # Per-index integer lists (rebuilt from the representatives every step); the other state
    # lists hold the arrays the kernel validates (cached by MultiTensors).
    p.value_pos = [j for j, s in enumerate(batch.states)
                   if s is not None and all(type(x) in (int, bool) for x in s)]
    p.mt = _core.MultiTensors(p.wbufs, strict=True)
    p.kgrads = p.gbufs
    p.kstates = list(batch.states)
    p.kbufs = [s for j, s in enumerate(batch.states) if j not in p.value_pos]
    if not p.mt.prime(p.kgrads, *p.kbufs):  # the arrays the kernel just accepted
        return None
    p.aggregate = (upd.aggregate_updates, opt.aggregate_num)
    p.twice = bool(cls.__dict__.get("_MULTI_PLAN_PER_CALL", False) and upd.aggregate_updates
                   and 0 < opt.aggregate_num < n)
    p.static = bool(cls.__dict__.get("_MULTI_PLAN_STATIC", False)) and not p.twice
    p.rates = (not p.static and not p.twice and not p.value_pos
               and callable(getattr(cls, "_bias_lr", None)))
    p.base_lrs = None
    p.inline_count = getattr(cls, "_update_count", None) is Optimizer._update_count
    p.memo = None  # set by the first planned step (the build's step ran the per-index path)
    p.fast = None  # a _core.PlanStep, made by a prepare that later steps can reuse
    classes: dict = {}
    class_ids = []
    try:
        for i in keys:
            k = (_mult_key(opt, i, "lr_mult", opt.lr_mult),
                 _mult_key(opt, i, "wd_mult", opt.wd_mult), opt._plan_key(i))
            class_ids.append(classes.setdefault(k, len(classes)))
    except Exception:  # e.g. an unhashable key: no plan (the step itself already ran)
        return None
    first = {}
    for pos, cid in enumerate(class_ids):
        first.setdefault(cid, pos)
    rep_pos = [first[cid] for cid in range(len(classes))]
    p.reps = [keys[j] for j in rep_pos]
    p.rep_ws = [weight[j] for j in rep_pos]
    p.rep_gs = [grad[j] for j in rep_pos]
    rep_set = set(rep_pos)
    p.others = [keys[j] for j in range(n) if j not in rep_set]
    p.class_ids = None if class_ids == list(range(n)) else np.asarray(class_ids, dtype=np.intp)
    p.last, p.lrv, p.wdv = None, None, None
    p.tail_of = p.tail = None
    return p


def _device(x: Any) -> int:
    ctx = getattr(x, "context", None)
    return int(getattr(ctx, "device_id", 0)) if ctx is not None else 0
