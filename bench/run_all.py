"""Run the whole benchmark suite: every bench/bench_*.py at 1 and 2 threads, plus the STREAM
roofline, each in a fresh process (thread counts are fixed at library start-up).

    python bench/run_all.py [--quick] [--only optimizers,initializers,module,io,programs] [--threads 1,2]

Each benchmark prints its ratio tables and writes bench/results/<name>-t<threads>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names (optimizers, "
                    "optimizer_variants, initializers, module, io, programs)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    args = ap.parse_args()

    benches = sorted(common.BENCH_DIR.glob("bench_*.py"))
    if args.only:
        wanted = set(args.only.split(","))
        benches = [b for b in benches if b.stem[len("bench_"):] in wanted]
    failed = []
    for t in [int(x) for x in args.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t),
                   OPENBLAS_NUM_THREADS=str(t), MXNET_OMP_MAX_THREADS=str(t))
        roof = subprocess.run([sys.executable, "-c",
                               "import json, common; print(json.dumps(common.stream_roofline()))"],
                              cwd=common.BENCH_DIR, env=env, capture_output=True, text=True,
                              check=True)
        r = json.loads(roof.stdout)
        print(f"\n##### {t} thread(s): STREAM roofline  fill {r['fill_GBs']:.1f} GB/s  "
              f"copy {r['copy_GBs']:.1f} GB/s  triad {r['triad_GBs']:.1f} GB/s", flush=True)
        for b in benches:
            cmd = [sys.executable, str(b)] + (["--quick"] if args.quick else [])
            rc = subprocess.run(cmd, env=env).returncode
            if rc != 0:
                failed.append(f"{b.name} (threads={t}, rc={rc})")
    print(f"\nresults: {common.RESULTS_DIR}")
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
