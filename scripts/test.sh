#!/usr/bin/env bash
# One command for a fresh machine: install everything the tests need, then run the whole suite.
# Browser tests need Chromium (/usr/bin/chromium; `apt-get install chromium`) and skip without it;
# PostgreSQL tests run when OVERSIGHT_TEST_POSTGRES_URL is set (.ci/run starts a server and sets it).
# `scripts/test.sh --fast` leaves out the slow tests (trainings, servers, browsers: pytest.ini's `slow` and
# `browser` markers); any other arguments go to pytest as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
select=()
if [ "${1:-}" = --fast ]; then
  shift
  select=(-m "not slow and not browser")
fi
exec .venv/bin/python -m pytest ${select[@]+"${select[@]}"} "$@"
