"""Optimizer step throughput: mxopt against MXNet 1.9.1's operators, PyTorch (for-loop, foreach and
fused implementations, when torch is importable) and numpy, and against the memory roofline.

    python bench/bench_optimizers.py [--quick] [--optimizers lamb,lars] [--workloads tiny1000]
                                                    (threads: OMP_NUM_THREADS)

Two workloads, float32:
  * one tensor of 1e3 .. 16e6 elements, per optimizer: sgd, sgd+momentum, nag, adam, adamw,
    rmsprop, adagrad, lamb, lars (mxopt: the kernel, and "mx.opt" = one Updater call);
  * a ResNet-50-shaped parameter set (161 tensors, 25.56M parameters) and 1000 tiny tensors of
    64 elements, updated through each library's optimizer API (mx.optimizer Updater with a list,
    i.e. the multi-tensor path replayed by its step plan, the same call without the plan, and
    one call per tensor; MXNet's Updater (its multi_*
    operators), torch.optim for-loop/foreach/fused, a numpy loop); us/tensor = step time /
    tensor count.

Every row is sampled round-robin across the libraries (median of 7 after warm-up). MXNet runs
in a worker process of its own (NaiveEngine), in the same round-robin: its threaded engine would
otherwise make the process's shared libgomp stop spinning for every library (see
common.in_mxnet_process).

Roofline: the bytes an ideal kernel must move per parameter (read weight, gradient and states,
write weight and states; LAMB needs a second pass for its norms) divided by the measured STREAM
copy bandwidth. "%roof" = roofline time / measured time. Ratios > 1 mean mxopt is faster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import mxopt  # noqa: E402
from mxopt import _core  # noqa: E402
from mxopt.optimizer import _plan  # noqa: E402

mxnet = common.optional_import("mxnet")
torch = common.optional_import("torch")

OPTIMIZERS = ["sgd", "sgd_mom", "nag", "adam", "adamw", "rmsprop", "adagrad", "lamb", "lars"]
# Bytes per parameter an ideal implementation moves (float32).
BYTES = {"sgd": 12, "sgd_mom": 20, "nag": 20, "adam": 28, "adamw": 28, "rmsprop": 20,
         "adagrad": 20,
         "lamb": 40,  # pass 1 reads w,g,m,v writes m,v; pass 2 reads w,m,v writes w
         "lars": 28}  # norm pass reads w,g; then the SGD-momentum step
LR, WD = 0.01, 1e-4


def resnet50_shapes() -> List[tuple]:
    """The 161 parameter tensors of ResNet-50 v1 (conv weights, BN gamma/beta, fc)."""
    shapes: List[tuple] = []

    def conv_bn(cin: int, cout: int, k: int) -> None:
        shapes.append((cout, cin, k, k))
        shapes.extend([(cout,), (cout,)])

    conv_bn(3, 64, 7)
    cin = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            conv_bn(cin, width, 1)
            conv_bn(width, width, 3)
            conv_bn(width, width * 4, 1)
            if b == 0:
                conv_bn(cin, width * 4, 1)  # projection shortcut
            cin = width * 4
    shapes.extend([(1000, 2048), (1000,)])
    return shapes


# ---- single-tensor implementations ---------------------------------------------------------------
def grad_array(shape: tuple, scale: float = 1.0) -> np.ndarray:
    """float32 gradient values in +-[0.05, 0.55) * scale, bounded away from 0: a benchmark
    repeats the same step thousands of times, and with gradients near 0 the synthetic problem
    converges (w -> -g/wd), driving the moments of those elements into float32 denormals, which
    cost every library a slow microcode assist per operation (an Adam step on 1e5 elements went
    from 33 to 80 us over a long run). Every library gets gradients from here."""
    g = np.random.rand(*shape).astype(np.float32) - np.float32(0.5)
    return (g + np.copysign(np.float32(0.05), g)) * np.float32(scale)


def make_mxopt_kernel(name: str, n: int) -> Callable[[], Any]:
    w, g = np.random.rand(n).astype(np.float32), grad_array((n,))
    s1, s2 = np.zeros(n, np.float32), np.zeros(n, np.float32)
    f = {"sgd": lambda: _core.sgd_update(w, g, lr=LR, wd=WD),
         "sgd_mom": lambda: _core.sgd_mom_update(w, g, s1, lr=LR, wd=WD, momentum=0.9),
         "nag": lambda: _core.nag_mom_update(w, g, s1, lr=LR, wd=WD, momentum=0.9),
         "adam": lambda: _core.adam_update(w, g, s1, s2, lr=LR, wd=WD),
         "adamw": lambda: _core.adamw_update(w, g, s1, s2, eta=LR, wd=WD, aggregated=False),
         # LARS has no single kernel: the optimizer's norm pass + SGD-momentum step
         "lars": make_mxopt_optimizer("lars", n, (w, g)),
         "lamb": lambda: _core.lamb_update(w, g, s1, s2, lr=LR, wd=WD, t=1),
         "rmsprop": lambda: _core.rmsprop_update(w, g, s1, lr=LR, wd=WD, gamma1=0.9),
         "adagrad": lambda: _core.adagrad_update(w, g, s1, lr=LR, wd=WD, rescale_grad=1.0,
                                                 epsilon=1e-7)}
    return f[name]


def _optimizer(lib: Any, name: str, **kw: Any) -> Any:
    """The same optimizer configuration from mxopt or MXNet (same class names and arguments)."""
    o = lib.optimizer
    opt = {"sgd": lambda: o.SGD(learning_rate=LR, wd=WD, **kw),
           "sgd_mom": lambda: o.SGD(learning_rate=LR, wd=WD, momentum=0.9, **kw),
           "nag": lambda: o.NAG(learning_rate=LR, wd=WD, momentum=0.9, **kw),
           "adam": lambda: o.Adam(learning_rate=LR, wd=WD, **kw),
           "adamw": lambda: o.AdamW(learning_rate=LR, wd=WD, **kw),
           "lamb": lambda: o.LAMB(learning_rate=LR, wd=WD, **kw),
           "lars": lambda: o.LARS(learning_rate=LR, wd=WD, momentum=0.9, **kw),
           "rmsprop": lambda: o.RMSProp(learning_rate=LR, wd=WD, **kw),
           "adagrad": lambda: o.AdaGrad(learning_rate=LR, wd=WD, **kw)}[name]()
    return opt


def _mxopt_optimizer(name: str):
    return _optimizer(mxopt, name)


def make_mxopt_optimizer(name: str, n: int, arrays: Optional[tuple] = None) -> Callable[[], Any]:
    """One step through mx.optimizer's Updater (on the given float32 numpy arrays, if any)."""
    opt = _mxopt_optimizer(name)
    if arrays is None:
        arrays = (np.random.rand(n).astype(np.float32), grad_array((n,)))
    w, g = (mxopt.nd.array(a) for a in arrays)
    upd = mxopt.optimizer.get_updater(opt)
    return lambda: upd([0], [g], [w])


def make_mxnet_op(name: str, n: int) -> Optional[Callable[[], Any]]:
    if mxnet is None:
        return None
    nd = mxnet.nd
    w, g = nd.array(np.random.rand(n)), nd.array(grad_array((n,)))
    s1, s2 = nd.zeros(n), nd.zeros(n)
    if name in ("adagrad", "lars"):
        # No single dense operator (AdaGrad: the optimizer's NDArray ops; LARS: norms + SGD).
        upd = mxnet.optimizer.get_updater(_optimizer(mxnet, name))

        def step() -> None:
            upd(0, g, w)
            w.wait_to_read()
        return step
    one = nd.array([1.0])
    ops = {"sgd": lambda: nd.sgd_update(w, g, out=w, lr=LR, wd=WD),
           "sgd_mom": lambda: nd.sgd_mom_update(w, g, s1, out=w, lr=LR, wd=WD, momentum=0.9),
           "nag": lambda: nd.nag_mom_update(w, g, s1, out=w, lr=LR, wd=WD, momentum=0.9),
           "adam": lambda: nd.adam_update(w, g, s1, s2, out=w, lr=LR, wd=WD),
           "adamw": lambda: nd.contrib.adamw_update(w, g, s1, s2, one, out=w, lr=1.0, eta=LR,
                                                    wd=WD),
           "lamb": lambda: nd.contrib.multi_lamb_update([w], [g], [s1], [s2], out=[w],
                                                        step_count=[1], lrs=[LR], wds=[WD]),
           "rmsprop": lambda: nd.rmsprop_update(w, g, s1, out=w, lr=LR, wd=WD, gamma1=0.9)}

    def run() -> None:
        ops[name]()
        w.wait_to_read()
    return run


def make_numpy(name: str, n: int) -> Callable[[], Any]:
    """The same formulas with numpy ufuncs (in place, one scratch buffer)."""
    w, g = np.random.rand(n).astype(np.float32), grad_array((n,))
    s1, s2, tmp = np.zeros(n, np.float32), np.zeros(n, np.float32), np.empty(n, np.float32)
    f32 = np.float32
    mul, add, sub, div, sqrt = np.multiply, np.add, np.subtract, np.divide, np.sqrt

    def sgd() -> None:
        mul(w, f32(1 - LR * WD), out=w)
        mul(g, f32(LR), out=tmp)
        sub(w, tmp, out=w)

    def sgd_mom() -> None:
        mul(s1, f32(0.9), out=s1)
        mul(w, f32(LR * WD), out=tmp)
        sub(s1, tmp, out=s1)
        mul(g, f32(LR), out=tmp)
        sub(s1, tmp, out=s1)
        add(w, s1, out=w)

    def nag() -> None:
        mul(w, f32(WD), out=tmp)
        add(tmp, g, out=tmp)
        mul(s1, f32(0.9), out=s1)
        add(s1, tmp, out=s1)
        add(tmp, mul(s1, f32(0.9)), out=tmp)
        mul(tmp, f32(LR), out=tmp)
        sub(w, tmp, out=w)

    def adamw() -> None:
        mul(s1, f32(0.9), out=s1)
        add(s1, mul(g, f32(0.1)), out=s1)
        mul(g, g, out=tmp)
        mul(s2, f32(0.999), out=s2)
        add(s2, mul(tmp, f32(0.001)), out=s2)
        sqrt(s2, out=tmp)
        add(tmp, f32(1e-6), out=tmp)
        div(s1, tmp, out=tmp)
        add(tmp, mul(w, f32(WD)), out=tmp)
        mul(tmp, f32(LR), out=tmp)
        sub(w, tmp, out=w)

    def lars() -> None:
        r1, r2 = np.linalg.norm(w), np.linalg.norm(g)
        lr = LR * 0.001 * r1 / (r2 + WD * r1) if r1 > 0 and r2 > 0 else LR
        mul(s1, f32(0.9), out=s1)
        mul(w, f32(lr * WD), out=tmp)
        sub(s1, tmp, out=s1)
        mul(g, f32(lr), out=tmp)
        sub(s1, tmp, out=s1)
        add(w, s1, out=w)

    def adam() -> None:
        mul(w, f32(WD), out=tmp)
        add(tmp, g, out=tmp)
        mul(s1, f32(0.9), out=s1)
        add(s1, mul(tmp, f32(0.1)), out=s1)
        mul(tmp, tmp, out=tmp)
        mul(s2, f32(0.999), out=s2)
        add(s2, mul(tmp, f32(0.001)), out=s2)
        sqrt(s2, out=tmp)
        add(tmp, f32(1e-8), out=tmp)
        div(s1, tmp, out=tmp)
        mul(tmp, f32(LR), out=tmp)
        sub(w, tmp, out=w)

    def rmsprop() -> None:
        mul(w, f32(WD), out=tmp)
        add(tmp, g, out=tmp)
        mul(s1, f32(0.9), out=s1)
        add(s1, mul(mul(tmp, tmp), f32(0.1)), out=s1)
        sqrt(add(s1, f32(1e-8)), out=s2)
        div(tmp, s2, out=tmp)
        mul(tmp, f32(LR), out=tmp)
        sub(w, tmp, out=w)

    def adagrad() -> None:
        add(s1, mul(g, g), out=s1)
        sqrt(add(s1, f32(1e-7)), out=tmp)
        div(g, tmp, out=tmp)
        add(tmp, mul(w, f32(WD)), out=tmp)
        mul(tmp, f32(LR), out=tmp)
        sub(w, tmp, out=w)

    def lamb() -> None:
        mul(s1, f32(0.9), out=s1)
        add(s1, mul(g, f32(0.1)), out=s1)
        mul(s2, f32(0.999), out=s2)
        add(s2, mul(mul(g, g), f32(0.001)), out=s2)
        sqrt(div(s2, f32(0.001)), out=tmp)
        add(tmp, f32(1e-6), out=tmp)
        div(div(s1, f32(0.1)), tmp, out=tmp)
        add(tmp, mul(w, f32(WD)), out=tmp)
        r1, r2 = np.linalg.norm(w), np.linalg.norm(tmp)
        sub(w, mul(tmp, f32(LR * (r1 / r2 if r1 > 0 and r2 > 0 else 1.0))), out=w)

    return {"sgd": sgd, "sgd_mom": sgd_mom, "nag": nag, "adam": adam, "adamw": adamw,
            "rmsprop": rmsprop, "adagrad": adagrad, "lamb": lamb, "lars": lars}[name]


def _torch_optimizer(name: str, params: List[Any], mode: str) -> Optional[Any]:
    kw: Dict[str, Any] = {"loop": {"foreach": False}, "foreach": {"foreach": True},
                          "fused": {"fused": True}}[mode]
    if name in ("lamb", "lars") or (name == "rmsprop" and mode == "fused"):
        return None  # no LAMB/LARS in torch.optim; no fused RMSprop
    cls = {"sgd": torch.optim.SGD, "sgd_mom": torch.optim.SGD, "nag": torch.optim.SGD,
           "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[name]
    extra = {"sgd_mom": {"momentum": 0.9},
             "nag": {"momentum": 0.9, "nesterov": True}}.get(name, {})
    return cls(params, lr=LR, weight_decay=WD, **extra, **kw)


def make_torch(name: str, shapes: List[tuple], mode: str) -> Optional[Callable[[], Any]]:
    if torch is None:
        return None
    params = [torch.rand(s, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.from_numpy(grad_array(tuple(p.shape)))
    opt = _torch_optimizer(name, params, mode)
    if opt is None:
        return None
    return opt.step


# ---- ResNet-50 parameter set through each library's optimizer API -----------------------------------
def make_resnet(lib: str, name: str, shapes: List[tuple]) -> Optional[Callable[[], Any]]:
    rng = np.random.default_rng(0)
    if lib == "mxopt":
        ws = [mxopt.nd.array(rng.standard_normal(s) * 0.1) for s in shapes]
        gs = [mxopt.nd.array(grad_array(s, 0.02)) for s in shapes]
        upd = mxopt.optimizer.get_updater(_mxopt_optimizer(name))
        idx = list(range(len(shapes)))
        return lambda: upd(idx, gs, ws)
    if lib == "mxopt-no-plan":  # the Updater's list call without its step plan
        ws = [mxopt.nd.array(rng.standard_normal(s) * 0.1) for s in shapes]
        gs = [mxopt.nd.array(grad_array(s, 0.02)) for s in shapes]
        upd = mxopt.optimizer.get_updater(_mxopt_optimizer(name))
        idx = list(range(len(shapes)))

        def no_plan() -> None:
            real = _plan.build
            _plan.build = lambda *a, **k: None
            try:
                upd(idx, gs, ws)
            finally:
                _plan.build = real
        return no_plan
    if lib == "mxopt-per-index":  # one Updater call per tensor (no multi-tensor path)
        ws = [mxopt.nd.array(rng.standard_normal(s) * 0.1) for s in shapes]
        gs = [mxopt.nd.array(grad_array(s, 0.02)) for s in shapes]
        upd = mxopt.optimizer.get_updater(_mxopt_optimizer(name))
        triples = list(zip(range(len(shapes)), gs, ws))

        def per_index() -> None:
            for i, g, w in triples:
                upd(i, g, w)
        return per_index
    if lib == "mxnet":
        if mxnet is None:
            return None
        nd = mxnet.nd
        ws = [nd.array(rng.standard_normal(s) * 0.1) for s in shapes]
        gs = [nd.array(grad_array(s, 0.02)) for s in shapes]
        if name == "adamw":
            return None  # AdamW is not an optimizer of MXNet 1.9.1 (only contrib operators)
        upd = mxnet.optimizer.get_updater(_optimizer(mxnet, name))
        idx = list(range(len(shapes)))

        def step() -> None:
            upd(idx, gs, ws)
            mxnet.nd.waitall()
        return step
    if lib in ("torch-loop", "torch-foreach", "torch-fused"):
        return make_torch(name, shapes, lib.split("-")[1])
    if lib == "numpy":
        steps = [make_numpy(name, int(np.prod(s))) for s in shapes]

        def loop() -> None:
            for f in steps:
                f()
        return loop
    raise ValueError(lib)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None else a / b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer sizes")
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                    help="comma-separated subset of " + ",".join(OPTIMIZERS))
    ap.add_argument("--workloads", default="single,resnet50,tiny1000",
                    help="comma-separated subset of single,resnet50,tiny1000")
    args = ap.parse_args()
    optimizers = [o for o in args.optimizers.split(",") if o]
    workloads = set(w for w in args.workloads.split(",") if w)
    bad = [o for o in optimizers if o not in OPTIMIZERS] + \
        sorted(workloads - {"single", "resnet50", "tiny1000"})
    if bad:
        ap.error(f"unknown optimizer/workload: {', '.join(bad)}")
    t = common.threads()
    if torch is not None:
        torch.set_num_threads(t)
    sizes = [1_000, 100_000, 1_000_000, 16_000_000] if args.quick else \
        [1_000, 10_000, 100_000, 1_000_000, 4_000_000, 16_000_000]
    roof = common.stream_roofline()
    copy_bw = roof["copy_GBs"] * 1e9
    print(f"\n### bench_optimizers: {t} thread(s), STREAM copy {roof['copy_GBs']:.1f} GB/s, "
          f"torch {'%s' % torch.__version__ if torch else 'not installed'}, "
          f"mxnet {mxnet.__version__ if mxnet else 'not installed'}, "
          f"mxopt kernels: {_core.optimizer_isa()}")
    results: Dict[str, Any] = {"threads": t, "roofline": roof, "isa": _core.optimizer_isa(),
                               "single": {}, "resnet50": {}, "tiny1000": {}}
    for name in (optimizers if "single" in workloads else []):
        rows = []
        for n in sizes:
            t_ = common.interleaved_medians({
                "kernel": make_mxopt_kernel(name, n), "optimizer": make_mxopt_optimizer(name, n),
                "mxnet": mxnet and common.in_mxnet_process("bench_optimizers", "make_mxnet_op", name, n),
                "loop": make_torch(name, [(n,)], "loop"),
                "foreach": make_torch(name, [(n,)], "foreach"),
                "fused": make_torch(name, [(n,)], "fused"), "numpy": make_numpy(name, n)})
            tk, to, tm, tl, tf, tu, tn = (t_[k] for k in ("kernel", "optimizer", "mxnet", "loop",
                                                          "foreach", "fused", "numpy"))
            t_roof = BYTES[name] * n / copy_bw
            results["single"].setdefault(name, []).append(
                {"n": n, "mxopt_kernel": tk, "mxopt_optimizer": to, "mxnet": tm,
                 "torch_loop": tl, "torch_foreach": tf, "torch_fused": tu, "numpy": tn,
                 "roofline": t_roof})
            rows.append([n, tk * 1e6, to * 1e6, t_roof / tk * 100, ratio(tm, tk),
                         ratio(tl, tk), ratio(tf, tk), ratio(tu, tk), ratio(tn, tk)])
        print(common.table(
            f"{name}, one float32 tensor ({BYTES[name]} B/param; ratios = peer time / mxopt "
            "kernel time)",
            ["n", "mxopt us", "mx.opt us", "%roof", "mxnet x", "torch-lp x", "torch-fe x",
             "torch-fu x", "numpy x"], rows), flush=True)

    libs = ["mxopt", "mxopt-no-plan", "mxopt-per-index", "mxnet", "torch-loop", "torch-foreach",
            "torch-fused", "numpy"]
    header = ["no-plan x", "per-idx x", "mxnet x", "torch-lp x", "torch-fe x", "torch-fu x",
              "numpy x"]
    for key, shapes, title in (
            ("resnet50", resnet50_shapes(), "ResNet-50 parameter set"),
            ("tiny1000", [(64,)] * 1000, "1000 tiny tensors of 64 elements")):
        if key not in workloads:
            continue
        nparam = sum(int(np.prod(s)) for s in shapes)
        rows = []
        for name in optimizers:
            times = common.interleaved_medians(
                {lib: (mxnet and common.in_mxnet_process("bench_optimizers", "make_resnet", lib,
                                                         name, shapes)) if lib == "mxnet" else
                 make_resnet(lib, name, shapes) for lib in libs}, min_time=0.05)
            t_roof = BYTES[name] * nparam / copy_bw
            results[key] = results.get(key, {})
            results[key][name] = dict(times, roofline=t_roof)
            rows.append([name, times["mxopt"] * 1e3, times["mxopt"] * 1e6 / len(shapes),
                         t_roof / times["mxopt"] * 100]
                        + [ratio(times[lib], times["mxopt"]) for lib in libs[1:]])
        print(common.table(
            f"{title} ({len(shapes)} tensors, {nparam / 1e6:.3g}M params), one optimizer step "
            "through each library's optimizer API: mxopt = Updater with a list (multi-tensor "
            "path, replayed by its step plan), no-plan = the same list call without the plan, "
            "per-idx = one Updater call per tensor (ratios = peer / mxopt)",
            ["optimizer", "mxopt ms", "us/tensor", "%roof"] + header, rows), flush=True)
    path = common.save_results("optimizers", results)
    print(f"results: {path}")
    png = plot(results, path.with_suffix(".png"))
    print(f"plot: {png}" if png else "plot: skipped (needs matplotlib and the single-tensor workload)")
    return 0


def plot(results: Dict[str, Any], path: Path) -> Optional[Path]:
    """Parameters updated per second vs tensor size, one panel per optimizer, one line per
    library (and the bandwidth limit); written only when matplotlib is installed."""
    if common.optional_import("matplotlib") is None:
        return None
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    libs = {"mxopt_kernel": "mxopt", "mxnet": "MXNet 1.9.1", "torch_loop": "torch for-loop",
            "torch_foreach": "torch foreach",
            "torch_fused": "torch fused", "numpy": "numpy", "roofline": "bandwidth limit"}
    names = list(results["single"])
    if not names:  # --workloads without "single"
        return None
    cols = 3
    fig, axes = plt.subplots((len(names) + cols - 1) // cols, cols, figsize=(4 * cols, 3 * 3),
                             squeeze=False)
    for ax, name in zip(axes.flat, names):
        rows = results["single"][name]
        for key, label in libs.items():
            pts = [(r["n"], r["n"] / r[key]) for r in rows if r.get(key)]
            if pts:
                ax.loglog(*zip(*pts), marker="o", ms=3, label=label,
                          color=f"C{list(libs).index(key)}",  # the same color in every panel
                          linestyle="--" if key == "roofline" else "-")
        ax.set_title(name)
        ax.set_xlabel("elements")
        ax.set_ylabel("params/s")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"optimizer step throughput, float32, {results['threads']} thread(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
