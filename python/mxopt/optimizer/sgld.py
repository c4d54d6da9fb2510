"""SGLD and DCASGD (MXNet's NDArray-arithmetic optimizers)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _core
from .. import random as mx_random
from . import _arrays as A
from .base import Optimizer, register

__all__ = ["SGLD", "DCASGD"]

def _gaussian(shape: Any, dtype: np.dtype, scale: float) -> np.ndarray:
    """N(0, scale²) samples of ``dtype`` from ``mx.random`` (seeded by ``mx.random.seed``)."""
    sample = mx_random.normal(0, scale, shape=tuple(shape), dtype=dtype)
    return np.ascontiguousarray(A.buf(sample, "noise"), dtype=dtype)


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics.

    ``G = clip(g·rg)``, ``w = w + (−η/2)·(G + λ·w)``, then ``w = w + N(0, η)`` noise
    (standard deviation ``sqrt(η)``, in the weight's dtype). No state.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def create_state(self, index: Any, weight: Any) -> Any:
        return None

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        w = A.buf(weight)
        g = A.dense(grad, w.shape)
        A.check_like("sgld_update", w, grad=g)  # before drawing noise
        kw = dict(neg_half_lr=A.sc(- A.py(lr) / 2, "-lr/2"), wd=A.sc(wd, "wd"),
                  rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.pclip(self.clip_gradient))
        noise = _gaussian(w.shape, w.dtype, math.sqrt(lr))
        _core.sgld_update(w, g, noise, **kw)


@register
class DCASGD(Optimizer):
    """Delay-compensated asynchronous SGD (Zheng et al.).

    ``G = clip(g·rg)``, ``Δ = −η·(G + λ·w + lamda·G²·(w − w_prev))``, ``w_prev = w``,
    ``w = w + Δ``; ``w_prev`` starts as a copy of the initial weight. Like MXNet 1.9.1, a
    non-zero momentum cannot run (ValueError for multi-element weights, AssertionError else).

    Args:
        momentum: must stay 0 in practice. lamda: compensation strength (default 0.04).
    """

    def __init__(self, momentum: float = 0.0, lamda: float = 0.04, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.weight_previous: dict = {}
        self.lamda = lamda

    def create_state(self, index: Any, weight: Any) -> Any:
        if self.momentum == 0.0:
            return (None, weight.copy())
        return (A.zeros_like(weight), weight.copy())

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        mom, previous_weight = state
        w = A.buf(weight)
        g = A.dense(grad, w.shape)
        if mom is not None and bool(mom):
            self._momentum_update(w, g, A.buf(mom, "mom"), A.buf(previous_weight), lr, wd)
            return
        A.require(self.momentum == 0.0, "DCASGD: a non-zero momentum cannot run (as in MXNet "
                  f"1.9.1, whose momentum branch is unreachable), got momentum={self.momentum}")
        _core.dcasgd_update(w, g, A.buf(previous_weight, "previous_weight"),
                            lr=A.sc(lr, "lr"), wd=A.sc(wd, "wd"),
                            lamda=A.sc(self.lamda, "lamda"),
                            rescale_grad=A.sc(self.rescale_grad, "rescale_grad"),
                            clip_gradient=A.pclip(self.clip_gradient))

    def _momentum_update(self, w: np.ndarray, g: np.ndarray, mom: np.ndarray,
                         prev: np.ndarray, lr: float, wd: float) -> None:
        """MXNet's momentum branch (reachable only for a non-zero one-element momentum)."""
        t = w.dtype.type
        G = g * t(self.rescale_grad)
        if self.clip_gradient is not None:
            hi = t(np.float32(self.clip_gradient))
            lo = t(np.float32(-self.clip_gradient))
            G = np.where(G > hi, hi, np.where(G < lo, lo, G)).astype(w.dtype)
        mom *= t(self.momentum)
        mom += t(-lr) * ((G + t(wd) * w) + G * t(self.lamda) * G * (w - prev))
        prev[...] = w
        w += mom
