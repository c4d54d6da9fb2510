#!/usr/bin/env bash
# Bounded fuzz runs of every target, seeded with the corpora written by real MXNet 1.9.1
# (tests/fuzz/corpus/). A finding is saved under build/fuzz-findings/ and fails the run:
# reproduce it, fix it, and add the input to tests/fuzz/regressions/ (replayed by pytest).
# Usage: bash scripts/fuzz.sh [seconds per target, default 30]   (after scripts/test.sh has
# built build/sanitize and .venv; longer local runs: bash scripts/fuzz.sh 600)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-${MXOPT_FUZZ_SECONDS:-30}}"
PY="$(cd "${MXOPT_VENV:-.venv}" && pwd)/bin/python"
WORK=build/fuzz-work
FIND=build/fuzz-findings
rm -rf "$WORK"; mkdir -p "$WORK" "$FIND"

status=0
run_target() {  # name, corpus, command...
  local name="$1" corpus="$2"; shift 2
  local dir="$WORK/$name"
  mkdir -p "$dir"; cp -r "tests/fuzz/corpus/$corpus/." "$dir/"
  local log="$WORK/$name.log"
  if "$@" -max_total_time="$SECS" -max_len=65536 -timeout=25 -rss_limit_mb=4096 \
      -artifact_prefix="$FIND/$name-" "$dir" > "$log" 2>&1; then
    echo "fuzz $name: $(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | cut -d' ' -f2) executions, 0 findings"
  else
    echo "fuzz $name: FINDING (see $log and $FIND/)"; tail -30 "$log"; status=1
  fi
}

run_target params_cpp params build/sanitize/tests/fuzz/fuzz_params
run_target text_cpp text build/sanitize/tests/fuzz/fuzz_text
for t in nd_load:params symbol_json:symbol_json updater_states:updater_states \
    optimizer_update:optimizer_update; do
  run_target "${t%%:*}" "${t##*:}" "$PY" tests/fuzz/fuzz_python.py "${t%%:*}"
done
exit $status
