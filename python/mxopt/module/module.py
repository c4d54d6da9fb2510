"""``mx.mod.Module``: a symbol bound to one executor per context, with parameters, an
optimizer, an optional key-value store and MXNet 1.9.1's API and call-order rules.

With several contexts (``context=[mx.cpu(0), mx.cpu(1)]``) each batch is sliced across the
executors in proportion to ``work_load_list``; gradients are summed through a key-value store
(``kvstore='local'`` / ``'device'`` or a KVStore object) and either the store runs the
optimizer (``update_on_kvstore``) or every context runs it on the summed gradient.

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
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import optimizer as opt
from ..base import MXNetError, atomic_write
from ..context import cpu
from ..executor import Executor
from ..initializer import InitDesc, Uniform
from ..io import DataDesc
from ..model import (_create_kvstore, _initialize_kvstore, _update_params,
                     _update_params_on_kvstore, load_checkpoint)
from ..ndarray import NDArray, arange, zeros
from ..ndarray.ndarray import APART_MIN_BYTES, zeros_apart
from ..ndarray.sparse import RowSparseNDArray
from .base_module import BaseModule, _check_input_names, _parse_data_desc
from .executor_group import DataParallelExecutorGroup, _check_contexts, _param_view

__all__ = ["Module"]

_FLOATS = (np.float32, np.float64)


def _copy_into(src: Any, dst: Any, name: str) -> None:
    """Copy a parameter value (NDArray, numpy or row_sparse) into ``dst`` (a dense parameter or
    a row_sparse one that stores every row), casting its dtype."""
    data = _param_view(src, name)
    if tuple(data.shape) != tuple(dst.shape):
        raise ValueError(f"parameter {name!r}: shape {tuple(data.shape)} does not match the "
                         f"bound shape {tuple(dst.shape)}")
    np.copyto(_param_view(dst, name), data, casting="unsafe")


def _param_zeros(like: Any) -> Any:
    """A module-level parameter of the kind of the bound one: row_sparse parameters store every
    row, as MXNet's initialised row_sparse weights do."""
    if isinstance(like, RowSparseNDArray):
        return RowSparseNDArray(np.zeros(like.shape, like._data.dtype),
                                np.arange(like.shape[0], dtype=np.int64), like.shape)
    return zeros(like.shape, dtype=like.dtype)



class Module(BaseModule):
    """A module of one symbol on one or several CPU contexts.

    Args:
        symbol: the network (its loss heads give the outputs).
        data_names: names of the data inputs (must be arguments of ``symbol``).
        label_names: names of the label inputs (a missing one only warns).
        logger: where ``info``/``warning`` messages go (default: the ``logging`` module).
        context: ``mx.cpu(i)`` or a list of them: one executor per context, each computing
            its slice of every batch.
        work_load_list: relative share of the batch of each context (default: equal).
        fixed_param_names: parameters that are not updated (no gradient).
        state_names: inputs that are states (neither data, label nor parameter).
        group2ctxs: accepted for MXNet compatibility (mxopt places no operator groups).
        compression_params: gradient compression of the store (``kvstore.
            set_gradient_compression``).

    Example::

        >>> mod = mx.mod.Module(net, context=[mx.cpu(0), mx.cpu(1)], work_load_list=[1, 3])
        >>> mod.fit(train_iter, num_epoch=2, kvstore='device')
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
        self._context = _check_contexts(cpu() if context is None else context)
        if work_load_list is None:
            work_load_list = [1] * len(self._context)
        assert len(work_load_list) == len(self._context), (
            "work_load_list has %d entries for %d contexts" % (len(work_load_list),
                                                                len(self._context)))
        self._work_load_list = list(work_load_list)
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
        self._update_on_kvstore: Optional[bool] = None
        self._updater: Any = None
        self._preload_opt_states: Optional[str] = None
        self._grad_req: Any = None
        self._grad_req_map: Dict[str, str] = {}
        self._exec_group: Optional[DataParallelExecutorGroup] = None
        self._data_shapes: Optional[List[DataDesc]] = None
        self._label_shapes: Optional[List[DataDesc]] = None
        self._monitor: Any = None
        # (executor, indices, grads, weights): update()'s one updater call on one context
        self._update_plan: Any = None

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
        return self._exec_group.get_output_shapes()

    @property
    def _exec(self) -> Optional[Executor]:
        """The first context's executor (the only one with a single context)."""
        return self._exec_group.execs[0] if self._exec_group is not None else None

    # ---- parameters ----------------------------------------------------------------------------
    def get_params(self) -> Tuple[Dict[str, NDArray], Dict[str, NDArray]]:
        """``(arg_params, aux_params)``: the module's own dicts, refreshed in place from the
        executors when an ``update()`` happened since the last call (with several contexts:
        the mean of the copies, computed as MXNet does)."""
        assert self.params_initialized, "call init_params (or set_params) first"
        if self._params_dirty:
            self._sync_params_from_devices()
        return (self._arg_params, self._aux_params)

    def init_params(self, initializer: Any = Uniform(0.01), arg_params: Optional[Dict[str, Any]] = None,
                    aux_params: Optional[Dict[str, Any]] = None, allow_missing: bool = False,
                    force_init: bool = False, allow_extra: bool = False) -> None:
        """Initialize the parameters, in sorted-name order (so random draws match MXNet's),
        then copy them to every context.

        A name found in ``arg_params``/``aux_params`` is copied; a missing one raises
        RuntimeError unless ``allow_missing`` (then ``initializer`` fills it). Shapes are
        checked before anything is copied.
        """
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "init_params call ignored.", stacklevel=2)
            return
        assert self.binded, "call bind before initializing the parameters"
        for own, given in ((self._arg_params, arg_params), (self._aux_params, aux_params)):
            for name, arr in (given or {}).items():
                dst = own.get(name)
                if dst is not None and dst is not arr:
                    src = arr._data if isinstance(arr, NDArray) else np.asarray(arr)
                    if tuple(src.shape) != tuple(dst.shape):
                        raise ValueError(f"parameter {name!r}: shape {tuple(src.shape)} does not "
                                         f"match the bound shape {tuple(dst.shape)}")

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
        self._exec_group.set_params(self._arg_params, self._aux_params, allow_extra=allow_extra)

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
        self._exec_group.set_params(arg_params, aux_params or {}, allow_extra=allow_extra)
        self._params_dirty = True
        self.params_initialized = True

    def _sync_params_from_devices(self) -> None:
        """Write the executors' parameter values into the module's dicts (same objects); with
        the optimizer on a store, row_sparse parameters come from the store (every row), as in
        MXNet (the executors only hold the rows the last batches pulled)."""
        self._exec_group.get_params(self._arg_params, self._aux_params)
        if self._kvstore and self._update_on_kvstore:
            for name, value in sorted(self._arg_params.items()):
                if isinstance(value, RowSparseNDArray):
                    self._pull_rows(name, arange(0, value.shape[0], dtype="int64"), [value])
        self._params_dirty = False

    def _pull_rows(self, name: str, row_ids: Any, targets: List[Any]) -> None:
        """Rows ``row_ids`` of parameter ``name`` from the store into ``targets`` (row_sparse
        arrays that store every row: only the pulled rows change)."""
        pulled = RowSparseNDArray(np.zeros((0,) + tuple(targets[0].shape[1:]),
                                           targets[0]._data.dtype),
                                  np.zeros((0,), np.int64), targets[0].shape)
        self._kvstore.row_sparse_pull(name, out=pulled, row_ids=row_ids)
        for t in targets:
            full = _param_view(t, name)
            if pulled._indices.size:
                full[pulled._indices] = pulled._data

    # ---- binding -------------------------------------------------------------------------------
    def _reset_bind(self) -> None:
        self.binded = False
        self._exec_group = None
        self._data_shapes = None
        self._label_shapes = None
        self._update_plan = None

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
        """The one place executors are created: one context's executor for these (sliced)
        input shapes; parameters of ``shared`` (same shapes) are shared, not copied."""
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
        arg_shapes, _, aux_shapes = self._symbol.infer_shape_partial(**shapes)
        unknown = [f"{n}: {s}" for n, s in zip(arg_names + self._aux_names,
                                                 arg_shapes + aux_shapes) if not s or 0 in s]
        if unknown:
            raise MXNetError("bind: cannot decide the shapes of " + ", ".join(unknown) +
                             " (Consider providing them as input)")
        reqs = [self._grad_req_map[n] for n in arg_names]
        stypes = self._symbol._arg_stypes()
        gstypes = self._symbol._grad_stypes(stypes)
        args, grads = [], []
        if shared is not None:  # reshape / shared module: parameters must keep their shapes
            for name, shape in zip(arg_names, arg_shapes):
                old = shared.arg_dict.get(name)
                if name in self._param_names and old is not None and old.shape != tuple(shape):
                    raise MXNetError(
                        f"the new input shapes {[(d.name, d.shape) for d in data_shapes]} would "
                        f"change parameter {name} from {old.shape} to {tuple(shape)}; parameters "
                        "cannot change shape")
        for name, shape, req, st, gst in zip(arg_names, arg_shapes, reqs, stypes, gstypes):
            old = shared.arg_dict.get(name) if shared is not None else None
            if old is not None and old.shape == tuple(shape) and name in self._param_names:
                args.append(old._data if type(old) is NDArray else old)
                g = shared.grad_dict.get(name)
                grads.append(None if g is None else g._data if type(g) is NDArray else g)
                continue
            if st != "default":  # csr data, row_sparse weights (every row stored)
                args.append(Executor._alloc(tuple(shape), dtype, st))
                grads.append(None if req == "null" else Executor._alloc(
                    tuple(shape), dtype, "row_sparse_empty" if gst == "row_sparse" else "default"))
                continue
            arg = np.zeros(shape, dtype=dtype)
            args.append(arg)
            if req == "null":
                grads.append(None)
            elif gst == "row_sparse":  # dot(csr, w), Embedding(sparse_grad=True)
                grads.append(Executor._alloc(tuple(shape), dtype, "row_sparse_empty"))
            elif arg.nbytes >= APART_MIN_BYTES:  # away from the weight and its optimizer states
                grads.append(zeros_apart(arg.shape, arg.dtype, arg.ctypes.data, 1024))
            else:
                grads.append(np.zeros(shape, dtype=dtype))
        aux = []
        for name, shape in zip(self._aux_names, aux_shapes):
            old = shared.aux_dict.get(name) if shared is not None else None
            if old is not None and tuple(old.shape) == tuple(shape):
                aux.append(old._data)  # auxiliary states are shared like parameters
            else:
                aux.append(np.zeros(shape, dtype=dtype))
        return Executor(self._symbol, dtype, args, grads, reqs, aux)

    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False,
             shared_module: Optional["Module"] = None, grad_req: Any = "write") -> None:
        """Allocate one executor per context for the given (whole-batch) input shapes.

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
        if not for_training:
            assert not inputs_need_grad
        data_shapes, label_shapes = _parse_data_desc(self._data_names, self._label_names,
                                                     data_shapes, label_shapes)
        grad_req_map = self._grad_reqs(for_training, inputs_need_grad, grad_req)
        shared_group = None
        if shared_module is not None:
            assert isinstance(shared_module, Module) and shared_module.binded and \
                shared_module.params_initialized
            shared_group = shared_module._exec_group
            assert len(shared_group.execs) >= len(self._context), \
                "the shared module has fewer contexts than this one"
        self._grad_req_map = grad_req_map
        group = DataParallelExecutorGroup(
            self._symbol, self._context, self._work_load_list, data_shapes, label_shapes,
            self._param_names, for_training, inputs_need_grad, shared_group, logger=self.logger,
            fixed_param_names=self._fixed_param_names, grad_req=grad_req_map,
            state_names=self._state_names, group2ctxs=self._group2ctxs,
            make_executor=self._make_executor)
        if shared_module is None and self.params_initialized:
            group.set_params(self._arg_params, self._aux_params or {})
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._grad_req = grad_req
        self._exec_group = group
        self._update_plan = None
        self._data_shapes, self._label_shapes = data_shapes, label_shapes
        if shared_module is not None:
            self.params_initialized = True
            self._arg_params = shared_module._arg_params
            self._aux_params = shared_module._aux_params
        elif not self.params_initialized:
            assert self._arg_params is None and self._aux_params is None
            self._arg_params = {name: _param_zeros(block[0])
                                for name, block in zip(self._param_names, group.param_arrays)}
            self._aux_params = {name: _param_zeros(block[0])
                                for name, block in zip(self._aux_names, group.aux_arrays)}
        if self._monitor is not None:
            group.install_monitor(self._monitor)
        if shared_module is not None and shared_module.optimizer_initialized:
            self.borrow_optimizer(shared_module)
        self.binded = True

    def reshape(self, data_shapes: Any, label_shapes: Any = None) -> None:
        """Re-bind for new input shapes, keeping (sharing) the parameters and gradients."""
        assert self.binded
        data_shapes, label_shapes = _parse_data_desc(self._data_names, self._label_names,
                                                     data_shapes, label_shapes)
        self._exec_group.reshape(data_shapes, label_shapes)
        self._data_shapes, self._label_shapes = data_shapes, label_shapes

    def borrow_optimizer(self, shared_module: "Module") -> None:
        """Use ``shared_module``'s optimizer, store and updater."""
        assert shared_module.optimizer_initialized
        self._optimizer = shared_module._optimizer
        self._kvstore = shared_module._kvstore
        self._update_on_kvstore = shared_module._update_on_kvstore
        self._updater = shared_module._updater
        self._update_plan = None
        self.optimizer_initialized = True

    # ---- optimizer -----------------------------------------------------------------------------
    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),),
                       force_init: bool = False) -> None:
        """Create the optimizer (a name or an ``Optimizer``), the key-value store and updater.

        ``kvstore``: None, a store name or a KVStore object (see ``mx.model._create_kvstore``
        for when a store is used and when it runs the optimizer). ``rescale_grad`` defaults to
        ``1/batch_size`` (divided by the workers for ``dist*_sync`` stores); the optimizer gets
        the symbol and ``param_idx2name`` (index ``i * num_contexts + k`` for parameter ``i``
        on context ``k`` unless the store runs the optimizer).
        """
        assert self.binded and self.params_initialized, \
            "call bind and init_params before init_optimizer"
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring...")
            return
        if self._params_dirty:
            self._sync_params_from_devices()
        kv, update_on_kvstore = _create_kvstore(kvstore, len(self._context), self._arg_params)
        batch_size = self._exec_group.batch_size
        if kv and "dist" in kv.type and "_sync" in kv.type:
            batch_size *= kv.num_workers
        rescale_grad = 1.0 / batch_size
        param_names = self._exec_group.param_names
        idx2name: Dict[int, str] = {}
        if update_on_kvstore:
            idx2name.update(enumerate(param_names))
        else:
            num = len(self._context)
            for k in range(num):
                idx2name.update({i * num + k: n for i, n in enumerate(param_names)})
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
        if kv:
            if self._compression_params:
                kv.set_gradient_compression(self._compression_params)
            if update_on_kvstore:
                kv.set_optimizer(optimizer)
            _initialize_kvstore(kvstore=kv, param_arrays=self._exec_group.param_arrays,
                                arg_params=self._arg_params, param_names=self._param_names,
                                update_on_kvstore=update_on_kvstore)
        self._optimizer = optimizer
        self._kvstore = kv
        self._update_on_kvstore = update_on_kvstore
        self._updater = None if update_on_kvstore else opt.get_updater(optimizer)
        self._update_plan = None
        self.optimizer_initialized = True
        if self._preload_opt_states is not None:
            self.load_optimizer_states(self._preload_opt_states)
            self._preload_opt_states = None

    def save_optimizer_states(self, fname: str) -> None:
        """Write the optimizer states: the store's when it runs the optimizer, else
        ``updater.get_states()``."""
        assert self.optimizer_initialized, "call init_optimizer first"
        if self._update_on_kvstore:
            self._kvstore.save_optimizer_states(fname)
        else:
            atomic_write(fname, self._updater.get_states())

    def load_optimizer_states(self, fname: str) -> None:
        """Restore optimizer states saved by ``save_optimizer_states`` (mxopt's or MXNet's)."""
        assert self.optimizer_initialized, "call init_optimizer first"
        if self._update_on_kvstore:
            self._kvstore.load_optimizer_states(fname)
        else:
            with open(fname, "rb") as f:
                self._updater.set_states(f.read())

    # ---- computation ---------------------------------------------------------------------------
    def forward(self, data_batch: Any, is_train: Optional[bool] = None) -> None:
        """Copy the batch into the executors (each its slice) and compute the outputs.

        ``data_batch`` is a DataBatch or a list of them (one pre-sliced batch per context).
        ``is_train=None`` means ``for_training``. A batch whose data shapes differ from the
        bound ones reshapes the executors (parameters are shared).
        """
        assert self.binded and self.params_initialized, \
            "call bind and init_params before forward"
        cur = self._data_shapes
        if isinstance(data_batch, list):
            assert data_batch, "Encountered empty data batch"
            new_shapes = []
            for i in range(len(data_batch[0].data)):
                shape = data_batch[0].data[i].shape
                for db in data_batch:
                    assert shape == db.data[i].shape, \
                        "All data batches in a list need to have the same shape"
                new_shapes.append((len(data_batch) * shape[0],) + tuple(shape[1:]))
            label = data_batch[0].label
            changed = any(s != tuple(desc.shape) for s, desc in zip(new_shapes, cur))
        else:
            data = data_batch.data
            if len(data) != len(cur):
                raise ValueError(f"forward: the batch has {len(data)} data arrays, the module "
                                 f"takes {len(cur)} ({self._data_names})")
            changed = False
            for d, desc in zip(data, cur):
                if tuple(d.shape) != tuple(desc.shape):
                    changed = True
                    break
            label = data_batch.label
            if changed:
                new_shapes = [tuple(d.shape) for d in data]
        if changed:
            provide_data = getattr(data_batch, "provide_data", None)
            if provide_data:
                new_dshape = provide_data
            else:
                new_dshape = [DataDesc(i.name, s, i.dtype, i.layout)
                              for i, s in zip(cur, new_shapes)]
            provide_label = getattr(data_batch, "provide_label", None)
            if provide_label:
                new_lshape = provide_label
            elif label and self._label_shapes:
                new_lshape = [DataDesc(i.name, j.shape, i.dtype, i.layout)
                              for i, j in zip(self._label_shapes, label)]
            else:
                new_lshape = None
            self.reshape(new_dshape, new_lshape)
        self._exec_group.forward(data_batch, is_train)

    def backward(self, out_grads: Any = None) -> None:
        """Gradients of the last forward; ``out_grads`` are needed for non-loss outputs only."""
        assert self.binded and self.params_initialized, \
            "call bind and init_params before backward"
        self._exec_group.backward(out_grads=out_grads)

    def update(self) -> None:
        """One optimizer step of every parameter that has a gradient.

        One context, no store: one updater call over all parameters. Otherwise MXNet's
        ``_update_params_on_kvstore`` (the store sums and runs the optimizer) or
        ``_update_params`` (the store sums, then one updater call per context with parameter
        ``i`` of context ``k`` at index ``i * num_contexts + k``); with mxopt's own KVStore
        the keys of a step go to the store in one call, which is the same arithmetic.
        """
        assert self.binded and self.params_initialized and self.optimizer_initialized, \
            "call bind, init_params and init_optimizer before update"
        self._params_dirty = True
        group = self._exec_group
        plan = self._update_plan
        if plan is None or plan[0] is not group.execs or plan[1] is not self._kvstore:
            plan = self._update_plan = self._build_update_plan()
        kind = plan[2]
        if kind == "one":  # one context, no store
            if plan[3]:
                self._updater(list(plan[3]), list(plan[4]), list(plan[5]))
        elif kind == "store":  # mxopt's KVStore: all keys in one call
            names, grads, weights, per_device = plan[3:]
            if names:
                self._kvstore.pushpull(names, grads, out=weights)
            for indices, dev_grads, dev_weights in per_device:
                self._updater(list(indices), list(dev_grads), list(dev_weights))
        elif self._update_on_kvstore:
            _update_params_on_kvstore(group.param_arrays, group.grad_arrays, self._kvstore,
                                      group.param_names)
        else:
            _update_params(group.param_arrays, group.grad_arrays, updater=self._updater,
                           num_device=len(self._context), kvstore=self._kvstore,
                           param_names=group.param_names)

    def _build_update_plan(self) -> Tuple[Any, ...]:
        """What ``update`` does with these executors and this store (cached until either
        changes)."""
        from ..kvstore import KVStore
        group = self._exec_group
        kv = self._kvstore
        valid = [(i, name, args, grads) for i, (name, args, grads) in
                 enumerate(zip(group.param_names, group.param_arrays, group.grad_arrays))
                 if grads[0] is not None]
        head = (group.execs, kv)
        if kv is None and len(group.execs) == 1:
            return head + ("one", [i for i, _, _, _ in valid], [g[0] for _, _, _, g in valid],
                           [a[0] for _, _, a, _ in valid])
        dense = all(getattr(x, "stype", "default") == "default"
                    for _, _, args, grads in valid for x in (args[0], grads[0]))
        if kv is not None and (type(kv) is not KVStore or not dense):
            return head + ("mxnet",)
        names = [name for _, name, _, _ in valid] if kv is not None else []
        grads = [g for _, _, _, g in valid]
        if self._update_on_kvstore:
            return head + ("store", names, grads, [a for _, _, a, _ in valid], [])
        num = len(group.execs)
        per_device = [([i * num + k for i, _, _, _ in valid], [g[k] for _, _, _, g in valid],
                       [a[k] for _, _, a, _ in valid]) for k in range(num)]
        return head + ("store", names, grads, None, [d for d in per_device if d[0]])

    def get_outputs(self, merge_multi_context: bool = True) -> List[Any]:
        """The outputs of the last forward: merged along the batch axis (one context: the
        executor's own buffers, overwritten by the next forward), or per output a list over
        the contexts."""
        assert self.binded and self.params_initialized
        return self._exec_group.get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context: bool = True) -> List[Any]:
        """Gradients w.r.t. the data inputs (bind with ``inputs_need_grad=True``)."""
        assert self.binded and self.params_initialized and self.inputs_need_grad
        return self._exec_group.get_input_grads(merge_multi_context=merge_multi_context)

    def get_states(self, merge_multi_context: bool = True) -> List[Any]:
        """The state inputs, per state a list over the contexts (``merge_multi_context=True``
        is not supported, as in MXNet)."""
        assert self.binded and self.params_initialized
        return self._exec_group.get_states(merge_multi_context=merge_multi_context)

    def set_states(self, states: Any = None, value: Any = None) -> None:
        """Set the state inputs from arrays or to a scalar ``value``."""
        assert self.binded and self.params_initialized
        self._exec_group.set_states(states, value)

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        """Update ``eval_metric`` with the last forward's outputs and ``labels``, context by
        context (``pre_sliced``: ``labels`` holds one list per context)."""
        self._exec_group.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon: Any) -> None:
        """Attach an ``mx.monitor.Monitor`` to every executor."""
        assert self.binded
        self._monitor = mon
        self._exec_group.install_monitor(mon)

    def prepare(self, data_batch: Any, sparse_row_id_fn: Any = None) -> None:
        """Prepare for a batch: with the optimizer on a store, pull the rows of row_sparse
        parameters the batch needs (``sparse_row_id_fn(batch)`` -> ``{name: row ids}``)."""
        assert self.binded
        if sparse_row_id_fn is None:
            return
        if not self._kvstore or not self._update_on_kvstore:
            warnings.warn(UserWarning("Parameters are not updated in the KVStore. "
                                      "No need to call sparse_row_id_fn."), stacklevel=2)
            return
        row_ids = sparse_row_id_fn(data_batch)
        assert isinstance(row_ids, dict), "Expected dict output from sparse_row_id_fn"
        group = self._exec_group
        for param_name, row_id in row_ids.items():
            param_idx = group.param_names.index(param_name)  # ValueError for an unknown name
            param_val = group.param_arrays[param_idx]
            if not isinstance(param_val[0], RowSparseNDArray):
                warnings.warn(UserWarning("%s.stype is not 'row_sparse'. No need to "
                                          "perform row_sparse_pull." % param_name), stacklevel=2)
                continue
            # the executors' weights store every row; the rows the batch needs are refreshed
            self._pull_rows(param_name, row_id, list(param_val))
