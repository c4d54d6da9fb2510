"""Checkpoint helpers (``mx.model``): ``prefix-symbol.json`` + ``prefix-%04d.params`` files in
MXNet 1.9.1's format, the ``BatchEndParam`` record passed to batch callbacks, and the
key-value store plumbing Module uses (``_create_kvstore``, ``_initialize_kvstore``,
``_update_params_on_kvstore``, ``_update_params``), with MXNet's rules."""

from __future__ import annotations

import logging
import os
from collections import namedtuple
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import kvstore as kvs
from . import ndarray as nd
from . import symbol as sym

__all__ = ["BatchEndParam", "save_checkpoint", "load_checkpoint", "load_params"]

BatchEndParam = namedtuple("BatchEndParams", ["epoch", "nbatch", "eval_metric", "locals"])


def save_checkpoint(prefix: str, epoch: int, symbol: Optional[Any], arg_params: Dict[str, Any],
                    aux_params: Dict[str, Any], remove_amp_cast: bool = True) -> None:
    """Write ``prefix-symbol.json`` (if ``symbol`` is given) and ``prefix-%04d.params``
    (keys ``arg:NAME`` then ``aux:NAME``), then log ``Saved checkpoint to "..."``."""
    if symbol is not None:
        symbol.save("%s-symbol.json" % prefix, remove_amp_cast=remove_amp_cast)
    save_dict = {("arg:%s" % k): v for k, v in arg_params.items()}
    save_dict.update({("aux:%s" % k): v for k, v in aux_params.items()})
    param_name = "%s-%04d.params" % (prefix, epoch)
    nd.save(param_name, save_dict)
    logging.info('Saved checkpoint to "%s"', param_name)


def load_params(prefix: str, epoch: int) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(arg_params, aux_params)`` from ``prefix-%04d.params`` (other key prefixes are
    ignored; a key without ``:`` raises ValueError)."""
    fname = "%s-%04d.params" % (prefix, epoch)
    save_dict = nd.load(fname)
    arg_params: Dict[str, Any] = {}
    aux_params: Dict[str, Any] = {}
    if not save_dict:
        logging.warning("Params file '%s' is empty", fname)
        return arg_params, aux_params
    if isinstance(save_dict, list):
        raise ValueError("Invalid param file %s: it holds an unnamed list of arrays" % fname)
    for k, v in save_dict.items():
        tp, name = k.split(":", 1)
        if tp == "arg":
            arg_params[name] = v
        if tp == "aux":
            aux_params[name] = v
    return arg_params, aux_params


def load_checkpoint(prefix: str, epoch: int) -> Tuple[Any, Dict[str, Any], Dict[str, Any]]:
    """``(symbol, arg_params, aux_params)`` saved by ``save_checkpoint`` (mxopt or MXNet)."""
    symbol = sym.load("%s-symbol.json" % prefix)
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params


# ---- key-value store plumbing of Module (MXNet 1.9.1's model.py rules) ---------------------------
def _create_kvstore(kvstore: Any, num_device: int, arg_params: Dict[str, Any]) -> Tuple[Any, bool]:
    """``(store or None, update_on_kvstore)`` for Module's ``kvstore`` argument.

    * a ``KVStoreBase`` object is used as is (even with one device);
    * a str with one device and no ``'dist'`` in it means no store; otherwise
      ``kvstore.create(name)``, and for ``'local'`` a parameter of more than 16M elements turns
      ``update_on_kvstore`` off;
    * ``update_on_kvstore`` starts from env ``MXNET_UPDATE_ON_KVSTORE`` (default ``"1"``) and is
      False without a store or when the store cannot hold an optimizer.

    Raises:
        TypeError: ``kvstore`` is not a KVStoreBase, a str or None.
    """
    update_on_kvstore = bool(int(os.getenv("MXNET_UPDATE_ON_KVSTORE", "1")))
    if kvstore is None:
        kv = None
    elif isinstance(kvstore, kvs.KVStoreBase):
        kv = kvstore
    elif isinstance(kvstore, str):
        if num_device == 1 and "dist" not in kvstore:
            kv = None  # one device in one process: nothing to sum
        else:
            kv = kvs.create(kvstore)
            if kvstore == "local":
                max_size = max((int(np.prod(p.shape)) for p in arg_params.values()), default=0)
                if max_size > 1024 * 1024 * 16:
                    update_on_kvstore = False
    else:
        raise TypeError("kvstore must be KVStore, str or None")
    if kv is None:
        update_on_kvstore = False
    else:
        update_on_kvstore &= bool(kv.is_capable(kvs.KVStoreBase.OPTIMIZER))
    return kv, update_on_kvstore


def _initialize_kvstore(kvstore: Any, param_arrays: List[List[Any]], arg_params: Dict[str, Any],
                        param_names: List[str], update_on_kvstore: bool) -> None:
    """Put every parameter into the store (and, when it runs the optimizer, give every device
    the store's value: ``broadcast``), as MXNet does.

    MXNet only ``init``s when the store does not run the optimizer: in one process that
    changes nothing (the devices already hold ``arg_params``), but the workers of a
    distributed store could start from different weights. mxopt's own stores
    (``mx.kv.KVStore`` and its subclasses) therefore broadcast in both modes; other stores get
    exactly MXNet's calls.
    """
    native = isinstance(kvstore, kvs.KVStore)
    for idx, param_on_devs in enumerate(param_arrays):
        name = param_names[idx]
        if (not update_on_kvstore and not native) or \
                getattr(arg_params[name], "stype", "default") != "default":
            kvstore.init(name, arg_params[name])
        else:
            kvstore.broadcast(name, arg_params[name], out=param_on_devs)


def _update_params_on_kvstore(param_arrays: List[List[Any]], grad_arrays: List[List[Any]],
                              kvstore: Any, param_names: List[str]) -> None:
    """The store sums each parameter's gradients, runs its optimizer on its copy of the
    weight and copies the result into every device's weight (``pushpull``)."""
    for index, (arg_list, grad_list) in enumerate(zip(param_arrays, grad_arrays)):
        if grad_list[0] is None:
            continue
        name = param_names[index]
        if getattr(grad_list[0], "stype", "default") == "default" and \
                getattr(arg_list[0], "stype", "default") == "default":
            kvstore.pushpull(name, grad_list, out=arg_list, priority=-index)
        else:
            kvstore.push(name, grad_list, priority=-index)
            kvstore.pull(name, out=arg_list, priority=-index)


def _update_params(param_arrays: List[List[Any]], grad_arrays: List[List[Any]], updater: Any,
                   num_device: int, kvstore: Any = None, param_names: Optional[List[str]] = None
                   ) -> None:
    """Sum the gradients through ``kvstore`` (if any, in place), then one ``updater`` call per
    device over its parameters, parameter ``i`` on device ``k`` being index
    ``i * num_device + k``."""
    updates: List[List[Tuple[int, Any, Any]]] = [[] for _ in range(num_device)]
    for index, (arg_list, grad_list) in enumerate(zip(param_arrays, grad_arrays)):
        if grad_list[0] is None:
            continue
        if kvstore:
            name = param_names[index]
            if getattr(grad_list[0], "stype", "default") == "default" and \
                    getattr(arg_list[0], "stype", "default") == "default":
                kvstore.pushpull(name, grad_list, priority=-index)
            else:
                kvstore.push(name, grad_list, priority=-index)
                kvstore.pull(name, out=grad_list, priority=-index)
        for k, (w, g) in enumerate(zip(arg_list, grad_list)):
            updates[k].append((index * num_device + k, g, w))
    for dev_updates in updates:
        if dev_updates:
            i, g, w = zip(*dev_updates)
            updater(i, g, w)
