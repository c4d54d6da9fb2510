"""Learning-rate schedulers with MXNet 1.9.1's semantics (``mx.lr_scheduler``).

A scheduler is called as ``sched(num_update) -> float`` and is stateful: calls may change
``base_lr`` (and counters), exactly as in MXNet. The math runs in C++ (``mxopt._core``) in
MXNet's evaluation order, so every value equals MXNet's double bit for bit.

Example::

    >>> import mxopt as mx
    >>> sched = mx.lr_scheduler.FactorScheduler(step=100, factor=0.9, base_lr=0.1)
    >>> sched(100), sched(101)
    (0.1, 0.09000000000000001)
"""

from __future__ import annotations

from typing import Any, List, Optional

from . import _core

__all__ = [
    "LRScheduler",
    "FactorScheduler",
    "MultiFactorScheduler",
    "PolyScheduler",
    "CosineScheduler",
    "plot",
]


def _check_int(value: Any, name: str) -> None:
    # MXNet asserts isinstance(value, int) (bool passes, floats fail).
    if not isinstance(value, int):
        raise AssertionError(f"{name} must be an int, got {type(value).__name__} {value!r}")


class LRScheduler(_core.LRScheduler):
    """Base class of learning-rate schedulers, with optional warmup.

    During the first ``warmup_steps`` updates the rate is
    ``warmup_begin_lr + (base_lr - warmup_begin_lr) * n / warmup_steps`` (``'linear'``) or
    ``warmup_begin_lr`` (``'constant'``). Subclass it and override ``__call__`` for a custom
    schedule; the optimizers accept any callable scheduler.

    Args:
        base_lr: the learning rate after warmup (an optimizer's ``learning_rate`` overwrites it).
        warmup_steps: number of warmup updates (an ``int`` >= 0).
        warmup_begin_lr: the rate at update 0 of the warmup (<= ``base_lr``).
        warmup_mode: ``'linear'`` or ``'constant'``.
    """

    def __init__(self, base_lr: float = 0.01, warmup_steps: int = 0,
                 warmup_begin_lr: float = 0, warmup_mode: str = "linear") -> None:
        _check_int(warmup_steps, "warmup_steps")
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)

    def get_warmup_lr(self, num_update: int) -> float:
        """The warmup rate of update ``num_update`` (requires ``num_update < warmup_steps``)."""
        return super().get_warmup_lr(num_update)

    def __call__(self, num_update: int) -> float:
        """Return the learning rate of update ``num_update``. Subclasses must override it."""
        raise NotImplementedError("must override this")


class FactorScheduler(_core.FactorScheduler, LRScheduler):
    """Multiply the rate by ``factor`` every ``step`` updates, floored at ``stop_factor_lr``.

    ``lr(n) = base_lr * factor ** (ceil(n / step) - 1)`` for monotone calls: the k-th decay
    happens at the first ``n > k * step`` (so with ``step=100`` the rate changes at 101, 201, …).
    Decays are applied by repeated multiplication, are never undone, and each is logged with
    ``logging.info`` as MXNet does.
    """

    def __init__(self, step: float, factor: float = 1, stop_factor_lr: float = 1e-8,
                 base_lr: float = 0.01, warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear") -> None:
        _check_int(warmup_steps, "warmup_steps")
        _core.FactorScheduler.__init__(self, step, factor, stop_factor_lr, base_lr,
                                       warmup_steps, warmup_begin_lr, warmup_mode)

    __call__ = _core.FactorScheduler.__call__


class MultiFactorScheduler(_core.MultiFactorScheduler, LRScheduler):
    """Multiply the rate by ``factor`` each time ``num_update`` passes a milestone of ``step``.

    ``lr(n) = base_lr * factor ** k`` with k the number of milestones strictly below ``n``.
    ``step`` is an increasing ``list`` of ints >= 1.
    """

    def __init__(self, step: List[int], factor: float = 1, base_lr: float = 0.01,
                 warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear") -> None:
        _check_int(warmup_steps, "warmup_steps")
        if not (isinstance(step, list) and len(step) >= 1):
            _core.LRScheduler(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
            raise AssertionError(f"step must be a non-empty list, got {step!r}")
        _core.MultiFactorScheduler.__init__(self, step, factor, base_lr, warmup_steps,
                                            warmup_begin_lr, warmup_mode)

    __call__ = _core.MultiFactorScheduler.__call__


class PolyScheduler(_core.PolyScheduler, LRScheduler):
    """Polynomial decay over ``[warmup_steps, max_update]``.

    ``lr(n) = final_lr + (base_lr - final_lr) * (1 - (n - warmup_steps) / (max_update - warmup_steps)) ** pwr``;
    past ``max_update`` the last computed value is returned.
    """

    def __init__(self, max_update: int, base_lr: float = 0.01, pwr: float = 2,
                 final_lr: float = 0, warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear") -> None:
        _check_int(warmup_steps, "warmup_steps")
        if not isinstance(max_update, int):
            _core.LRScheduler(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
            _check_int(max_update, "max_update")
        _core.PolyScheduler.__init__(self, max_update, base_lr, pwr, final_lr, warmup_steps,
                                     warmup_begin_lr, warmup_mode)

    __call__ = _core.PolyScheduler.__call__


class CosineScheduler(_core.CosineScheduler, LRScheduler):
    """Half-cosine decay over ``[warmup_steps, max_update]``.

    ``lr(n) = final_lr + (base_lr - final_lr) * (1 + cos(pi * (n - warmup_steps) / (max_update - warmup_steps))) / 2``;
    past ``max_update`` the last computed value is returned.
    """

    def __init__(self, max_update: int, base_lr: float = 0.01, final_lr: float = 0,
                 warmup_steps: int = 0, warmup_begin_lr: float = 0,
                 warmup_mode: str = "linear") -> None:
        _check_int(warmup_steps, "warmup_steps")
        if not isinstance(max_update, int):
            _core.LRScheduler(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
            _check_int(max_update, "max_update")
        _core.CosineScheduler.__init__(self, max_update, base_lr, final_lr, warmup_steps,
                                       warmup_begin_lr, warmup_mode)

    __call__ = _core.CosineScheduler.__call__


def plot(sched: Any, num_updates: int, ax: Optional[Any] = None) -> Any:
    """Draw ``sched(n)`` for ``n = 1 .. num_updates`` with matplotlib; returns the Axes.

    The scheduler is called in order, so its state advances exactly as in training; pass a
    fresh scheduler (or a copy) if you want to keep the original. Needs matplotlib
    (``pip install mxopt[plot]``).
    """
    if not isinstance(num_updates, int) or num_updates < 1:
        raise ValueError(f"num_updates must be a positive int, got {num_updates!r}")
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "mx.lr_scheduler.plot needs matplotlib: pip install 'mxopt[plot]' "
            "(or pip install matplotlib)") from exc
    xs = list(range(1, num_updates + 1))
    ys = [sched(n) for n in xs]
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(xs, ys)
    ax.set_xlabel("num_update")
    ax.set_ylabel("learning rate")
    ax.set_title(type(sched).__name__)
    return ax
