"""Signum and signSGD (MXNet's signum_update / signsgd_update)."""

from __future__ import annotations

from typing import Any

from .. import _core
from . import _arrays as A
from .base import Optimizer, register

__all__ = ["Signum"]


@register
class Signum(Optimizer):
    """Sign of the momentum (Signum) or of the gradient (signSGD when ``momentum == 0``).

    Signum: ``mom = ((μ·mom) − ((1−μ)·λ)·w) − (1−μ)·K(rg·g)``;
    ``w = (1 − η·wd_lh)·w + η·sign(mom)``.
    signSGD: ``w = (1 − η·λ)·w − η·sign(g)``; it ignores ``rescale_grad`` and
    ``clip_gradient`` and (like MXNet) rejects a non-zero ``wd_lh``.
    Row_sparse gradients are densified.

    Args:
        learning_rate: η (default 0.01). momentum: μ. wd_lh: decoupled weight decay.
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, wd_lh: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index: Any, weight: Any) -> Any:
        if self.momentum != 0.0:
            return A.zeros_like(weight, stype=A.stype(weight))
        return None

    def _update_impl(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        w = A.buf(weight)
        g = A.dense(grad, w.shape)
        if state is not None:
            _core.signum_update(w, g, A.buf(state, "mom"), lr=A.fp(lr, "lr"), wd=A.fp(wd, "wd"),
                                rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                                clip_gradient=A.kclip(self.clip_gradient),
                                momentum=A.fp(self.momentum, "momentum")
                                if self.momentum > 0 else 0.0,
                                wd_lh=A.fp(self.wd_lh, "wd_lh") if self.wd_lh else 0.0)
        else:
            if self.wd_lh:
                raise A.ParameterError(
                    "signsgd_update: Cannot find argument 'wd_lh' (Signum with momentum 0 is "
                    "signSGD, which has no wd_lh; MXNet rejects it)")
            # signsgd_update also parses rescale_grad / clip_gradient (and ignores them).
            A.fp(self.rescale_grad, "rescale_grad")
            A.kclip(self.clip_gradient)
            _core.signsgd_update(w, g, lr=A.fp(lr, "lr"), wd=A.fp(wd, "wd"))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state)
