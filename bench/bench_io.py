"""File data iterators: parse + iterate throughput of mx.io.MNISTIter, CSVIter and LibSVMIter,
mxopt vs MXNet 1.9.1, on files this benchmark writes (in a temporary directory):

  * mnist: 60000 images of 28x28 (an idx file pair, 47 MB), batch 128, shuffle, flat;
  * csv: 100000 rows of 64 float values (print format '%.6g') plus a label file, batch 256;
  * libsvm: 100000 lines over 1,000,001 features (about 40 non-zeros each, sorted zero-based
    indices), batch 256.

Each implementation runs in a process of its own (--worker), --repeat times; the fastest run is
kept. Per workload: "first epoch" = construction + one full epoch (reads and parses the files),
"next epoch" = reset + one full epoch (MNIST is in memory; CSV and LibSVM are parsed again),
both in rows per second, after a warm-up pass that puts the files in the page cache. Every
batch's data is touched (its shape read; MXNet's batches are waited for).

    python bench/bench_io.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

IMPLS = ["mxopt", "mxnet"]
WORKLOADS = ["mnist", "csv", "libsvm"]


def write_files(directory: str, quick: bool) -> Dict[str, Any]:
    """The benchmark's input files (deterministic contents)."""
    rng = np.random.RandomState(0)
    n_img = 10000 if quick else 60000
    n_rows = 20000 if quick else 100000
    files: Dict[str, Any] = {"n_img": n_img, "n_rows": n_rows}
    img, lab = os.path.join(directory, "images-idx3-ubyte"), os.path.join(directory, "labels")
    with open(img, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n_img, 28, 28))
        f.write(rng.randint(0, 256, size=n_img * 784, dtype=np.uint8).tobytes())
    with open(lab, "wb") as f:
        f.write(struct.pack(">II", 0x801, n_img))
        f.write(rng.randint(0, 10, size=n_img, dtype=np.uint8).tobytes())
    files.update(image=img, label=lab)
    data_csv, label_csv = os.path.join(directory, "data.csv"), os.path.join(directory, "label.csv")
    values = rng.normal(size=(n_rows, 64)).astype(np.float32)
    np.savetxt(data_csv, values, fmt="%.6g", delimiter=",")
    np.savetxt(label_csv, rng.randint(0, 10, size=(n_rows, 1)), fmt="%d", delimiter=",")
    files.update(data_csv=data_csv, label_csv=label_csv)
    libsvm = os.path.join(directory, "data.libsvm")
    with open(libsvm, "w") as f:
        for start in range(0, n_rows, 5000):
            lines = []
            for _ in range(min(5000, n_rows - start)):
                k = rng.randint(20, 61)
                idx = np.unique(rng.randint(0, 1_000_001, size=k))
                vals = rng.rand(idx.size)
                lines.append("%d %s" % (rng.randint(0, 2), " ".join(
                    "%d:%.4g" % (i, v) for i, v in zip(idx, vals))))
            f.write("\n".join(lines) + "\n")
    files["libsvm"] = libsvm
    return files


def make_iter(mx: Any, workload: str, files: Dict[str, Any]) -> Any:
    if workload == "mnist":
        return mx.io.MNISTIter(image=files["image"], label=files["label"], batch_size=128,
                               shuffle=True, flat=True, silent=True)
    if workload == "csv":
        return mx.io.CSVIter(data_csv=files["data_csv"], data_shape=(64,),
                             label_csv=files["label_csv"], batch_size=256)
    return mx.io.LibSVMIter(data_libsvm=files["libsvm"], data_shape=(1_000_001,), batch_size=256)


def epoch(it: Any, impl: str) -> int:
    rows = 0
    for batch in it:
        data = batch.data[0]
        if impl == "mxnet":
            data.wait_to_read()
        rows += data.shape[0] - (batch.pad or 0)
    return rows


def worker(impl: str, files: Dict[str, Any]) -> Dict[str, Any]:
    mx = __import__(impl)
    out: Dict[str, Any] = {}
    for workload in WORKLOADS:
        epoch(make_iter(mx, workload, files), impl)  # warm-up: files in the page cache
        t0 = time.perf_counter()
        it = make_iter(mx, workload, files)
        rows = epoch(it, impl)
        first = time.perf_counter() - t0
        it.reset()
        t0 = time.perf_counter()
        rows_next = epoch(it, impl)
        nxt = time.perf_counter() - t0
        out[workload] = {"rows": rows, "first_epoch_s": first, "next_epoch_s": nxt,
                         "first_rows_per_s": rows / first, "next_rows_per_s": rows_next / nxt}
        del it
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller files")
    ap.add_argument("--repeat", type=int, default=2, help="worker runs per implementation")
    ap.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(args.files))))
        return 0
    with tempfile.TemporaryDirectory(prefix="mxopt-bench-io-") as tmp:
        files = write_files(tmp, args.quick)
        sizes = {k: os.path.getsize(files[k]) / 1e6 for k in ("image", "data_csv", "libsvm")}
        per_impl: Dict[str, Any] = {}
        for impl in IMPLS:
            if impl == "mxnet" and common.optional_import("mxnet") is None:
                continue
            cmd = [sys.executable, __file__, "--worker", impl, "--files", json.dumps(files)]
            for _ in range(max(1, args.repeat)):
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"worker {impl} failed:\n{proc.stderr[-2000:]}")
                    return 1
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                best = per_impl.setdefault(impl, run)
                for w, r in run.items():
                    for key in ("first_rows_per_s", "next_rows_per_s"):
                        best[w][key] = max(best[w][key], r[key])
    rows = []
    results: Dict[str, Any] = {"threads": common.threads(), "files_MB": sizes}
    for w in WORKLOADS:
        ref = per_impl.get("mxnet", {}).get(w)
        for impl, res in per_impl.items():
            r = res[w]
            rows.append([w, impl, r["rows"], r["first_rows_per_s"], r["next_rows_per_s"],
                         r["first_rows_per_s"] / ref["first_rows_per_s"] if ref else None,
                         r["next_rows_per_s"] / ref["next_rows_per_s"] if ref else None])
        results[w] = {impl: res[w] for impl, res in per_impl.items()}
    print(common.table(f"file iterators, rows/s ({common.threads()} threads; files: "
                       + ", ".join(f"{k} {v:.0f} MB" for k, v in sizes.items()) + ")",
                       ["workload", "impl", "rows", "first epoch", "next epoch",
                        "first vs MXNet", "next vs MXNet"], rows))
    print("\nresults:", common.save_results("io", results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
