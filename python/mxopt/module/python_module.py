"""``PythonModule`` and ``PythonLossModule``: modules whose computation is written in Python
(no parameters, no optimizer), e.g. a loss stacked on a network in a ``SequentialModule``.

Example::

    >>> import mxopt as mx
    >>> def grad(scores, labels):                 # d loss / d scores
    ...     return scores - labels.reshape((-1, 1))
    >>> loss = mx.mod.PythonLossModule(grad_func=grad)
    >>> seq = mx.mod.SequentialModule().add(net_module).add(loss, take_labels=True)
"""

from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple


from ..initializer import Uniform
from ..ndarray import NDArray, array
from .base_module import BaseModule

__all__ = ["PythonModule", "PythonLossModule"]


class PythonModule(BaseModule):
    """A module computed in Python: subclasses implement ``forward``, ``backward``,
    ``get_outputs``, ``get_input_grads`` and ``_compute_output_shapes``.

    It has no parameters: ``get_params`` returns two empty dicts and ``init_params``,
    ``init_optimizer`` and ``update`` do nothing.

    Args:
        data_names, label_names: input names (``bind`` checks the shapes against them).
        output_names: names of the outputs.
        logger: where messages go.
    """

    def __init__(self, data_names: Sequence[str], label_names: Optional[Sequence[str]],
                 output_names: Sequence[str], logger: Any = logging) -> None:
        super().__init__(logger=logger)
        if isinstance(data_names, tuple):
            data_names = list(data_names)
        if isinstance(label_names, tuple):
            label_names = list(label_names)
        self._data_names = data_names
        self._label_names = label_names
        self._output_names = output_names
        self._data_shapes: Any = None
        self._label_shapes: Any = None
        self._output_shapes: Any = None

    @property
    def data_names(self) -> List[str]:
        return self._data_names

    @property
    def output_names(self) -> List[str]:
        return self._output_names

    @property
    def data_shapes(self) -> Any:
        return self._data_shapes

    @property
    def label_shapes(self) -> Any:
        return self._label_shapes

    @property
    def output_shapes(self) -> Any:
        return self._output_shapes

    def get_params(self) -> Tuple[dict, dict]:
        """No parameters: ``({}, {})``."""
        return (dict(), dict())

    def init_params(self, initializer: Any = Uniform(0.01), arg_params: Any = None,
                    aux_params: Any = None, allow_missing: bool = False, force_init: bool = False,
                    allow_extra: bool = False) -> None:
        """Nothing to initialize."""

    def update(self) -> None:
        """Nothing to update."""

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        """``eval_metric.update(labels, get_outputs())`` (skipped without labels)."""
        if self._label_shapes is None:
            return
        if pre_sliced:
            raise RuntimeError("PythonModule does not support presliced labels")
        eval_metric.update(labels, self.get_outputs())

    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False,
             shared_module: Any = None, grad_req: str = "write") -> None:
        """Record the input shapes (their names must be ``data_names`` / ``label_names`` in
        order) and compute the output shapes.

        As in MXNet 1.9.1, ``binded`` is not set by this method.
        """
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        assert grad_req == "write", "Python module only support write gradient"
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        assert len(data_shapes) == len(self._data_names), (
            "PythonModule.bind: %d data shapes for the data names %s"
            % (len(data_shapes), self._data_names))
        assert [x[0] for x in data_shapes] == self._data_names, (
            "PythonModule.bind: data shapes %s do not match the data names %s"
            % ([x[0] for x in data_shapes], self._data_names))
        self._data_shapes = data_shapes
        self._label_shapes = label_shapes
        if label_shapes is not None:
            assert self._label_names is not None, "label shapes given but no label names"
            assert len(self._label_names) == len(label_shapes), (
                "PythonModule.bind: %d label shapes for the label names %s"
                % (len(label_shapes), self._label_names))
            assert [x[0] for x in label_shapes] == self._label_names, (
                "PythonModule.bind: label shapes %s do not match the label names %s"
                % ([x[0] for x in label_shapes], self._label_names))
        self._output_shapes = self._compute_output_shapes()

    def _compute_output_shapes(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """``[(name, shape)]`` of the outputs, from ``self._data_shapes`` (subclasses)."""
        raise NotImplementedError()

    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),),
                       force_init: bool = False) -> None:
        """No parameters, no optimizer."""


class PythonLossModule(PythonModule):
    """A loss written in Python: the output is the input scores; ``backward`` asks
    ``grad_func(scores, labels)`` for the gradient w.r.t. the scores.

    Args:
        name: the output is called ``name + '_output'``.
        data_names, label_names: one name each.
        grad_func: ``grad_func(scores, labels)`` -> NDArray (or anything ``mx.nd.array``
            accepts); required for ``backward``.
    """

    def __init__(self, name: str = "pyloss", data_names: Sequence[str] = ("data",),
                 label_names: Sequence[str] = ("softmax_label",), logger: Any = logging,
                 grad_func: Optional[Callable[[Any, Any], Any]] = None) -> None:
        super().__init__(data_names, label_names, [name + "_output"], logger=logger)
        self._name = name
        assert len(data_names) == 1, "PythonLossModule takes one data input"
        assert len(label_names) == 1, "PythonLossModule takes one label input"
        self._scores: Any = None
        self._labels: Any = None
        self._scores_grad: Any = None
        if grad_func is not None:
            assert callable(grad_func), "grad_func must be callable"
        self._grad_func = grad_func

    def _compute_output_shapes(self) -> List[Tuple[str, Tuple[int, ...]]]:
        return [(self._name + "_output", self._data_shapes[0][1])]

    def forward(self, data_batch: Any, is_train: Optional[bool] = None) -> None:
        """Keep the scores (``data_batch.data[0]``) and, when training, the labels."""
        self._scores = data_batch.data[0]
        if is_train is None:
            is_train = self.for_training
        if is_train:
            self._labels = data_batch.label[0]

    def get_outputs(self, merge_multi_context: bool = True) -> List[Any]:
        """``[scores]``."""
        assert merge_multi_context is True
        return [self._scores]

    def backward(self, out_grads: Any = None) -> None:
        """Compute the gradient of the scores with ``grad_func``."""
        assert out_grads is None, "For a loss module, out_grads should be None"
        assert self.for_training
        self._backward_impl()

    def _backward_impl(self) -> None:
        if self._grad_func is None:
            raise NotImplementedError("PythonLossModule needs grad_func to run backward")
        grad = self._grad_func(self._scores, self._labels)
        if not isinstance(grad, NDArray):
            grad = array(grad)
        self._scores_grad = grad

    def get_input_grads(self, merge_multi_context: bool = True) -> List[Any]:
        """``[d loss / d scores]`` of the last backward."""
        assert merge_multi_context is True
        return [self._scores_grad]

    def install_monitor(self, mon: Any) -> None:
        raise NotImplementedError()
