"""Random fills and initializers: mxopt (MXNet-exact stream and Philox) against numpy
(Generator/PCG64 and RandomState), MXNet 1.9.1 and PyTorch, with the write bandwidth.

    python bench/bench_initializers.py [--quick]     (threads: OMP_NUM_THREADS)

Every figure is the median of 7 timed runs after warm-up, all in this process. "%fill" is the
share of the STREAM fill bandwidth (a parallel store loop, same thread count) that writing the
float32 output at the measured speed represents.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import mxopt  # noqa: E402

mxnet = common.optional_import("mxnet")
torch = common.optional_import("torch")
if torch is not None:
    torch.set_num_threads(common.threads())


def uniform_cases(n: int) -> Dict[str, Callable[[], Any]]:
    buf = np.empty(n, np.float32)
    cases: Dict[str, Callable[[], Any]] = {}

    cases["mxopt mxnet-stream"] = _with_gen("mxnet", lambda: mxopt.random.uniform(-1, 1, out=buf))
    cases["mxopt philox"] = _with_gen("philox", lambda: mxopt.random.uniform(-1, 1, out=buf))
    pcg = np.random.Generator(np.random.PCG64(1))
    cases["numpy Generator(PCG64)"] = lambda: pcg.random(n, dtype=np.float32, out=buf)
    rs = np.random.RandomState(1)
    cases["numpy RandomState"] = lambda: np.copyto(buf, rs.uniform(-1, 1, n), casting="unsafe")
    if mxnet is not None:
        nd = mxnet.nd.empty((n,))
        cases["mxnet 1.9.1"] = lambda: mxnet.nd.random.uniform(-1, 1, out=nd).wait_to_read()
    if torch is not None:
        t = torch.empty(n)
        cases["torch uniform_"] = lambda: t.uniform_(-1, 1)
    return cases


def normal_cases(n: int) -> Dict[str, Callable[[], Any]]:
    buf = np.empty(n, np.float32)
    cases: Dict[str, Callable[[], Any]] = {}
    cases["mxopt mxnet-stream"] = _with_gen("mxnet", lambda: mxopt.random.normal(0, 1, out=buf))
    cases["mxopt philox"] = _with_gen("philox", lambda: mxopt.random.normal(0, 1, out=buf))
    pcg = np.random.Generator(np.random.PCG64(1))
    cases["numpy Generator(PCG64)"] = lambda: pcg.standard_normal(n, dtype=np.float32, out=buf)
    rs = np.random.RandomState(1)
    cases["numpy RandomState"] = lambda: np.copyto(buf, rs.normal(0, 1, n), casting="unsafe")
    if mxnet is not None:
        nd = mxnet.nd.empty((n,))
        cases["mxnet 1.9.1"] = lambda: mxnet.nd.random.normal(0, 1, out=nd).wait_to_read()
    if torch is not None:
        t = torch.empty(n)
        cases["torch normal_"] = lambda: t.normal_(0, 1)
    return cases


def xavier_cases(shape: tuple) -> Dict[str, Callable[[], Any]]:
    buf = np.empty(shape, np.float32)
    cases: Dict[str, Callable[[], Any]] = {}
    desc = mxopt.init.InitDesc("fc_weight")
    cases["mxopt mxnet-stream"] = _with_gen("mxnet", lambda: mxopt.init.Xavier()(desc, buf))
    cases["mxopt philox"] = _with_gen("philox", lambda: mxopt.init.Xavier()(desc, buf))
    if mxnet is not None:
        nd = mxnet.nd.empty(shape)
        mdesc = mxnet.init.InitDesc("fc_weight")
        cases["mxnet 1.9.1"] = lambda: (mxnet.init.Xavier()(mdesc, nd), nd.wait_to_read())
    if torch is not None:
        t = torch.empty(shape)
        cases["torch xavier_uniform_"] = lambda: torch.nn.init.xavier_uniform_(t)
    return cases


def orthogonal_cases(shape: tuple) -> Dict[str, Callable[[], Any]]:
    buf = np.empty(shape, np.float32)
    cases: Dict[str, Callable[[], Any]] = {}
    desc = mxopt.init.InitDesc("q_weight")
    cases["mxopt mxnet-stream"] = _with_gen("mxnet", lambda: mxopt.init.Orthogonal()(desc, buf))
    cases["mxopt philox"] = _with_gen("philox", lambda: mxopt.init.Orthogonal()(desc, buf))
    if mxnet is not None:
        nd = mxnet.nd.empty(shape)
        mdesc = mxnet.init.InitDesc("q_weight")
        cases["mxnet 1.9.1"] = lambda: (mxnet.init.Orthogonal()(mdesc, nd), nd.wait_to_read())
    if torch is not None:
        t = torch.empty(shape)
        cases["torch orthogonal_"] = lambda: torch.nn.init.orthogonal_(t)
    return cases


def _with_gen(gen: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        if mxopt.random.generator() != gen:
            mxopt.random.seed(1, generator=gen)
        return fn()
    return run


def measure(title: str, cases: Dict[str, Callable[[], Any]], n: int, fill_gbs: float,
            ref: str, quick: bool) -> List[Dict[str, Any]]:
    rows, out = [], []
    times = {}
    for name, fn in cases.items():
        # Each case keeps its generator selected for all of its runs.
        times[name] = common.median_time(fn, repeats=3 if quick else common.REPEATS,
                                         warmup=1, min_time=0.05)
    for name, t in times.items():
        gbs = 4.0 * n / t / 1e9
        rec = {"case": name, "seconds": t, "Gvalues_s": n / t / 1e9, "GB_s": gbs,
               "pct_fill": 100 * gbs / fill_gbs, "time_over_ref": t / times[ref]}
        out.append(rec)
        rows.append([name, t * 1e3, n / t / 1e9, 100 * gbs / fill_gbs, t / times[ref],
                     times["mxopt mxnet-stream"] / t if "mxopt mxnet-stream" in times else None])
    print(common.table(title, ["library", "ms", "Gvalues/s", "%fill", f"time/{ref}",
                               "mxnet-stream/time"], rows), flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [1_000_000, 4_000_000] if args.quick else [1_000_000, 64_000_000]
    roof = common.stream_roofline()
    results: Dict[str, Any] = {"threads": common.threads(), "stream": roof,
                               "philox_simd": mxopt._core.philox_simd(),
                               "torch": getattr(torch, "__version__", None),
                               "mxnet": getattr(mxnet, "__version__", None)}
    # numpy's own single-thread write bandwidth, for reference
    for n in sizes:
        a, b = np.empty(n, np.float32), np.ones(n, np.float32)
        t_fill = common.median_time(lambda: a.fill(1.0))
        t_copy = common.median_time(lambda: np.copyto(a, b))
        results[f"numpy_fill_GBs_{n}"] = 4.0 * n / t_fill / 1e9
        results[f"numpy_copyto_GBs_{n}"] = 8.0 * n / t_copy / 1e9
        del a, b
    print(f"\nthreads={common.threads()}  STREAM fill {roof['fill_GBs']:.1f} GB/s  "
          f"numpy fill(1 thread) "
          + ", ".join(f"{results[f'numpy_fill_GBs_{n}']:.1f}" for n in sizes)
          + " GB/s  philox kernels: " + results["philox_simd"], flush=True)
    fill = roof["fill_GBs"]
    for n in sizes:
        results[f"uniform_{n}"] = measure(f"uniform fill, {n:.0e} float32", uniform_cases(n), n,
                                          fill, "mxopt philox", args.quick)
        results[f"normal_{n}"] = measure(f"normal fill, {n:.0e} float32", normal_cases(n), n,
                                         fill, "mxopt philox", args.quick)
    side = 1000 if args.quick else 8000
    results["xavier"] = measure(f"Xavier uniform ({side}, {side})", xavier_cases((side, side)),
                                side * side, fill, "mxopt philox", args.quick)
    for shape in [(256, 256), (1024, 512)]:
        results[f"orthogonal_{shape}"] = measure(f"Orthogonal {shape}", orthogonal_cases(shape),
                                                 int(np.prod(shape)), fill, "mxopt philox",
                                                 args.quick)
    path = common.save_results("initializers", results)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
