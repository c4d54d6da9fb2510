"""Layer-wise adaptive optimizers: LAMB (MXNet 1.9.1) and LANS (MXNet 2.0 extension)."""

from __future__ import annotations

import os
from typing import Any, List

import numpy as np

from .. import _core
from . import _arrays as A
from .base import MultiBatch, Optimizer, multi_dtype, register, tuples_of

__all__ = ["LAMB", "LANS"]


def _bound(value: Any, name: str) -> float:
    """Norm bounds are forwarded only when truthy (-1: not set)."""
    return A.fp(value, name) if value else -1.0


@register
class LAMB(Optimizer):
    """LAMB: Adam-style update rescaled per tensor by the trust ratio ``|w|/|u|``.

    ``G = K(rg·g)``, ``m = β1·m + (1−β1)·G``, ``v = β2·v + (1−β2)·G²``,
    ``u = m̂/(sqrt(v̂) + ε) + λ·w`` (bias-corrected if ``bias_correction``),
    ``w = w − η·(r1/r2)·u`` with ``r1 = clamp(|w|, lower_bound, upper_bound)``, ``r2 = |u|``.
    A list of indices (the Updater's default) runs MXNet's multi-tensor path; a single index
    (or ``aggregate_num <= 1``) the single-tensor path, whose float16 multi-precision form
    never writes its master copy back (MXNet 1.9.1 behaviour, kept for parity).

    Args:
        learning_rate: η (default 0.001). beta1, beta2, epsilon: as Adam (epsilon 1e-6).
        lower_bound, upper_bound: bounds of |w| (used if truthy). bias_correction: as Adam.
    """

    # Step plans (_plan.py): lr/wd and the steps t depend only on the multipliers and the
    # update count.
    _MULTI_PLAN = True

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-6, lower_bound: Any = None, upper_bound: Any = None,
                 bias_correction: bool = True, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction
        self.aggregate_num = max(1, min(45, int(os.getenv("MXNET_OPTIMIZER_AGGREGATION_SIZE",
                                                          "45"))))

    def create_state(self, index: Any, weight: Any) -> Any:
        st = A.stype(weight)
        return (A.zeros_like(weight, stype=st), A.zeros_like(weight, stype=st))

    def _step(self, weight: Any, grad: Any, state: Any, lr: float, wd: float, t: int,
              multi_precision: bool, aggregated: bool) -> None:
        # multi_lamb_update reads lr/wd from float tuples; the single-tensor ops parse them.
        kw = dict(lr=A.f32(lr) if aggregated else A.fp(lr, "lr"),
                  wd=A.f32(wd) if aggregated else A.fp(wd, "wd"),
                  beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                  epsilon=A.fp(self.epsilon, "epsilon"),
                  rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.kclip(self.clip_gradient),
                  lower_bound=_bound(self.lower_bound, "lower_bound"),
                  upper_bound=_bound(self.upper_bound, "upper_bound"),
                  t=t, bias_correction=bool(self.bias_correction), aggregated=aggregated)
        w = A.buf(weight)
        g = A.dense(grad, w.shape)
        if multi_precision:
            weight32 = state[0]
            mean, var = state[1]
            _core.mp_lamb_update(w, g, A.buf(mean, "mean"), A.buf(var, "var"),
                                 A.buf(weight32, "weight32"), **kw)
        else:
            mean, var = state
            _core.lamb_update(w, g, A.buf(mean, "mean"), A.buf(var, "var"), **kw)

    def _multi_prepare(self, indices, weights, grads, states):
        # multi_[mp_]lamb_update over a list of dense tensors as ONE call (the list path).
        dt = multi_dtype(weights, grads, states, indices)
        cls = type(self)
        if (dt is None or self.aggregate_num <= 1 or cls._update_impl is not LAMB._update_impl
                or cls._step is not LAMB._step
                or cls.update_multi_precision is not LAMB.update_multi_precision):
            return None
        mp = bool(self.multi_precision) and dt == A.FLOAT16
        if not tuples_of(states, 2) or (mp and not tuples_of([s[1] for s in states], 2)):
            return None
        steps, lrs, wds = [], [], []
        for i in indices:  # per index, in order, as the list path does
            self._update_count(i)
            steps.append(self._index_update_count[i])
            lrs.append(A.f32(self._get_lr(i)))
            wds.append(A.f32(self._get_wd(i)))
        kw = dict(beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                  epsilon=A.fp(self.epsilon, "epsilon"),
                  rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.kclip(self.clip_gradient),
                  lower_bound=_bound(self.lower_bound, "lower_bound"),
                  upper_bound=_bound(self.upper_bound, "upper_bound"),
                  bias_correction=bool(self.bias_correction))
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        moments = [s[1] for s in states] if mp else states
        lists = [[A.buf(s[0], "mean") for s in moments], [A.buf(s[1], "var") for s in moments]]
        if mp:
            lists.append([A.buf(s[0], "weight32") for s in states])
        lists.append(steps)  # per-tensor update counts t
        kernel = _core.multi_mp_lamb_update if mp else _core.multi_lamb_update
        return MultiBatch(kernel, dt, kw, ws, gs, lists, lrs, wds)

    def _update_impl(self, index: Any, weight: Any, grad: Any, state: Any,
                     multi_precision: bool = False) -> None:
        if (isinstance(index, (tuple, list)) and len(index) > 1
                and multi_precision == (bool(self.multi_precision)
                                        and A.dtype(weight[0]) == A.FLOAT16)):
            batch = self._multi_prepare(index, weight, grad, state)
            if batch is not None:
                batch.run()
                return
        if self.aggregate_num <= 1 or not isinstance(index, (tuple, list)):
            if isinstance(index, (tuple, list)):
                assert len(index) == self.aggregate_num
                index, weight, grad, state = index[0], weight[0], grad[0], state[0]
            self._update_count(index)
            lr = self._get_lr(index)
            wd = self._get_wd(index)
            t = self._index_update_count[index]
            self._step(weight, grad, state, lr, wd, t, multi_precision, aggregated=False)
            return
        step_count: List[int] = []
        lrs: List[float] = []
        wds: List[float] = []
        for i in index:
            self._update_count(i)
            step_count.append(self._index_update_count[i])
            lrs.append(self._get_lr(i))
            wds.append(self._get_wd(i))
        for w, g, s, lr, wd, t in zip(weight, grad, state, lrs, wds, step_count):
            self._step(w, g, s, lr, wd, t, multi_precision, aggregated=True)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        first = weight[0] if isinstance(index, (tuple, list)) else weight
        use_mp = bool(self.multi_precision) and A.dtype(first) == A.FLOAT16
        self._update_impl(index, weight, grad, state, multi_precision=use_mp)


@register
class LANS(Optimizer):
    """LANS (MXNet 2.0): LAMB with a normalised gradient and a Nesterov-style split of the
    update into a momentum term and a gradient term, each with its own trust ratio.

    ``ĝ = K(rg·g/|rg·g|)`` (a zero gradient gives NaN, as in MXNet), Adam moments of ĝ
    (always bias-corrected), ``u_m = m̂/(sqrt(v̂)+ε) + λ·w``, ``u_g = ĝ/(sqrt(v̂)+ε) + λ·w``,
    ``w = w − η·β1·(r1/|u_m|)·u_m − η·(1−β1)·(r1/|u_g|)·u_g``. States are float32.

    Args:
        learning_rate: η (default 0.001). beta1, beta2, epsilon (1e-6): as Adam.
        lower_bound, upper_bound: bounds of |w|. aggregate_num: tensors per fused call
            (<= 45). use_fused_step: MXNet 2.0's fused kernel (default) or its step().
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-6, lower_bound: Any = None, upper_bound: Any = None,
                 aggregate_num: int = 4, use_fused_step: bool = True, **kwargs: Any) -> None:
        A.require(aggregate_num <= 45, "When use_fused_step=True, LAMB only supports "
                  f"aggregate_num <= 45, and receives {aggregate_num}")
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.use_fused_step = use_fused_step
        self.aggregate_num = aggregate_num

    def create_state(self, index: Any, weight: Any) -> Any:
        st = A.stype(weight)
        return (A.zeros_like(weight, dtype=np.float32, stype=st),
                A.zeros_like(weight, dtype=np.float32, stype=st))

    def _run(self, indices: List[Any], weights: List[Any], grads: List[Any], states: List[Any],
             norm_weights: List[Any]) -> None:
        self._update_count(indices)
        step_counts = [self._index_update_count[i] for i in indices]
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        fused = bool(self.use_fused_step)
        if fused:
            clip, p_clip = A.kclip(self.clip_gradient), False
        else:
            p_clip = self.clip_gradient is not None
            clip = A.pclip(self.clip_gradient) if p_clip else 0.0
        kw = dict(beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                  epsilon=A.fp(self.epsilon, "epsilon"),
                  rescale_grad=A.fp(self.rescale_grad, "rescale_grad"), clip_gradient=clip,
                  p_clip=p_clip, lower_bound=_bound(self.lower_bound, "lower_bound"),
                  upper_bound=_bound(self.upper_bound, "upper_bound"), fused=fused,
                  one_minus_beta1=A.sc(1. - self.beta1, "1-beta1"),
                  one_minus_beta2=A.sc(1. - self.beta2, "1-beta2"))
        for w, g, (m, v), lr, wd, t, nw in zip(weights, grads, states, lrs, wds, step_counts,
                                               norm_weights):
            wb = A.buf(w)
            _core.lans_update(wb, A.dense(g, wb.shape), A.buf(m, "mean"), A.buf(v, "var"),
                              lr=A.f32(lr), wd=A.f32(wd), t=t,
                              norm_weight=None if nw is None else A.buf(nw), **kw)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        if not isinstance(index, (list, tuple)):
            index, weight, grad, state = [index], [weight], [grad], [state]
        self._run(list(index), list(weight), list(grad), list(state), [None] * len(index))

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        if not isinstance(index, (list, tuple)):
            index, weight, grad, state = [index], [weight], [grad], [state]
        weight, grad, state = list(weight), list(grad), list(state)
        if not (self.multi_precision and A.dtype(weight[0]) == A.FLOAT16):
            self._run(list(index), weight, grad, state, [None] * len(weight))
            return
        masters = [s[0] for s in state]
        for w16, w32 in zip(weight, masters):
            A.check_mp_pair(type(self).__name__.lower(), w16, w32)
        self._run(list(index), masters, [A.astype(g, np.float32) for g in grad],
                  [s[1] for s in state], weight if self.use_fused_step else [None] * len(weight))
        for w16, w32 in zip(weight, masters):
            _core.cast_into(A.buf(w32, "weight32"), A.buf(w16))
