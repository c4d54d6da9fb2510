"""Checkpoint helpers (``mx.model``): ``prefix-symbol.json`` + ``prefix-%04d.params`` files in
MXNet 1.9.1's format, and the ``BatchEndParam`` record passed to batch callbacks."""

from __future__ import annotations

import logging
from collections import namedtuple
from typing import Any, Dict, Optional, Tuple

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
