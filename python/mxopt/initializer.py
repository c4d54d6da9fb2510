"""Weight initializers with MXNet 1.9.1's API and values (``mx.initializer``, alias ``mx.init``).

An initializer is called as ``init(desc, arr)``: ``desc`` is an :class:`InitDesc` (a parameter
name with attributes) and ``arr`` an ``mx.nd.NDArray`` or a numpy array (float16/32/64) that is
filled in place. The name decides the rule, as in MXNet: ``*weight`` gets the initializer's own
rule, ``*bias``/``*beta``/``*min`` zeros, ``*gamma``/``*max`` ones, and an ``__init__`` attribute
(set by ``mx.sym.Variable(init=...)``) overrides the name. Random rules draw from
``mx.random`` (C++), so after ``mx.random.seed(s)`` the values equal MXNet 1.9.1's bit for bit
(Orthogonal: up to the signs of its SVD).

Example::

    >>> import mxopt as mx
    >>> w = mx.nd.zeros((64, 32))
    >>> mx.init.Xavier(magnitude=2.24)(mx.init.InitDesc('fc1_weight'), w)
    >>> mx.init.Xavier().dumps()
    '["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 3}]'
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from . import _core
from . import random
from .ndarray import NDArray, _buffer
from .ndarray.sparse import RowSparseNDArray

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "Load", "Mixed", "Zero",
           "One", "Constant", "Uniform", "Normal", "Orthogonal", "Xavier", "MSRAPrelu",
           "Bilinear", "LSTMBias", "FusedRNN"]

_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


class InitDesc(str):
    """A parameter name (a ``str``) carrying the parameter's attributes and the global
    initializer: ``InitDesc('fc1_weight', {'__init__': '["zero", {}]'})``.

    Args:
        name: the parameter name.
        attrs: its symbol attributes (a new ``{}`` if falsy).
        global_init: the initializer of the whole model (set by the first initializer call).
    """

    attrs: Dict[str, Any]
    global_init: Optional["Initializer"]

    def __new__(cls, name: str, attrs: Optional[Dict[str, Any]] = None,
                global_init: Optional["Initializer"] = None) -> "InitDesc":
        ret = super().__new__(cls, name)
        ret.attrs = attrs or {}
        ret.global_init = global_init
        return ret


# ---- array helpers ------------------------------------------------------------------------------
def _array(arr: Any) -> np.ndarray:
    """The numpy buffer behind arr (NDArray or numpy array), writeable. A row_sparse array is
    initialised whole, as MXNet does: it first comes to store every row."""
    if isinstance(arr, RowSparseNDArray):
        rows = arr.shape[0]
        if arr._indices.size != rows or not np.array_equal(arr._indices, np.arange(rows)):
            arr._data = arr.asnumpy()
            arr._indices = np.arange(rows, dtype=np.int64)
        return arr._data
    try:
        buf = _buffer(arr)
    except TypeError:
        raise TypeError(f"arr must be an mx.nd.NDArray or a numpy.ndarray, got "
                        f"{type(arr).__name__}") from None
    if not buf.flags.writeable:
        raise ValueError("arr must be writeable")
    return buf


def _float_array(arr: Any, who: str, name: Any) -> np.ndarray:
    buf = _array(arr)
    if buf.dtype.type not in _FLOAT_DTYPES:
        raise TypeError(f"{who} needs a float16/float32/float64 array for {str(name)!r}, got "
                        f"dtype {buf.dtype} of shape {buf.shape}")
    return buf


def _apply(rule: Any, buf: np.ndarray) -> None:
    """Run a C++ rule on buf in place (strided views go through a contiguous scratch copy)."""
    if buf.flags.c_contiguous:
        rule.fill(buf)
    else:
        tmp = np.empty(buf.shape, dtype=buf.dtype)
        rule.fill(tmp)
        buf[...] = tmp


def _mxnet_scalar(value: Any) -> float:
    # MXNet sends float(value) as a string and parses it with dmlc-core's double parser, which
    # is not always correctly rounded (1.91 -> 1.9100000000000001).
    return _core.parse_mxnet_double(str(float(value)))


def _fill(arr: Any, value: Any) -> None:
    """arr[:] = value with MXNet's casting (scalars go through MXNet's parameter parser)."""
    buf = _array(arr)
    if isinstance(value, (NDArray, np.ndarray)) or isinstance(value, (list, tuple)):
        src = _buffer(value) if isinstance(value, NDArray) else np.asarray(value)
        buf[...] = np.broadcast_to(src, buf.shape) if src.shape != buf.shape else src
        return
    v = _mxnet_scalar(value)
    if buf.dtype.type in _FLOAT_DTYPES and buf.flags.c_contiguous:
        _core.ConstantRule(v).fill(buf)
    elif buf.dtype == np.float16:
        buf[...] = np.float32(v)  # MXNet casts through float32
    else:
        buf[...] = v


def _default_print(x: Any) -> str:
    buf = _buffer(x).astype(np.float32).ravel()
    norm = np.float32(np.sqrt(np.sum(np.square(buf, dtype=np.float32), dtype=np.float32)))
    return str(np.float32(norm / np.float32(math.sqrt(buf.size))))


# ---- registry -------------------------------------------------------------------------------
_REGISTRY: Dict[str, type] = {}


def register(klass: type) -> type:
    """Register an Initializer subclass under its lower-cased class name (a decorator), so that
    ``create(name)`` and ``create(init.dumps())`` can build it.

    Example::

        @mx.init.register
        class MyInit(mx.init.Initializer):
            def _init_weight(self, name, arr):
                arr[:] = 0.5
    """
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise AssertionError("Can only register subclass of Initializer")
    return _register_as(klass, klass.__name__.lower())


def _register_as(klass: type, name: str) -> type:
    if name in _REGISTRY:
        old = _REGISTRY[name]
        warnings.warn(f"\033[91mNew initializer {klass.__module__}.{klass.__name__} registered "
                      f"with name {name} isoverriding existing initializer "
                      f"{old.__module__}.{old.__name__}\033[0m", UserWarning, stacklevel=3)
    _REGISTRY[name] = klass
    return klass


def alias(*aliases: str) -> Callable[[type], type]:
    """Register a class under extra (lower-cased) names: ``@alias('zeros')``."""
    def reg(klass: type) -> type:
        for a in aliases:
            _register_as(klass, a.lower())
        return klass
    return reg


def create(*args: Any, **kwargs: Any) -> "Initializer":
    """Build an initializer from an instance, a name, a dict or a ``dumps()`` JSON string.

    ``create('xavier', magnitude=2)``, ``create('["normal", {"sigma": 0.5}]')``,
    ``create('{"initializer": "xavier"}')``, ``create({'initializer': 'one'})``.
    """
    if args:
        name, args = args[0], args[1:]
    else:
        name = kwargs.pop("initializer")
    if isinstance(name, Initializer):
        if args or kwargs:
            raise AssertionError("initializer is already an instance. Additional arguments are "
                                 "invalid")
        return name
    if isinstance(name, dict):
        return create(**name)
    if not isinstance(name, str):
        raise AssertionError("initializer must be of string type")
    if name.startswith("["):
        if args or kwargs:
            raise AssertionError("a JSON initializer string takes no extra arguments")
        cls_name, cls_kwargs = json.loads(name)
        return create(cls_name, **cls_kwargs)
    if name.startswith("{"):
        if args or kwargs:
            raise AssertionError("a JSON initializer string takes no extra arguments")
        return create(**json.loads(name))
    key = name.lower()
    if key not in _REGISTRY:
        raise AssertionError(f"{key} is not registered. Please register with "
                             "initializer.register first")
    return _REGISTRY[key](*args, **kwargs)


# ---- the base class ---------------------------------------------------------------------------
class Initializer:
    """Base class of initializers: dispatches on the parameter name (see the module doc).

    Subclasses override ``_init_weight(self, name, arr)``; ``arr`` is the NDArray or numpy
    array to fill in place (``arr[:] = ...``). Keyword arguments given to ``__init__`` are
    kept for :meth:`dumps` and ``==``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self.set_verbosity()

    def set_verbosity(self, verbose: bool = False,
                      print_func: Optional[Callable[[Any], str]] = None) -> "Initializer":
        """Log ``Initialized <name> as <rule>: <print_func(arr)>`` (logging.info) after each
        initialization when ``verbose``; the default print_func is ``L2norm(arr)/sqrt(size)``.
        """
        self._verbose = verbose
        self._print_func = print_func if print_func is not None else _default_print
        return self

    def _verbose_print(self, desc: Any, init: Any, arr: Any) -> None:
        if self._verbose and self._print_func:
            logging.info("Initialized %s as %s: %s", desc, init, self._print_func(arr))

    def dumps(self) -> str:
        """``json.dumps([lower-cased class name, constructor kwargs])``, e.g.
        ``'["normal", {"sigma": 0.01}]'``; ``create()`` rebuilds the initializer from it."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Initializer):
            return NotImplemented
        return type(self) is type(other) and self._kwargs == other._kwargs

    __hash__ = None  # type: ignore[assignment]  # like MXNet: __eq__ without __hash__

    def __call__(self, desc: Any, arr: Any) -> None:
        """Initialize ``arr`` in place for the parameter ``desc`` (an InitDesc; a plain str
        takes MXNet's deprecated legacy path)."""
        if not isinstance(desc, InitDesc):
            self._legacy_init(desc, arr)
            return
        _array(arr)  # fail early on a bad array
        if desc.global_init is None:
            desc.global_init = self
        init = desc.attrs.get("__init__", "")
        if init:
            create(init)._init_weight(desc, arr)
            self._verbose_print(desc, init, arr)
            return
        if desc.endswith("weight"):
            self._init_weight(desc, arr)
            self._verbose_print(desc, "weight", arr)
        elif desc.endswith("bias"):
            self._init_bias(desc, arr)
            self._verbose_print(desc, "bias", arr)
        elif desc.endswith("gamma"):
            self._init_gamma(desc, arr)
            self._verbose_print(desc, "gamma", arr)
        elif desc.endswith("beta"):
            self._init_beta(desc, arr)
            self._verbose_print(desc, "beta", arr)
        elif desc.endswith("min"):
            self._init_zero(desc, arr)
            self._verbose_print(desc, "min", arr)
        elif desc.endswith("max"):
            self._init_one(desc, arr)
            self._verbose_print(desc, "max", arr)
        elif desc.endswith("weight_quantize"):
            self._init_quantized_weight(desc, arr)
            self._verbose_print(desc, "weight_quantize", arr)
        elif desc.endswith("bias_quantize"):
            self._init_quantized_bias(desc, arr)
            self._verbose_print(desc, "bias_quantize", arr)
        else:
            self._init_default(desc, arr)

    def _legacy_init(self, name: Any, arr: Any) -> None:
        warnings.warn("\033[91mCalling initializer with init(str, NDArray) has been deprecated."
                      "please use init(mx.init.InitDesc(...), NDArray) instead.\033[0m",
                      DeprecationWarning, stacklevel=3)
        if not isinstance(name, str):
            raise TypeError("name must be string")
        if not isinstance(arr, (NDArray, np.ndarray)):
            raise TypeError("arr must be NDArray")
        if name.startswith("upsampling"):
            self._init_bilinear(name, arr)
        elif name.startswith("stn_loc") and name.endswith("weight"):
            self._init_zero(name, arr)
        elif name.startswith("stn_loc") and name.endswith("bias"):
            self._init_loc_bias(name, arr)
        elif name.endswith("bias"):
            self._init_bias(name, arr)
        elif name.endswith("gamma"):
            self._init_gamma(name, arr)
        elif name.endswith("beta"):
            self._init_beta(name, arr)
        elif name.endswith("weight"):
            self._init_weight(name, arr)
        elif name.endswith("moving_mean"):
            self._init_zero(name, arr)
        elif name.endswith("moving_var"):
            self._init_one(name, arr)
        elif name.endswith("moving_inv_var"):
            self._init_zero(name, arr)
        elif name.endswith("moving_avg"):
            self._init_zero(name, arr)
        elif name.endswith("min"):
            self._init_zero(name, arr)
        elif name.endswith("max"):
            self._init_one(name, arr)
        else:
            self._init_default(name, arr)

    # ---- the rules (only _init_weight is overridden by the built-in initializers) ----------
    def _init_bilinear(self, _: Any, arr: Any) -> None:
        _apply(_core.BilinearRule(), _bilinear_array(arr, _))

    def _init_loc_bias(self, _: Any, arr: Any) -> None:
        buf = _array(arr)
        if buf.shape[0] != 6:
            raise AssertionError(f"stn_loc bias needs 6 elements, got shape {buf.shape}")
        buf[...] = np.array([1.0, 0, 0, 0, 1.0, 0])

    def _init_zero(self, _: Any, arr: Any) -> None:
        _fill(arr, 0.0)

    def _init_one(self, _: Any, arr: Any) -> None:
        _fill(arr, 1.0)

    def _init_bias(self, _: Any, arr: Any) -> None:
        _fill(arr, 0.0)

    def _init_quantized_bias(self, _: Any, arr: Any) -> None:
        _array(arr)[...] = 0

    def _init_gamma(self, _: Any, arr: Any) -> None:
        _fill(arr, 1.0)

    def _init_beta(self, _: Any, arr: Any) -> None:
        _fill(arr, 0.0)

    def _init_quantized_weight(self, _: Any, arr: Any) -> None:
        # One integer in [-127, 127) broadcast to the whole int8 array, as MXNet does (MXNet
        # draws it from a different engine, so the value itself differs from MXNet's).
        draw = random.uniform(-127, 127, shape=(1,), dtype=np.float64)
        _array(arr)[...] = np.int8(math.floor(float(draw._data[0])))

    def _init_weight(self, name: Any, arr: Any) -> None:
        raise NotImplementedError("Must override it")

    def _init_default(self, name: Any, _: Any) -> None:
        raise ValueError(
            f'Unknown initialization pattern for {name}. Default initialization is now limited '
            'to "weight", "bias", "gamma" (1.0), and "beta" (0.0).Please use '
            "mx.sym.Variable(init=mx.init.*) to set initialization pattern")


def _bilinear_array(arr: Any, name: Any) -> np.ndarray:
    buf = _float_array(arr, "Bilinear", name)
    if buf.ndim < 4:
        raise IndexError(f"Bilinear initializer needs a 4-D shape (N, C, H, W) for "
                         f"{str(name)!r}, got shape {buf.shape}")
    return buf


# ---- Load and Mixed (not Initializers, not registered) --------------------------------------
class Load:
    """Initialize by copying from saved parameters: a dict ``name -> array`` or a ``.params``
    file (``mx.nd.save`` format); ``arg:``/``aux:`` prefixes are stripped. Names that are
    missing go to ``default_init``.

    Args:
        param: the dict or the file name.
        default_init: initializer for names not found (else AssertionError).
        verbose: log ``Initialized <name> by loading`` / ``by default``.
    """

    def __init__(self, param: Any, default_init: Optional[Any] = None,
                 verbose: bool = False) -> None:
        if isinstance(param, str):
            from .ndarray import load
            param = load(param)
        if not isinstance(param, dict):
            raise AssertionError()
        self.param: Dict[str, Any] = {}
        for name, arr in param.items():
            if name.startswith("arg:") or name.startswith("aux:"):
                self.param[name[4:]] = arr
            else:
                self.param[name] = arr
        self.default_init = default_init
        self.verbose = verbose

    def __call__(self, name: Any, arr: Any) -> None:
        if name in self.param:
            src = self.param[name]
            src_buf = _buffer(src) if isinstance(src, (NDArray, np.ndarray)) else np.asarray(src)
            buf = _array(arr)
            if buf.shape != src_buf.shape:
                raise AssertionError(
                    f"Parameter {name} cannot be initialized from loading. Shape mismatch, "
                    f"target {buf.shape} vs loaded {src_buf.shape}")
            buf[...] = src_buf
            if self.verbose:
                logging.info("Initialized %s by loading", name)
        else:
            if self.default_init is None:
                raise AssertionError(f"Cannot Initialize {name}. Not found in loaded param and "
                                     "no default Initializer is provided.")
            self.default_init(name, arr)
            if self.verbose:
                logging.info("Initialized %s by default", name)


class Mixed:
    """Route parameters to initializers by regular expression: the first pattern that
    ``re.match``-es the name (anchored at the start) wins.

    Example: ``Mixed(['.*bias', '.*'], [mx.init.Zero(), mx.init.Uniform(0.1)])``.
    """

    def __init__(self, patterns: Sequence[str], initializers: Sequence[Any]) -> None:
        if len(patterns) != len(initializers):
            raise AssertionError(f"{len(patterns)} patterns but {len(initializers)} initializers")
        self.map = list(zip([re.compile(p) for p in patterns], initializers))

    def __call__(self, name: Any, arr: Any) -> None:
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise ValueError(f"Mixed: parameter name {str(name)!r} did not match any pattern "
                         f"{[p.pattern for p, _ in self.map]}. Consider adding a \".*\" "
                         "pattern at the end with a default Initializer.")


# ---- concrete initializers --------------------------------------------------------------------
@register
@alias("zeros")
class Zero(Initializer):
    """Weights := 0. ``mx.init.Zero()``."""

    def __init__(self) -> None:
        super().__init__()

    def _init_weight(self, _: Any, arr: Any) -> None:
        _fill(arr, 0)


@register
@alias("ones")
class One(Initializer):
    """Weights := 1. ``mx.init.One()``."""

    def __init__(self) -> None:
        super().__init__()

    def _init_weight(self, _: Any, arr: Any) -> None:
        _fill(arr, 1)


@register
class Constant(Initializer):
    """Weights := value (a scalar, or an array broadcast numpy-style).
    ``mx.init.Constant(0.5)``, ``mx.init.Constant([1, 2])``."""

    def __init__(self, value: Any) -> None:
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _: Any, arr: Any) -> None:
        _fill(arr, self.value)

    def dumps(self) -> str:
        val = self._kwargs["value"]
        if not np.isscalar(val):
            if isinstance(val, NDArray):
                self._kwargs["value"] = val.asnumpy().tolist()
            elif isinstance(val, np.ndarray):
                self._kwargs["value"] = val.tolist()
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])


@register
class Uniform(Initializer):
    """Weights ~ U(-scale, scale). ``mx.init.Uniform(0.1)``."""

    def __init__(self, scale: float = 0.07) -> None:
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, name: Any, arr: Any) -> None:
        buf = _float_array(arr, "Uniform", name)
        random._fill(_core.random_uniform, -self.scale, self.scale, arr, buf)


@register
class Normal(Initializer):
    """Weights ~ N(0, sigma**2). ``mx.init.Normal(0.01)``."""

    def __init__(self, sigma: float = 0.01) -> None:
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, name: Any, arr: Any) -> None:
        buf = _float_array(arr, "Normal", name)
        random._fill(_core.random_normal, 0, self.sigma, arr, buf)


@register
class Orthogonal(Initializer):
    """Weights := scale * an orthonormal matrix: the thin SVD ``T = U S V^T`` of a random
    (shape[0], prod(shape[1:])) matrix T (U(-1, 1) for ``rand_type='uniform'``, N(0, 1) for
    ``'normal'``), taking U when shape[0] >= prod(shape[1:]) else V^T. The SVD is Eigen's, so
    singular vectors may have other signs than MXNet's (LAPACK) ones; T is MXNet's exactly.
    ``mx.init.Orthogonal(scale=1.0)``."""

    def __init__(self, scale: float = 1.414, rand_type: str = "uniform") -> None:
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, name: Any, arr: Any) -> None:
        buf = _float_array(arr, "Orthogonal", name)
        if self.rand_type not in ("uniform", "normal"):
            raise _RandTypeError(f"Orthogonal rand_type must be 'uniform' or 'normal', got "
                                 f"{self.rand_type!r}")
        if buf.ndim < 2:
            raise ValueError(f"Orthogonal initializer needs at least 2 dimensions for "
                             f"{str(name)!r}, got shape {buf.shape}")
        _apply(_core.OrthogonalRule(float(self.scale), self.rand_type), buf)


class _RandTypeError(UnboundLocalError, ValueError):
    """MXNet 1.9.1 fails on an unknown Orthogonal rand_type with UnboundLocalError; mxopt
    raises this subclass of it (and of ValueError) with a clear message."""


@register
class Xavier(Initializer):
    """Xavier/Glorot: weights ~ U(-c, c) (``rnd_type='uniform'``) or N(0, c**2)
    (``'gaussian'``), ``c = sqrt(magnitude / factor)``; with ``hw = prod(shape[2:])``,
    ``fan_in = shape[1] * hw`` and ``fan_out = shape[0] * hw``, factor is their mean
    (``factor_type='avg'``), fan_in (``'in'``) or fan_out (``'out'``). Needs >= 2-D weights.
    ``mx.init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2)``."""

    def __init__(self, rnd_type: str = "uniform", factor_type: str = "avg",
                 magnitude: float = 3) -> None:
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _init_weight(self, name: Any, arr: Any) -> None:
        buf = _float_array(arr, "Xavier", name)
        if buf.ndim < 2:
            raise ValueError(f"Xavier initializer cannot be applied to vector {name}. It "
                             "requires at least 2D.")
        rule = _core.XavierRule(str(self.rnd_type), str(self.factor_type), self.magnitude)
        _apply(rule, buf)


@register
class MSRAPrelu(Xavier):
    """He/Kaiming init for PReLU nets: Xavier gaussian with magnitude
    ``2 / (1 + slope**2)``, i.e. weights ~ N(0, 2 / ((1 + slope**2) * factor)).
    ``mx.init.MSRAPrelu(factor_type='in', slope=0)``."""

    def __init__(self, factor_type: str = "avg", slope: float = 0.25) -> None:
        magnitude = 2.0 / (1 + slope ** 2)
        super().__init__("gaussian", factor_type, magnitude)
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Bilinear(Initializer):
    """Bilinear upsampling kernel for 4-D (N, C, H, W) deconvolution weights.
    ``mx.init.Bilinear()``."""

    def __init__(self) -> None:
        super().__init__()

    def _init_weight(self, name: Any, arr: Any) -> None:
        _apply(_core.BilinearRule(), _bilinear_array(arr, name))


@register
class LSTMBias(Initializer):
    """LSTM bias: zeros except the forget gate (rows [h, 2h) of 4h) := forget_bias. Use it
    through ``mx.sym.Variable('..._bias', init=mx.init.LSTMBias())``: as the global
    initializer a ``*_bias`` name gets the plain bias rule (0)."""

    def __init__(self, forget_bias: float = 1.0) -> None:
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name: Any, arr: Any) -> None:
        buf = _array(arr)
        if buf.dtype.type in _FLOAT_DTYPES and buf.flags.c_contiguous and buf.ndim >= 1:
            _core.LSTMBiasRule(_mxnet_scalar(self.forget_bias)).fill(buf)
        else:
            _fill(arr, 0.0)
            h = int(buf.shape[0] / 4)
            _fill(buf[h:2 * h], self.forget_bias)


_GATES = {"rnn_relu": [""], "rnn_tanh": [""], "lstm": ["_i", "_f", "_c", "_o"],
          "gru": ["_r", "_z", "_o"]}


@register
class FusedRNN(Initializer):
    """Initializes the flat parameter vector of a fused RNN layer piece by piece: each
    i2h/h2h weight and bias with ``init`` (or the global initializer), LSTM forget-gate biases
    with ``forget_bias``.

    Args:
        init: initializer for the pieces (None: the global initializer).
        num_hidden, num_layers, mode ('rnn_relu', 'rnn_tanh', 'lstm', 'gru'), bidirectional,
        forget_bias: the layer's configuration.
    """

    def __init__(self, init: Any, num_hidden: int, num_layers: int, mode: str,
                 bidirectional: bool = False, forget_bias: float = 1.0) -> None:
        if isinstance(init, str):
            klass, _ = json.loads(init)
            # MXNet 1.9.1 looks the name up in the wrong registry level and fails here.
            raise KeyError(klass.lower())
        super().__init__(init=init.dumps() if init is not None else None,
                         num_hidden=num_hidden, num_layers=num_layers, mode=mode,
                         bidirectional=bidirectional, forget_bias=forget_bias)
        self._init = init
        self._num_hidden = num_hidden
        self._num_layers = num_layers
        self._mode = mode
        self._bidirectional = bidirectional
        self._forget_bias = forget_bias

    def _pieces(self, buf: np.ndarray) -> List[Any]:
        if self._mode not in _GATES:
            raise ValueError(f"FusedRNN mode must be one of {sorted(_GATES)}, got {self._mode!r}")
        gates = _GATES[self._mode]
        b = 2 if self._bidirectional else 1
        h, layers, m = self._num_hidden, self._num_layers, len(gates)
        total = buf.size
        n_in = total // b // h // m - (layers - 1) * (h + b * h + 2) - h - 2
        dirs = ["l", "r"][:b]
        flat = buf.reshape(-1)
        pieces, p = [], 0

        def take(name: str, shape: tuple) -> None:
            nonlocal p
            size = int(np.prod(shape))
            pieces.append((name, flat[p:p + size].reshape(shape)))
            p += size

        for layer in range(layers):
            for d in dirs:
                cols = n_in if layer == 0 else b * h
                for g in gates:
                    take(f"{d}{layer}_i2h{g}_weight", (h, cols))
                for g in gates:
                    take(f"{d}{layer}_h2h{g}_weight", (h, h))
        for layer in range(layers):
            for d in dirs:
                for g in gates:
                    take(f"{d}{layer}_i2h{g}_bias", (h,))
                for g in gates:
                    take(f"{d}{layer}_h2h{g}_bias", (h,))
        if p != total:
            raise ValueError(f"FusedRNN: a parameter vector of {total} values does not fit "
                             f"mode={self._mode!r}, num_hidden={h}, num_layers={layers}, "
                             f"bidirectional={self._bidirectional}")
        return pieces

    def _init_weight(self, desc: Any, arr: Any) -> None:
        buf = _float_array(arr, "FusedRNN", desc)
        work = buf if buf.flags.c_contiguous else buf.copy()
        wrap = isinstance(arr, NDArray)
        global_init = getattr(desc, "global_init", None)
        for name, view in self._pieces(work):
            piece = NDArray(view) if wrap else view
            arg_desc = InitDesc(name, global_init=global_init)
            if self._mode == "lstm" and name.endswith("_f_bias"):
                _fill(piece, self._forget_bias)
            elif self._init is None:
                global_init(arg_desc, piece)
            else:
                self._init(arg_desc, piece)
        if work is not buf:
            buf[...] = work
