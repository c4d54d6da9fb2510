#!/usr/bin/env bash
# ThreadSanitizer run (clang): builds build/tsan (preset `tsan`: the core, the GoogleTest tests
# and the pybind11 extension with -fsanitize=thread), then runs
#   1. every GoogleTest test (OpenMP kernels run with 2 threads; several tests switch the
#      thread count) and
#   2. the Python tests that use threads (Python threads sharing/not sharing an Updater, the
#      OpenMP paths of the optimizers, thread-count independence) against the TSan-built
#      extension, staged with the Python sources in build/tsan/pkg and loaded by
#      build/tsan/tests/sanitizer/python_tsan (CPython's main() linked with the TSan runtime).
# LLVM's libomp is not TSan-instrumented: its Archer tool (libarcher.so, shipped by Debian's
# libomp-14-dev) tells TSan about OpenMP's synchronisation (OMP_TOOL_LIBRARIES), and
# ignore_noninstrumented_modules=1 hides libomp's own (uninstrumented) internals. Any report
# fails the run (halt_on_error=1 / exitcode).
# Usage: bash scripts/tsan.sh        (after scripts/test.sh created the venv; MXOPT_VENV=... to pick one)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(cd "${MXOPT_VENV:-.venv}" && pwd)"
PY="$VENV/bin/python"
EIGEN_PREFIX="$("$PY" -c 'import cmeel, os; print(os.path.join(os.path.dirname(os.path.dirname(cmeel.__file__)), "cmeel.prefix"))')"
LLVM_LIB="$(dirname "$(readlink -f "$(command -v clang++)")")/../lib"
TSAN_RT="$(clang++ -print-file-name=libclang_rt.tsan-x86_64.so)"
ARCHER="$(readlink -f "$LLVM_LIB/libarcher.so")"
[ -f "$TSAN_RT" ] || { echo "tsan.sh: clang's TSan runtime not found (apt-get install libclang-rt-14-dev)"; exit 1; }
[ -f "$ARCHER" ] || { echo "tsan.sh: libarcher.so not found (apt-get install libomp-14-dev)"; exit 1; }

"$VENV/bin/cmake" --preset tsan -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" \
  -DCMAKE_PREFIX_PATH="$EIGEN_PREFIX" -DPython_EXECUTABLE="$PY" -DMXOPT_BUILD_PYTHON=ON \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" > /dev/null
"$VENV/bin/cmake" --build --preset tsan

# MXOPT_ISA=baseline, MXOPT_SIMD=generic: TSan does not instrument 32/64-byte (AVX2/AVX-512)
# loads and stores, so the optimizer kernels and the Philox generator run their baseline
# (SSE2, 16-byte) variants, whose accesses it sees; the work split between threads is the same
# for every ISA. (FullyConnected's GEMM and the mt19937 blocks pick AVX variants by CPU: their
# wide accesses stay unchecked on AVX machines.) A deliberate race (two threads updating one
# weight) is reported under these settings, and is not without them.
export OMP_TOOL_LIBRARIES="$ARCHER" OMP_NUM_THREADS=2 MXOPT_ISA=baseline MXOPT_SIMD=generic
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:ignore_noninstrumented_modules=1"

# 1. GoogleTest (one process: the tests are fast and TSan's start-up is not).
build/tsan/tests/cpp/mxopt_tests --gtest_brief=1

# 2. The threaded Python tests against the TSan extension, run by python_tsan (CPython's main()
#    linked with the TSan runtime: LD_PRELOADing the runtime into python crashes at start-up).
PKG=build/tsan/pkg
rm -rf "$PKG"; mkdir -p "$PKG"
cp -r python/mxopt "$PKG/"
cp build/tsan/bindings/_core*.so "$PKG/mxopt/"
PKG="$(cd "$PKG" && pwd)"
TSAN_PY="$(pwd)/build/tsan/tests/sanitizer/python_tsan"
(cd tests && PYTHONPATH="$PKG" MXOPT_SANITIZED_PYTHON="$PY" "$TSAN_PY" -m pytest -q -p no:cacheprovider \
  python/test_hardening.py::test_concurrent_updates_of_different_parameters_match_sequential \
  python/test_hardening.py::test_one_updater_shared_by_threads_is_serialised_and_matches_sequential \
  python/test_optimizer_isa.py python/test_optimizer_multi.py \
  -k "not env_var and not set_optimizer_isa and not differential_subset")
# (The deselected tests start subprocesses: the TSan runtime does not support fork() from a
# multi-threaded process, and the children would be an uninstrumented python.)

# 3. Self-check: a deliberate race (two threads updating ONE weight with the GIL released)
#    must be reported, or the run above proved nothing. (Whether TSan sees it depends on the
#    two kernels overlapping in time, hence 30000 elements and up to 3 attempts.)
RACE='
import threading, numpy as np, mxopt as mx
opt = mx.optimizer.create("sgd", learning_rate=0.1)
w = np.zeros(30000, np.float32)
g = np.ones(30000, np.float32)
def work():
    for _ in range(300):
        opt.update(0, w, g, None)
ts = [threading.Thread(target=work) for _ in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]
'
seen=0
for attempt in 1 2 3; do
  if ! out="$(cd tests && PYTHONPATH="$PKG" MXOPT_SANITIZED_PYTHON="$PY" "$TSAN_PY" -c "$RACE" 2>&1)" \
      && grep -q "WARNING: ThreadSanitizer: data race" <<< "$out"; then
    seen=1; break
  fi
done
[ "$seen" = 1 ] || { echo "tsan.sh: the deliberate race was NOT reported: ThreadSanitizer is not checking"; exit 1; }
echo "tsan.sh: GoogleTest + threaded Python tests clean; the deliberate race is reported"
