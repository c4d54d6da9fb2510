"""Random numbers (``mx.random``): seeding and sampling into NDArrays.

Two generators are available; ``seed`` selects one and restarts it:

* ``'mxnet'`` (the default, and the state at import, like MXNet's ``seed(0)``): MXNet 1.9.1's
  own CPU stream, bit for bit. After ``mx.random.seed(42)`` every draw (``mx.random.uniform``,
  ``mx.random.normal``, the initializers, ``Module.init_params``) gives exactly the values
  MXNet 1.9.1 gives after its ``mx.random.seed(42)``: 1024 Mersenne Twister engines seeded with
  ``seed * 127 + t``, each call cut into contiguous chunks, one per engine.
* ``'philox'``: a counter-based Philox-4x32-10 generator, several times faster (vectorised),
  whose values depend only on the seed and the position in the stream. Statistically sound,
  reproducible across thread counts and machines, but not MXNet's values.

Example::

    >>> import mxopt as mx
    >>> mx.random.seed(42)                      # MXNet-identical stream
    >>> mx.random.uniform(-1, 1, shape=(2, 2))  # doctest: +SKIP
    >>> mx.random.seed(42, generator='philox')  # fast generator
"""

from __future__ import annotations

import numbers
from typing import Any, Tuple, Union

import numpy as np

from . import _core
from .ndarray import NDArray, _buffer

__all__ = ["seed", "uniform", "normal", "generator"]

GENERATORS = ("mxnet", "philox")
_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def seed(seed_state: int, ctx: Any = "all", generator: str = "mxnet") -> None:
    """Seed the global random generator and make ``generator`` the current one.

    Args:
        seed_state: an integer. The ``'mxnet'`` generator uses it modulo 2**32 (like MXNet,
            where ``seed(-1) == seed(2**32 - 1)``); ``'philox'`` uses it modulo 2**64.
        ctx: accepted for MXNet compatibility (``'all'`` or a context); mxopt has one
            generator for the CPU.
        generator: ``'mxnet'`` (MXNet 1.9.1's exact stream) or ``'philox'`` (fast).

    Example: ``mx.random.seed(128)``; ``mx.random.seed(7, generator='philox')``.
    """
    if isinstance(seed_state, bool) or not isinstance(seed_state, (numbers.Integral, np.integer)):
        raise ValueError("seed_state must be int")
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}, got {generator!r}")
    global _seed_epoch
    _core.random_seed(int(seed_state) % (1 << 64), generator)
    _seed_epoch += 1


_seed_epoch = 0


def _seed_calls() -> int:
    """How many times :func:`seed` has been called (executors restart their Dropout streams
    after each call, so re-seeding with the same value repeats the masks)."""
    return _seed_epoch


def generator() -> str:
    """The name of the current generator: ``'mxnet'`` or ``'philox'``."""
    return _core.random_generator()


def _shape_of(shape: Any) -> Tuple[int, ...]:
    if shape is None:
        return (1,)  # MXNet's default shape () means one element
    if isinstance(shape, (numbers.Integral, np.integer)):
        return (int(shape),)
    try:
        dims = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative dimensions, got {dims}")
    return dims or (1,)


def _check_scalar(value: Any, name: str) -> None:
    if isinstance(value, (NDArray, np.ndarray)):
        raise TypeError(f"{name} must be a number: per-element {name} arrays are not supported "
                        "by mxopt")
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")


def _target(shape: Any, dtype: Any, out: Any) -> Tuple[Union[NDArray, np.ndarray], np.ndarray]:
    if out is not None:
        buf = _buffer(out)
        if buf.dtype.type not in _FLOAT_DTYPES:
            raise TypeError(f"out must be float16/float32/float64, got {buf.dtype}")
        if shape is not None and _shape_of(shape) != buf.shape:
            raise ValueError(f"shape {_shape_of(shape)} does not match out.shape {buf.shape}")
        if dtype is not None and np.dtype(dtype) != buf.dtype:
            raise ValueError(f"dtype {np.dtype(dtype)} does not match out.dtype {buf.dtype}")
        return out, buf
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.type not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be float16, float32 or float64, got {dt}")
    res = NDArray(np.empty(_shape_of(shape), dtype=dt))
    return res, res._data


def _fill(sampler: Any, a: Any, b: Any, out: Any, buf: np.ndarray) -> None:
    if buf.flags.c_contiguous and buf.flags.writeable:
        sampler(a, b, buf)
    else:  # strided numpy view: sample contiguously, then copy in
        if not buf.flags.writeable:
            raise ValueError("out must be writeable")
        tmp = np.empty(buf.shape, dtype=buf.dtype)
        sampler(a, b, tmp)
        buf[...] = tmp


def uniform(low: float = 0, high: float = 1, shape: Any = None, dtype: Any = None,
            ctx: Any = None, out: Any = None, **kwargs: Any) -> Any:
    """Samples from U[low, high) (``mx.random.uniform`` / ``mx.nd.random.uniform``).

    Args:
        low, high: bounds (numbers, low <= high).
        shape: output shape (default: one element); ignored when ``out`` is given.
        dtype: float16, float32 (default) or float64.
        ctx: accepted for MXNet compatibility.
        out: an NDArray or numpy array filled in place (and returned).

    Example: ``w = mx.random.uniform(-0.1, 0.1, shape=(64, 32))``.
    """
    if kwargs:
        raise TypeError(f"uniform() got unexpected arguments {sorted(kwargs)}")
    _check_scalar(low, "low")
    _check_scalar(high, "high")
    res, buf = _target(shape, dtype, out)
    _fill(_core.random_uniform, low, high, res, buf)
    return res


def normal(loc: float = 0, scale: float = 1, shape: Any = None, dtype: Any = None,
           ctx: Any = None, out: Any = None, **kwargs: Any) -> Any:
    """Samples from N(loc, scale**2) (``mx.random.normal`` / ``mx.nd.random.normal``).

    Args:
        loc: mean; scale: standard deviation (> 0).
        shape, dtype, ctx, out: as in :func:`uniform`.

    Example: ``w = mx.random.normal(0, 0.01, shape=(64, 32))``.
    """
    if kwargs:
        raise TypeError(f"normal() got unexpected arguments {sorted(kwargs)}")
    _check_scalar(loc, "loc")
    _check_scalar(scale, "scale")
    res, buf = _target(shape, dtype, out)
    _fill(_core.random_normal, loc, scale, res, buf)
    return res
