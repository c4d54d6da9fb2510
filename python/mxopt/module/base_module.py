"""``BaseModule``: the training / evaluation loops shared by modules (``fit``, ``score``,
``predict``, ``iter_predict``, ``forward_backward``), with MXNet 1.9.1's order of operations,
callbacks and log lines."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .. import metric
from ..initializer import Uniform
from ..io import DataBatch, DataDesc, DataIter
from ..model import BatchEndParam
from ..ndarray import NDArray, array
from ..ndarray import load as nd_load
from ..ndarray import save as nd_save

__all__ = ["BaseModule"]


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
        warnings.warn(msg, stacklevel=2)


def _check_names_match(data_names: List[str], data_shapes: List[DataDesc], name: str,
                       throw: bool) -> None:
    actual = [x[0] for x in data_shapes]
    if sorted(data_names) != sorted(actual):
        msg = "Data provided by %s_shapes don't match names specified by %s_names (%s vs. %s)" % (
            name, name, str(data_shapes), str(data_names))
        if throw:
            raise ValueError(msg)
        warnings.warn(msg, stacklevel=2)


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


def _as_list(obj: Any) -> List[Any]:
    """``obj`` if it is a list or tuple, else ``[obj]``."""
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return [obj]


class BaseModule:
    """Common state flags and the high-level loops; subclasses implement the computation."""

    def __init__(self, logger: Any = logging) -> None:
        self.logger = logger
        self.binded = False
        self.for_training = False
        self.inputs_need_grad = False
        self.params_initialized = False
        self.optimizer_initialized = False
        self._symbol: Any = None
        self._total_exec_bytes = 0

    # ---- high-level API ----------------------------------------------------------------------
    def forward_backward(self, data_batch: DataBatch) -> None:
        """``forward(data_batch, is_train=True)`` then ``backward()``."""
        self.forward(data_batch, is_train=True)
        self.backward()

    def score(self, eval_data: DataIter, eval_metric: Any, num_batch: Optional[int] = None,
              batch_end_callback: Any = None, score_end_callback: Any = None, reset: bool = True,
              epoch: int = 0, sparse_row_id_fn: Any = None) -> List[Tuple[str, float]]:
        """Run inference over ``eval_data`` and return ``eval_metric.get_name_value()``.

        Padded rows of the last batch are counted, as in MXNet.
        """
        assert self.binded and self.params_initialized
        if reset:
            eval_data.reset()
        if not isinstance(eval_metric, metric.EvalMetric):
            eval_metric = metric.create(eval_metric)
        eval_metric.reset()
        actual_num_batch = 0
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            if isinstance(eval_batch, list):
                self.update_metric(eval_metric, [eb.label for eb in eval_batch], pre_sliced=True)
            else:
                self.update_metric(eval_metric, eval_batch.label)
            if batch_end_callback is not None:
                params = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                       locals=locals())
                for callback in _as_list(batch_end_callback):
                    callback(params)
            actual_num_batch += 1
        if score_end_callback:
            params = BatchEndParam(epoch=epoch, nbatch=actual_num_batch, eval_metric=eval_metric,
                                   locals=locals())
            for callback in _as_list(score_end_callback):
                callback(params)
        return eval_metric.get_name_value()

    def iter_predict(self, eval_data: DataIter, num_batch: Optional[int] = None,
                     reset: bool = True, sparse_row_id_fn: Any = None,
                     ) -> Iterator[Tuple[List[NDArray], int, DataBatch]]:
        """Yield ``(outputs without padding, nbatch, batch)`` for each batch."""
        assert self.binded and self.params_initialized
        if reset:
            eval_data.reset()
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            pad = eval_batch.pad or 0
            outputs = [out[0:out.shape[0] - pad] for out in self.get_outputs()]
            yield (outputs, nbatch, eval_batch)

    def predict(self, eval_data: Any, num_batch: Optional[int] = None, merge_batches: bool = True,
                reset: bool = True, always_output_list: bool = False,
                sparse_row_id_fn: Any = None) -> Any:
        """Outputs for ``eval_data`` (a DataIter, or one NDArray/numpy batch).

        For an iterator: padding is removed and, with ``merge_batches``, batches are concatenated
        (a single output is returned as an NDArray unless ``always_output_list``).
        """
        assert self.binded and self.params_initialized
        if isinstance(eval_data, (NDArray, np.ndarray)):
            if isinstance(eval_data, np.ndarray):
                eval_data = array(eval_data)
            self.forward(DataBatch([eval_data]))
            return self.get_outputs()[0]
        if not isinstance(eval_data, DataIter):
            raise ValueError("eval_data must be of type NDArray or DataIter")
        if reset:
            eval_data.reset()
        output_list: List[List[NDArray]] = []
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            pad = eval_batch.pad or 0
            output_list.append([out[0:out.shape[0] - pad].copy() for out in self.get_outputs()])
        if len(output_list) == 0:
            return output_list
        if merge_batches:
            num_outputs = len(output_list[0])
            for out in output_list:
                assert len(out) == num_outputs, \
                    "Cannot merge batches, as num of outputs is not the same in mini-batches. " \
                    "Maybe bucketing is used?"
            merged = [NDArray(np.concatenate([out[i]._data for out in output_list], axis=0))
                      for i in range(num_outputs)]
            if num_outputs == 1 and not always_output_list:
                return merged[0]
            return merged
        return output_list

    def fit(self, train_data: DataIter, eval_data: Optional[DataIter] = None,
            eval_metric: Any = "acc", epoch_end_callback: Any = None,
            batch_end_callback: Any = None, kvstore: Any = "local", optimizer: Any = "sgd",
            optimizer_params: Any = (("learning_rate", 0.01),), eval_end_callback: Any = None,
            eval_batch_end_callback: Any = None, initializer: Any = Uniform(0.01),
            arg_params: Any = None, aux_params: Any = None, allow_missing: bool = False,
            force_rebind: bool = False, force_init: bool = False, begin_epoch: int = 0,
            num_epoch: Optional[int] = None, validation_metric: Any = None, monitor: Any = None,
            sparse_row_id_fn: Any = None) -> None:
        """Train on ``train_data`` for epochs ``begin_epoch .. num_epoch - 1``.

        Binds, initializes parameters and the optimizer unless already done (then MXNet's
        "already ..." messages are emitted), and per epoch logs ``Epoch[e] Train-<metric>=...``
        and ``Epoch[e] Time cost=...``, calls the epoch-end callbacks with the current
        parameters, and scores ``eval_data`` (``Epoch[e] Validation-<metric>=...``).
        """
        assert num_epoch is not None, "please specify number of epochs"
        self.bind(data_shapes=train_data.provide_data, label_shapes=train_data.provide_label,
                  for_training=True, force_rebind=force_rebind)
        if monitor is not None:
            self.install_monitor(monitor)
        self.init_params(initializer=initializer, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init)
        self.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                            optimizer_params=optimizer_params)
        if validation_metric is None:
            validation_metric = eval_metric
        if not isinstance(eval_metric, metric.EvalMetric):
            eval_metric = metric.create(eval_metric)
        callbacks = _as_list(batch_end_callback) if batch_end_callback is not None else []

        for epoch in range(begin_epoch, num_epoch):
            tic = time.time()
            eval_metric.reset()
            nbatch = 0
            data_iter = iter(train_data)
            end_of_batch = False
            next_data_batch = next(data_iter)
            while not end_of_batch:
                data_batch = next_data_batch
                if monitor is not None:
                    monitor.tic()
                self.forward_backward(data_batch)
                self.update()
                if isinstance(data_batch, list):
                    self.update_metric(eval_metric, [db.label for db in data_batch],
                                       pre_sliced=True)
                else:
                    self.update_metric(eval_metric, data_batch.label)
                try:
                    next_data_batch = next(data_iter)
                    self.prepare(next_data_batch, sparse_row_id_fn=sparse_row_id_fn)
                except StopIteration:
                    end_of_batch = True
                if monitor is not None:
                    monitor.toc_print()
                if end_of_batch:
                    eval_name_vals = eval_metric.get_global_name_value()
                if callbacks:
                    params = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                           locals=locals())
                    for callback in callbacks:
                        callback(params)
                nbatch += 1

            for name, val in eval_name_vals:
                self.logger.info("Epoch[%d] Train-%s=%f", epoch, name, val)
            toc = time.time()
            self.logger.info("Epoch[%d] Time cost=%.3f", epoch, (toc - tic))

            arg_params_, aux_params_ = self.get_params()
            self.set_params(arg_params_, aux_params_)
            if epoch_end_callback is not None:
                for callback in _as_list(epoch_end_callback):
                    callback(epoch, self.symbol, arg_params_, aux_params_)

            if eval_data is not None:
                res = self.score(eval_data, validation_metric,
                                 score_end_callback=eval_end_callback,
                                 batch_end_callback=eval_batch_end_callback, epoch=epoch)
                for name, val in res:
                    self.logger.info("Epoch[%d] Validation-%s=%f", epoch, name, val)

            train_data.reset()

    # ---- properties and the interface subclasses implement -------------------------------------
    @property
    def symbol(self) -> Any:
        """The module's symbol (None for modules without one)."""
        return self._symbol

    @property
    def data_names(self) -> List[str]:
        raise NotImplementedError()

    @property
    def output_names(self) -> List[str]:
        raise NotImplementedError()

    @property
    def data_shapes(self) -> List[DataDesc]:
        raise NotImplementedError()

    @property
    def label_shapes(self) -> Optional[List[DataDesc]]:
        raise NotImplementedError()

    @property
    def output_shapes(self) -> List[Tuple[str, Tuple[int, ...]]]:
        raise NotImplementedError()

    def get_params(self) -> Tuple[Any, Any]:
        raise NotImplementedError()

    def init_params(self, initializer: Any = Uniform(0.01), arg_params: Any = None,
                    aux_params: Any = None, allow_missing: bool = False, force_init: bool = False,
                    allow_extra: bool = False) -> None:
        raise NotImplementedError()

    def set_params(self, arg_params: Any, aux_params: Any, allow_missing: bool = False,
                   force_init: bool = True, allow_extra: bool = False) -> None:
        """Assign parameter values: ``init_params`` with no initializer."""
        self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init,
                         allow_extra=allow_extra)

    def save_params(self, fname: str) -> None:
        """Save ``get_params()`` as an ``arg:NAME`` / ``aux:NAME`` dict file."""
        arg_params, aux_params = self.get_params()
        save_dict = {("arg:%s" % k): v for k, v in arg_params.items()}
        save_dict.update({("aux:%s" % k): v for k, v in aux_params.items()})
        nd_save(fname, save_dict)

    def load_params(self, fname: str) -> None:
        """Load an ``arg:``/``aux:`` dict file (``save_params``'s) and ``set_params`` it."""
        save_dict = nd_load(fname)
        if isinstance(save_dict, list):
            if save_dict:
                raise ValueError("Invalid param file " + fname)
            save_dict = {}
        arg_params: Dict[str, Any] = {}
        aux_params: Dict[str, Any] = {}
        for k, value in save_dict.items():
            arg_type, name = k.split(":", 1) if ":" in k else (k, "")
            if arg_type == "arg":
                arg_params[name] = value
            elif arg_type == "aux":
                aux_params[name] = value
            else:
                raise ValueError("Invalid param file " + fname)
        self.set_params(arg_params, aux_params)

    def get_states(self, merge_multi_context: bool = True) -> List[Any]:
        """States of the module (none by default)."""
        assert self.binded and self.params_initialized
        assert not merge_multi_context
        return []

    def set_states(self, states: Any = None, value: Any = None) -> None:
        """Set the states (a module without states accepts nothing)."""
        assert self.binded and self.params_initialized
        assert not states and not value

    def prepare(self, data_batch: Any, sparse_row_id_fn: Any = None) -> None:
        """Prepare for a batch (nothing to do here); warns when ``sparse_row_id_fn`` is given."""
        if sparse_row_id_fn is not None:
            warnings.warn(UserWarning("sparse_row_id_fn is not invoked for BaseModule."),
                          stacklevel=2)

    def install_monitor(self, mon: Any) -> None:
        raise NotImplementedError()

    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False,
             shared_module: Any = None, grad_req: Any = "write") -> None:
        raise NotImplementedError()

    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),),
                       force_init: bool = False) -> None:
        raise NotImplementedError()

    def forward(self, data_batch: Any, is_train: Optional[bool] = None) -> None:
        raise NotImplementedError()

    def backward(self, out_grads: Any = None) -> None:
        raise NotImplementedError()

    def update(self) -> None:
        raise NotImplementedError()

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        raise NotImplementedError()

    def get_outputs(self, merge_multi_context: bool = True) -> List[Any]:
        raise NotImplementedError()

    def get_input_grads(self, merge_multi_context: bool = True) -> List[Any]:
        raise NotImplementedError()
