#!/usr/bin/env bash
# Builds every function's arm64 `bootstrap.zip` for Lambda with cargo-lambda
# (zig links against an old glibc), into $CARGO_TARGET_DIR/lambda/<bin>/, and
# prints each zip's size. Needs Python 3 for the pinned tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tier-engine/target}"
eval "$(scripts/lambda-tools.sh)"
rustup target add aarch64-unknown-linux-gnu >/dev/null
bins=(ingest-order reverse-return update-config query-status expire-windows)
args=()
for b in "${bins[@]}"; do args+=(--bin "$b"); done
cargo lambda build --release --arm64 --output-format zip "${args[@]}"
for b in "${bins[@]}"; do
  zip="$CARGO_TARGET_DIR/lambda/$b/bootstrap.zip"
  printf '%-16s %8d bytes  %s\n' "$b" "$(stat -c %s "$zip")" "$zip"
done
