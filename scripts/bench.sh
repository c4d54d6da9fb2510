#!/usr/bin/env bash
# Runs the benchmark suite against its peers (MXNet 1.9.1, PyTorch 2.13 CPU, numpy).
# Usage: bash scripts/bench.sh [--quick] [--only optimizers,initializers,module,io,programs]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MXOPT_BENCH_VENV:-.venv-bench}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q -r requirements-test.txt torch==2.13.0
"$PY" -m pip install -q --no-build-isolation .
exec "$PY" bench/run_all.py "$@"
