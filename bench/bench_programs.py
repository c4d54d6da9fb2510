"""The example programs' workloads, mxopt vs MXNet 1.9.1 (each in its own process):

  * sparse logistic regression (examples/sparse_logistic_regression.py): training steps per
    second (Module.prepare + forward_backward + update + update_metric on CSR batches read by
    LibSVMIter beforehand) with lazy Adam and AdaGrad, 40 nonzeros per sample, at 1e5, 1e6 and
    1e7 features. Against MXNet at the largest batch MXNet 1.9.1's pip build accepts (its
    tensors are limited to 2^31 elements, and a CSR batch counts rows x features: 8192 rows at
    1e5 features, 2048 at 1e6, 192 at 1e7); mxopt alone at batch 8192 for every size, where the
    cost of a step should follow the batch's nonzeros, not the number of features;
  * the MNIST MLP (examples/mnist_mlp.py): Module.fit samples/s on 60000 synthetic images read
    by MNISTIter (784-128-64-10, SGD with momentum, batch 100), without and with a BatchNorm
    after each hidden layer.

    python bench/bench_programs.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import common  # noqa: E402

IMPLS = ["mxopt", "mxnet"]
BATCH = 8192
NNZ = 40
MXNET_MAX_ELEMENTS = (1 << 31) - 1  # MXNet 1.9.1 pip: no USE_INT64_TENSOR_SIZE
MXNET_BATCH = {100000: 8192, 1000000: 2048, 10000000: 192}


def write_libsvm(path: str, n: int, features: int, seed: int) -> None:
    rng = np.random.RandomState(seed)
    with open(path, "w") as f:
        for _ in range(n):
            idx = np.unique(rng.randint(0, features, NNZ))
            val = rng.uniform(0.1, 1.0, idx.size)
            f.write(f"{rng.randint(0, 2)} " +
                    " ".join(f"{i}:{v:.3f}" for i, v in zip(idx, val)) + "\n")


def sparse_steps(mx: Any, path: str, features: int, batch_size: int, optimizer: str,
                 steps: int) -> Dict[str, float]:
    """Median seconds per training step of the sparse program on pre-read batches."""
    import runpy
    # the example's model and custom operator, defined against this library
    src = (Path(__file__).resolve().parents[1] / "examples" /
           "sparse_logistic_regression.py").read_text()
    if mx.__name__ == "mxnet":
        src = src.replace("import mxopt as mx\n", "import mxnet as mx\n")
    tmp = Path(tempfile.mkdtemp()) / "slr_example.py"
    tmp.write_text(src)
    prog = runpy.run_path(str(tmp), run_name="slr_example")
    it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(features,), batch_size=batch_size)
    batches = list(it)
    mx.random.seed(0)
    mod = mx.mod.Module(prog["linear_model"](features, 2.0), data_names=["data"],
                        label_names=["softmax_label"])
    mod.bind(data_shapes=it.provide_data, label_shapes=it.provide_label)
    mod.init_params()
    mod.init_optimizer(optimizer=mx.optimizer.create(optimizer, learning_rate=0.01,
                                                     rescale_grad=1.0 / batch_size))
    metric = mx.metric.create(["nll_loss"])
    times: List[float] = []
    for i in range(steps + 2):
        batch = batches[i % len(batches)]
        t0 = time.perf_counter()
        mod.prepare(batch)
        mod.forward_backward(batch)
        mod.update()
        mod.update_metric(metric, batch.label)
        mx.nd.waitall()  # MXNet computes asynchronously
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return {"sec_per_step": statistics.median(times), "nnz_per_batch": int(
        np.mean([b.data[0].indices.shape[0] for b in batches]))}


def mnist_fit(mx: Any, data_dir: str, epochs: int, batch_norm: bool = False) -> float:
    """Module.fit samples/s of the MNIST MLP (median epoch after the first); with
    ``batch_norm`` a BatchNorm after each hidden FullyConnected (auxiliary states)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    train = mx.io.MNISTIter(image=os.path.join(data_dir, "train-images-idx3-ubyte"),
                            label=os.path.join(data_dir, "train-labels-idx1-ubyte"),
                            data_shape=(784,), batch_size=100, shuffle=True, flat=True,
                            silent=True, seed=10)
    data = mx.sym.Variable("data")
    h = data
    for i, n in enumerate((128, 64)):
        h = mx.sym.FullyConnected(h, name=f"fc{i}", num_hidden=n, no_bias=batch_norm)
        if batch_norm:
            h = mx.sym.BatchNorm(h, name=f"bn{i}", fix_gamma=False)
        h = mx.sym.Activation(h, act_type="relu")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, name="out", num_hidden=10),
                               name="softmax")
    stamps: List[float] = []
    mod = mx.mod.Module(net)
    mod.fit(train, num_epoch=epochs, optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
            initializer=mx.init.Xavier(magnitude=2.0),
            epoch_end_callback=lambda *a: stamps.append(time.perf_counter()))
    durations = [b - a for a, b in zip(stamps, stamps[1:])]
    return 60000 / statistics.median(durations)


def worker(impl: str, quick: bool, files: Dict[str, Any]) -> Dict[str, Any]:
    logging.disable(logging.CRITICAL)
    os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
    mx = __import__(impl)
    out: Dict[str, Any] = {"sparse": {}}
    for features, batch in files["cases"]:
        if impl == "mxnet" and batch * features >= MXNET_MAX_ELEMENTS:
            continue
        for opt in ("adam", "adagrad"):
            out["sparse"][f"{opt}/{features}/{batch}"] = sparse_steps(
                mx, files["libsvm"][str(features)], features, batch, opt, 5 if quick else 15)
    out["mnist_samples_per_s"] = mnist_fit(mx, files["mnist"], 2 if quick else 4)
    out["mnist_bn_samples_per_s"] = mnist_fit(mx, files["mnist"], 2 if quick else 4, True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer steps and epochs")
    ap.add_argument("--repeat", type=int, default=1, help="worker runs per implementation")
    ap.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.quick, json.loads(args.files))))
        return 0
    if common.optional_import("mxnet") is None:
        print("bench_programs: MXNet 1.9.1 is not installed (scripts/bench.sh installs it)")
        return 1
    tmp = tempfile.mkdtemp(prefix="mxopt-bench-programs-")
    features = [100000, 1000000] if args.quick else [100000, 1000000, 10000000]
    cases = sorted({(f, MXNET_BATCH[f]) for f in features} | {(f, BATCH) for f in features})
    files: Dict[str, Any] = {"cases": cases, "libsvm": {}, "mnist": tmp}
    for f in features:
        path = os.path.join(tmp, f"train-{f}.libsvm")
        write_libsvm(path, 4 * BATCH, f, seed=1)
        files["libsvm"][str(f)] = path
    from mnist_mlp import synthesize
    synthesize(tmp, 60000)
    per_impl: Dict[str, Any] = {}
    for impl in IMPLS:
        cmd = [sys.executable, __file__, "--worker", impl, "--files", json.dumps(files)] + \
              (["--quick"] if args.quick else [])
        for _ in range(max(1, args.repeat)):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"worker {impl} failed:\n{proc.stderr[-3000:]}")
                return 1
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            best = per_impl.setdefault(impl, run)
            for k, r in run["sparse"].items():
                if r["sec_per_step"] < best["sparse"][k]["sec_per_step"]:
                    best["sparse"][k] = r
            for key in ("mnist_samples_per_s", "mnist_bn_samples_per_s"):
                best[key] = max(best[key], run[key])
    rows, alone = [], []
    for key, b in per_impl["mxopt"]["sparse"].items():
        a = per_impl["mxnet"]["sparse"].get(key)
        opt, features, batch = key.split("/")
        if a is not None:
            rows.append([opt, features, batch, b["nnz_per_batch"], 1 / a["sec_per_step"],
                         1 / b["sec_per_step"], a["sec_per_step"] / b["sec_per_step"]])
        if int(batch) == BATCH:
            alone.append([opt, features, batch, b["nnz_per_batch"], b["sec_per_step"] * 1e3])
    print(common.table(f"sparse logistic regression vs MXNet, {NNZ} nnz/sample "
                       f"({common.threads()} threads)",
                       ["optimizer", "features", "batch", "nnz/batch", "MXNet steps/s",
                        "mxopt steps/s", "mxopt / MXNet"], rows))
    print(common.table(f"mxopt, batch {BATCH}: step time vs number of features (same nnz)",
                       ["optimizer", "features", "batch", "nnz/batch", "ms/step"], alone))
    rows = []
    for key, name in (("mnist_samples_per_s", "MLP 784-128-64-10"),
                      ("mnist_bn_samples_per_s", "the same with BatchNorm")):
        a, b = per_impl["mxnet"][key], per_impl["mxopt"][key]
        rows.append([name, a, b, b / a])
    print(common.table(f"MNIST Module.fit on MNISTIter, batch 100 ({common.threads()} threads)",
                       ["network", "MXNet samples/s", "mxopt samples/s", "mxopt / MXNet"], rows))
    print("\nresults:", common.save_results("programs", {"threads": common.threads(),
                                                         **per_impl}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
