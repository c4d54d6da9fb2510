"""``SequentialModule``: modules chained so that each one's outputs are the next one's data
(MXNet 1.9.1's ``mx.mod.SequentialModule``).

Example::

    >>> import mxopt as mx
    >>> net1 = mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=16, name='fc1')
    >>> net2 = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=4,
    ...                                                   name='fc2'), name='softmax')
    >>> seq = mx.mod.SequentialModule()
    >>> seq.add(mx.mod.Module(net1, label_names=None))
    >>> seq.add(mx.mod.Module(net2), take_labels=True, auto_wiring=True)
    >>> seq.fit(train_iter, num_epoch=2)
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List, Optional, Tuple

from ..initializer import Uniform
from .base_module import BaseModule

__all__ = ["SequentialModule"]


class SequentialModule(BaseModule):
    """A chain of modules: module ``i + 1`` takes module ``i``'s outputs as its data.

    ``add(module, take_labels=False, auto_wiring=False)`` appends a module; ``take_labels``
    feeds it the batch's labels (and lets it update the metric); ``auto_wiring`` renames the
    previous outputs to this module's data names.
    """

    META_TAKE_LABELS = "take_labels"
    META_AUTO_WIRING = "auto_wiring"

    def __init__(self, logger: Any = logging) -> None:
        super().__init__(logger=logger)
        self._modules: List[Any] = []
        self._metas: List[Dict[str, Any]] = []
        self._label_shapes: Any = None
        self._data_shapes: Any = None
        self._meta_keys = {getattr(SequentialModule, x) for x in dir(SequentialModule)
                           if x.startswith("META_")}

    def add(self, module: Any, **kwargs: Any) -> "SequentialModule":
        """Append ``module`` (options: ``take_labels``, ``auto_wiring``); returns ``self``.

        Adding resets the bound / initialized flags: bind and initialize again.
        """
        for key in kwargs:
            assert key in self._meta_keys, 'Unknown meta "%s", a typo?' % key
        self._modules.append(module)
        self._metas.append(kwargs)
        self.binded = False
        self.params_initialized = False
        self.optimizer_initialized = False
        return self

    # ---- properties ---------------------------------------------------------------------------
    @property
    def data_names(self) -> List[str]:
        return self._modules[0].data_names if self._modules else []

    @property
    def output_names(self) -> List[str]:
        return self._modules[-1].output_names if self._modules else []

    @property
    def data_shapes(self) -> Any:
        assert self.binded
        return self._modules[0].data_shapes

    @property
    def label_shapes(self) -> Any:
        assert self.binded
        return self._label_shapes

    @property
    def output_shapes(self) -> Any:
        assert self.binded
        return self._modules[-1].output_shapes

    # ---- parameters ---------------------------------------------------------------------------
    def get_params(self) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The union of the modules' ``(arg_params, aux_params)``."""
        assert self.binded and self.params_initialized
        arg_params: Dict[str, Any] = {}
        aux_params: Dict[str, Any] = {}
        for module in self._modules:
            arg, aux = module.get_params()
            arg_params.update(arg)
            aux_params.update(aux)
        return (arg_params, aux_params)

    def init_params(self, initializer: Any = Uniform(0.01), arg_params: Any = None,
                    aux_params: Any = None, allow_missing: bool = False, force_init: bool = False,
                    allow_extra: bool = False) -> None:
        """Initialize every module's parameters; two modules may not share a parameter name
        (AssertionError)."""
        if self.params_initialized and not force_init:
            return
        assert self.binded, "call bind before initializing the parameters"
        for module in self._modules:
            module.init_params(initializer=initializer, arg_params=arg_params,
                               aux_params=aux_params, allow_missing=allow_missing,
                               force_init=force_init, allow_extra=allow_extra)

        def check_names(known: Dict[str, int], names: Any, i: int) -> None:
            for name in names:
                assert name not in known, (
                    'Duplicated parameter names: name "%s" in layer %d (%s) is already used in '
                    'layer %d (%s).' % (name, i, type(self._modules[i]), known[name],
                                        type(self._modules[known[name]])))
                known[name] = i

        arg_names: Dict[str, int] = {}
        aux_names: Dict[str, int] = {}
        for i, module in enumerate(self._modules):
            arg, aux = module.get_params()
            check_names(arg_names, arg.keys(), i)
            check_names(aux_names, aux.keys(), i)
        self.params_initialized = True

    # ---- binding and optimizer ----------------------------------------------------------------
    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False,
             shared_module: Any = None, grad_req: Any = "write") -> None:
        """Bind each module on the previous one's output shapes.

        Modules after the first get ``inputs_need_grad`` when training (the gradient flows
        back through them); only modules added with ``take_labels`` get the label shapes.
        """
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if inputs_need_grad:
            assert for_training is True
        assert shared_module is None, "Shared module is not supported"
        assert len(self._modules) > 0, "Attempting to bind an empty SequentialModule"
        self.binded = True
        self._label_shapes = label_shapes
        my_data_shapes = data_shapes
        anybody_needs_label = False
        for i, module in enumerate(self._modules):
            meta = self._metas[i]
            if meta.get(SequentialModule.META_TAKE_LABELS, False):
                my_label_shapes = label_shapes
                anybody_needs_label = True
            else:
                my_label_shapes = None
            my_inputs_need_grad = bool(inputs_need_grad or (for_training and i > 0))
            if meta.get(SequentialModule.META_AUTO_WIRING, False):
                data_names = module.data_names
                assert len(data_names) == len(my_data_shapes), (
                    "auto_wiring of layer %d: %d data names %s for %d outputs of the previous "
                    "layer" % (i, len(data_names), data_names, len(my_data_shapes)))
                my_data_shapes = [(new_name, shape) for new_name, (_, shape)
                                  in zip(data_names, my_data_shapes)]
            module.bind(data_shapes=my_data_shapes, label_shapes=my_label_shapes,
                        for_training=for_training, inputs_need_grad=my_inputs_need_grad,
                        force_rebind=force_rebind, shared_module=None, grad_req=grad_req)
            my_data_shapes = module.output_shapes
        if not anybody_needs_label:
            self._label_shapes = None

    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),),
                       force_init: bool = False) -> None:
        """``init_optimizer`` of every module with the same arguments."""
        assert self.binded and self.params_initialized
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring.")
            return
        for module in self._modules:
            module.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                                  optimizer_params=optimizer_params, force_init=force_init)
        self.optimizer_initialized = True

    # ---- computation --------------------------------------------------------------------------
    def forward(self, data_batch: Any, is_train: Optional[bool] = None) -> None:
        """Run the modules in order, each on the previous one's outputs."""
        assert self.binded and self.params_initialized
        data_batch = copy.copy(data_batch)  # the caller's batch keeps its data
        for i, module in enumerate(self._modules):
            module.forward(data_batch, is_train=is_train)
            if i + 1 == len(self._modules):
                break
            data_batch.data = module.get_outputs()
            if hasattr(data_batch, "provide_data"):
                data_names = [x[0] for x in module.output_shapes]
                assert len(data_names) == len(data_batch.data)
                data_batch.provide_data = [(name, x.shape) for name, x in
                                           zip(data_names, data_batch.data)]

    def backward(self, out_grads: Any = None) -> None:
        """Back-propagate from the last module to the first."""
        assert self.binded and self.params_initialized
        for i, module in reversed(list(enumerate(self._modules))):
            module.backward(out_grads=out_grads)
            if i == 0:
                break
            out_grads = module.get_input_grads()

    def update(self) -> None:
        """``update()`` of every module."""
        assert self.binded and self.params_initialized and self.optimizer_initialized
        for module in self._modules:
            module.update()

    def get_outputs(self, merge_multi_context: bool = True) -> List[Any]:
        """The last module's outputs."""
        assert self.binded and self.params_initialized
        return self._modules[-1].get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context: bool = True) -> List[Any]:
        """The first module's input gradients (bind with ``inputs_need_grad=True``)."""
        assert self.binded and self.params_initialized and self.inputs_need_grad
        return self._modules[0].get_input_grads(merge_multi_context=merge_multi_context)

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        """Update the metric through every module added with ``take_labels``."""
        assert self.binded and self.params_initialized
        for meta, module in zip(self._metas, self._modules):
            if meta.get(SequentialModule.META_TAKE_LABELS, False):
                module.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon: Any) -> None:
        """Install ``mon`` on every module."""
        assert self.binded
        for module in self._modules:
            module.install_monitor(mon)
