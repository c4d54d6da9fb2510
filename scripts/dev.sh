#!/usr/bin/env bash
# Development loop: an incremental Release build of the core, the C++ tests and the extension
# in build/dev (ccache is used when installed), with the extension copied next to the Python
# sources, so that the source tree itself is importable:
#
#   bash scripts/dev.sh                       # build (after scripts/test.sh created .venv)
#   bash scripts/dev.sh pytest python/test_io.py -q     # build, then run pytest from tests/
#   bash scripts/dev.sh ctest                 # build, then run the C++ tests
#
# Tests run with PYTHONPATH=python (the source tree, not the installed package).
# MXOPT_VENV picks the virtual environment (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
PY="$(cd "${MXOPT_VENV:-.venv}" && pwd)/bin/python"
VBIN="$(dirname "$PY")"
EIGEN_PREFIX="$("$PY" -c 'import cmeel, os; print(os.path.join(os.path.dirname(os.path.dirname(cmeel.__file__)), "cmeel.prefix"))')"
LAUNCHER=()
if command -v ccache > /dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$ROOT")}"  # worktrees share hits
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [ ! -f build/dev/build.ninja ]; then
  "$VBIN/cmake" -S . -B build/dev -G Ninja -DCMAKE_MAKE_PROGRAM="$VBIN/ninja" \
    -DCMAKE_BUILD_TYPE=Release -DMXOPT_BUILD_TESTS=ON -DMXOPT_BUILD_PYTHON=ON \
    -DCMAKE_PREFIX_PATH="$EIGEN_PREFIX" -DPython_EXECUTABLE="$PY" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" "${LAUNCHER[@]}" > /dev/null
fi
"$VBIN/cmake" --build build/dev
cp -f build/dev/bindings/_core*.so python/mxopt/
case "${1:-}" in
  pytest) shift; cd tests && MXOPT_DEV=1 PYTHONPATH="$ROOT/python" exec "$PY" -m pytest -p no:cacheprovider "$@" ;;
  ctest) shift; exec "$VBIN/ctest" --test-dir build/dev --output-on-failure -j2 "$@" ;;
  "") ;;
  *) echo "usage: scripts/dev.sh [pytest ARGS... | ctest ARGS...]" >&2; exit 2 ;;
esac
