"""mxopt: Apache MXNet 1.9.1's optimizers, initializers and learning-rate schedulers,
re-created as a standalone C++/Python library. Use it as ``import mxopt as mx``."""

from __future__ import annotations

from ._version import __version__

try:
    from . import _core  # noqa: F401
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "mxopt's compiled core (mxopt._core) could not be imported: build and install the "
        "package with `pip install .` (did you forget to compile?)"
    ) from exc

from . import (base, callback, context, executor, io, lr_scheduler, metric, model, monitor,
               name, ndarray, operator, optimizer, symbol)
from . import monitor as mon
from . import ndarray as nd
from . import optimizer as opt
from . import symbol as sym
from . import random
from . import initializer
from . import initializer as init
from . import kvstore
from . import kvstore as kv
from . import module  # after optimizer/initializer: Module uses both
from . import module as mod
from .context import Context, cpu, cpu_pinned, current_context, gpu, num_gpus

__all__ = ["base", "lr_scheduler", "ndarray", "nd", "optimizer", "opt", "symbol", "sym",
           "executor", "io", "metric", "callback", "model", "module", "mod", "kvstore", "kv",
           "monitor", "mon", "operator", "name", "test_utils",
           "random", "initializer", "init", "context", "Context", "cpu", "cpu_pinned", "gpu",
           "num_gpus", "current_context", "__version__"]


def __getattr__(name: str) -> object:
    # mx.test_utils is imported on first use (numpy.testing alone costs ~20 ms at import)
    if name == "test_utils":
        import importlib
        return importlib.import_module(".test_utils", __name__)
    raise AttributeError(f"module 'mxopt' has no attribute {name!r}")
