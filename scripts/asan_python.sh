#!/usr/bin/env bash
# Python tests against the AddressSanitizer + UndefinedBehaviorSanitizer build of the extension
# (build/sanitize, preset `sanitize` configured with MXOPT_BUILD_PYTHON=ON by scripts/test.sh):
# the optimizer kernels and their bindings, the Updater's step plans (their C++ PlanStep),
# mx.nd load/save and .params files, the fuzz regressions, the safe state format, the
# bad-input audit, the operator kernels and the executor, the file iterators and CSR arrays.
# The extension is staged with the Python sources in build/sanitize/pkg and loaded into the
# venv's python with clang's ASan runtime LD_PRELOADed. detect_leaks=0: CPython
# keeps objects alive at exit by design. Any ASan/UBSan report aborts the run.
# Usage: bash scripts/asan_python.sh     (after scripts/test.sh built build/sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$(cd "${MXOPT_VENV:-.venv}" && pwd)/bin/python"
ASAN_RT="$(clang++ -print-file-name=libclang_rt.asan-x86_64.so)"
[ -f "$ASAN_RT" ] || { echo "asan_python.sh: clang's ASan runtime not found (apt-get install libclang-rt-14-dev)"; exit 1; }
ls build/sanitize/bindings/_core*.so > /dev/null

PKG=build/sanitize/pkg
rm -rf "$PKG"; mkdir -p "$PKG"
cp -r python/mxopt "$PKG/"
cp build/sanitize/bindings/_core*.so "$PKG/mxopt/"
PKG="$(cd "$PKG" && pwd)"
cd tests
PYTHONPATH="$PKG" LD_PRELOAD="$ASAN_RT" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$PY" -m pytest -q -p no:cacheprovider "$@" \
    python/test_optimizer.py python/test_optimizer_multi.py python/test_ndarray_io.py \
    python/test_fuzz_regressions.py python/test_bad_input_audit.py python/test_hardening.py \
    python/test_crash_safe_files.py python/test_optimizer_mxnet.py python/test_ndarray_io_mxnet.py \
    python/test_edge_cases_mxnet.py python/test_module.py python/test_initializer.py \
    python/test_updater_plan.py python/test_io_files.py python/test_sparse_csr_mxnet.py \
    python/test_op_kernels_mxnet.py python/test_ops_registry_mxnet.py python/test_executor.py \
    python/test_custom_op_mxnet.py python/test_batch_norm_mxnet.py python/test_kvstore.py
