#!/usr/bin/env bash
# Installs the pinned Lambda tooling from PyPI into a virtualenv outside the
# clone (if absent) and prints the PATH line to use it (its python3 has
# samtranslator, which tests/template.rs runs, and cfn-lint, which it runs on
# the transformed stack):
#   eval "$(scripts/lambda-tools.sh)"
set -euo pipefail
CACHE="${TIER_CACHE_DIR:-$HOME/.cache/tier-engine}"
VENV="$CACHE/venv-lambda-2"
if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ] || [ ! -x "$VENV/bin/cfn-lint" ] \
  || ! "$VENV/bin/python3" -c 'import samtranslator' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    aws-sam-cli==1.170.0 aws-sam-translator==1.115.0 cfn-lint==1.58.0 cargo-lambda==1.9.2 ziglang==0.17.1 >&2
fi
echo "export PATH=\"$VENV/bin:\$PATH\" SAM_CLI_TELEMETRY=0"
