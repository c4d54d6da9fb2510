"""``DataParallelExecutorGroup``: one executor per context, the batch sliced across them
(MXNet 1.9.1's ``mx.module.executor_group``).

The batch axis of every input (``layout.find('N')``) is split in proportion to the work load
list (``_split_input_slice``); each executor computes its slice; outputs are merged back in
batch order; parameters live on every executor (``param_arrays[i][k]`` is parameter ``i`` on
context ``k``). Executors are created by the owning Module's ``_make_executor`` (the only place
that constructs executors).

Example::

    >>> _split_input_slice(10, [1, 1, 2])
    [slice(0, 2, None), slice(2, 5, None), slice(5, 10, None)]
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..context import Context
from ..io import DataDesc
from ..executor import _copy_value
from ..ndarray import NDArray
from ..ndarray.sparse import CSRNDArray, RowSparseNDArray, csr_matrix

__all__ = ["DataParallelExecutorGroup"]

# 0 + w is exact (it only turns -0.0 into +0.0) in every float dtype; a numpy scalar keeps
# the array's dtype and costs nothing per call
_ZERO = np.float32(0)


class _OnContext(NDArray):
    """An NDArray view that reports a context other than cpu(0) (a parameter's copy on
    ``mx.cpu(k)``): the optimizer keeps per-context update counts, as MXNet's does."""

    __slots__ = ("_ctx",)

    def __init__(self, data: np.ndarray, ctx: Context) -> None:
        super().__init__(data)
        self._ctx = ctx

    @property
    def context(self) -> Context:  # type: ignore[override]
        return self._ctx

    ctx = context  # type: ignore[assignment]


def _split_input_slice(batch_size: int, work_load_list: Sequence[float]) -> List[slice]:
    """Split ``batch_size`` rows into contiguous slices proportional to ``work_load_list``
    (Python's ``round`` of each share; the last slice takes what rounding left over).

    Raises ValueError when a slice would be empty.
    """
    total = sum(work_load_list)
    counts = [round(w * batch_size / total) for w in work_load_list]
    rest = batch_size - sum(counts)
    if rest > 0:
        counts[-1] += rest
    slices = []
    end = 0
    for count in counts:
        begin = int(min(end, batch_size))
        end = int(min(begin + count, batch_size))
        if begin >= end:
            raise ValueError("Too many slices. Some splits are empty.")
        slices.append(slice(begin, end))
    return slices


def _take(arr: np.ndarray, sl: slice, axis: int) -> np.ndarray:
    if axis == 0:
        return arr[sl]
    index = [slice(None)] * arr.ndim
    index[axis] = sl
    return arr[tuple(index)]


def _buffer_of(src: Any, name: str) -> Any:
    """The numpy buffer of a dense batch array, or the sparse array itself."""
    if isinstance(src, NDArray):
        return src._data
    if isinstance(src, np.ndarray) or isinstance(src, (CSRNDArray, RowSparseNDArray)):
        return src
    raise TypeError(f"input {name!r}: expected an NDArray, a numpy array or a sparse array, "
                    f"got {type(src).__name__}")


def _copy(src: Any, dst: Any, name: str) -> None:
    """Load one batch array into a bound input: dense values are copied (cast to the input's
    dtype); a csr batch is referenced by the bound csr input (no copy)."""
    if tuple(src.shape) != tuple(dst.shape):
        raise ValueError(f"input {name!r}: the batch array has shape {tuple(src.shape)}, the "
                         f"module is bound with {tuple(dst.shape)}")
    if isinstance(dst, NDArray):
        np.copyto(dst._data, src if isinstance(src, np.ndarray) else src.asnumpy(),
                  casting="unsafe")
    elif isinstance(dst, CSRNDArray):
        if not isinstance(src, CSRNDArray):
            src = csr_matrix(src if isinstance(src, np.ndarray) else src.asnumpy())
        data = src._data
        if data.dtype != dst._data.dtype:
            data = data.astype(dst._data.dtype)
        dst._data, dst._indices, dst._indptr = data, src._indices, src._indptr
    else:
        _copy_value(src, dst, name)


def _rows(src: Any, sl: slice, axis: int) -> Any:
    """Rows ``sl`` (along ``axis``) of a batch array: a view of a dense one, a csr slice."""
    if isinstance(src, CSRNDArray):
        if axis != 0:
            raise ValueError("a csr batch can only be split along its first axis")
        return src[sl]
    return _take(src, sl, axis)


def _param_view(value: Any, name: str) -> np.ndarray:
    """A parameter value as a dense buffer (row_sparse values that store every row as their
    buffer, others densified)."""
    if isinstance(value, NDArray):
        return value._data
    if isinstance(value, RowSparseNDArray):
        rows = value.shape[0]
        idx = value._indices
        if idx.size == rows and (rows == 0 or (idx[0] == 0 and idx[-1] == rows - 1)):
            return value._data
        return value.asnumpy()
    if isinstance(value, CSRNDArray):
        return value.asnumpy()
    return np.asarray(value)


def _merge_multi_context(outputs: List[List[NDArray]], major_axis: List[int]) -> List[NDArray]:
    """Concatenate each output's per-context arrays along its batch axis (one context: the
    array itself)."""
    rets = []
    for tensors, axis in zip(outputs, major_axis):
        if axis >= 0 and len(tensors) > 1:
            rets.append(NDArray(np.concatenate([t._data for t in tensors], axis=axis)))
        else:
            rets.append(tensors[0])
    return rets


class DataParallelExecutorGroup:
    """Executors of one symbol on several contexts, fed slices of each batch.

    Args:
        symbol: the network.
        contexts: one executor per context.
        workload: relative share of the batch of each context.
        data_shapes, label_shapes: DataDescs of the whole batch.
        param_names: the parameters (every other argument is an input or a state).
        for_training, inputs_need_grad: as in ``Module.bind``.
        shared_group: a group whose executors' parameters are shared (``shared_module``).
        grad_req: argument name -> ``'write'``/``'add'``/``'null'``.
        state_names: state inputs.
        make_executor: ``make_executor(data_shapes, label_shapes, shared_exec)`` -> Executor.
    """

    def __init__(self, symbol: Any, contexts: List[Context], workload: List[float],
                 data_shapes: List[DataDesc], label_shapes: Optional[List[DataDesc]],
                 param_names: List[str], for_training: bool, inputs_need_grad: bool,
                 shared_group: Optional["DataParallelExecutorGroup"], logger: Any = logging,
                 fixed_param_names: Optional[List[str]] = None,
                 grad_req: Optional[Dict[str, str]] = None,
                 state_names: Optional[List[str]] = None, group2ctxs: Any = None,
                 make_executor: Optional[Callable[..., Any]] = None) -> None:
        if make_executor is None:
            raise TypeError("DataParallelExecutorGroup needs make_executor")
        self.param_names = param_names
        self.arg_names = symbol.list_arguments()
        self.aux_names = symbol.list_auxiliary_states()
        self.symbol = symbol
        self.contexts = contexts
        self.workload = workload
        self.group2ctxs = group2ctxs
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self.logger = logger
        self.fixed_param_names = fixed_param_names or []
        self.state_names = state_names or []
        self.grad_req = grad_req or {}
        self._make_executor = make_executor

        self.batch_size: Optional[int] = None
        self.slices: Optional[List[slice]] = None
        self.execs: List[Any] = []
        self._default_execs: Optional[List[Any]] = None
        self.data_arrays: Any = None
        self.label_arrays: Any = None
        self.param_arrays: Any = None
        self.state_arrays: Any = None
        self.grad_arrays: Any = None
        self.aux_arrays: Any = None
        self.input_grad_arrays: Any = None
        self.data_shapes: Optional[List[DataDesc]] = None
        self.label_shapes: Optional[List[DataDesc]] = None
        self.data_names: List[str] = []
        self.label_names: List[str] = []
        self.data_layouts: List[int] = []
        self.label_layouts: List[int] = []
        self.output_names = symbol.list_outputs()
        self.num_outputs = len(self.output_names)
        self.output_layouts = [DataDesc.get_batch_axis(symbol[i].attr("__layout__"))
                               for i in range(self.num_outputs)]
        self._total_exec_bytes = 0
        self._monitor: Any = None
        self.bind_exec(data_shapes, label_shapes, shared_group)

    # ---- binding ------------------------------------------------------------------------------
    def decide_slices(self, data_shapes: List[DataDesc]) -> List[int]:
        """The batch axis of each input; sets ``batch_size`` and ``slices`` from the first."""
        assert len(data_shapes) > 0, "the module needs at least one data input"
        major_axis = [DataDesc.get_batch_axis(getattr(x, "layout", "NCHW")) for x in data_shapes]
        for desc, axis in zip(data_shapes, major_axis):
            if axis == -1 or axis >= len(desc.shape):
                continue
            batch_size = desc.shape[axis]
            if self.batch_size is not None:
                if batch_size != self.batch_size:
                    raise ValueError("all data must have the same batch size: batch_size = %d, "
                                     "but %s has shape %s" % (self.batch_size, desc.name,
                                                              desc.shape))
            else:
                self.batch_size = batch_size
                self.slices = _split_input_slice(batch_size, self.workload)
        return major_axis

    def _sliced_shape(self, shapes: List[DataDesc], i: int,
                      major_axis: List[int]) -> List[DataDesc]:
        sliced = []
        for desc, axis in zip(shapes, major_axis):
            shape = list(desc.shape)
            if 0 <= axis < len(shape) and self.slices is not None:
                shape[axis] = self.slices[i].stop - self.slices[i].start
            sliced.append(DataDesc(desc.name, tuple(shape), getattr(desc, "dtype", np.float32),
                                   getattr(desc, "layout", "NCHW")))
        return sliced

    def bind_exec(self, data_shapes: List[DataDesc], label_shapes: Optional[List[DataDesc]],
                  shared_group: Optional["DataParallelExecutorGroup"] = None,
                  reshape: bool = False) -> None:
        """Create (or, with ``reshape``, re-create sharing the parameters) the executors."""
        assert reshape or not self.execs
        old_batch, old_slices = self.batch_size, self.slices
        self.batch_size = None
        try:
            data_layouts = self.decide_slices(data_shapes)
            label_layouts = self.decide_slices(label_shapes) if label_shapes is not None else []
            execs = []
            for i in range(len(self.contexts)):
                data_i = self._sliced_shape(data_shapes, i, data_layouts)
                label_i = (self._sliced_shape(label_shapes, i, label_layouts)
                           if label_shapes is not None else None)
                if reshape:
                    shared = self.execs[i]
                elif shared_group is not None:
                    shared = shared_group.execs[i]
                else:
                    shared = None
                execs.append(self._make_executor(data_i, label_i, shared))
        except BaseException:
            self.batch_size, self.slices = old_batch, old_slices
            raise
        self.execs = execs
        self.data_layouts = data_layouts
        self.label_layouts = label_layouts
        self.data_shapes = data_shapes
        self.label_shapes = label_shapes
        self.data_names = [d.name for d in data_shapes]
        self.label_names = [d.name for d in label_shapes] if label_shapes is not None else []
        self._collect_arrays()
        if self._monitor is not None:
            for exe in self.execs:
                self._monitor.install(exe)

    def _collect_arrays(self) -> None:
        execs = self.execs
        self.data_arrays = [[(self.slices[i], e.arg_dict[name]) for i, e in enumerate(execs)]
                            for name in self.data_names]
        self.state_arrays = [[e.arg_dict[name] for e in execs] for name in self.state_names]
        if self.label_shapes is not None:
            self.label_arrays = [[(self.slices[i], e.arg_dict[name]) for i, e in enumerate(execs)]
                                 for name in self.label_names]
        else:
            self.label_arrays = None
        param_idx = [i for i, name in enumerate(self.arg_names) if name in self.param_names]

        def on_ctx(arr: NDArray, k: int) -> NDArray:
            ctx = self.contexts[k]
            if arr is None or ctx.device_id == 0:
                return arr
            return _OnContext(arr._data, ctx)
        self.param_arrays = [[on_ctx(e.arg_arrays[i], k) for k, e in enumerate(execs)]
                             for i in param_idx]
        if self.for_training:
            self.grad_arrays = [[e.grad_arrays[i] for e in execs] for i in param_idx]
        else:
            self.grad_arrays = None
        if self.inputs_need_grad:
            self.input_grad_arrays = [[e.grad_arrays[self.arg_names.index(name)] for e in execs]
                                      for name in self.data_names if name in self.arg_names]
        else:
            self.input_grad_arrays = None
        self.aux_arrays = [[e.aux_arrays[i] for e in execs] for i in range(len(self.aux_names))]

    def reshape(self, data_shapes: List[DataDesc], label_shapes: Optional[List[DataDesc]]) -> None:
        """Re-bind for new input shapes (parameters and their gradients are shared)."""
        if data_shapes == self.data_shapes and label_shapes == self.label_shapes:
            return
        if self._default_execs is None:
            self._default_execs = list(self.execs)
        self.bind_exec(data_shapes, label_shapes, reshape=True)

    # ---- parameters ---------------------------------------------------------------------------
    def set_params(self, arg_params: Dict[str, Any], aux_params: Optional[Dict[str, Any]],
                   allow_extra: bool = False) -> None:
        """Copy ``arg_params`` (and ``aux_params``) into every executor; all names and shapes
        are checked before anything is written."""
        arg_dict = self.execs[0].arg_dict
        copies = []
        for name, value in arg_params.items():
            if name not in arg_dict:
                if allow_extra:
                    continue
                raise ValueError('Find name "%s" that is not in the arguments' % name)
            src = _param_view(value, name)
            for exe in self.execs:
                copies.append((src, exe.arg_dict[name], name))
        for name, value in (aux_params or {}).items():
            if name not in self.aux_names:
                if allow_extra:
                    continue
                raise ValueError("Find name %s that is not in the auxiliary states" % name)
            src = _param_view(value, name)
            for exe in self.execs:
                copies.append((src, exe.aux_dict[name], name))
        for src, dst, name in copies:
            if tuple(src.shape) != tuple(dst.shape):
                raise ValueError(f"parameter {name!r}: shape {tuple(src.shape)} does not "
                                 f"match the bound shape {tuple(dst.shape)}")
        for src, dst, _ in copies:
            np.copyto(_param_view(dst, ""), src, casting="unsafe")

    def get_params(self, arg_params: Dict[str, NDArray], aux_params: Dict[str, NDArray]) -> None:
        """Write each parameter's value into ``arg_params`` / ``aux_params`` (the same objects):
        MXNet's ``(0 + copy_0 + copy_1 + ...) / num_contexts`` in the parameter's dtype (with
        one context ``0 + w``: -0.0 becomes +0.0, as in MXNet)."""
        self._average(self.param_names, self.param_arrays, arg_params)
        if self.aux_names:
            self._average(self.aux_names, self.aux_arrays, aux_params)

    @staticmethod
    def _average(names: List[str], blocks: List[List[NDArray]], dest: Dict[str, NDArray]) -> None:
        for name, block in zip(names, blocks):
            target = dest.get(name)
            first = block[0]._data
            if len(block) == 1:
                if target is None:
                    dest[name] = NDArray(first + _ZERO)
                else:
                    np.add(first, _ZERO, out=target._data, casting="unsafe")
                continue
            total = first + _ZERO
            for w in block[1:]:
                np.add(total, w._data, out=total)
            np.divide(total, total.dtype.type(len(block)), out=total)
            if target is None:
                dest[name] = NDArray(total)
            else:
                np.copyto(target._data, total, casting="unsafe")

    # ---- computation --------------------------------------------------------------------------
    def _load(self, batch: Any, targets: Any, layouts: List[int], field: str) -> None:
        names = self.data_names if field == "data" else self.label_names
        if isinstance(batch, list):  # one pre-sliced batch per context
            for j, per_dev in enumerate(targets):
                for k, (_, dst) in enumerate(per_dev):
                    _copy(_buffer_of(getattr(batch[k], field)[j], names[j]), dst, names[j])
            return
        for src, per_dev, axis, name in zip(getattr(batch, field), targets, layouts, names):
            buf = src._data if isinstance(src, NDArray) else _buffer_of(src, name)
            if len(per_dev) == 1:  # one context: the whole batch
                _copy(buf, per_dev[0][1], name)
                continue
            for sl, dst in per_dev:
                if axis >= 0 and (sl.start != 0 or buf.shape[axis] != sl.stop):
                    _copy(_rows(buf, sl, axis), dst, name)
                else:
                    _copy(buf, dst, name)

    def forward(self, data_batch: Any, is_train: Optional[bool] = None) -> None:
        """Copy the batch (or its slices) into the executors and run them."""
        if len(self.execs) == 1 and not isinstance(data_batch, list):  # the common case
            for src, desc, per_dev in zip(data_batch.data, self.data_shapes, self.data_arrays):
                _copy(src._data if type(src) is NDArray else _buffer_of(src, desc.name),
                      per_dev[0][1], desc.name)
            label = data_batch.label
            if self.label_arrays is not None and label:
                for src, desc, per_dev in zip(label, self.label_shapes, self.label_arrays):
                    _copy(src._data if isinstance(src, NDArray) else _buffer_of(src, desc.name),
                          per_dev[0][1], desc.name)
        else:
            self._load(data_batch, self.data_arrays, self.data_layouts, "data")
            if self.label_arrays is not None:
                first = data_batch[0] if isinstance(data_batch, list) else data_batch
                if first is not None and first.label:
                    self._load(data_batch, self.label_arrays, self.label_layouts, "label")
        if is_train is None:
            is_train = self.for_training
        monitor = self._monitor
        for exe in self.execs:
            exe.forward(is_train=is_train)
            if monitor is not None and hasattr(monitor, "_collect_outputs"):
                monitor._collect_outputs(exe)

    def backward(self, out_grads: Any = None) -> None:
        """Back-propagate; ``out_grads`` (for non-loss heads) are sliced like the outputs."""
        assert self.for_training, "re-bind with for_training=True to run backward"
        if out_grads is None:
            for exe in self.execs:
                exe.backward(out_grads=None)
            return
        if isinstance(out_grads, (NDArray, np.ndarray)):
            out_grads = [out_grads]
        if len(self.execs) == 1:
            self.execs[0].backward(out_grads=out_grads)
            return
        for exe, islice in zip(self.execs, self.slices):
            sliced = []
            for grad, axis in zip(out_grads, self.output_layouts):
                if grad is None:
                    sliced.append(None)
                    continue
                buf = _buffer_of(grad, "out_grads")
                sliced.append(NDArray(_take(buf, islice, axis)) if axis >= 0 else grad)
            exe.backward(out_grads=sliced)

    def get_output_shapes(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """``(name, shape)`` of each merged output (batch axis = the whole batch)."""
        shapes = []
        for name, out, axis in zip(self.output_names, self.execs[0].outputs, self.output_layouts):
            shape = list(out.shape)
            if axis >= 0:
                shape[axis] = self.batch_size
            shapes.append((name, tuple(shape)))
        return shapes

    def get_outputs(self, merge_multi_context: bool = True, begin: int = 0,
                    end: Optional[int] = None) -> List[Any]:
        """Outputs ``begin:end``: merged along the batch axis, or per output a list over the
        contexts."""
        if end is None:
            end = self.num_outputs
        if merge_multi_context and len(self.execs) == 1:
            return list(self.execs[0].outputs[begin:end])
        outputs = [[exe.outputs[i] for exe in self.execs] for i in range(begin, end)]
        if merge_multi_context:
            return _merge_multi_context(outputs, self.output_layouts[begin:end])
        return outputs

    def get_states(self, merge_multi_context: bool = True) -> List[List[NDArray]]:
        """The state arrays, per state a list over the contexts."""
        assert not merge_multi_context, \
            "merge_multi_context=True is not supported for get_states yet."
        return self.state_arrays

    def set_states(self, states: Any = None, value: Any = None) -> None:
        """Set the states from arrays (per state: one array for every context, or a list with
        one per context) or to a scalar ``value``."""
        if states is not None:
            assert value is None, "Only one of states & value can be specified."
            if len(states) != len(self.state_arrays):
                raise ValueError(f"set_states: {len(states)} states for the "
                                 f"{len(self.state_arrays)} states {self.state_names}")
            for name, src, dsts in zip(self.state_names, states, self.state_arrays):
                srcs = src if isinstance(src, (list, tuple)) else [src] * len(dsts)
                if len(srcs) != len(dsts):
                    raise ValueError(f"set_states: state {name!r} has {len(srcs)} arrays for "
                                     f"{len(dsts)} contexts")
                for s, d in zip(srcs, dsts):
                    _copy(_buffer_of(s, name), d, name)
        else:
            assert value is not None, "At least one of states & value must be specified."
            for dsts in self.state_arrays:
                for d in dsts:
                    d._data[...] = value

    def get_input_grads(self, merge_multi_context: bool = True) -> List[Any]:
        """Gradients w.r.t. the data inputs (merged, or per input a list over the contexts)."""
        assert self.inputs_need_grad
        if merge_multi_context:
            return _merge_multi_context(self.input_grad_arrays, self.data_layouts)
        return self.input_grad_arrays

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        """Update ``eval_metric`` context by context with its outputs and label slice."""
        labels = labels or []
        if len(self.execs) == 1 and not pre_sliced:  # the common case: no slicing to do
            stop = self.slices[0].stop
            for label, axis in zip(labels, self.label_layouts):
                if axis >= 0 and label.shape[axis] != stop:
                    break
            else:
                eval_metric.update_dict(OrderedDict(zip(self.label_names, labels)),
                                        OrderedDict(zip(self.output_names, self.execs[0].outputs)))
                return
        for k, (exe, islice) in enumerate(zip(self.execs, self.slices)):
            if pre_sliced:
                labels_slice = labels[k]
            else:
                labels_slice = labels
                start, stop = islice.start, islice.stop
                for j, (label, axis) in enumerate(zip(labels, self.label_layouts)):
                    if axis >= 0 and (start != 0 or label.shape[axis] != stop):
                        if labels_slice is labels:
                            labels_slice = list(labels)
                        labels_slice[j] = NDArray(_take(_buffer_of(label, "label"), islice, axis))
            eval_metric.update_dict(OrderedDict(zip(self.label_names, labels_slice)),
                                    OrderedDict(zip(self.output_names, exe.outputs)))

    def install_monitor(self, mon: Any) -> None:
        """Let ``mon`` watch every executor."""
        self._monitor = mon
        for exe in self.execs:
            mon.install(exe)


def _check_contexts(context: Any) -> List[Context]:
    """``context`` (a Context or a list of them) as a non-empty list."""
    contexts = context if isinstance(context, (list, tuple)) else [context]
    if not contexts:
        raise ValueError("context must be a Context or a non-empty list of Contexts")
    for c in contexts:
        if not isinstance(c, Context):
            raise ValueError(f"context must be mx.cpu(i) or a list of them, got {c!r}")
    return list(contexts)

