"""RMSProp (MXNet's rmsprop_update, and rmspropalex_update when centered)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from . import _arrays as A
from .base import MultiBatch, Optimizer, multi_dtype, register, tuples_of

__all__ = ["RMSProp"]


@register
class RMSProp(Optimizer):
    """RMSProp, plain (Tieleman & Hinton) or centered (Graves).

    ``G = K(rg·g + λ·w)``; plain: ``n = (1−γ1)·G² + γ1·n``, ``w = w − η·G/sqrt(n + ε)``;
    centered: ``n = (1−γ1)·G² + γ1·n``, ``ḡ = (1−γ1)·G + γ1·ḡ``,
    ``δ = γ2·δ − η·G/sqrt(n − ḡ² + ε)``, ``w = w + δ``. Weights are clipped to
    ``[-clip_weights, clip_weights]`` when ``clip_weights > 0``. States are float32.

    Args:
        learning_rate: η (default 0.001). gamma1, gamma2: decays (gamma2 only when centered).
        epsilon: ε. centered: use the centered variant. clip_weights: weight bound.
    """

    # The Updater may cache this optimizer's multi-tensor steps (see _plan.py): the lr/wd of
    # _multi_prepare depend only on the index's multipliers and update count, and without an
    # lr scheduler not on the count either.
    _MULTI_PLAN = True
    _MULTI_PLAN_STATIC = True

    def __init__(self, learning_rate: float = 0.001, gamma1: float = 0.9, gamma2: float = 0.9,
                 epsilon: float = 1e-8, centered: bool = False, clip_weights: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def create_state(self, index: Any, weight: Any) -> Any:
        st = A.stype(weight)
        if self.centered:
            return (A.zeros_like(weight, dtype=np.float32, stype=st),
                    A.zeros_like(weight, dtype=np.float32, stype=st),
                    A.zeros_like(weight, dtype=np.float32, stype=st))
        return (A.zeros_like(weight, dtype=np.float32, stype=st),)

    def _step_kwargs(self, index: Any) -> dict:
        """Advance index's count; the rmsprop_update arguments of its step."""
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        return dict(lr=A.fp(lr, "lr"), wd=A.fp(wd, "wd"), gamma1=A.fp(self.gamma1, "gamma1"),
                    epsilon=A.fp(self.epsilon, "epsilon"),
                    rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                    clip_gradient=A.kclip(self.clip_gradient),
                    clip_weights=A.kclip(self.clip_weights, "clip_weights"))

    def _multi_prepare(self, indices, weights, grads, states):
        dt = multi_dtype(weights, grads, states, indices)
        if (dt is None or type(self).update is not RMSProp.update
                or type(self).update_multi_precision is not Optimizer.update_multi_precision
                or (self.multi_precision and dt == A.FLOAT16)
                or not tuples_of(states, 3 if self.centered else 1)
                or any(A.dtype(x) != dt for s in states for x in s)):
            return None
        lrs, wds = [], []
        kw: dict = {}
        for index in indices:  # per index, in order, as the per-tensor calls would
            kw = self._step_kwargs(index)
            lrs.append(kw.pop("lr"))
            wds.append(kw.pop("wd"))
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        if self.centered:
            kw["gamma2"] = A.fp(self.gamma2, "gamma2")
            lists = [[A.buf(s[k], name) for s in states]
                     for k, name in enumerate(("n", "g", "delta"))]
            return MultiBatch(_core.multi_rmspropalex_update, dt, kw, ws, gs, lists, lrs, wds)
        return MultiBatch(_core.multi_rmsprop_update, dt, kw, ws, gs,
                          [[A.buf(s[0], "n") for s in states]], lrs, wds)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        kw = self._step_kwargs(index)
        w = A.buf(weight)
        g = A.dense(grad, w.shape)
        if not self.centered:
            (n,) = state
            _core.rmsprop_update(w, g, A.buf(n, "n"), **kw)
        else:
            n, gbar, delta = state
            _core.rmspropalex_update(w, g, A.buf(n, "n"), A.buf(gbar, "g"),
                                     A.buf(delta, "delta"), gamma2=A.fp(self.gamma2, "gamma2"),
                                     **kw)
