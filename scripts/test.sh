#!/usr/bin/env bash
# Installs everything and runs ALL tests: pytest (incl. differential tests against real
# MXNet 1.9.1) and ctest (GoogleTest + the C++ example built against the installed package).
# Usage: bash scripts/test.sh            (from a fresh clone; needs python3 >= 3.9, a C++ compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MXOPT_VENV:-.venv}"
# MXNet 1.9.1 is installed below: a differential test module that cannot import it is an
# error here, not a skip (tests/python/mxnet_oracle.py).
export MXOPT_REQUIRE_MXNET=1

# From Debian: GoogleTest; clang with its sanitizer/libFuzzer runtimes and OpenMP (the
# sanitizer + fuzz build).
DEB_PKGS="libgtest-dev clang libclang-rt-14-dev libomp-14-dev"
if ! dpkg -s $DEB_PKGS > /dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $DEB_PKGS > /dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -r requirements-test.txt
# Lint first: it takes a second and fails fast (configuration in pyproject.toml).
"$VENV/bin/ruff" check python tests bench examples scripts
# One Release build serves both the Python package and the C++ tests (build/test).
# It is built as a wheel (build/wheelhouse), which the numpy 2 environment below installs too.
rm -rf build/wheelhouse
"$PY" -m pip wheel -q --no-deps --no-build-isolation -Cbuild-dir=build/test \
  -Ccmake.define.MXOPT_BUILD_TESTS=ON -w build/wheelhouse .
"$PY" -m pip install -q --force-reinstall --no-deps build/wheelhouse/mxopt-*.whl

# The compiled core's type stubs match the extension (mypy's stubtest; scripts/stubs.sh
# regenerates them after a binding changes).
(cd tests && "$PY" -m mypy.stubtest mxopt._core --allowlist stubtest_allowlist.txt)
# Python tests run against the installed package, from outside the source tree.
(cd tests && "$PY" -m pytest -q -p no:cacheprovider python)

# numpy 2: the newest numpy 2.x in a second environment runs every test that does not need
# MXNet (MXNet 1.9.1 needs numpy < 1.24) against the same wheel, and a fixed trace of results
# (every optimizer and dtype, initializers, schedulers, a Module.fit run) must be bit-identical
# to numpy 1.23.5's.
NP2="$VENV-numpy2"
[ -x "$NP2/bin/python" ] || python3 -m venv "$NP2"
"$NP2/bin/python" -m pip install -q --upgrade pip
"$NP2/bin/python" -m pip install -q --upgrade "numpy>=2" pytest scipy hypothesis matplotlib
"$NP2/bin/python" -m pip install -q --force-reinstall --no-deps build/wheelhouse/mxopt-*.whl
(cd tests && MXOPT_REQUIRE_MXNET=0 "$NP2/bin/python" -m pytest -q -p no:cacheprovider python)
"$PY" tests/numpy_trace/trace_results.py build/trace-numpy1.json
"$NP2/bin/python" tests/numpy_trace/trace_results.py build/trace-numpy2.json
"$PY" tests/numpy_trace/compare.py build/trace-numpy1.json build/trace-numpy2.json

# The same wheel, repaired into a manylinux wheel (dist/), installs into a fresh environment
# from binaries alone and runs the demo with no compiler on PATH.
bash scripts/wheel.sh --check build/wheelhouse/mxopt-*.whl

# C++ tests (GoogleTest + the C++ example against the installed CMake package).
EIGEN_PREFIX="$("$PY" -c 'import cmeel, os; print(os.path.join(os.path.dirname(os.path.dirname(cmeel.__file__)), "cmeel.prefix"))')"
CMAKE="$VENV/bin/cmake"
"$VENV/bin/ctest" --test-dir build/test --output-on-failure -j2

# The same C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang), a Python
# subset against the ASan/UBSan-built extension (scripts/asan_python.sh), then bounded fuzz runs
# of every fuzz target (C++ libFuzzer and atheris).
"$CMAKE" --preset sanitize -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" \
  -DCMAKE_PREFIX_PATH="$EIGEN_PREFIX" -DPython_EXECUTABLE="$PY" -DMXOPT_BUILD_PYTHON=ON \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" > /dev/null
"$CMAKE" --build --preset sanitize
"$VENV/bin/ctest" --preset sanitize -j2
MXOPT_VENV="$VENV" bash scripts/asan_python.sh
MXOPT_VENV="$VENV" bash scripts/fuzz.sh "${MXOPT_FUZZ_SECONDS:-20}"
# ThreadSanitizer (scripts/tsan.sh) is opt-in: its clean build alone takes longer than the
# budget for it (about 7 minutes here; an incremental run, 35 seconds).
if [ "${MXOPT_RUN_TSAN:-0}" = 1 ]; then
  MXOPT_VENV="$VENV" bash scripts/tsan.sh
fi
