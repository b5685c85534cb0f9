#!/usr/bin/env bash
# Installs the pinned OpenAPI validator (openapi-core, from PyPI) into a
# virtualenv outside the clone, if absent, and prints the path of its
# python3, which runs tests/contract/validate.py:
#   python="$(scripts/contract-tools.sh)"
set -euo pipefail
CACHE="${TIER_CACHE_DIR:-$HOME/.cache/tier-engine}"
VENV="$CACHE/venv-contract-1"
if ! "$VENV/bin/python3" -c 'import openapi_core, openapi_spec_validator, yaml' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    openapi-core==0.23.1 openapi-spec-validator==0.8.5 jsonschema==4.26.0 PyYAML==6.0.4 >&2
fi
echo "$VENV/bin/python3"
