#!/usr/bin/env bash
# Create .venv (if missing) and install the project's Python packages into it.
# Usage: scripts/setup.sh [dev]   ("dev" adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
req=requirements.txt
[ "${1:-}" = dev ] && req=requirements-dev.txt
# torch is pinned in requirements.txt to the CPU build; on a GPU machine install the CUDA build first.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
