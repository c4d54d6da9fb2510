#!/usr/bin/env bash
# Installs mxopt into a virtual environment and runs the demo: MXNet 1.9.1's acceptance
# program (FullyConnected 20->10 + SoftmaxOutput trained with Module.fit, SGD and a
# FactorScheduler) with only `import mxopt as mx` changed, on built-in synthetic data.
#
# Usage: bash scripts/demo.sh [--epochs N] [--samples N] [--no-progress] [--check-mxnet]
# Needs python3 >= 3.9 (with venv) and a C++17 compiler; Eigen, pybind11 and the build tools
# come from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MXOPT_DEMO_VENV:-.venv-demo}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q .
cd "$VENV"  # run the installed package, not the source tree
exec "$PY" -m mxopt.demo "$@"
