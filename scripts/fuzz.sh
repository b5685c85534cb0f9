#!/usr/bin/env bash
# Long fuzz runs of the engine (docs/fuzzing.md): each target of
# shared/engine/tests/fuzz.rs in turn, one at a time, in the optimized and
# unwinding `local` profile with overflow checks on.
#
#   scripts/fuzz.sh                              # every target, 10,000,000 cases each
#   scripts/fuzz.sh fuzz_order_decoder           # one target (or several)
#   CASES=100000 scripts/fuzz.sh                 # fewer cases for every target
#   CASES_fuzz_decision=2000000 scripts/fuzz.sh  # per-target case count
#
# Each target's output goes to $FUZZ_LOG_DIR/<target>.log (default
# $CARGO_TARGET_DIR/fuzz-logs), with a progress line every 2^20 cases and a
# summary line at the end. Exits non-zero if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tier-engine/target}"
export CARGO_PROFILE_LOCAL_OVERFLOW_CHECKS=true
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

all=(
  fuzz_order_decoder
  fuzz_return_decoder
  fuzz_redemption_decoder
  fuzz_config_validation
  fuzz_expression_parser
  fuzz_decision
)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
cases="${CASES:-10000000}"
log_dir="${FUZZ_LOG_DIR:-$CARGO_TARGET_DIR/fuzz-logs}"
mkdir -p "$log_dir"

# Build once up front, so that each target's time is its own.
cargo test --profile local -p tier-engine --test fuzz --no-run

status=0
for target in "${targets[@]}"; do
  per_target="CASES_${target}"
  n="${!per_target:-$cases}"
  log="$log_dir/$target.log"
  {
    echo "== $target: $n cases, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "   commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), engine sources $(cat shared/engine/src/*.rs | sha256sum | cut -c1-12)"
  } | tee "$log"
  started=$(date +%s)
  if PROPTEST_CASES="$n" cargo test --profile local -p tier-engine --test fuzz "$target" \
       -- --exact --nocapture 2>&1 | tee -a "$log"; then
    result=passed
  else
    result=FAILED
    status=1
  fi
  echo "== $target: $result in $(( $(date +%s) - started )) s wall" | tee -a "$log"
done
exit "$status"
