"""Optimizer steps beyond dense float32: float16 multi-precision, lazy row-sparse updates, and
the peak memory of a whole ResNet-50 Adam step.

  * fp16 + multi_precision (float32 master weights): the ResNet-50 parameter set in float16,
    one step through mx.optimizer's Updater, vs MXNet 1.9.1's Updater (multi_mp_* operators)
    and vs PyTorch keeping float16 parameters (no master copy: torch.optim has no
    multi-precision path; its fused kernels accept float16 on CPU);
  * lazy row-sparse Adam/SGD on a 1M x 64 embedding with 1% of the rows in the gradient, vs a
    dense step of the same optimizer, vs MXNet's lazy row-sparse update and vs PyTorch's
    SparseAdam / sparse SGD;
  * peak RSS of a ResNet-50 Adam step (weights + grads + 2 states = 16 B/param), measured in a
    fresh process for mxopt and torch fused Adam: the growth of the peak over the process's
    RSS before the arrays were allocated, divided by the bytes of weights+grads+states.

MXNet runs in a worker process of its own (see common.in_mxnet_process).

    python bench/bench_optimizer_variants.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_optimizers as bo  # noqa: E402
import common  # noqa: E402

import mxopt  # noqa: E402

mxnet = common.optional_import("mxnet")
torch = common.optional_import("torch")
LR, WD = bo.LR, bo.WD


# ---- float16 + multi_precision ---------------------------------------------------------------
def make_fp16(lib: str, name: str, shapes: List[tuple]) -> Optional[Callable[[], Any]]:
    rng = np.random.default_rng(0)
    w16 = [(rng.standard_normal(s) * 0.1).astype(np.float16) for s in shapes]
    g16 = [(rng.standard_normal(s) * 0.01).astype(np.float16) for s in shapes]
    idx = list(range(len(shapes)))
    if lib in ("mxopt", "mxnet"):
        mod = mxopt if lib == "mxopt" else mxnet
        if mod is None or (lib == "mxnet" and name == "adamw"):
            return None
        ws = [mod.nd.array(w, dtype=np.float16) for w in w16]
        gs = [mod.nd.array(g, dtype=np.float16) for g in g16]
        upd = mod.optimizer.get_updater(bo._optimizer(mod, name, multi_precision=True))
        if lib == "mxopt":
            return lambda: upd(idx, gs, ws)

        def step() -> None:
            upd(idx, gs, ws)
            mxnet.nd.waitall()
        return step
    if torch is None:
        return None
    params = [torch.from_numpy(w).requires_grad_() for w in w16]
    for p, g in zip(params, g16):
        p.grad = torch.from_numpy(g)
    opt = bo._torch_optimizer(name, params, lib.split("-")[1])
    return None if opt is None else opt.step


# ---- lazy row-sparse ---------------------------------------------------------------------------
def make_sparse(lib: str, name: str, rows: int, dim: int, hit: np.ndarray,
                dense: bool = False) -> Optional[Callable[[], Any]]:
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((rows, dim)) * 0.1).astype(np.float32)
    gvals = (rng.standard_normal((len(hit), dim)) * 0.01).astype(np.float32)
    if lib in ("mxopt", "mxnet"):
        mod = mxopt if lib == "mxopt" else mxnet
        if mod is None:
            return None
        opt = {"adam": lambda: mod.optimizer.Adam(learning_rate=LR, lazy_update=True),
               "sgd_mom": lambda: mod.optimizer.SGD(learning_rate=LR, momentum=0.9,
                                                    lazy_update=True)}[name]()
        upd = mod.optimizer.get_updater(opt)
        wn = mod.nd.array(w)
        if dense:
            gd = np.zeros_like(w)
            gd[hit] = gvals
            g = mod.nd.array(gd)
        else:
            g = mod.nd.sparse.row_sparse_array((gvals, hit), shape=w.shape)
        if lib == "mxopt":
            return lambda: upd(0, g, wn)

        def step() -> None:
            upd(0, g, wn)
            wn.wait_to_read()
        return step
    if torch is None:
        return None
    p = torch.from_numpy(w).requires_grad_()
    if dense:
        gd = np.zeros_like(w)
        gd[hit] = gvals
        p.grad = torch.from_numpy(gd)
        opt = {"adam": lambda: torch.optim.Adam([p], lr=LR, fused=True),
               "sgd_mom": lambda: torch.optim.SGD([p], lr=LR, momentum=0.9, fused=True)}[name]()
    else:
        p.grad = torch.sparse_coo_tensor(torch.from_numpy(hit[None, :]), torch.from_numpy(gvals),
                                         w.shape).coalesce()
        opt = {"adam": lambda: torch.optim.SparseAdam([p], lr=LR),
               "sgd_mom": lambda: torch.optim.SGD([p], lr=LR, momentum=0.9)}[name]()
    return opt.step


# ---- peak memory -------------------------------------------------------------------------------
_MEMORY_WORKER = r"""
import json, sys
sys.path.insert(0, {bench!r})
import numpy as np
import bench_optimizers as bo

def rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

lib = {lib!r}
shapes = bo.resnet50_shapes()
if lib == "mxopt":
    import mxopt
else:
    import torch
    torch.set_num_threads(bo.common.threads())
base = rss_kib("VmRSS:")
n = sum(int(np.prod(s)) for s in shapes)
if lib == "mxopt":
    ws = [mxopt.nd.zeros(s) for s in shapes]
    gs = [mxopt.nd.ones(s) for s in shapes]
    for w in ws: w[:] = 0.5
    upd = mxopt.optimizer.get_updater(mxopt.optimizer.Adam(learning_rate=0.01, wd=1e-4))
    idx = list(range(len(shapes)))
    step = lambda: upd(idx, gs, ws)
else:
    ps = [torch.full(s, 0.5, requires_grad=True) for s in shapes]
    for p in ps: p.grad = torch.ones(p.shape)
    opt = torch.optim.Adam(ps, lr=0.01, weight_decay=1e-4, fused=True)
    step = opt.step
for _ in range(3):
    step()
peak = rss_kib("VmHWM:")
print(json.dumps({{"params": n, "base_kib": base, "peak_kib": peak}}))
"""


def peak_memory(lib: str) -> Optional[Dict[str, float]]:
    if lib == "torch" and torch is None:
        return None
    code = _MEMORY_WORKER.format(bench=str(common.BENCH_DIR), lib=lib)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"memory worker {lib} failed:\n{proc.stderr[-1500:]}")
        return None
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    need = r["params"] * 16  # weights + grads + mean + var, float32
    grown = (r["peak_kib"] - r["base_kib"]) * 1024
    return {"needed_MB": need / 1e6, "base_MB": r["base_kib"] * 1024 / 1e6,
            "peak_MB": r["peak_kib"] * 1024 / 1e6, "growth_over_needed": grown / need,
            "peak_over_needed": r["peak_kib"] * 1024 / need}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    t = common.threads()
    if torch is not None:
        torch.set_num_threads(t)
    min_time = 0.02 if args.quick else 0.05
    results: Dict[str, Any] = {"threads": t, "fp16_mp": {}, "row_sparse": {}, "memory": {}}
    print(f"\n### bench_optimizer_variants: {t} thread(s)")

    shapes = bo.resnet50_shapes()
    nparam = sum(int(np.prod(s)) for s in shapes)
    libs = ["mxopt", "mxnet", "torch-foreach", "torch-fused"]
    rows = []
    for name in ["sgd_mom", "nag", "adam", "adamw", "lamb", "lars"]:  # torch: no LAMB/LARS
        times = common.interleaved_medians(
            {lib: (mxnet and common.in_mxnet_process("bench_optimizer_variants", "make_fp16",
                                                      lib, name, shapes)) if lib == "mxnet" else
             make_fp16(lib, name, shapes) for lib in libs}, min_time=min_time)
        results["fp16_mp"][name] = times
        rows.append([name, times["mxopt"] * 1e3]
                    + [bo.ratio(times[lib], times["mxopt"]) for lib in libs[1:]])
    print(common.table(
        f"ResNet-50 set in float16 ({nparam / 1e6:.3g}M params), one step; mxopt and MXNet with "
        "multi_precision=True (float32 master weights), torch on float16 params without a "
        "master copy (ratios = peer / mxopt)",
        ["optimizer", "mxopt ms", "mxnet x", "torch-fe x", "torch-fu x"], rows), flush=True)

    vocab, dim = (200_000, 64) if args.quick else (1_000_000, 64)
    hit = np.sort(np.random.default_rng(2).choice(vocab, vocab // 100, replace=False))
    rows = []
    for name in ["adam", "sgd_mom"]:
        times = common.interleaved_medians({
            "mxopt lazy": make_sparse("mxopt", name, vocab, dim, hit),
            "mxopt dense": make_sparse("mxopt", name, vocab, dim, hit, dense=True),
            "mxnet lazy": mxnet and common.in_mxnet_process(
                "bench_optimizer_variants", "make_sparse", "mxnet", name, vocab, dim, hit),
            "torch sparse": make_sparse("torch", name, vocab, dim, hit),
            "torch dense fused": make_sparse("torch", name, vocab, dim, hit, dense=True)},
            min_time=min_time)
        results["row_sparse"][name] = times
        base = times["mxopt lazy"]
        rows.append([name, base * 1e3] + [bo.ratio(times[k], base) for k in list(times)[1:]])
    print(common.table(
        f"lazy row-sparse step, {vocab}x{dim} float32 embedding, {len(hit)} rows (1%) in the "
        "gradient (ratios = other / mxopt lazy; torch sparse = SparseAdam / SGD on a sparse grad)",
        ["optimizer", "mxopt lazy ms", "mxopt dense x", "mxnet lazy x", "torch sparse x",
         "torch dense fused x"], rows), flush=True)

    rows = []
    for lib in ["mxopt", "torch"]:
        m = peak_memory(lib)
        results["memory"][lib] = m
        if m:
            rows.append([lib, m["needed_MB"], m["base_MB"], m["peak_MB"],
                         m["growth_over_needed"], m["peak_over_needed"]])
    print(common.table(
        "peak RSS of a ResNet-50 Adam step (fresh process; growth = (peak - RSS before the "
        "arrays) / (weights + grads + states))",
        ["library", "w+g+states MB", "RSS before MB", "peak MB", "growth / needed",
         "peak / needed"], rows),
        flush=True)
    print(f"results: {common.save_results('optimizer_variants', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
