"""AdaGrad-family optimizers: AdaGrad, GroupAdaGrad (MXNet contrib) and AdaDelta.

MXNet keeps their states in float32: float32 weights (or float16 with multi_precision) only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from . import _arrays as A
from .base import MultiBatch, Optimizer, multi_dtype, register

__all__ = ["AdaGrad", "GroupAdaGrad", "AdaDelta"]


@register
class AdaGrad(Optimizer):
    """AdaGrad: per-element rates from the accumulated squared gradient.

    dense (``nd.clip`` rule, active iff ``clip_gradient is not None``):
    ``G = clip(g·rg)``, ``h = h + G²``, ``w = w + (G/sqrt(h + eps) + λ·w)·(−η)``.
    row_sparse gradient (lazy, kernel clip, requires ``wd == 0``):
    ``h_r += G²``, ``w_r = w_r − (G/sqrt(h_r + eps))·η`` for the gradient's rows only.

    Args:
        eps: the constant added inside the square root (default 1e-7).
    """

    # The Updater may cache this optimizer's multi-tensor steps (see _plan.py): the lr/wd of
    # _multi_prepare depend only on the index's multipliers and update count, and without an
    # lr scheduler not on the count either.
    _MULTI_PLAN = True
    _MULTI_PLAN_STATIC = True

    def __init__(self, eps: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index: Any, weight: Any) -> Any:
        return A.zeros_like(weight, dtype=np.float32, stype=A.stype(weight))

    def _multi_prepare(self, indices, weights, grads, states):
        dt = multi_dtype(weights, grads, states, indices)
        if (dt is None or type(self).update is not AdaGrad.update
                or type(self).update_multi_precision is not Optimizer.update_multi_precision
                or (self.multi_precision and dt == A.FLOAT16)
                or any(A.dtype(s) != dt for s in states)):
            return None
        lrs, wds = [], []
        for index in indices:  # per index, in order, as the per-tensor calls would
            self._update_count(index)
            lrs.append(A.sc(self._get_lr(index), "lr"))
            wds.append(A.sc(self._get_wd(index), "wd"))
        kw = dict(rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                  epsilon=A.sc(self.float_stable_eps, "eps"),
                  clip_gradient=A.pclip(self.clip_gradient))
        return MultiBatch(_core.multi_adagrad_update, dt, kw, [A.buf(w) for w in weights],
                          [A.buf(g, "grad") for g in grads],
                          [[A.buf(s, "history") for s in states]], lrs, wds)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        w = A.buf(weight)
        if A.is_rsp(grad):
            if np.float32(wd) != 0:
                raise A.ParameterError(f"sparse adagrad_update does not support wd (got "
                                       f"wd={wd}); use wd=0 or a dense gradient")
            data, idx = A.rsp_parts(grad, w.shape)
            _core.adagrad_update_rsp(w, data, idx, A.buf(state, "history"), lr=A.fp(lr, "lr"),
                                     rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                                     epsilon=A.fp(self.float_stable_eps, "epsilon"),
                                     clip_gradient=A.kclip(self.clip_gradient))
        else:
            _core.adagrad_update(w, A.buf(grad, "grad"), A.buf(state, "history"),
                                 lr=A.sc(lr, "lr"), wd=A.sc(wd, "wd"),
                                 rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                                 epsilon=A.sc(self.float_stable_eps, "eps"),
                                 clip_gradient=A.pclip(self.clip_gradient))


@register
class GroupAdaGrad(Optimizer):
    """AdaGrad with one accumulator per row of a 2-D weight (MXNet contrib).

    ``h_r += mean_j(G_rj²)``, ``w_r = w_r − η·G_r/sqrt(h_r + eps)``; lazy for row_sparse
    gradients. Weight decay is not supported (``wd`` must be 0).

    Args:
        eps: the constant added inside the square root (default 1e-5).
    """

    def __init__(self, eps: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index: Any, weight: Any) -> Any:
        A.require(len(weight.shape) == 2,
                  f"GroupAdaGrad needs a 2-D weight, got shape {tuple(weight.shape)}")
        if isinstance(weight, np.ndarray):
            return np.zeros((weight.shape[0], 1), dtype=np.float32)
        from ..ndarray import zeros
        stype = A.stype(weight)
        return zeros((weight.shape[0], 1), dtype=np.float32,
                     stype=None if stype == "default" else stype)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        A.require(wd == 0, "Weight decay is not supported for GroupAdaGrad")
        w = A.buf(weight)
        h = A.buf(state, "history")
        if A.is_rsp(grad):
            data, idx = A.rsp_parts(grad, w.shape)
            _core.group_adagrad_update_rsp(w, data, idx, h, lr=A.fp(lr, "lr"),
                                           rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                                           epsilon=A.fp(self.float_stable_eps, "epsilon"),
                                           clip_gradient=A.kclip(self.clip_gradient))
        else:
            _core.group_adagrad_update(w, A.buf(grad, "grad"), h, lr=A.sc(lr, "lr"),
                                       rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                                       epsilon=A.sc(self.float_stable_eps, "eps"),
                                       clip_gradient=A.pclip(self.clip_gradient))


@register
class AdaDelta(Optimizer):
    """AdaDelta (no learning rate).

    ``g *= rg`` (in place on the caller's gradient, as MXNet does), ``G = clip(g)``,
    ``acc_g = ρ·acc_g + (1−ρ)·G²``, ``Δ = sqrt(acc_Δ + ε)/sqrt(acc_g + ε)·G``,
    ``acc_Δ = ρ·acc_Δ + (1−ρ)·Δ²``, ``w = w − (Δ + λ·w)``.

    Args:
        rho: decay (default 0.9). epsilon: ε (default 1e-5).
    """

    def __init__(self, rho: float = 0.90, epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index: Any, weight: Any) -> Any:
        return (A.zeros_like(weight, dtype=np.float32), A.zeros_like(weight, dtype=np.float32))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        wd = self._get_wd(index)
        self._update_count(index)
        acc_g, acc_delta = state
        w = A.buf(weight)
        kw = dict(rho=A.sc(self.rho, "rho"), one_minus_rho=A.sc(1. - self.rho, "1-rho"),
                  epsilon=A.sc(self.epsilon, "epsilon"), wd=A.sc(wd, "wd"),
                  rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.pclip(self.clip_gradient))
        if A.is_rsp(grad):
            g = A.dense(grad, w.shape)
            _core.adadelta_update(w, g, A.buf(acc_g, "acc_g"), A.buf(acc_delta, "acc_delta"),
                                  **kw)
            # MXNet rescales the caller's (row_sparse) gradient in place.
            grad._data *= grad._data.dtype.type(kw["rescale_grad"])
        else:
            _core.adadelta_update(w, A.buf(grad, "grad"), A.buf(acc_g, "acc_g"),
                                  A.buf(acc_delta, "acc_delta"), **kw)
