"""Shared benchmark helpers: timing (median of >= 7 runs after warm-up), the STREAM roofline,
result tables and the JSON result file. Used by every bench/bench_*.py."""

from __future__ import annotations

import gc
import importlib
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = ROOT / "bench" / "results"
REPEATS = 7


def median_time(fn: Callable[[], Any], repeats: int = REPEATS, warmup: int = 2,
                min_time: float = 0.02) -> float:
    """Median seconds of one call of ``fn`` over ``repeats`` samples, after ``warmup`` calls.

    Each sample loops ``fn`` enough times to last at least ``min_time`` seconds, so tiny
    operations are timed over many calls.
    """
    for _ in range(warmup):
        fn()
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or loops >= 1 << 20:
            break
        loops *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples)


def _timed(fn: Callable[[], Any], loops: int) -> float:
    """Seconds for ``loops`` calls of ``fn`` (a RemoteFn times them in its own process)."""
    remote = getattr(fn, "timed", None)
    if remote is not None:
        return remote(loops)
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return time.perf_counter() - t0


def interleaved_medians(fns: Dict[str, Optional[Callable[[], Any]]], repeats: int = REPEATS,
                        warmup: int = 2, min_time: float = 0.02) -> Dict[str, Optional[float]]:
    """Median seconds per call of each function, sampled round-robin: round r times every
    function once (each sample loops it for at least ``min_time``), so that a slow phase of a
    shared machine hits every library alike instead of whichever was measured then.
    RemoteFn entries (see RemoteLibrary) take their turn like the others and are released
    afterwards."""
    live = {k: f for k, f in fns.items() if f is not None}
    loops: Dict[str, int] = {}
    for k, f in live.items():
        for _ in range(warmup):
            f()
        n = 1
        while _timed(f, n) < min_time and n < 1 << 20:
            n *= 2
        loops[k] = n
    samples: Dict[str, List[float]] = {k: [] for k in live}
    for _ in range(repeats):
        for k, f in live.items():
            samples[k].append(_timed(f, loops[k]) / loops[k])
    for f in live.values():
        if isinstance(f, RemoteFn):
            f.release()
    return {k: (statistics.median(samples[k]) if k in live else None) for k in fns}


class RemoteLibrary:
    """Benchmark callables built and timed in a persistent worker process of their own (with
    ``env`` added to its environment)."""

    def __init__(self, env: Optional[Dict[str, str]] = None) -> None:
        path = os.pathsep.join(p for p in sys.path if p)
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--remote-worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=path, **(env or {})))
        self._next = 0

    def make(self, module: str, factory: str, *args: Any) -> Optional["RemoteFn"]:
        """``module.factory(*args)`` in the worker; None if it returns None."""
        self._next += 1
        built = self.ask(("make", self._next, module, factory, args))
        return RemoteFn(self, self._next) if built else None

    def ask(self, message: tuple) -> Any:
        pickle.dump(message, self._proc.stdin)
        self._proc.stdin.flush()
        try:
            status, value = pickle.load(self._proc.stdout)
        except EOFError:
            raise RuntimeError("benchmark worker died (see its stderr above)") from None
        if status != "ok":
            raise RuntimeError(f"benchmark worker failed: {value}")
        return value


class RemoteFn:
    """A callable living in a RemoteLibrary's worker; ``timed(n)`` runs it n times there."""

    def __init__(self, lib: RemoteLibrary, key: int) -> None:
        self._lib, self._key = lib, key

    def __call__(self) -> None:
        self._lib.ask(("run", self._key, 1))

    def timed(self, loops: int) -> float:
        return self._lib.ask(("run", self._key, loops))

    def release(self) -> None:
        self._lib.ask(("drop", self._key))


_MXNET: Optional[RemoteLibrary] = None


def in_mxnet_process(module: str, factory: str, *args: Any) -> Optional[RemoteFn]:
    """``module.factory(*args)`` built and timed in a worker process that runs MXNet alone.

    Every library in a process shares one libgomp. MXNet's threaded engine runs operators on
    worker threads, each with an OpenMP team of its own; once libgomp manages more threads than
    there are cores it stops spinning between parallel regions, in every library of the
    process, so each region pays a futex wake-up. Measured here, after MXNet had run operators
    in the process: mxopt's 1e5-element Adam step 20 -> 57 us, PyTorch's fused one 60 -> 143 us.
    The worker uses MXNet's NaiveEngine: for these synchronous one-step timings it was MXNet's
    fastest and steadiest engine here (16e6-element adam_update 30 ms every run, against 31 or
    120 ms per process with ThreadedEnginePerDevice; ResNet-50 Adam Updater 51-54 vs 55-62 ms).
    Its samples still take their turn in interleaved_medians' round-robin.
    """
    global _MXNET
    if _MXNET is None:
        _MXNET = RemoteLibrary({"MXNET_ENGINE_TYPE": "NaiveEngine"})
    return _MXNET.make(module, factory, *args)


def _remote_main() -> None:
    """The worker's loop: pickled requests on stdin, pickled replies on the original stdout
    (whatever the libraries print goes to stderr)."""
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    fns: Dict[int, Callable[[], Any]] = {}
    while True:
        try:
            message = pickle.load(requests)
        except EOFError:
            return
        try:
            if message[0] == "make":
                _, key, module, factory, args = message
                fn = getattr(importlib.import_module(module), factory)(*args)
                if fn is not None:
                    fns[key] = fn
                reply: tuple = ("ok", fn is not None)
            elif message[0] == "run":
                _, key, loops = message
                fn = fns[key]
                t0 = time.perf_counter()
                for _ in range(loops):
                    fn()
                reply = ("ok", time.perf_counter() - t0)
            else:  # drop
                fns.pop(message[1], None)
                gc.collect()
                reply = ("ok", None)
        except Exception as exc:  # reported to (and raised in) the parent
            reply = ("error", f"{type(exc).__name__}: {exc}")
        pickle.dump(reply, replies)
        replies.flush()


def threads() -> int:
    return int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))


def stream_roofline(n_floats: int = 32 << 20) -> Dict[str, float]:
    """Compile (once) and run bench/stream.cc with the current OMP_NUM_THREADS.

    Returns GB/s for fill (write), copy and triad.
    """
    exe = ROOT / "build" / "bench" / "stream"
    src = BENCH_DIR / "stream.cc"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        exe.parent.mkdir(parents=True, exist_ok=True)
        cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
        if not cxx:
            raise RuntimeError("a C++ compiler is needed to build bench/stream.cc")
        subprocess.run([cxx, "-O3", "-fopenmp", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe), str(n_floats)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def table(title: str, header: Sequence[str], rows: List[Sequence[Any]]) -> str:
    """A fixed-width text table."""
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [f"\n== {title}", "  ".join(h.ljust(w) for h, w in zip(cells[0], widths)), line]
    out += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in cells[1:]]
    return "\n".join(out)


def _fmt(c: Any) -> str:
    if isinstance(c, float):
        if c == 0 or 0.01 <= abs(c) < 1e5:
            return f"{c:.3g}" if abs(c) < 100 else f"{c:.0f}"
        return f"{c:.3e}"
    return "-" if c is None else str(c)


def save_results(name: str, data: Dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-t{threads()}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def optional_import(name: str) -> Optional[Any]:
    """Import a peer library if it is installed (benchmarks run with whatever peers exist)."""
    try:
        return __import__(name)
    except ImportError:
        return None


if __name__ == "__main__" and sys.argv[1:] == ["--remote-worker"]:
    _remote_main()
