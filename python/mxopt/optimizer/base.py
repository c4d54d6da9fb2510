"""The ``Optimizer`` base class and registry, with MXNet 1.9.1's semantics.

Everything an optimizer shares lives here: the constructor's attributes, the registry
(``register`` / ``create``), learning-rate and weight-decay resolution per parameter index
(multipliers by index, by name, from symbol attributes or from a Gluon ``param_dict``), the
per-index update counts that drive bias corrections and schedulers, multi-precision (float16
weights with a float32 master copy) and pickling.

Example::

    >>> import numpy as np, mxopt as mx
    >>> opt = mx.optimizer.create('sgd', learning_rate=0.1, momentum=0.9)
    >>> w, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    >>> state = opt.create_state(0, w)
    >>> opt.update(0, w, g, state)
    >>> w
    array([0.95, 0.95, 0.95], dtype=float32)
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Type

import numpy as np

from .. import _core
from . import _arrays as A
from . import _state_check

__all__ = ["Optimizer", "register", "create"]


class Optimizer:
    """Base class of all optimizers (``mx.optimizer.Optimizer``).

    Subclasses implement ``create_state(index, weight)`` and ``update(index, weight, grad,
    state)``; every hyper-parameter is a plain attribute read at each update.

    Args:
        rescale_grad: multiplies every gradient (``rg``).
        param_idx2name: ``{index: name}``; names drive ``lr_mult``/``wd_mult`` by name and the
            "no weight decay unless the name ends with ``_weight``/``_gamma``" default.
        wd: weight decay ``λ``.
        clip_gradient: gradient clipping bound (see each optimizer for which clip rule).
        learning_rate: base rate; ``None`` means 0.01 unless a scheduler is given.
        lr_scheduler: called with ``num_update``; a non-None ``learning_rate`` different from
            its ``base_lr`` overwrites ``base_lr`` (and prints a notice).
        sym: a symbol whose ``__lr_mult__`` / ``__wd_mult__`` attributes set multipliers.
        begin_num_update: the update count every index starts from.
        multi_precision: keep a float32 master copy of float16 weights.
        param_dict: ``{index: Parameter}`` whose ``lr_mult``/``wd_mult`` override everything.
    """

    opt_registry: Dict[str, Type["Optimizer"]] = {}

    def __init__(self, rescale_grad: float = 1.0, param_idx2name: Optional[dict] = None,
                 wd: float = 0.0, clip_gradient: Optional[float] = None,
                 learning_rate: Optional[float] = None, lr_scheduler: Any = None,
                 sym: Any = None, begin_num_update: int = 0, multi_precision: bool = False,
                 param_dict: Optional[dict] = None) -> None:
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if self.lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if self.lr_scheduler is not None and learning_rate is not None:
            if self.lr_scheduler.base_lr != learning_rate:
                print(UserWarning("learning rate from ``lr_scheduler`` has been "
                                  "overwritten by ``learning_rate`` in optimizer."))
                self.lr_scheduler.base_lr = learning_rate

        self.wd = wd
        self.lr_mult: Dict[Any, float] = {}
        self.wd_mult: Dict[Any, float] = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._all_index_update_counts: Dict[int, Dict[Any, int]] = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0

        if param_idx2name is None:
            param_idx2name = {}
        A.require(isinstance(param_idx2name, dict),
                  "param_idx2name should be a dict of param indexes to names.")
        self.idx2name = param_idx2name.copy()
        self.sym_info = (sym.attr_dict(), sym.list_arguments()) if sym is not None else ()
        self.param_dict = param_dict if param_dict else {}
        self.allow_np_array = False

        self.set_lr_mult({})
        self.set_wd_mult({})

    # ---- registry --------------------------------------------------------------------------
    @staticmethod
    def register(klass: Type["Optimizer"]) -> Type["Optimizer"]:
        """Register ``klass`` under ``klass.__name__.lower()`` (usable as a decorator)."""
        assert isinstance(klass, type)
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            old = Optimizer.opt_registry[name]
            warnings.warn(f"WARNING: New optimizer {klass.__module__}.{klass.__name__} is "
                          f"overriding existing optimizer {old.__module__}.{old.__name__}",
                          stacklevel=2)
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name: str, **kwargs: Any) -> "Optimizer":
        """Instantiate the optimizer registered as ``name`` (case-insensitive)."""
        if not isinstance(name, str):
            raise TypeError(f"optimizer name must be a str, got {type(name).__name__}")
        if name.lower() in Optimizer.opt_registry:
            return Optimizer.opt_registry[name.lower()](**kwargs)
        raise ValueError(f"Cannot find optimizer {name}")

    # ---- learning rate ---------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The current base rate: ``lr_scheduler(num_update)`` or ``lr``."""
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr: float) -> None:
        """Set ``lr``; raises ``UserWarning`` (an exception) when a scheduler is set."""
        if self.lr_scheduler is not None:
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note "
                              "that set_learning_rate can mutate the value of the learning "
                              "rate of the optimizer only when the LRScheduler of the "
                              "optimizer is undefined.")
        self.lr = lr

    def set_lr_scale(self, args_lrscale: Any) -> None:
        """Removed in MXNet: always raises ``DeprecationWarning``."""
        raise DeprecationWarning

    def set_lr_mult(self, args_lr_mult: dict) -> None:
        """Rebuild ``lr_mult``: symbol ``__lr_mult__`` attributes, then ``args_lr_mult``."""
        self.lr_mult = {}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__lr_mult__" in attr[name]:
                    self.lr_mult[name] = float(attr[name]["__lr_mult__"])
        self.lr_mult.update(args_lr_mult)

    def _default_wd_mult(self, name: str) -> bool:
        """Whether ``name`` gets the "no weight decay" default (0 multiplier)."""
        return not (name.endswith("_weight") or name.endswith("_gamma"))

    def set_wd_mult(self, args_wd_mult: dict) -> None:
        """Rebuild ``wd_mult``: 0 for named non-weights, symbol ``__wd_mult__``, then
        ``args_wd_mult``."""
        self.wd_mult = {}
        for n in self.idx2name.values():
            if self._default_wd_mult(n):
                self.wd_mult[n] = 0.0
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__wd_mult__" in attr[name]:
                    self.wd_mult[name] = float(attr[name]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    # ---- update counts and per-index rates ------------------------------------------------
    def _set_current_context(self, device_id: int) -> None:
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    def _update_count(self, index: Any) -> None:
        if not isinstance(index, (list, tuple)):
            index = [index]
        for idx in index:
            if idx not in self._index_update_count:
                self._index_update_count[idx] = self.begin_num_update
            self._index_update_count[idx] += 1
            self.num_update = max(self._index_update_count[idx], self.num_update)

    def _base_lr(self) -> float:
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def _get_lrs(self, indices: Sequence[Any]) -> List[float]:
        lr = self._base_lr()
        lrs = [lr for _ in indices]
        for i, index in enumerate(indices):
            if index in self.param_dict:
                lrs[i] = A.mul(lrs[i], self.param_dict[index].lr_mult)
            elif index in self.lr_mult:
                lrs[i] = A.mul(lrs[i], self.lr_mult[index])
            elif index in self.idx2name:
                lrs[i] = A.mul(lrs[i], self.lr_mult.get(self.idx2name[index], 1.0))
        return lrs

    def _get_lr(self, index: Any) -> float:
        return self._get_lrs([index])[0]

    def _get_wds(self, indices: Sequence[Any]) -> List[float]:
        wds = [self.wd for _ in indices]
        for i, index in enumerate(indices):
            if index in self.param_dict:
                wds[i] = A.mul(wds[i], self.param_dict[index].wd_mult)
            elif index in self.wd_mult:
                wds[i] = A.mul(wds[i], self.wd_mult[index])
            elif index in self.idx2name:
                wds[i] = A.mul(wds[i], self.wd_mult.get(self.idx2name[index], 1.0))
        return wds

    def _get_wd(self, index: Any) -> float:
        return self._get_wds([index])[0]

    # ---- states and updates ----------------------------------------------------------------
    def create_state(self, index: Any, weight: Any) -> Any:
        """The auxiliary state of ``weight`` (None for stateless optimizers)."""

    def create_state_multi_precision(self, index: Any, weight: Any) -> Any:
        """``(weight32, create_state(weight32))`` for float16 weights with multi_precision,
        else ``create_state(weight)`` (float16 without it warns)."""
        if self.multi_precision and A.dtype(weight) == A.FLOAT16:
            weight_master_copy = A.astype(weight, np.float32)
            return (weight_master_copy,) + (self.create_state(index, weight_master_copy),)
        if A.dtype(weight) == A.FLOAT16 and not self.multi_precision:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy "
                          "or slow convergence. Consider using multi_precision=True option of "
                          "the optimizer", stacklevel=2)
        return self.create_state(index, weight)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap the subclass's update methods with the malformed-state diagnosis."""
        super().__init_subclass__(**kwargs)
        for method in ("update", "update_multi_precision"):
            if method in cls.__dict__:
                setattr(cls, method, _state_check.checked(cls.__dict__[method], method))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """Update ``weight`` in place from ``grad`` and ``state``."""
        raise NotImplementedError()

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """``update`` on the float32 master copy for float16 weights with multi_precision
        (then ``weight[:] = float16(master)``), else ``update``."""
        if self.multi_precision and A.dtype(weight) == A.FLOAT16:
            weight_master_copy, original_state = state[0], state[1]
            A.check_mp_pair(type(self).__name__.lower(), weight, weight_master_copy)
            grad32 = A.astype(grad, np.float32)
            self.update(index, weight_master_copy, grad32, original_state)
            _core.cast_into(A.buf(weight_master_copy, "weight32"), A.buf(weight))
        else:
            self.update(index, weight, grad, state)

    # ---- multi-tensor path -------------------------------------------------------------------
    def _multi_prepare(self, indices: Sequence[Any], weights: Sequence[Any],
                       grads: Sequence[Any], states: Sequence[Any]) -> Optional["MultiBatch"]:
        """The per-tensor hyper-parameters of one update call over distinct indices with dense,
        same-dtype tensors, as a ``MultiBatch`` for ONE C++ call (update counts advance exactly
        as ``update_multi_precision`` would), or None (nothing changed) when this call needs the
        per-tensor path. Optimizers whose per-tensor kernel is a single element-wise op override
        it; the batch is bit-identical to the per-tensor updates."""
        return None

    def _plan_key(self, index: Any) -> Any:
        """What, besides its lr/wd multipliers and update count, the per-index arguments of
        ``_multi_prepare`` depend on (hashable; None: nothing). Indices with equal keys get
        equal arguments, which lets the Updater's step plans (``_plan``) compute them once."""
        return None

    # ---- pickling --------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        ret = self.__dict__.copy()
        del ret["param_dict"]
        return ret

    def __setstate__(self, state: dict) -> None:
        self.__dict__ = state
        self.param_dict = {}


Optimizer.update_multi_precision = _state_check.checked(  # type: ignore[method-assign]
    Optimizer.update_multi_precision, "update_multi_precision")

register: Callable[[Type[Optimizer]], Type[Optimizer]] = Optimizer.register
create: Callable[..., Optimizer] = Optimizer.create_optimizer


def as_list(index: Any, weight: Any, grad: Any, state: Any):
    """Normalise an update call to lists (MXNet's list-or-single convention)."""
    if isinstance(index, (list, tuple)):
        return list(index), list(weight), list(grad), list(state)
    return [index], [weight], [grad], [state]


class MultiBatch:
    """Pending tensors of one multi-tensor kernel call: ``kernel(weights, grads, *states,
    lrs=lrs, wds=wds, **shared)``; batches with the same kernel, dtype and shared arguments
    merge, so that a whole step runs as one call."""

    __slots__ = ("kernel", "dtype", "shared", "weights", "grads", "states", "lrs", "wds")

    def __init__(self, kernel: Callable[..., None], dtype: np.dtype, shared: dict,
                 weights: list, grads: list, states: list, lrs: list, wds: list) -> None:
        self.kernel, self.dtype, self.shared = kernel, dtype, shared
        self.weights, self.grads, self.states = weights, grads, states
        self.lrs, self.wds = lrs, wds

    def merge(self, other: "MultiBatch") -> bool:
        """Append ``other`` if it runs the same kernel with the same dtype and arguments."""
        if (other.kernel is not self.kernel or other.dtype != self.dtype
                or other.shared != self.shared
                or [s is None for s in other.states] != [s is None for s in self.states]):
            return False
        self.weights += other.weights
        self.grads += other.grads
        for mine, theirs in zip(self.states, other.states):
            if mine is not None:
                mine += theirs
        self.lrs += other.lrs
        self.wds += other.wds
        return True

    def run(self) -> None:
        tail = positional(self.kernel, self.shared)
        if tail is None:
            self.kernel(self.weights, self.grads, *self.states, lrs=self.lrs, wds=self.wds,
                        **self.shared)
        else:
            self.kernel(self.weights, self.grads, *self.states, self.lrs, self.wds, *tail)


# {kernel: its parameters after wds, as (name, default) or (name,)} for the _core multi-tensor
# kernels.
_TAILS = {getattr(_core, name): params[[p[0] for p in params].index("wds") + 1:]
          for name, params in _core.multi_params.items()}


def positional(kernel: Callable[..., None], shared: dict) -> Optional[tuple]:
    """``shared`` as the positional arguments after ``wds`` of a _core multi-tensor kernel (the
    defaults of those it omits filled in), or None (call it with keywords) if it is another
    function or names a parameter the kernel lacks. A keyword call costs pybind11 a lookup by
    name of every parameter: about 2 us of a planned step's 4-8 (a positional one 0.6 us in
    all)."""
    tail = _TAILS.get(kernel)
    if tail is None:
        return None
    args, used = [], 0
    for param in tail:
        if param[0] in shared:
            args.append(shared[param[0]])
            used += 1
        elif len(param) == 2:
            args.append(param[1])
        else:
            return None
    return tuple(args) if used == len(shared) else None


def tuples_of(states: Sequence[Any], n: int) -> bool:
    """Every state is a tuple (or list) of exactly ``n`` items, as the per-tensor path unpacks
    them: a ``_multi_prepare`` leaves any other state to that path (and its diagnosis)."""
    return all(isinstance(s, (tuple, list)) and len(s) == n for s in states)


def multi_dtype(weights: Sequence[Any], grads: Sequence[Any], states: Sequence[Any],
                indices: Sequence[Any]) -> Optional[np.dtype]:
    """The common dtype of a list update that the multi-tensor path can take (distinct indices,
    dense numpy-backed weights/grads/states of one dtype), else None."""
    if len(weights) == 0 or len(set(indices)) != len(indices):
        return None
    dt = A.dtype(weights[0])
    for w, g in zip(weights, grads):
        if A.stype(w) != "default" or A.stype(g) != "default" or A.dtype(w) != dt:
            return None
    for st in states:
        for s in (st if isinstance(st, (tuple, list)) else (st,)):
            if s is not None and A.stype(s) != "default":
                return None
    return dt
