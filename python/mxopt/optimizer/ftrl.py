"""Follow-the-regularized-leader optimizers: Ftrl and FTML."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from . import _arrays as A
from .base import Optimizer, register

__all__ = ["Ftrl", "FTML"]


@register
class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al.), MXNet's ftrl_update.

    ``G = K(rg·g)``, ``z += G − (sqrt(n + G²) − sqrt(n))·w/η``, ``n += G²``,
    ``w = (sign(z)·λ1 − z)/((β + sqrt(n))/η + λ)`` where ``|z| > λ1``, else 0.
    ``learning_rate`` is NOT passed to the base class (a scheduler keeps its own base_lr).
    Row_sparse updates are lazy only for a row_sparse weight. States are float32.

    Args:
        lamda1: L1 strength λ1. learning_rate: η (default 0.1). beta: β.
    """

    def __init__(self, lamda1: float = 0.01, learning_rate: float = 0.1, beta: float = 1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lamda1 = lamda1
        self.beta = beta
        self.lr = learning_rate

    def create_state(self, index: Any, weight: Any) -> Any:
        st = A.stype(weight)
        return (A.zeros_like(weight, dtype=np.float32, stype=st),
                A.zeros_like(weight, dtype=np.float32, stype=st))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        wd = self._get_wd(index)
        lr = self._get_lr(index)
        z, n = state
        kw = dict(lr=A.fp(lr, "lr"), wd=A.fp(wd, "wd"), lamda1=A.fp(self.lamda1, "lamda1"),
                  beta=A.fp(self.beta, "beta"),
                  rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.kclip(self.clip_gradient))
        w = A.buf(weight)
        if A.is_rsp(weight) and A.is_rsp(grad):
            data, idx = A.rsp_parts(grad, w.shape)
            _core.ftrl_update_rsp(w, data, idx, A.buf(z, "z"), A.buf(n, "n"), **kw)
        else:
            _core.ftrl_update(w, A.dense(grad, w.shape), A.buf(z, "z"), A.buf(n, "n"), **kw)


@register
class FTML(Optimizer):
    """Follow the moving leader (Zheng & Kwok), MXNet's ftml_update.

    ``G = K(rg·g + λ·w)``, ``v = β2·v + (1−β2)·G²``,
    ``d_t = (1−β1^t)/η·(sqrt(v/(1−β2^t)) + ε)``, ``z = β1·z + (1−β1)·G − (d_t − β1·d)·w``,
    ``w = −z/d_t``. Row_sparse gradients are densified.

    Args:
        beta1 (default 0.6), beta2 (0.999), epsilon (1e-8).
    """

    def __init__(self, beta1: float = 0.6, beta2: float = 0.999, epsilon: float = 1e-8,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index: Any, weight: Any) -> Any:
        return (A.zeros_like(weight), A.zeros_like(weight), A.zeros_like(weight))

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        t = self._index_update_count[index]
        prev_d, prev_v, prev_z = state
        w = A.buf(weight)
        _core.ftml_update(w, A.dense(grad, w.shape), A.buf(prev_d, "d"), A.buf(prev_v, "v"),
                          A.buf(prev_z, "z"), lr=A.fp(lr, "lr"), wd=A.fp(wd, "wd"),
                          beta1=A.fp(self.beta1, "beta1"), beta2=A.fp(self.beta2, "beta2"),
                          epsilon=A.sc(self.epsilon, "epsilon"),  # a double field
                          rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                          clip_grad=A.kclip(self.clip_gradient, "clip_grad"), t=t)
