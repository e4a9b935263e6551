#!/usr/bin/env bash
# One command for a fresh machine: install, create the database, seed the demo study, start the app.
# The first run prints the admin's sign-in and three participant links.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
.venv/bin/python -m oversight seed-demo
PORT=${PORT:-8501}
exec .venv/bin/python -m streamlit run app.py --server.port "$PORT" --server.headless true \
  --browser.gatherUsageStats false
