#!/usr/bin/env bash
# One command for a fresh machine: install, create the database, seed the demo study, start the app.
# The first run prints the admin's sign-in and three participant links.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
PORT=${PORT:-8501}
# Participant links point here unless a public address is configured.
export OVERSIGHT_PUBLIC_URL=${OVERSIGHT_PUBLIC_URL:-http://localhost:$PORT}
.venv/bin/python -m oversight seed-demo
# serve.py = app.py plus the staff-session cookie routes. No file watching in production (see
# .streamlit/config.toml); development: `streamlit run serve.py --server.fileWatcherType auto`.
exec .venv/bin/python -m streamlit run serve.py --server.port "$PORT" --server.headless true \
  --browser.gatherUsageStats false --server.fileWatcherType none --server.runOnSave false
