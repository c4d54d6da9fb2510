"""MXNet's ``Test`` optimizer (registry parity): ``w += rg·g`` and ``state[:] = w``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from . import _arrays as A
from .base import Optimizer, register

__all__ = ["Test"]


@register
class Test(Optimizer):
    """The optimizer MXNet uses in its own tests: no learning rate, no counting.

    ``w = w + g·rg``; the float32 state becomes a copy of the weight.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def create_state(self, index: Any, weight: Any) -> Any:
        """A float32 zero array shaped like the weight."""
        return A.zeros_like(weight, dtype=np.float32)

    def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
        """``weight += grad * rescale_grad``; ``state[:] = weight``."""
        w = A.buf(weight)
        _core.test_update(w, A.dense(grad, w.shape), A.buf(state, "state"),
                          rescale_grad=A.sc(self.rescale_grad, "rescale_grad"))
