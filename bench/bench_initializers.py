"""Random fills and initializers: mxopt (MXNet-exact stream and Philox) against numpy
(Generator/PCG64 and RandomState), MXNet 1.9.1 and PyTorch, with the write bandwidth.

    python bench/bench_initializers.py [--quick]     (threads: OMP_NUM_THREADS)

Every figure is the median of 7 timed runs after warm-up. Each library runs in its own worker
process, one after the other in the same run, so that no library's thread pool or OpenMP
runtime shares the process with another's. "%fill" is the share of the STREAM fill bandwidth
(a parallel store loop, same thread count) that writing the float32 output at the measured
speed represents. On a shared machine, run it when the cores are idle: a parallel region whose
second thread has to wait for a busy core costs a scheduler time slice (~8 ms).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

LIBS = ["mxopt", "numpy", "mxnet", "torch"]


def _groups(quick: bool) -> List[tuple]:
    sizes = [1_000_000, 4_000_000] if quick else [1_000_000, 64_000_000]
    side = 1000 if quick else 8000
    groups = []
    for n in sizes:
        groups.append((f"uniform fill, {n:.0e} float32", "uniform", (n,)))
        groups.append((f"normal fill, {n:.0e} float32", "normal", (n,)))
    groups.append((f"Xavier uniform ({side}, {side})", "xavier", (side, side)))
    for shape in [(256, 256), (1024, 512)]:
        groups.append((f"Orthogonal {shape}", "orthogonal", shape))
    return groups


# ---- per-library cases (run inside the worker) -------------------------------------------
def _mxopt_cases(kind: str, shape: tuple) -> Dict[str, Callable[[], Any]]:
    import mxopt
    buf = np.empty(shape, np.float32)
    desc = mxopt.init.InitDesc("fc_weight")
    body = {
        "uniform": lambda: mxopt.random.uniform(-1, 1, out=buf),
        "normal": lambda: mxopt.random.normal(0, 1, out=buf),
        "xavier": lambda: mxopt.init.Xavier()(desc, buf),
        "orthogonal": lambda: mxopt.init.Orthogonal()(desc, buf),
    }[kind]
    cases = {}
    for gen, label in [("mxnet", "mxopt mxnet-stream"), ("philox", "mxopt philox")]:
        def run(gen: str = gen) -> Any:
            if mxopt.random.generator() != gen:
                mxopt.random.seed(1, generator=gen)
            return body()
        cases[label] = run
    return cases


def _numpy_cases(kind: str, shape: tuple) -> Dict[str, Callable[[], Any]]:
    if kind not in ("uniform", "normal"):
        return {}
    n = int(np.prod(shape))
    buf = np.empty(n, np.float32)
    pcg = np.random.Generator(np.random.PCG64(1))
    rs = np.random.RandomState(1)
    if kind == "uniform":
        return {"numpy Generator(PCG64)": lambda: pcg.random(n, dtype=np.float32, out=buf),
                "numpy RandomState": lambda: np.copyto(buf, rs.uniform(-1, 1, n),
                                                       casting="unsafe")}
    return {"numpy Generator(PCG64)": lambda: pcg.standard_normal(n, dtype=np.float32, out=buf),
            "numpy RandomState": lambda: np.copyto(buf, rs.normal(0, 1, n), casting="unsafe")}


def _mxnet_cases(kind: str, shape: tuple) -> Dict[str, Callable[[], Any]]:
    import mxnet
    nd = mxnet.nd.empty(shape)
    desc = mxnet.init.InitDesc("fc_weight")
    fn = {
        "uniform": lambda: mxnet.nd.random.uniform(-1, 1, out=nd).wait_to_read(),
        "normal": lambda: mxnet.nd.random.normal(0, 1, out=nd).wait_to_read(),
        "xavier": lambda: (mxnet.init.Xavier()(desc, nd), nd.wait_to_read()),
        "orthogonal": lambda: (mxnet.init.Orthogonal()(desc, nd), nd.wait_to_read()),
    }[kind]
    return {"mxnet 1.9.1": fn}


def _torch_cases(kind: str, shape: tuple) -> Dict[str, Callable[[], Any]]:
    import torch
    torch.set_num_threads(common.threads())
    t = torch.empty(shape)
    name, fn = {
        "uniform": ("torch uniform_", lambda: t.uniform_(-1, 1)),
        "normal": ("torch normal_", lambda: t.normal_(0, 1)),
        "xavier": ("torch xavier_uniform_", lambda: torch.nn.init.xavier_uniform_(t)),
        "orthogonal": ("torch orthogonal_", lambda: torch.nn.init.orthogonal_(t)),
    }[kind]
    return {name: fn}


def worker(lib: str, quick: bool) -> Dict[str, Any]:
    make = {"mxopt": _mxopt_cases, "numpy": _numpy_cases, "mxnet": _mxnet_cases,
            "torch": _torch_cases}[lib]
    out: Dict[str, Any] = {}
    for title, kind, shape in _groups(quick):
        times = {}
        for name, fn in make(kind, shape).items():
            times[name] = common.median_time(fn, repeats=3 if quick else common.REPEATS,
                                             warmup=1, min_time=0.05)
        out[title] = times
    if lib == "mxopt":
        import mxopt
        out["philox_simd"] = mxopt._core.philox_simd()
    return out


# ---- the driver ---------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.quick)))
        return 0

    roof = common.stream_roofline()
    results: Dict[str, Any] = {"threads": common.threads(), "stream": roof, "groups": {}}
    n0 = 64_000_000 if not args.quick else 4_000_000
    a, b = np.empty(n0, np.float32), np.ones(n0, np.float32)
    results["numpy_fill_GBs"] = 4.0 * n0 / common.median_time(lambda: a.fill(1.0)) / 1e9
    results["numpy_copyto_GBs"] = 8.0 * n0 / common.median_time(lambda: np.copyto(a, b)) / 1e9
    a = b = None  # free the buffers
    merged: Dict[str, Dict[str, float]] = {}
    for lib in LIBS:
        if lib != "numpy" and common.optional_import(lib) is None:
            print(f"({lib} not installed: skipped)")
            continue
        cmd = [sys.executable, __file__, "--worker", lib] + (["--quick"] if args.quick else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"worker {lib} failed:\n{proc.stderr[-2000:]}")
            return 1
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        if "philox_simd" in data:
            results["philox_simd"] = data.pop("philox_simd")
        for title, times in data.items():
            merged.setdefault(title, {}).update(times)
    fill = roof["fill_GBs"]
    print(f"\nthreads={common.threads()}  STREAM fill {fill:.1f} GB/s  numpy fill (1 thread) "
          f"{results['numpy_fill_GBs']:.1f} GB/s  numpy copyto {results['numpy_copyto_GBs']:.1f}"
          f" GB/s  philox kernels: {results.get('philox_simd')}", flush=True)
    for title, _kind, shape in _groups(args.quick):
        times = merged.get(title, {})
        n = int(np.prod(shape))
        ref = times.get("mxopt philox")
        rows, recs = [], []
        for name, t in times.items():
            gbs = 4.0 * n / t / 1e9
            rows.append([name, t * 1e3, n / t / 1e9, 100 * gbs / fill,
                         t / ref if ref else None,
                         times["mxopt mxnet-stream"] / t if "mxopt mxnet-stream" in times else None])
            recs.append({"case": name, "seconds": t, "Gvalues_s": n / t / 1e9, "GB_s": gbs,
                         "pct_fill": 100 * gbs / fill})
        results["groups"][title] = recs
        print(common.table(title, ["library", "ms", "Gvalues/s", "%fill", "time/mxopt philox",
                                   "mxnet-stream/time"], rows), flush=True)
    path = common.save_results("initializers", results)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
