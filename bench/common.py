"""Shared benchmark helpers: timing (median of >= 7 runs after warm-up), the STREAM roofline,
result tables and the JSON result file. Used by every bench/bench_*.py."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
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


def interleaved_medians(fns: Dict[str, Optional[Callable[[], Any]]], repeats: int = REPEATS,
                        warmup: int = 2, min_time: float = 0.02) -> Dict[str, Optional[float]]:
    """Median seconds per call of each function, sampled round-robin: round r times every
    function once (each sample loops it for at least ``min_time``), so that a slow phase of a
    shared machine hits every library alike instead of whichever was measured then."""
    live = {k: f for k, f in fns.items() if f is not None}
    loops: Dict[str, int] = {}
    for k, f in live.items():
        for _ in range(warmup):
            f()
        n = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            if time.perf_counter() - t0 >= min_time or n >= 1 << 20:
                break
            n *= 2
        loops[k] = n
    samples: Dict[str, List[float]] = {k: [] for k in live}
    for _ in range(repeats):
        for k, f in live.items():
            n = loops[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: (statistics.median(samples[k]) if k in live else None) for k in fns}


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
