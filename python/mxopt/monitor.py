"""``mx.monitor.Monitor`` (alias ``mx.mon``): statistics of arguments and operator outputs,
collected every ``interval`` batches and logged by ``toc_print``."""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from .ndarray import NDArray

__all__ = ["Monitor"]


def _default_stat(x: NDArray) -> NDArray:
    """``norm(x) / sqrt(x.size)``."""
    d = x._data
    norm = np.sqrt(np.sum(np.square(d, dtype=np.float32), dtype=np.float32))
    return NDArray(np.array([norm / np.float32(math.sqrt(d.size))], dtype=d.dtype))


class Monitor:
    """Collect ``stat_func`` of arrays whose name matches ``pattern``.

    Call ``tic()`` before a batch and ``toc()``/``toc_print()`` after it; statistics are taken
    every ``interval`` batches: the outputs of every operator of the last forward
    (``<node>_output``) and then the arguments.
    """

    def __init__(self, interval: int, stat_func: Optional[Callable[[NDArray], Any]] = None,
                 pattern: str = ".*", sort: bool = False, monitor_all: bool = False) -> None:
        self.stat_func = stat_func or _default_stat
        self.interval = interval
        self.activated = False
        self.queue: List[Tuple[int, str, Any]] = []
        self.step = 0
        self.exes: List[Any] = []
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all

    def install(self, exe: Any) -> None:
        """Watch an executor (Module.install_monitor calls this)."""
        self.exes = [e for e in self.exes if e is not exe] + [exe]

    def _collect_outputs(self, exe: Any) -> None:
        if not self.activated:
            return
        for name, arr in exe._internal_outputs():
            if self.re_prog.match(name):
                self.queue.append((self.step, name, self.stat_func(arr)))

    def tic(self) -> None:
        """Start collecting if this batch is one of every ``interval``."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self) -> List[Tuple[int, str, str]]:
        """Stop collecting; return ``(step, name, stat text)`` entries."""
        if not self.activated:
            return []
        for exe in self.exes:
            for name, array in zip(exe._symbol.list_arguments(), exe.arg_arrays):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        if self.sort:
            self.queue.sort(key=lambda x: x[1])
        res = []
        for n, k, v_list in self.queue:
            if isinstance(v_list, NDArray):
                v_list = [v_list]
            s = ""
            for v in v_list:
                s += (str(v.asscalar()) if v.shape == (1,) else str(v.asnumpy())) + "\t"
            res.append((n, k, s))
        self.queue = []
        return res

    def toc_print(self) -> None:
        """``toc()`` and log each entry as ``Batch: <step> <name> <value>``."""
        for n, k, v in self.toc():
            logging.info("Batch: {:7d} {:30s} {:s}".format(n, k, v))
