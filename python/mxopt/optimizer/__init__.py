"""``mx.optimizer`` (alias ``mx.opt``): MXNet 1.9.1's optimizers, registry and Updater.

Every optimizer of MXNet 1.9.1's registry (sgd nag adam adagrad rmsprop adadelta ftrl adamax
nadam ftml signum sgld dcasgd lbsgd lamb lars groupadagrad ccsgd test) plus MXNet 2.0's AdamW,
AdaBelief and LANS. Weights, gradients and states may be ``mx.nd.NDArray`` or numpy arrays
(float16/32/64); updates happen in place in C++ kernels that reproduce MXNet's float32
arithmetic bit for bit.

Example::

    >>> import numpy as np, mxopt as mx
    >>> opt = mx.optimizer.create('adam', learning_rate=0.01)
    >>> updater = mx.optimizer.get_updater(opt)
    >>> w = mx.nd.ones((2, 3)); g = mx.nd.ones((2, 3))
    >>> updater(0, g, w)            # index, grad, weight
"""

from __future__ import annotations

from .adagrad import AdaDelta, AdaGrad, GroupAdaGrad
from .adam import AdaBelief, Adam, Adamax, AdamW, Nadam
from .base import Optimizer, create, register
from .ftrl import FTML, Ftrl
from .lamb import LAMB, LANS
from .rmsprop import RMSProp
from .sgd import LARS, LBSGD, NAG, SGD, ccSGD
from .sgld import DCASGD, SGLD
from .signum import Signum
from .test import Test
from .updater import Updater, get_updater

__all__ = [
    "Optimizer", "register", "create", "Updater", "get_updater",
    "SGD", "ccSGD", "NAG", "LBSGD", "LARS", "Signum", "Adam", "AdamW", "AdaBelief", "Adamax",
    "Nadam", "AdaGrad", "GroupAdaGrad", "AdaDelta", "RMSProp", "Ftrl", "FTML", "LAMB", "LANS",
    "SGLD", "DCASGD", "Test",
]
