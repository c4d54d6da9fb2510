"""Adam-family optimizers: Adam, Adamax, Nadam (MXNet 1.9.1) and AdamW, AdaBelief (MXNet 2.0
extensions on the 1.9.1 base class)."""

from __future__ import annotations

import math
import os
from typing import Any, List, Tuple

import numpy as np

from .. import _core
from . import _arrays as A
from .base import MultiBatch, Optimizer, multi_dtype, register, tuples_of

__all__ = ["Adam", "AdamW", "AdaBelief", "Adamax", "Nadam"]


@register
class Adam(Optimizer):
    """Adam (MXNet's adam_update), weight decay added to the gradient before clipping.

    ``η_t = η·sqrt(1 − β2^t)/(1 − β1^t)``, ``G = K(rg·g + λ·w)``,
    ``m = β1·m + (1−β1)·G``, ``v = β2·v + (1−β2)·G²``, ``w = w − η_t·m/(sqrt(v) + ε)``.
    A row_sparse gradient updates only its rows when ``lazy_update`` (the default).

    Args:
        learning_rate: η (default 0.001). beta1, beta2: moment decays. epsilon: ε.
        lazy_update: lazy row_sparse updates.
    """

    # The Updater may cache this optimizer's multi-tensor steps (see _plan.py): the lr/wd of
    # _multi_prepare depend only on the index's multipliers and update count.
    _MULTI_PLAN = True

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, lazy_update: bool = True, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def create_state(self, index: Any, weight: Any) -> Any:
        stype = A.stype(weight) if self.lazy_update else "default"
        return (A.zeros_like(weight, stype=stype), A.zeros_like(weight, stype=stype))

    def _corrected(self, lr: float, t: int) -> float:
        """lr with the bias correction of update count t."""
        coef1 = 1. - A.py(self.beta1) ** t
        coef2 = 1. - A.py(self.beta2) ** t
        return A.py(lr) * A.bias_div(math.sqrt(coef2), coef1, "adam", "beta1", self.beta1, t)

    def _bias_lr(self, lr: float, t: int) -> float:
        """The kernel's lr for an index whose ``_get_lr`` is lr, at update count t (a step
        plan's count-dependent part of ``_multi_rates``, see _plan.py)."""
        return A.fp(self._corrected(lr, t), "lr")

    def _rate(self, index: Any) -> Tuple[float, float]:
        """Advance index's count; its kernel lr (bias-corrected, parsed) and its wd."""
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        return self._bias_lr(lr, self._index_update_count[index]), wd

    def _shared_kwargs(self) -> dict:
        """The adam_update arguments that do not depend on the index."""
        return dict(beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                    epsilon=A.fp(self.epsilon, "epsilon"),
                    rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                    clip_gradient=A.kclip(self.clip_gradient))

    def _step_kwargs(self, index: Any) -> dict:
        """Advance index's count; the adam_update arguments of its step (lr bias-corrected)."""
        lr, wd = self._rate(index)
        return dict(lr=lr, **self._shared_kwargs(), wd=A.fp(wd, "wd"))

    def _multi_rates(self, indices: List[Any]) -> Tuple[List[float], List[float], dict]:
        """Advance the counts; the lrs, wds and shared arguments of the multi-tensor call, parsed
        in the order of the per-tensor calls."""
        lrs, wds, shared = [], [], None
        for index in indices:
            lr, wd = self._rate(index)
            lrs.append(lr)
            if shared is None:
                shared = self._shared_kwargs()
            wds.append(A.fp(wd, "wd"))
        return lrs, wds, shared if shared is not None else {}

    def _multi_prepare(self, indices, weights, grads, states):
        dt = multi_dtype(weights, grads, states, indices)
        if (dt is None or type(self).update is not Adam.update
                or type(self)._step_kwargs is not Adam._step_kwargs
                or type(self).update_multi_precision is not Optimizer.update_multi_precision):
            return None
        mp = bool(self.multi_precision) and dt == A.FLOAT16
        if not tuples_of(states, 2) or (mp and not tuples_of([s[1] for s in states], 2)):
            return None
        lrs, wds, kw = self._multi_rates(indices)
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        moments = [s[1] for s in states] if mp else states
        lists = [[A.buf(s[0], "mean") for s in moments], [A.buf(s[1], "var") for s in moments]]
        if mp:  # Optimizer.update_multi_precision: adam_update on the float32 master copies
            lists.append([A.buf(s[0], "weight32") for s in states])
            return MultiBatch(_core.multi_mp_adam_update, dt, kw, ws, gs, lists, lrs, wds)
        return MultiBatch(_core.multi_adam_update, dt, kw, ws, gs, lists, lrs, wds)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        kw = self._step_kwargs(index)
        mean, var = state
        w = A.buf(weight)
        if A.is_rsp(grad):
            data, idx = A.rsp_parts(grad, w.shape)
            _core.adam_update_rsp(w, data, idx, A.buf(mean, "mean"), A.buf(var, "var"),
                                  lazy_update=self.lazy_update, **kw)
        else:
            _core.adam_update(w, A.buf(grad, "grad"), A.buf(mean, "mean"), A.buf(var, "var"),
                              **kw)


@register
class Adamax(Optimizer):
    """Adamax (infinity-norm Adam), MXNet's NDArray arithmetic.

    ``G = clip(rg·g + λ·w)``, ``m = β1·m + (1−β1)·G``, ``u = max(β2·u, |G|)``,
    ``w = w − (η/(1−β1^t))·m/u``. There is no epsilon: an element whose ``u`` is 0 becomes NaN.

    Args:
        learning_rate: η (default 0.002). beta1, beta2: decays.
    """

    def __init__(self, learning_rate: float = 0.002, beta1: float = 0.9, beta2: float = 0.999,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def create_state(self, index: Any, weight: Any) -> Any:
        return (A.zeros_like(weight), A.zeros_like(weight))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        t = self._index_update_count[index]
        lr = A.bias_div(A.py(lr), 1. - A.py(self.beta1) ** t, "adamax", "beta1", self.beta1, t)
        m_t, u_t = state
        w = A.buf(weight)
        _core.adamax_update(w, A.dense(grad, w.shape), A.buf(m_t, "mean"), A.buf(u_t, "u"),
                            lr=A.sc(lr, "lr"), beta1=A.sc(self.beta1, "beta1"),
                            one_minus_beta1=A.sc(1. - self.beta1, "1-beta1"),
                            beta2=A.sc(self.beta2, "beta2"), wd=A.sc(wd, "wd"),
                            rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                            clip_gradient=A.pclip(self.clip_gradient))


@register
class Nadam(Optimizer):
    """Nesterov Adam with MXNet's momentum schedule.

    ``μ_t = β1·(1 − 0.5·0.96^(t·schedule_decay))``; the product ``M`` of all μ_t so far is ONE
    optimizer-level value shared by every parameter (``self.m_schedule``), multiplied at every
    update call. See mxopt/optimizers/adam.h for the element formula.

    Args:
        learning_rate: η (default 0.001). beta1, beta2, epsilon: as Adam.
        schedule_decay: decay of the momentum schedule.
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, schedule_decay: float = 0.004, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.

    def create_state(self, index: Any, weight: Any) -> Any:
        return (A.zeros_like(weight), A.zeros_like(weight))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        t = self._index_update_count[index]
        w = A.buf(weight)
        g = A.dense(grad, w.shape)
        m_t, v_t = state
        bm, bv = A.buf(m_t, "mean"), A.buf(v_t, "var")
        momentum_t = self.beta1 * (1. - 0.5 * (pow(0.96, t * self.schedule_decay)))
        momentum_t_1 = self.beta1 * (1. - 0.5 * (pow(0.96, (t + 1) * self.schedule_decay)))
        # Validate before the schedule (optimizer state) changes.
        A.check_like("nadam_update", w, grad=g, mean=bm, var=bv)
        scalars = dict(lr=A.sc(lr, "lr"), beta1=A.sc(self.beta1, "beta1"),
                       one_minus_beta1=A.sc(1. - self.beta1, "1-beta1"),
                       beta2=A.sc(self.beta2, "beta2"),
                       one_minus_beta2=A.sc(1. - self.beta2, "1-beta2"),
                       epsilon=A.sc(self.epsilon, "epsilon"), wd=A.sc(wd, "wd"),
                       rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                       one_minus_momentum_t=A.sc(1. - momentum_t, "1-momentum_t"),
                       momentum_t1=A.sc(momentum_t_1, "momentum_t_1"),
                       clip_gradient=A.pclip(self.clip_gradient))
        self.m_schedule = self.m_schedule * momentum_t
        m_schedule_next = self.m_schedule * momentum_t_1
        _core.nadam_update(w, g, bm, bv,
                           one_minus_m_schedule=A.sc(1. - self.m_schedule, "1-m_schedule"),
                           one_minus_m_schedule_next=A.sc(1. - m_schedule_next,
                                                          "1-m_schedule_next"),
                           one_minus_beta2_t=A.sc(1. - pow(self.beta2, t), "1-beta2^t"),
                           **scalars)


# ---- MXNet 2.0 extensions -----------------------------------------------------------------------
def _finite_nonzero(x: Any) -> bool:
    x = float(np.float32(x))
    return math.isfinite(x) and x != 0.0


def _kernel_rate(x: float, aggregate: bool, name: str) -> float:
    """An eta or wd as AdamW's kernels receive it: multi-tensor kernels read float tuples,
    single ones parse the value."""
    return A.f32(x) if aggregate else A.fp(x, name)


class _DecoupledAdamBase(Optimizer):
    """Shared machinery of AdamW and AdaBelief (MXNet 2.0 ``fused_step`` / ``step``)."""

    _kernel = "adamw_update"

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-6, correct_bias: bool = True, use_fused_step: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.correct_bias = correct_bias
        self.use_fused_step = use_fused_step
        self.aggregate_num = max(1, min(50, int(os.getenv("MXNET_OPTIMIZER_AGGREGATION_SIZE",
                                                          "4"))))

    def create_state(self, index: Any, weight: Any) -> Any:
        return (A.zeros_like(weight), A.zeros_like(weight))

    def _corrected(self, lr: float, t: int) -> float:
        """lr with the bias correction of update count t (if correct_bias)."""
        if not self.correct_bias:
            return lr
        coef1 = 1. - A.py(self.beta1) ** t
        coef2 = 1. - A.py(self.beta2) ** t
        return A.bias_div(A.py(lr) * math.sqrt(coef2), coef1, type(self).__name__.lower(), "beta1",
                          self.beta1, t)

    def _rates(self, indices: List[Any]) -> Tuple[List[float], List[float]]:
        self._update_count(indices)
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        counts = self._index_update_count
        return [self._corrected(lr, counts[idx]) for idx, lr in zip(indices, lrs)], wds

    def _bias_lr(self, lr: float, t: int) -> float:
        """The multi-tensor kernel's rate for an index whose ``_get_lrs`` rate is lr, at update
        count t (a step plan's count-dependent part of ``_multi_rates``, see _plan.py)."""
        return _kernel_rate(self._corrected(lr, t), self.aggregate_num > 1, "eta")

    def _multi_rates(self, indices: List[Any]) -> Tuple[List[float], List[float], dict]:
        """Advance the counts; the lrs, wds and shared arguments of the multi-tensor call."""
        lrs, wds = self._rates(indices)
        aggregate = self.aggregate_num > 1  # every tensor is dense here
        kw = dict(beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                  epsilon=A.fp(self.epsilon, "epsilon"),
                  rescale_grad=A.f32(A.sc(self.rescale_grad, "rescale_grad")),
                  clip_gradient=A.kclip(self.clip_gradient), aggregated=aggregate)
        lrs = [_kernel_rate(lr, aggregate, "eta") for lr in lrs]
        wds = [_kernel_rate(wd, aggregate, "wd") for wd in wds]
        return lrs, wds, kw

    def _multi_prepare(self, indices, weights, grads, states):
        # AdamW's fused kernels over a list of dense tensors as one call (the float16
        # multi-precision form runs on the float32 master copies, as update_multi_precision).
        dt = multi_dtype(weights, grads, states, indices)
        cls = type(self)
        if (dt is None or self._kernel != "adamw_update" or not self.use_fused_step
                or cls._run is not _DecoupledAdamBase._run
                or cls._rates is not _DecoupledAdamBase._rates
                or cls.update_multi_precision is not _DecoupledAdamBase.update_multi_precision):
            return None
        rescale = A.f32(A.sc(self.rescale_grad, "rescale_grad"))
        if not _finite_nonzero(rescale):
            return None  # the per-tensor path advances the counts and skips the update
        mp = bool(self.multi_precision) and dt == A.FLOAT16
        if not tuples_of(states, 2) or (mp and not tuples_of([s[1] for s in states], 2)):
            return None
        lrs, wds, kw = self._multi_rates(list(indices))
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        moments = [s[1] for s in states] if mp else states
        lists = [[A.buf(s[0], "mean") for s in moments], [A.buf(s[1], "var") for s in moments]]
        if mp:
            lists.append([A.buf(s[0], "weight32") for s in states])
            return MultiBatch(_core.multi_mp_adamw_update, dt, kw, ws, gs, lists, lrs, wds)
        return MultiBatch(_core.multi_adamw_update, dt, kw, ws, gs, lists, lrs, wds)

    def _run(self, indices: List[Any], weights: List[Any], grads: List[Any],
             states: List[Any]) -> None:
        lrs, wds = self._rates(indices)
        if self.use_fused_step:
            aggregate = self.aggregate_num > 1 and all(
                A.stype(w) == "default" and A.stype(g) == "default"
                for w, g in zip(weights, grads))
            # MXNet 2.0 keeps rescale_grad in a float32 array (nd.full parses a double).
            rescale = A.f32(A.sc(self.rescale_grad, "rescale_grad"))
            if not _finite_nonzero(rescale):
                return  # the fused kernels skip the whole update
            kernel = getattr(_core, self._kernel)
            kw = dict(beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                      epsilon=A.fp(self.epsilon, "epsilon"), rescale_grad=rescale,
                      clip_gradient=A.kclip(self.clip_gradient), aggregated=aggregate)
            for w, g, (m, v), lr, wd in zip(weights, grads, states, lrs, wds):
                wb = A.buf(w)
                gb = A.buf(g, "grad") if not A.is_rsp(g) else A.dense(g, wb.shape)
                kernel(wb, gb, A.buf(m, "mean"), A.buf(v, "var"),
                       eta=_kernel_rate(lr, aggregate, "eta"),
                       wd=_kernel_rate(wd, aggregate, "wd"), **kw)
        else:
            for w, g, (m, v), lr, wd in zip(weights, grads, states, lrs, wds):
                wb = A.buf(w)
                gb = A.buf(g, "grad") if not A.is_rsp(g) else A.dense(g, wb.shape)
                self._step(wb, gb, A.buf(m, "mean"), A.buf(v, "var"), lr, wd)

    def _step_scalars(self, lr: float, wd: float) -> dict:
        """The scalars of MXNet 2.0's step() arithmetic, as its NDArray ops receive them."""
        return dict(lr=A.sc(lr, "lr"), lr_wd=A.sc(lr * wd, "lr*wd"), wd=A.sc(wd, "wd"),
                    beta1=A.sc(self.beta1, "beta1"),
                    one_minus_beta1=A.sc(1. - self.beta1, "1-beta1"),
                    beta2=A.sc(self.beta2, "beta2"),
                    one_minus_beta2=A.sc(1. - self.beta2, "1-beta2"),
                    epsilon=A.sc(self.epsilon, "epsilon"),
                    rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                    clip_gradient=A.pclip(self.clip_gradient))

    def _step(self, w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, lr: float,
              wd: float) -> None:
        raise NotImplementedError

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        if isinstance(index, (list, tuple)):
            self._run(list(index), list(weight), list(grad), list(state))
        else:
            self._run([index], [weight], [grad], [state])

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        if not isinstance(index, (list, tuple)):
            index, weight, grad, state = [index], [weight], [grad], [state]
        weight, grad, state = list(weight), list(grad), list(state)
        if not (self.multi_precision and A.dtype(weight[0]) == A.FLOAT16):
            self._run(list(index), weight, grad, state)
            return
        masters = [s[0] for s in state]
        for w16, w32 in zip(weight, masters):
            A.check_mp_pair(type(self).__name__.lower(), w16, w32)
        self._run(list(index), masters, [A.astype(g, np.float32) for g in grad],
                  [s[1] for s in state])
        for w16, w32 in zip(weight, masters):
            _core.cast_into(A.buf(w32, "weight32"), A.buf(w16))


@register
class AdamW(_DecoupledAdamBase):
    """AdamW with decoupled weight decay (MXNet 2.0 semantics; 1.9.1's contrib kernels).

    ``η_t = η·sqrt(1−β2^t)/(1−β1^t)`` (if ``correct_bias``), ``G = K(rg·g)``,
    ``m = β1·m + (1−β1)·G``, ``v = β2·v + (1−β2)·G²``, ``w = w − η_t·(m/(sqrt(v)+ε) + λ·w)``.
    A ``rescale_grad`` of 0 or a non-finite one skips the update (count still advances).

    Args:
        learning_rate: η (default 0.001). beta1, beta2: decays. epsilon: ε (default 1e-6).
        correct_bias: bias-correct the rate. use_fused_step: the fused kernels (default) or
            MXNet 2.0's step() arithmetic.
    """

    _MULTI_PLAN = True  # lr/wd: multipliers, update count (bias correction) and rescale_grad

    _kernel = "adamw_update"

    def _step(self, w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, lr: float,
              wd: float) -> None:
        _core.adamw_step_update(w, g, m, v, **self._step_scalars(lr, wd))


@register
class AdaBelief(_DecoupledAdamBase):
    """AdaBelief (MXNet 2.0): Adam whose second moment tracks the gradient's deviation from
    its mean.

    ``G = K(rg·g + λ·w)``, ``m = β1·m + (1−β1)·G``, ``s = β2·s + (1−β2)·(G−m)² + ε``,
    ``w = w − η_t·m/(sqrt(s) + ε)``. Same arguments as :class:`AdamW`.
    """

    _kernel = "adabelief_update"

    def _step(self, w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, lr: float,
              wd: float) -> None:
        _core.adabelief_step_update(w, g, m, v, **self._step_scalars(lr, wd))
