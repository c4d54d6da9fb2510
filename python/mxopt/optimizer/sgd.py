"""SGD-family optimizers: SGD (and its alias class ccSGD), NAG, LBSGD and LARS.

All use the MXNet sign convention for momentum: the state is the negative, lr-scaled
velocity, ``mom = μ·mom − η·λ·w − η·clip(rg·g)`` and ``w += mom``.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from typing import Any, List, Optional

import numpy as np

from .. import _core
from ..ndarray import NDArray, RowSparseNDArray
from . import _arrays as A
from .base import MultiBatch, Optimizer, multi_dtype, register, tuples_of

__all__ = ["SGD", "ccSGD", "NAG", "LBSGD", "LARS"]


def _sgd_step(weight: Any, grad: Any, mom: Any, *, lr: float, wd: float, rescale_grad: float,
              clip_gradient: float, momentum: float, lazy_update: bool, aggregated: bool,
              preloaded: bool = False) -> None:
    """One SGD step of one tensor with MXNet's kernel selection.

    aggregated: the dense multi-tensor kernels (multi_sgd_[mom_]update, or LARS'
    preloaded_multi_sgd_* when ``preloaded``); otherwise the single-tensor ops (sgd_update /
    sgd_mom_update, lazy or standard for row_sparse grads). ``rescale_grad``, ``clip_gradient``
    and ``momentum`` are already operator values (A.fp); ``lr``/``wd`` are converted here: the
    multi-tensor kernels read them from float tuples/arrays, the single ops parse them.
    """
    if aggregated and not A.is_rsp(grad):
        lr, wd = A.f32(lr, "lrs"), A.f32(wd, "wds")
    else:
        lr, wd = A.fp(lr, "lr"), A.fp(wd, "wd")
    kw = dict(lr=lr, wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient)
    w = A.buf(weight)
    if A.is_rsp(grad):
        data, idx = A.rsp_parts(grad, w.shape)
        if mom is not None:
            _core.sgd_mom_update_rsp(w, data, idx, A.buf(mom, "mom"), momentum=momentum,
                                     lazy_update=lazy_update, **kw)
        else:
            _core.sgd_update_rsp(w, data, idx, lazy_update=lazy_update, **kw)
        return
    g = A.buf(grad, "grad")
    if aggregated and preloaded:
        _core.preloaded_sgd_mom_update(w, g, None if mom is None else A.buf(mom, "mom"),
                                       momentum=momentum, **kw)
    elif mom is not None:
        _core.sgd_mom_update(w, g, A.buf(mom, "mom"), momentum=momentum, **kw)
    elif aggregated:
        _core.sgd_mom_update(w, g, None, momentum=momentum, **kw)
    else:
        _core.sgd_update(w, g, **kw)


def _mp_sgd_step(weight: Any, grad: Any, mom32: Any, weight32: Any, *, lr: float, wd: float,
                 rescale_grad: float, clip_gradient: float, momentum: float,
                 aggregated: bool) -> None:
    """One multi-precision SGD step (float16 weight, float32 master); row_sparse gradients are
    densified (MXNet has no row_sparse mp kernel)."""
    if aggregated:
        lr, wd = A.f32(lr, "lrs"), A.f32(wd, "wds")
    else:
        lr, wd = A.fp(lr, "lr"), A.fp(wd, "wd")
    kw = dict(lr=lr, wd=wd, rescale_grad=rescale_grad, clip_gradient=clip_gradient)
    w = A.buf(weight)
    g = A.dense(grad, w.shape)
    w32 = A.buf(weight32, "weight32")
    if mom32 is not None:
        _core.mp_sgd_mom_update(w, g, A.buf(mom32, "mom"), w32, momentum=momentum, **kw)
    elif aggregated:
        _core.mp_sgd_mom_update(w, g, None, w32, **kw)
    else:
        _core.mp_sgd_update(w, g, w32, **kw)


def _op_kwargs(opt: Optimizer, momentum: Any) -> dict:
    """rescale_grad / clip_gradient / momentum as MXNet's SGD operators receive them
    (momentum is forwarded only when > 0; the operators default to 0)."""
    return dict(rescale_grad=A.fp(opt.rescale_grad, "rescale_grad"),
                clip_gradient=A.kclip(opt.clip_gradient),
                momentum=A.fp(momentum, "momentum") if opt.momentum > 0 else 0.0)


def _aggregation_size(default: str) -> int:
    return int(os.getenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", default))


def _mp_state(opt: Optimizer, index: Any, weight: Any, name: str) -> Any:
    """SGD/NAG/LARS multi-precision state layout: (inner state, float32 master copy)."""
    if opt.multi_precision and A.dtype(weight) == A.FLOAT16:
        weight_master_copy = A.astype(weight, np.float32)
        return (opt.create_state(index, weight_master_copy), weight_master_copy)
    if A.dtype(weight) == A.FLOAT16 and not opt.multi_precision:
        warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                      "slow convergence. Consider using multi_precision=True option of the "
                      f"{name} optimizer", stacklevel=2)
    return opt.create_state(index, weight)


def _lists(index: Any, weight: Any, grad: Any, state: Any):
    if not isinstance(index, (tuple, list)):
        return [index], [weight], [grad], [state]
    return list(index), list(weight), list(grad), list(state)


def _all_dense(weights: List[Any], grads: List[Any]) -> bool:
    return all(A.stype(w) == "default" and A.stype(g) == "default"
               for w, g in zip(weights, grads))


def _use_mp(opt: Optimizer, index: Any, weight: Any) -> bool:
    first = weight[0] if isinstance(index, (tuple, list)) else weight
    return bool(opt.multi_precision) and A.dtype(first) == A.FLOAT16


@register
class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay (MXNet's SGD).

    ``mom = ((μ·mom) − (η·λ)·w) − η·K(rg·g)``, ``w = w + mom`` (without momentum
    ``w = (1 − η·λ)·w − η·K(rg·g)``), K the kernel clip (active iff ``clip_gradient > 0``).
    With a row_sparse gradient and ``lazy_update`` only the gradient's rows change.

    Args:
        momentum: μ (a state is created iff it is non-zero; only μ > 0 is applied).
        lazy_update: lazy row_sparse updates (rows absent from the gradient keep their
            weight and momentum).
        **kwargs: see :class:`Optimizer`.

    Example::

        >>> opt = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=1e-4)
    """

    # The Updater may cache this optimizer's multi-tensor steps (see _plan.py): the lr/wd of
    # _multi_prepare depend only on the index's multipliers and update count, and without an
    # lr scheduler not on the count either.
    _MULTI_PLAN = True
    _MULTI_PLAN_STATIC = True

    def __init__(self, momentum: float = 0.0, lazy_update: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = _aggregation_size("4")

    def create_state_multi_precision(self, index: Any, weight: Any) -> Any:
        return _mp_state(self, index, weight, "SGD")

    def create_state(self, index: Any, weight: Any) -> Any:
        if self.momentum != 0.0:
            stype = A.stype(weight) if self.lazy_update else "default"
            return A.zeros_like(weight, stype=stype)
        return None

    def _multi_prepare(self, indices, weights, grads, states):
        # MXNet's aggregated dense path (multi_[mp_]sgd_[mom_]update), one chunk of indices.
        dt = multi_dtype(weights, grads, states, indices)
        if (dt is None or type(self)._update_impl is not SGD._update_impl
                or type(self).update_multi_precision is not SGD.update_multi_precision):
            return None
        mp = bool(self.multi_precision) and dt == A.FLOAT16
        if mp and not tuples_of(states, 2):
            return None
        self._update_count(indices)
        lrs = [A.f32(lr, "lrs") for lr in self._get_lrs(indices)]
        wds = [A.f32(wd, "wds") for wd in self._get_wds(indices)]
        kw = _op_kwargs(self, self.momentum)
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        moms = ([A.buf(s[0] if mp else s, "mom") for s in states] if self.momentum > 0
                else None)
        if mp:
            return MultiBatch(_core.multi_mp_sgd_mom_update, dt, kw, ws, gs,
                              [moms, [A.buf(s[1], "weight32") for s in states]], lrs, wds)
        return MultiBatch(_core.multi_sgd_mom_update, dt, kw, ws, gs, [moms], lrs, wds)

    def _update_impl(self, indices: Any, weights: Any, grads: Any, states: Any,
                     multi_precision: bool = False) -> None:
        indices, weights, grads, states = _lists(indices, weights, grads, states)
        if len(indices) > 1 and multi_precision == _use_mp(self, indices, weights):
            batch = self._multi_prepare(indices, weights, grads, states)
            if batch is not None:
                batch.run()
                return
        aggregate = _all_dense(weights, grads)
        self._update_count(indices)
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        kw = _op_kwargs(self, self.momentum)
        for weight, grad, state, lr, wd in zip(weights, grads, states, lrs, wds):
            if not multi_precision:
                # The multi-tensor kernels only carry momentum when momentum > 0.
                mom = state if (not aggregate or self.momentum > 0) else None
                _sgd_step(weight, grad, mom, lr=lr, wd=wd, lazy_update=self.lazy_update,
                          aggregated=aggregate, **kw)
            else:
                mom32 = state[0] if (not aggregate or self.momentum > 0) else None
                _mp_sgd_step(weight, grad, mom32, state[1], lr=lr, wd=wd, aggregated=aggregate,
                             **kw)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state,
                          multi_precision=_use_mp(self, index, weight))


@register
class ccSGD(SGD):  # noqa: N801 - MXNet's name
    """Deprecated alias of :class:`SGD` kept by MXNet 1.9.1 (identical behaviour)."""

    _MULTI_PLAN = True  # SGD's step plans apply unchanged (see SGD)
    _MULTI_PLAN_STATIC = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


@register
class NAG(Optimizer):
    """Nesterov accelerated gradient (MXNet's nag_mom_update).

    ``mom = μ·mom``; ``w' = (w − mom) + (μ+1)·(mom − η·(K(rg·g) + λ·w))``;
    ``mom = mom − η·(K(rg·g) + λ·w')`` (MXNet uses the UPDATED weight here); ``w = w'``.
    Without momentum: plain SGD (lazy for row_sparse gradients, as MXNet's sgd_update);
    with momentum row_sparse gradients are densified.

    Args:
        momentum: μ.
        **kwargs: see :class:`Optimizer`.
    """

    _MULTI_PLAN = True  # lr/wd depend only on the multipliers and the update count
    _MULTI_PLAN_STATIC = True  # ... and without an lr scheduler not on the count

    def __init__(self, momentum: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state_multi_precision(self, index: Any, weight: Any) -> Any:
        return _mp_state(self, index, weight, "NAG")

    def create_state(self, index: Any, weight: Any) -> Any:
        if self.momentum != 0.0:
            return A.zeros_like(weight)
        return None

    def _multi_prepare(self, indices, weights, grads, states):
        # The per-index nag_mom_update / sgd_update (mp_ forms for float16 with
        # multi_precision) of a list of dense tensors as one call, counts advanced per index.
        dt = multi_dtype(weights, grads, states, indices)
        if (dt is None or type(self)._update_impl is not NAG._update_impl
                or type(self).update_multi_precision is not NAG.update_multi_precision):
            return None
        mp = bool(self.multi_precision) and dt == A.FLOAT16
        if mp and not tuples_of(states, 2):
            return None
        moms = [s[0] if mp else s for s in states]
        has_mom = moms[0] is not None
        if any((m is not None) != has_mom for m in moms):
            return None
        lrs, wds = [], []
        for index in indices:  # per index, in order, as the per-tensor calls would
            self._update_count(index)
            lrs.append(A.fp(self._get_lr(index), "lr"))
            wds.append(A.fp(self._get_wd(index), "wd"))
        kw = dict(rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.kclip(self.clip_gradient),
                  momentum=A.fp(self.momentum, "momentum") if self.momentum > 0 else 0.0)
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        lists = [[A.buf(m, "mom") for m in moms]] if has_mom else []
        if mp:
            lists.append([A.buf(s[1], "weight32") for s in states])
            kernel = _core.multi_mp_nag_mom_update if has_mom else _core.multi_mp_sgd_update
        else:
            kernel = _core.multi_nag_mom_update if has_mom else _core.multi_sgd_update
        return MultiBatch(kernel, dt, kw, ws, gs, lists, lrs, wds)

    def _update_impl(self, index: Any, weight: Any, grad: Any, state: Any,
                     multi_precision: bool = False) -> None:
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        kw = dict(lr=A.fp(lr, "lr"), wd=A.fp(wd, "wd"),
                  rescale_grad=A.fp(self.rescale_grad, "rescale_grad"),
                  clip_gradient=A.kclip(self.clip_gradient))
        momentum = A.fp(self.momentum, "momentum") if self.momentum > 0 else 0.0
        w = A.buf(weight)
        if not multi_precision and state is None and A.is_rsp(grad):
            # Without momentum NAG calls sgd_update, whose row_sparse form is lazy by default.
            data, idx = A.rsp_parts(grad, w.shape)
            _core.sgd_update_rsp(w, data, idx, lazy_update=True, **kw)
            return
        g = A.dense(grad, w.shape)
        if not multi_precision:
            if state is not None:
                _core.nag_mom_update(w, g, A.buf(state, "mom"), momentum=momentum, **kw)
            else:
                _core.sgd_update(w, g, **kw)
        else:
            if state[0] is not None:
                _core.mp_nag_mom_update(w, g, A.buf(state[0], "mom"), A.buf(state[1], "weight32"),
                                        momentum=momentum, **kw)
            else:
                _core.mp_sgd_update(w, g, A.buf(state[1], "weight32"), **kw)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        use_mp = (bool(self.multi_precision) and A.dtype(weight) == A.FLOAT16
                  and isinstance(state, (tuple, list)))
        self._update_impl(index, weight, grad, state, multi_precision=use_mp)


# ---- LBSGD -----------------------------------------------------------------------------------
def _add(a: Any, b: Any) -> Any:
    """a + b as a new array (row_sparse + row_sparse stays row_sparse, like MXNet; the
    scalar 0 a reset accumulator holds keeps b's storage)."""
    if isinstance(a, (int, float)):
        if isinstance(b, RowSparseNDArray):
            return RowSparseNDArray(b._data + b._data.dtype.type(a), b._indices.copy(), b.shape)
        return b + a
    if isinstance(a, RowSparseNDArray) and isinstance(b, RowSparseNDArray):
        rows = np.union1d(a._indices, b._indices).astype(np.int64)
        data = np.zeros((rows.size,) + tuple(a.shape[1:]), dtype=a._data.dtype)
        data[np.searchsorted(rows, a._indices)] += a._data
        data[np.searchsorted(rows, b._indices)] += b._data
        return RowSparseNDArray(data, rows, a.shape)
    if isinstance(a, RowSparseNDArray) or isinstance(b, RowSparseNDArray):
        shape = a.shape
        out = A.dense(a, shape) + A.dense(b, shape)
        return NDArray(out) if not isinstance(a, np.ndarray) else out
    return a + b


def _div(a: Any, s: Any) -> Any:
    """a / s as a new array (a scalar divisor is cast to the array dtype)."""
    if isinstance(a, RowSparseNDArray):
        return RowSparseNDArray(a._data / a._data.dtype.type(s), a._indices.copy(), a.shape)
    return a / s


def _sum_of_squares(v: Any) -> Any:
    """MXNet LBSGD's ``multiply(v, v).asnumpy().sum()``: dtype products, numpy's sum."""
    x = A.dense(v, tuple(v.shape))
    return np.multiply(x, x).sum()


@register
class LBSGD(Optimizer):
    """Large-batch SGD: gradient accumulation over ``batch_scale`` calls plus a warmup
    multiplier of the learning rate (linear, power2, sqrt or LARS).

    Every ``batch_scale``-th call per index takes an SGD step with the averaged gradient and
    ``η·mult``; other calls leave the weight as it is. The first accumulated gradient of a
    cycle is the caller's array itself (MXNet keeps a reference, not a copy).

    Args:
        momentum: μ. multi_precision: float16 master copies.
        warmup_strategy: 'linear', 'power2', 'sqrt' or 'lars'.
        warmup_epochs, updates_per_epoch: warmup length (in updates: their product).
        batch_scale: number of calls accumulated per step (and the final multiplier).
        begin_epoch: start epoch (sets the initial count); num_epochs: stored, unused.
    """

    def __init__(self, momentum: float = 0.0, multi_precision: bool = False,
                 warmup_strategy: str = "linear", warmup_epochs: int = 5, batch_scale: int = 1,
                 updates_per_epoch: int = 32, begin_epoch: int = 0, num_epochs: int = 60,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        logging.info("Running Large-Batch SGD Algorithm")
        logging.info("(Batch_scale=%f, warmup_epochs=%d, warmup_strategy=%s, "
                     "updates_per_epoch=%d)", batch_scale, warmup_epochs, warmup_strategy,
                     updates_per_epoch)
        self.momentum = momentum
        self.multi_precision = multi_precision
        self.warmup_strategy = warmup_strategy
        self.warmup_epochs = warmup_epochs
        self.batch_scale = batch_scale
        self.updates_per_epoch = updates_per_epoch
        self.init_updates = begin_epoch * updates_per_epoch
        self.num_epochs = num_epochs
        self.lbmult = 1
        self.cumgrads: dict = {}
        self.adaptive = False
        self.admult = 1

    def create_state(self, index: Any, weight: Any) -> Any:
        momentum = None
        if self.multi_precision and A.dtype(weight) == A.FLOAT16:
            weight_master_copy = A.astype(weight, np.float32)
            if self.momentum != 0.0:
                momentum = A.zeros_like(weight, dtype=np.float32, stype=A.stype(weight))
            return (momentum, weight_master_copy)
        if A.dtype(weight) == A.FLOAT16 and not self.multi_precision:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                          "slow convergence. Consider using multi_precision=True option of the "
                          "SGD optimizer", stacklevel=2)
        if self.momentum != 0.0:
            momentum = A.zeros_like(weight, stype=A.stype(weight))
        return momentum

    def _get_lbmult(self, nup: int) -> float:
        nwup = self.warmup_epochs * self.updates_per_epoch
        strategy = self.warmup_strategy
        maxmult = float(self.batch_scale)
        if nup >= nwup:
            mult = maxmult
        elif nwup <= 1:
            mult = 1.0
        elif strategy == "linear":
            mult = 1.0 + (maxmult - 1) * nup / nwup
        elif strategy == "power2":
            mult = 1.0 + (maxmult - 1) * (nup * nup) / (nwup * nwup)
        elif strategy == "sqrt":
            mult = 1.0 + (maxmult - 1) * math.sqrt(float(nup) / nwup)
        else:
            mult = 1.0
        return mult

    def _get_lars(self, weight: Any, g: Any, wd: float) -> float:
        weight2 = self._l2norm(weight)
        grad2 = self._l2norm(g)
        lars = math.sqrt(weight2 / (grad2 + wd * weight2 + 1e-18))
        if lars < 0.01:
            lars = 0.01
        elif lars > 100:
            lars = 100
        return lars

    def _l2norm(self, v: Any) -> Any:
        return _sum_of_squares(v)

    def _reset_cum_gradient(self, index: Any) -> None:
        self.cumgrads[index]["cum_grad"] = 0

    def _get_cum_gradient(self, index: Any) -> dict:
        return self.cumgrads[index] if index in self.cumgrads else {}

    def _put_cum_gradient(self, index: Any, cgrad: dict) -> None:
        self.cumgrads[index] = cgrad

    def _cumulate_gradient(self, grad: Any, index: Any) -> dict:
        cgrad = self._get_cum_gradient(index)
        if cgrad and cgrad["num_cums"] > 0:
            cum_grad = _add(cgrad["cum_grad"], grad)
            num_cums = cgrad["num_cums"] + 1
        else:
            cum_grad = grad
            num_cums = self.init_updates + 1
        cgrad = {"cum_grad": cum_grad, "num_cums": num_cums}
        self._put_cum_gradient(index, cgrad)
        return cgrad

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        w = A.buf(weight)
        if A.is_rsp(grad):  # validate before the gradient is accumulated
            A.rsp_parts(grad, w.shape)
        else:
            A.check_like("lbsgd_update", w, grad=A.buf(grad, "grad"))
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        self._update_count(index)
        cgrad = self._cumulate_gradient(grad, index)
        if (cgrad["num_cums"] % self.batch_scale) == 0:
            grad = _div(cgrad["cum_grad"], self.batch_scale)
            if self.warmup_strategy == "lars":
                lbmult = self._get_lars(weight, grad, wd)
            else:
                lbmult = self._get_lbmult(cgrad["num_cums"])
            lr = lr * lbmult
            kw = dict(lr=lr, wd=wd, **_op_kwargs(self, self.momentum))
            if not isinstance(state, (list, tuple)):
                _sgd_step(weight, grad, state, lazy_update=True, aggregated=False, **kw)
            else:
                _mp_sgd_step(weight, grad, state[0], state[1], aggregated=False, **kw)
            self._reset_cum_gradient(index)
        else:
            _sgd_step(weight, grad, None, lr=0.0, wd=wd, rescale_grad=1.0,
                      clip_gradient=A.NO_CLIP, momentum=0.0, lazy_update=True, aggregated=False)


# ---- LARS ------------------------------------------------------------------------------------
def _skips_lars(name: str) -> bool:
    return name.endswith("gamma") or name.endswith("beta") or name.endswith("bias")


@register
class LARS(Optimizer):
    """Layer-wise adaptive rate scaling on top of SGD with momentum.

    Per tensor (names not ending in gamma/beta/bias):
    ``η_i = η·eta·|w| / (|g|·rg + λ·|w| + eps)`` (if both norms are > 0), then the SGD step.
    With ``momentum_correction`` the momentum is scaled by ``lr/previous_lr`` after an lr
    change (once per update call). The "no weight decay" default spares only ``*_weight``.

    Args:
        momentum, lazy_update: as SGD. eta: trust coefficient. eps: denominator term.
        momentum_correction: scale momentum with the lr ratio.
    """

    # Step plans (_plan.py): lr/wd depend only on the multipliers and the update count, the
    # use_lars flags only on the name (_plan_key); each _multi_prepare call records the lr for
    # the momentum correction (per-call state).
    _MULTI_PLAN = True
    _MULTI_PLAN_PER_CALL = True

    def __init__(self, momentum: float = 0.0, lazy_update: bool = True, eta: float = 0.001,
                 eps: float = 0, momentum_correction: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.momentum_correction = momentum_correction
        self.lazy_update = lazy_update
        self.aggregate_num = _aggregation_size("4")
        self.eta = eta
        self.eps = eps
        self.skip = 0
        self.last_lr: Optional[float] = None
        self.cur_lr: Optional[float] = None

    def _get_lrs(self, indices: Any) -> List[float]:
        if self.cur_lr is not None:
            self.last_lr = self.cur_lr
        lr = self._base_lr()
        if self.cur_lr is None:
            self.last_lr = lr
        self.cur_lr = lr
        lrs = [lr for _ in indices]
        for i, index in enumerate(indices):
            if index in self.param_dict:
                lrs[i] *= self.param_dict[index].lr_mult
            elif index in self.lr_mult:
                lrs[i] *= self.lr_mult[index]
            elif index in self.idx2name:
                lrs[i] *= self.lr_mult.get(self.idx2name[index], 1.0)
        return lrs

    def _default_wd_mult(self, name: str) -> bool:
        return not name.endswith("_weight")

    def create_state_multi_precision(self, index: Any, weight: Any) -> Any:
        return _mp_state(self, index, weight, "SGD")

    def create_state(self, index: Any, weight: Any) -> Any:
        if self.momentum != 0.0:
            stype = A.stype(weight) if self.lazy_update else "default"
            return A.zeros_like(weight, stype=stype)
        return None

    def _l2norm(self, v: Any, rescale: bool = False) -> np.float32:
        """MXNet's float32 NDArray.norm of v (times rescale_grad if asked); a row_sparse
        array's norm is MXNet's BLAS dot of its stored rows (see _core.dot_norm)."""
        sparse = isinstance(v, RowSparseNDArray)
        x = (v._data if sparse else A.buf(v, "grad")).astype(np.float32)
        if rescale:
            x *= np.float32(A.sc(self.rescale_grad, "rescale_grad"))
        return np.float32(_core.dot_norm(x) if sparse else _core.nrm2(x))

    def _uses_lars(self, index: Any) -> bool:
        """Whether index's learning rate gets the trust ratio (by its name, else str(index))."""
        return not _skips_lars(self.idx2name[index] if index in self.idx2name else str(index))

    def _plan_key(self, index: Any) -> bool:
        return self._uses_lars(index)

    def _get_lars(self, i: Any, weight: Any, g: Any, lr: float, wd: float) -> Any:
        if not self._uses_lars(i):
            return lr
        w_norm = self._l2norm(weight)
        g_norm = self._l2norm(g, rescale=True)
        if w_norm > 0.0 and g_norm > 0.0:
            lars = self.eta * w_norm / (g_norm + wd * w_norm + self.eps)
        else:
            lars = 1.0
        return lars * lr

    def _multi_prepare(self, indices, weights, grads, states):
        # MXNet's dense LARS path (multi_sum_sq, multi_lars, preloaded_multi_sgd_[mom_]update /
        # multi_mp_sgd_[mom_]update) over one chunk of indices as ONE call.
        dt = multi_dtype(weights, grads, states, indices)
        cls = type(self)
        if (dt is None or cls._update_impl is not LARS._update_impl
                or cls._get_lrs is not LARS._get_lrs
                or cls.update_multi_precision is not LARS.update_multi_precision):
            return None
        mp = bool(self.multi_precision) and dt == A.FLOAT16
        if mp and not tuples_of(states, 2):
            return None
        self._update_count(indices)
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        momentum = 0.0
        if self.momentum > 0:
            momentum = ((self.momentum * (self.cur_lr / self.last_lr))
                        if (self.momentum_correction and self.last_lr != 0) else self.momentum)
        kw = _op_kwargs(self, momentum)
        kw.update(eta=A.fp(self.eta, "eta"), eps=A.fp(self.eps, "eps"))
        use_lars = [self._uses_lars(i) for i in indices]
        ws, gs = [A.buf(w) for w in weights], [A.buf(g, "grad") for g in grads]
        moms = ([A.buf(s[0] if mp else s, "mom") for s in states] if self.momentum > 0
                else None)
        lrs = [A.f32(lr) for lr in lrs]
        wds = [A.f32(wd) for wd in wds]
        if mp:
            return MultiBatch(_core.multi_mp_lars_update, dt, kw, ws, gs,
                              [moms, [A.buf(s[1], "weight32") for s in states], use_lars],
                              lrs, wds)
        return MultiBatch(_core.multi_lars_update, dt, kw, ws, gs, [moms, use_lars], lrs, wds)

    def _update_impl(self, indices: Any, weights: Any, grads: Any, states: Any,
                     multi_precision: bool = False) -> None:
        indices, weights, grads, states = _lists(indices, weights, grads, states)
        if len(indices) > 1 and multi_precision == _use_mp(self, indices, weights):
            batch = self._multi_prepare(indices, weights, grads, states)
            if batch is not None:
                batch.run()
                return
        aggregate = _all_dense(weights, grads)
        self._update_count(indices)
        lrs = self._get_lrs(indices)
        wds = self._get_wds(indices)
        momentum = 0.0
        if self.momentum > 0:
            momentum = ((self.momentum * (self.cur_lr / self.last_lr))
                        if (self.momentum_correction and self.last_lr != 0) else self.momentum)
        kw = _op_kwargs(self, momentum)
        if aggregate:
            use_lars = [self._uses_lars(i) for i in indices]
            lars_idx = [i for i in range(len(indices)) if use_lars[i]]
            no_lars_idx = [i for i in range(len(indices)) if not use_lars[i]]
            order = lars_idx + no_lars_idx
            # MXNet puts the rates in float32 arrays, computes multi_sum_sq and multi_lars.
            new_lrs = [A.f32(lrs[i]) for i in order]
            new_wds = [A.f32(wds[i]) for i in order]
            eta, eps = A.fp(self.eta, "eta"), A.fp(self.eps, "eps")
            for k, i in enumerate(order[:len(lars_idx)]):
                w_ss = _core.sum_sq(A.buf(weights[i]))
                g_ss = _core.sum_sq(A.buf(grads[i], "grad"))
                new_lrs[k] = _core.lars_lr(new_lrs[k], w_ss, g_ss, new_wds[k], eta, eps,
                                           kw["rescale_grad"])
            for k, i in enumerate(order):
                state = states[i]
                if not multi_precision:
                    _sgd_step(weights[i], grads[i], state if self.momentum > 0 else None,
                              lr=new_lrs[k], wd=new_wds[k], lazy_update=self.lazy_update,
                              aggregated=True, preloaded=True, **kw)
                else:
                    _mp_sgd_step(weights[i], grads[i], state[0] if self.momentum > 0 else None,
                                 state[1], lr=new_lrs[k], wd=new_wds[k], aggregated=True, **kw)
        else:
            lrs = [self._get_lars(i, w, g, lr, wd)
                   for (i, w, g, lr, wd) in zip(indices, weights, grads, lrs, wds)]
            for weight, grad, state, lr, wd in zip(weights, grads, states, lrs, wds):
                if not multi_precision:
                    _sgd_step(weight, grad, state, lr=lr, wd=wd,
                              lazy_update=self.lazy_update, aggregated=False, **kw)
                else:
                    _mp_sgd_step(weight, grad, state[0], state[1], lr=lr, wd=wd,
                                 aggregated=False, **kw)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        self._update_impl(index, weight, grad, state,
                          multi_precision=_use_mp(self, index, weight))
