"""``mx.mod.Module``: a symbol bound to one CPU executor, with parameters, an optimizer and
MXNet 1.9.1's API and call-order rules.

Example (the acceptance program)::

    >>> import numpy as np, mxopt as mx
    >>> data = mx.sym.Variable('data')
    >>> fc = mx.sym.FullyConnected(data, name='fc', num_hidden=10)
    >>> mod = mx.mod.Module(mx.sym.SoftmaxOutput(fc, name='softmax'))
    >>> mod.bind(data_shapes=[('data', (128, 20))], label_shapes=[('softmax_label', (128,))])
    >>> mod.init_params(mx.init.Uniform(scale=1.0))
    >>> mod.init_optimizer(optimizer='sgd', optimizer_params=(('learning_rate', 0.1),))
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import optimizer as opt
from ..base import MXNetError, atomic_write
from ..context import Context, cpu
from ..executor import Executor
from ..initializer import InitDesc, Uniform
from ..io import DataDesc
from ..model import load_checkpoint
from ..ndarray import NDArray, load as nd_load, save as nd_save, zeros
from ..ndarray.ndarray import APART_MIN_BYTES, zeros_apart
from .base_module import BaseModule

__all__ = ["Module"]

_FLOATS = (np.float32, np.float64)


def _check_input_names(symbol: Any, names: List[str], typename: str, throw: bool) -> None:
    """Every name must be an argument of the symbol (ValueError, or a warning for labels)."""
    args = symbol.list_arguments()
    for name in names:
        if name in args:
            continue
        candidates = [arg for arg in args if not arg.endswith("_weight") and
                      not arg.endswith("_bias") and not arg.endswith("_gamma") and
                      not arg.endswith("_beta")]
        msg = ("\033[91mYou created Module with Module(..., %s_names=%s) but input with name "
               "'%s' is not found in symbol.list_arguments(). Did you mean one of:\n\t%s\033[0m"
               % (typename, str(names), name, "\n\t".join(candidates)))
        if throw:
            raise ValueError(msg)
        warnings.warn(msg)


def _check_names_match(data_names: List[str], data_shapes: List[DataDesc], name: str,
                       throw: bool) -> None:
    actual = [x[0] for x in data_shapes]
    if sorted(data_names) != sorted(actual):
        msg = "Data provided by %s_shapes don't match names specified by %s_names (%s vs. %s)" % (
            name, name, str(data_shapes), str(data_names))
        if throw:
            raise ValueError(msg)
        warnings.warn(msg)


def _desc(x: Any, what: str) -> DataDesc:
    if isinstance(x, DataDesc):
        return x
    if not isinstance(x, (tuple, list)) or len(x) != 2 or not isinstance(x[0], str):
        raise TypeError(f"{what} must be a list of (name, shape) pairs or DataDesc, got {x!r}")
    try:
        if isinstance(x[1], str):
            raise TypeError
        shape = tuple(int(d) for d in x[1])
    except (TypeError, ValueError):
        raise TypeError(f"{what}: the shape of {x[0]!r} must be a tuple of ints, got {x[1]!r}") from None
    return DataDesc(x[0], shape)


def _parse_data_desc(data_names: List[str], label_names: List[str], data_shapes: Any,
                     label_shapes: Any) -> Tuple[List[DataDesc], Optional[List[DataDesc]]]:
    if data_shapes is None or isinstance(data_shapes, (str, DataDesc)):
        raise TypeError("data_shapes must be a list of (name, shape) pairs or DataDesc")
    data_shapes = [_desc(x, "data_shapes") for x in data_shapes]
    _check_names_match(data_names, data_shapes, "data", True)
    if label_shapes is not None:
        label_shapes = [_desc(x, "label_shapes") for x in label_shapes]
        _check_names_match(label_names, label_shapes, "label", False)
    else:
        _check_names_match(label_names, [], "label", False)
    return data_shapes, label_shapes


def _copy_into(src: Any, dst: NDArray, name: str) -> None:
    """Copy a parameter value (NDArray or numpy) into ``dst``, casting its dtype."""
    data = src._data if isinstance(src, NDArray) else np.asarray(src)
    if tuple(data.shape) != tuple(dst.shape):
        raise ValueError(f"parameter {name!r}: shape {tuple(data.shape)} does not match the "
                         f"bound shape {tuple(dst.shape)}")
    np.copyto(dst._data, data, casting="unsafe")


class Module(BaseModule):
    """A module of one symbol on the CPU.

    Args:
        symbol: the network (its loss heads give the outputs).
        data_names: names of the data inputs (must be arguments of ``symbol``).
        label_names: names of the label inputs (a missing one only warns).
        logger: where ``info``/``warning`` messages go (default: the ``logging`` module).
        context: ``mx.cpu()`` (or a list of one); mxopt runs on the CPU only.
        fixed_param_names: parameters that are not updated (no gradient).
        state_names: inputs that are states (neither data, label nor parameter).
        work_load_list, group2ctxs, compression_params: accepted for MXNet compatibility.
    """

    def __init__(self, symbol: Any, data_names: Optional[Sequence[str]] = ("data",),
                 label_names: Optional[Sequence[str]] = ("softmax_label",), logger: Any = logging,
                 context: Any = None, work_load_list: Any = None,
                 fixed_param_names: Optional[Sequence[str]] = None,
                 state_names: Optional[Sequence[str]] = None, group2ctxs: Any = None,
                 compression_params: Any = None) -> None:
        super().__init__(logger=logger)
        from ..symbol import Symbol
        if not isinstance(symbol, Symbol):
            raise TypeError(f"symbol must be an mx.sym.Symbol, got {type(symbol).__name__}")
        if context is None:
            context = cpu()
        contexts = context if isinstance(context, (list, tuple)) else [context]
        if len(contexts) != 1 or not isinstance(contexts[0], Context):
            raise ValueError(f"mxopt runs on one CPU context; got context={context!r} "
                             "(use mx.cpu())")
        self._context = [contexts[0]]
        self._work_load_list = [1]
        self._group2ctxs = group2ctxs
        self._symbol = symbol

        data_names = list(data_names) if data_names is not None else []
        label_names = list(label_names) if label_names is not None else []
        state_names = list(state_names) if state_names is not None else []
        fixed_param_names = list(fixed_param_names) if fixed_param_names is not None else []
        _check_input_names(symbol, data_names, "data", True)
        _check_input_names(symbol, label_names, "label", False)
        _check_input_names(symbol, state_names, "state", True)
        _check_input_names(symbol, fixed_param_names, "fixed_param", True)

        arg_names = symbol.list_arguments()
        input_names = data_names + label_names + state_names
        self._param_names = [x for x in arg_names if x not in input_names]
        self._fixed_param_names = fixed_param_names
        self._aux_names = symbol.list_auxiliary_states()
        self._data_names = data_names
        self._label_names = label_names
        self._state_names = state_names
        self._output_names = symbol.list_outputs()

        self._arg_params: Optional[Dict[str, NDArray]] = None
        self._aux_params: Optional[Dict[str, NDArray]] = None
        self._params_dirty = False
        self._compression_params = compression_params
        self._optimizer: Any = None
        self._kvstore: Any = None
        self._update_on_kvstore = False
        self._updater: Any = None
        self._preload_opt_states: Optional[str] = None
        self._grad_req: Any = None
        self._exec: Optional[Executor] = None
        self._data_shapes: Optional[List[DataDesc]] = None
        self._label_shapes: Optional[List[DataDesc]] = None
        self._monitor: Any = None
        self._update_plan: Any = None  # (executor, indices, grads, weights) of update()

    # ---- loading / saving ----------------------------------------------------------------------
    @staticmethod
    def load(prefix: str, epoch: int, load_optimizer_states: bool = False,
             **kwargs: Any) -> "Module":
        """A module from ``prefix-symbol.json`` + ``prefix-%04d.params`` (MXNet's or mxopt's).

        The parameters are copied in at ``bind``; with ``load_optimizer_states`` the
        ``prefix-%04d.states`` file is loaded by ``init_optimizer``.
        """
        sym, args, auxs = load_checkpoint(prefix, epoch)
        mod = Module(symbol=sym, **kwargs)
        mod._arg_params = args
        mod._aux_params = auxs
        mod.params_initialized = True
        if load_optimizer_states:
            mod._preload_opt_states = "%s-%04d.states" % (prefix, epoch)
        return mod

    def save_checkpoint(self, prefix: str, epoch: int, save_optimizer_states: bool = False,
                        remove_amp_cast: bool = True) -> None:
        """Write ``prefix-symbol.json``, ``prefix-%04d.params`` and optionally ``.states``."""
        # checked before any file is written (MXNet writes the symbol file, then asserts)
        assert self.params_initialized, "call init_params (or set_params) first"
        if save_optimizer_states:
            assert self.optimizer_initialized, "call init_optimizer first"
        self._symbol.save("%s-symbol.json" % prefix, remove_amp_cast=remove_amp_cast)
        param_name = "%s-%04d.params" % (prefix, epoch)
        self.save_params(param_name)
        logging.info('Saved checkpoint to "%s"', param_name)
        if save_optimizer_states:
            state_name = "%s-%04d.states" % (prefix, epoch)
            self.save_optimizer_states(state_name)
            logging.info('Saved optimizer state to "%s"', state_name)

    def save_params(self, fname: str) -> None:
        """Save the parameters as an ``arg:``/``aux:`` dict file."""
        arg_params, aux_params = self.get_params()
        save_dict = {("arg:%s" % k): v for k, v in arg_params.items()}
        save_dict.update({("aux:%s" % k): v for k, v in aux_params.items()})
        nd_save(fname, save_dict)

    def load_params(self, fname: str) -> None:
        """Load an ``arg:``/``aux:`` dict file and ``set_params`` it."""
        save_dict = nd_load(fname)
        if isinstance(save_dict, list):
            if save_dict:
                raise ValueError("Invalid param file " + fname)
            save_dict = {}
        arg_params: Dict[str, NDArray] = {}
        aux_params: Dict[str, NDArray] = {}
        for k, value in save_dict.items():
            arg_type, name = k.split(":", 1)
            if arg_type == "arg":
                arg_params[name] = value
            elif arg_type == "aux":
                aux_params[name] = value
            else:
                raise ValueError("Invalid param file " + fname)
        self.set_params(arg_params, aux_params)

    # ---- properties ----------------------------------------------------------------------------
    @property
    def data_names(self) -> List[str]:
        return self._data_names

    @property
    def label_names(self) -> List[str]:
        return self._label_names

    @property
    def output_names(self) -> List[str]:
        return self._output_names

    @property
    def data_shapes(self) -> List[DataDesc]:
        assert self.binded
        return self._data_shapes

    @property
    def label_shapes(self) -> Optional[List[DataDesc]]:
        assert self.binded
        return self._label_shapes

    @property
    def output_shapes(self) -> List[Tuple[str, Tuple[int, ...]]]:
        assert self.binded
        return [(name, out.shape) for name, out in zip(self._output_names, self._exec.outputs)]

    # ---- parameters ----------------------------------------------------------------------------
    def get_params(self) -> Tuple[Dict[str, NDArray], Dict[str, NDArray]]:
        """``(arg_params, aux_params)``: the module's own dicts, refreshed in place from the
        executor when an ``update()`` happened since the last call."""
        assert self.params_initialized, "call init_params (or set_params) first"
        if self._params_dirty:
            self._sync_params_from_devices()
        return (self._arg_params, self._aux_params)

    def init_params(self, initializer: Any = Uniform(0.01), arg_params: Optional[Dict[str, Any]] = None,
                    aux_params: Optional[Dict[str, Any]] = None, allow_missing: bool = False,
                    force_init: bool = False, allow_extra: bool = False) -> None:
        """Initialize the parameters, in sorted-name order (so random draws match MXNet's).

        A name found in ``arg_params``/``aux_params`` is copied; a missing one raises
        RuntimeError unless ``allow_missing`` (then ``initializer`` fills it).
        """
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "init_params call ignored.", stacklevel=2)
            return
        assert self.binded, "call bind before initializing the parameters"

        def _impl(name: Any, arr: NDArray, cache: Optional[Dict[str, Any]]) -> None:
            if cache is not None:
                if name in cache:
                    cache_arr = cache[name]
                    if cache_arr is not arr:
                        _copy_into(cache_arr, arr, str(name))
                else:
                    if not allow_missing:
                        raise RuntimeError("%s is not presented" % name)
                    if initializer is not None:
                        initializer(name, arr)
            else:
                initializer(name, arr)

        attrs = self._symbol.attr_dict()
        for name, arr in sorted(self._arg_params.items()):
            _impl(InitDesc(name, attrs.get(name, None)), arr, arg_params)
        for name, arr in sorted(self._aux_params.items()):
            _impl(InitDesc(name, attrs.get(name, None)), arr, aux_params)
        self.params_initialized = True
        self._params_dirty = False
        self._exec_set_params(self._arg_params, self._aux_params)

    def set_params(self, arg_params: Dict[str, Any], aux_params: Optional[Dict[str, Any]],
                   allow_missing: bool = False, force_init: bool = True,
                   allow_extra: bool = False) -> None:
        """Assign parameter values (shapes must match the bound ones)."""
        if not allow_missing:
            self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                             allow_missing=allow_missing, force_init=force_init,
                             allow_extra=allow_extra)
            return
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "set_params call ignored.", stacklevel=2)
            return
        assert self.binded, "call bind before setting the parameters"
        self._exec_set_params(arg_params, aux_params or {}, allow_extra=allow_extra)
        self._params_dirty = True
        self.params_initialized = True

    def _exec_set_params(self, arg_params: Dict[str, Any], aux_params: Dict[str, Any],
                         allow_extra: bool = False) -> None:
        arg_dict = self._exec.arg_dict
        for name, value in arg_params.items():
            if name in self._param_names:
                _copy_into(value, arg_dict[name], name)
        if aux_params and not allow_extra:
            extra = [k for k in aux_params if k not in self._aux_names]
            if extra:
                raise ValueError(f"Find name {extra[0]} that is not in the auxiliary states")

    def _sync_params_from_devices(self) -> None:
        """Copy the executor's parameter values into the module's dicts (same objects)."""
        arg_dict = self._exec.arg_dict
        for name in self._param_names:
            src = arg_dict[name]._data
            if name in self._arg_params:
                np.copyto(self._arg_params[name]._data, src, casting="unsafe")
            else:
                self._arg_params[name] = NDArray(src.copy())
        self._params_dirty = False

    # ---- binding -------------------------------------------------------------------------------
    def _reset_bind(self) -> None:
        self.binded = False
        self._exec = None
        self._data_shapes = None
        self._label_shapes = None

    def _grad_reqs(self, for_training: bool, inputs_need_grad: bool, grad_req: Any) -> Dict[str, str]:
        arg_names = self._symbol.list_arguments()
        if not for_training:
            return {k: "null" for k in arg_names}
        def default(k: str, req: str) -> str:
            if k in self._param_names:
                return "null" if k in self._fixed_param_names else req
            if k in self._data_names:
                return req if inputs_need_grad else "null"
            return "null"
        if isinstance(grad_req, str):
            reqs = {k: default(k, grad_req) for k in arg_names}
        elif isinstance(grad_req, (list, tuple)):
            if len(grad_req) != len(arg_names):
                raise ValueError(f"grad_req has {len(grad_req)} entries for the {len(arg_names)} "
                                 f"arguments {arg_names}")
            reqs = dict(zip(arg_names, grad_req))
        elif isinstance(grad_req, dict):
            reqs = {k: default(k, "write") for k in arg_names}
            reqs.update(grad_req)
        else:
            raise ValueError("grad_req must be one of str, list, tuple, or dict.")
        for k, v in reqs.items():
            if v not in ("null", "write", "add", "inplace"):
                raise ValueError(f"grad_req for {k} must be 'null', 'write' or 'add', got {v!r}")
        return reqs

    def _make_executor(self, data_shapes: List[DataDesc], label_shapes: Optional[List[DataDesc]],
                       shared: Optional[Executor]) -> Executor:
        # Batch size: the 'N' axis of each input; all inputs must agree.
        batch_size = None
        for desc in list(data_shapes) + list(label_shapes or []):
            axis = DataDesc.get_batch_axis(getattr(desc, "layout", "NCHW"))
            if axis < 0 or axis >= len(desc.shape):
                continue
            if batch_size is None:
                batch_size = desc.shape[axis]
            elif desc.shape[axis] != batch_size:
                raise ValueError("all data must have the same batch size: batch_size = %d, but %s "
                                 "has shape %s" % (batch_size, desc.name, desc.shape))
        self._batch_size = batch_size or 1
        dtype = np.float32
        for desc in data_shapes:
            t = np.dtype(getattr(desc, "dtype", np.float32)).type
            if t in _FLOATS:
                dtype = t
                break
        shapes = {d.name: tuple(d.shape) for d in data_shapes}
        if label_shapes:
            shapes.update({d.name: tuple(d.shape) for d in label_shapes})
        arg_names = self._symbol.list_arguments()
        arg_shapes, _, _ = self._symbol.infer_shape_partial(**shapes)
        unknown = [f"{n}: {s}" for n, s in zip(arg_names, arg_shapes) if not s or 0 in s]
        if unknown:
            raise MXNetError("bind: cannot decide the shapes of " + ", ".join(unknown) +
                             " (Consider providing them as input)")
        reqs = [self._grad_req_map[n] for n in arg_names]
        args, grads = [], []
        if shared is not None:  # reshape / shared module: parameters must keep their shapes
            for name, shape in zip(arg_names, arg_shapes):
                old = shared.arg_dict.get(name)
                if name in self._param_names and old is not None and old.shape != tuple(shape):
                    raise MXNetError(
                        f"the new input shapes {[(d.name, d.shape) for d in data_shapes]} would "
                        f"change parameter {name} from {old.shape} to {tuple(shape)}; parameters "
                        "cannot change shape")
        for name, shape, req in zip(arg_names, arg_shapes, reqs):
            old = shared.arg_dict.get(name) if shared is not None else None
            if old is not None and old.shape == tuple(shape) and name in self._param_names:
                args.append(old._data)
                g = shared.grad_dict.get(name)
                grads.append(g._data if g is not None else None)
                continue
            arg = np.zeros(shape, dtype=dtype)
            args.append(arg)
            if req == "null":
                grads.append(None)
            elif arg.nbytes >= APART_MIN_BYTES:  # away from the weight and its optimizer states
                grads.append(zeros_apart(arg.shape, arg.dtype, arg.ctypes.data, 1024))
            else:
                grads.append(np.zeros(shape, dtype=dtype))
        return Executor(self._symbol, dtype, args, grads, reqs)

    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False,
             shared_module: Optional["Module"] = None, grad_req: Any = "write") -> None:
        """Allocate the executor for the given input shapes.

        Args:
            data_shapes: ``[(name, shape)]`` or DataDescs (e.g. ``iter.provide_data``).
            label_shapes: same for labels (None: label shapes are inferred, with a warning).
            for_training: allocate gradients (False: inference only).
            inputs_need_grad: also compute gradients w.r.t. the data inputs.
            force_rebind: rebind even if already bound.
            shared_module: share parameter arrays with this (bound, initialized) module.
            grad_req: ``'write'``, ``'add'``, ``'null'``, a per-argument list or a dict.
        """
        if force_rebind:
            self._reset_bind()
        if self.binded:
            self.logger.warning("Already bound, ignoring bind()")
            return
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._grad_req = grad_req
        if not for_training:
            assert not inputs_need_grad
        data_shapes, label_shapes = _parse_data_desc(self._data_names, self._label_names,
                                                     data_shapes, label_shapes)
        self._grad_req_map = self._grad_reqs(for_training, inputs_need_grad, grad_req)
        shared = None
        if shared_module is not None:
            assert isinstance(shared_module, Module) and shared_module.binded and \
                shared_module.params_initialized
            shared = shared_module._exec
        self._exec = self._make_executor(data_shapes, label_shapes, shared)
        self._data_shapes, self._label_shapes = data_shapes, label_shapes
        self.binded = True
        if shared_module is not None:
            self.params_initialized = True
            self._arg_params = shared_module._arg_params
            self._aux_params = shared_module._aux_params
        elif self.params_initialized:
            self._exec_set_params(self._arg_params, self._aux_params or {}, allow_extra=True)
        else:
            assert self._arg_params is None and self._aux_params is None
            arg_dict = self._exec.arg_dict
            self._arg_params = {name: zeros(arg_dict[name].shape, dtype=arg_dict[name].dtype)
                                for name in self._param_names}
            self._aux_params = {}
        if shared_module is not None and shared_module.optimizer_initialized:
            self.borrow_optimizer(shared_module)

    def reshape(self, data_shapes: Any, label_shapes: Any = None) -> None:
        """Re-bind for new input shapes, keeping (sharing) the parameters and gradients."""
        assert self.binded
        data_shapes, label_shapes = _parse_data_desc(self._data_names, self._label_names,
                                                     data_shapes, label_shapes)
        self._exec = self._make_executor(data_shapes, label_shapes, self._exec)
        self._data_shapes, self._label_shapes = data_shapes, label_shapes
        if self._monitor is not None:
            self._monitor.install(self._exec)

    def borrow_optimizer(self, shared_module: "Module") -> None:
        """Use ``shared_module``'s optimizer and updater."""
        assert shared_module.optimizer_initialized
        self._optimizer = shared_module._optimizer
        self._kvstore = shared_module._kvstore
        self._update_on_kvstore = shared_module._update_on_kvstore
        self._updater = shared_module._updater
        self.optimizer_initialized = True

    # ---- optimizer -----------------------------------------------------------------------------
    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),),
                       force_init: bool = False) -> None:
        """Create the optimizer (a name or an ``Optimizer``) and its updater.

        ``rescale_grad`` defaults to ``1/batch_size``; ``param_idx2name`` and the symbol are
        passed so per-parameter lr/wd rules apply. ``kvstore`` may be None or a non-``dist``
        name (``'local'``, ``'device'``): with one CPU no kvstore is used.
        """
        assert self.binded and self.params_initialized, \
            "call bind and init_params before init_optimizer"
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring...")
            return
        if self._params_dirty:
            self._sync_params_from_devices()
        if kvstore is not None:
            if not isinstance(kvstore, str):
                raise TypeError("kvstore must be KVStore, str or None")
            if "dist" in kvstore:
                raise ValueError(f"kvstore={kvstore!r}: mxopt runs on a single CPU; distributed "
                                 "kvstores are not available (use 'local' or None)")
        batch_size = self._batch_size
        rescale_grad = 1.0 / batch_size
        idx2name = {i: n for i, n in enumerate(self._param_names)}
        if isinstance(optimizer, str):
            params = dict(optimizer_params)
            if "rescale_grad" not in params:
                params["rescale_grad"] = rescale_grad
            optimizer = opt.create(optimizer, sym=self.symbol, param_idx2name=idx2name, **params)
        else:
            if not isinstance(optimizer, opt.Optimizer):
                raise TypeError("optimizer must be a name or an mx.optimizer.Optimizer, got "
                                f"{type(optimizer).__name__}")
            if optimizer.rescale_grad != rescale_grad:
                warnings.warn("Optimizer created manually outside Module but rescale_grad is not "
                              "normalized to 1.0/batch_size/num_workers (%s vs. %s). "
                              "Is this intended?" % (optimizer.rescale_grad, rescale_grad),
                              stacklevel=2)
            if not optimizer.idx2name:
                optimizer.idx2name = idx2name.copy()
        self._optimizer = optimizer
        self._kvstore = None
        self._update_on_kvstore = False
        self._updater = opt.get_updater(optimizer)
        self.optimizer_initialized = True
        if self._preload_opt_states is not None:
            self.load_optimizer_states(self._preload_opt_states)
            self._preload_opt_states = None

    def save_optimizer_states(self, fname: str) -> None:
        """Write the updater's states (``updater.get_states()``) to ``fname``."""
        assert self.optimizer_initialized, "call init_optimizer first"
        data = self._updater.get_states()
        atomic_write(fname, data)

    def load_optimizer_states(self, fname: str) -> None:
        """Restore updater states saved by ``save_optimizer_states`` (mxopt's or MXNet's)."""
        assert self.optimizer_initialized, "call init_optimizer first"
        with open(fname, "rb") as f:
            self._updater.set_states(f.read())

    # ---- computation ---------------------------------------------------------------------------
    def forward(self, data_batch: Any, is_train: Optional[bool] = None) -> None:
        """Copy the batch into the executor and compute the outputs.

        ``is_train=None`` means ``for_training``. A batch whose data shapes differ from the
        bound ones reshapes the executor (parameters are shared).
        """
        assert self.binded and self.params_initialized, \
            "call bind and init_params before forward"
        data = data_batch.data
        if len(data) != len(self._data_shapes):
            raise ValueError(f"forward: the batch has {len(data)} data arrays, the module takes "
                             f"{len(self._data_shapes)} ({self._data_names})")
        cur = self._data_shapes
        if any(tuple(d.shape) != tuple(desc.shape) for d, desc in zip(data, cur)):
            provide_data = getattr(data_batch, "provide_data", None)
            if provide_data:
                new_dshape = provide_data
            else:
                new_dshape = [DataDesc(i.name, d.shape, i.dtype, i.layout) for i, d in zip(cur, data)]
            provide_label = getattr(data_batch, "provide_label", None)
            if provide_label:
                new_lshape = provide_label
            elif data_batch.label and self._label_shapes:
                new_lshape = [DataDesc(i.name, j.shape, i.dtype, i.layout)
                              for i, j in zip(self._label_shapes, data_batch.label)]
            else:
                new_lshape = None
            self.reshape(new_dshape, new_lshape)
        arg_dict = self._exec.arg_dict
        for desc, src in zip(self._data_shapes, data):
            _load(src, arg_dict[desc.name], desc.name)
        if self._label_shapes is not None and data_batch.label:
            for desc, src in zip(self._label_shapes, data_batch.label):
                _load(src, arg_dict[desc.name], desc.name)
        if is_train is None:
            is_train = self.for_training
        self._exec.forward(is_train=is_train)
        if self._monitor is not None:
            self._monitor._collect_outputs(self._exec)

    def backward(self, out_grads: Any = None) -> None:
        """Gradients of the last forward; ``out_grads`` are needed for non-loss outputs only."""
        assert self.binded and self.params_initialized, \
            "call bind and init_params before backward"
        assert self.for_training, "re-bind with for_training=True to run backward"
        self._exec.backward(out_grads=out_grads)

    def update(self) -> None:
        """One optimizer step on every parameter that has a gradient (one updater call)."""
        assert self.binded and self.params_initialized and self.optimizer_initialized, \
            "call bind, init_params and init_optimizer before update"
        self._params_dirty = True
        plan = self._update_plan
        if plan is None or plan[0] is not self._exec:
            indices, grads, weights = [], [], []
            arg_dict, grad_dict = self._exec.arg_dict, self._exec.grad_dict
            for i, name in enumerate(self._param_names):
                grad = grad_dict.get(name)
                if grad is None:  # fixed parameter: no gradient, no update
                    continue
                indices.append(i)
                grads.append(grad)
                weights.append(arg_dict[name])
            plan = self._update_plan = (self._exec, indices, grads, weights)
        if plan[1]:
            self._updater(list(plan[1]), list(plan[2]), list(plan[3]))

    def get_outputs(self, merge_multi_context: bool = True) -> List[NDArray]:
        """The outputs of the last forward (the executor's buffers, overwritten by the next one)."""
        assert self.binded and self.params_initialized
        return list(self._exec.outputs)

    def get_input_grads(self, merge_multi_context: bool = True) -> List[NDArray]:
        """Gradients w.r.t. the data inputs (bind with ``inputs_need_grad=True``)."""
        assert self.binded and self.params_initialized and self.inputs_need_grad
        return [self._exec.grad_dict[name] for name in self._data_names]

    def get_states(self, merge_multi_context: bool = True) -> List[NDArray]:
        assert self.binded and self.params_initialized
        return [self._exec.arg_dict[name] for name in self._state_names]

    def set_states(self, states: Any = None, value: Any = None) -> None:
        assert self.binded and self.params_initialized
        if states is not None:
            assert value is None, "Only one of states & value can be specified."
            for name, src in zip(self._state_names, states):
                _load(src, self._exec.arg_dict[name], name)
        else:
            assert value is not None, "At least one of states & value must be specified."
            for name in self._state_names:
                self._exec.arg_dict[name]._data[...] = value

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        """Update ``eval_metric`` with the last forward's outputs and ``labels``."""
        label_names = [d.name for d in self._label_shapes] if self._label_shapes else []
        eval_metric.update_dict(OrderedDict(zip(label_names, labels or [])),
                                OrderedDict(zip(self._output_names, self._exec.outputs)))

    def install_monitor(self, mon: Any) -> None:
        """Attach an ``mx.monitor.Monitor`` to the executor."""
        assert self.binded
        self._monitor = mon
        mon.install(self._exec)

    def prepare(self, data_batch: Any, sparse_row_id_fn: Any = None) -> None:
        """No-op (kept for MXNet compatibility); warns when ``sparse_row_id_fn`` is given."""
        assert self.binded
        if sparse_row_id_fn is not None:
            warnings.warn(UserWarning("sparse_row_id_fn is not invoked for BaseModule."))


def _load(src: Any, dst: NDArray, name: str) -> None:
    """Copy one batch array into a bound input buffer (cast to its dtype)."""
    data = src._data if isinstance(src, NDArray) else np.asarray(src)
    buf = dst._data
    if data.shape != buf.shape:
        raise ValueError(f"input {name!r}: the batch array has shape {data.shape}, the module "
                         f"is bound with {buf.shape}")
    np.copyto(buf, data, casting="unsafe")
