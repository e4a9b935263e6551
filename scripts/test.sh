#!/usr/bin/env bash
# One command for a fresh machine: install everything the tests need, then run the whole suite.
# Browser tests need Chromium (/usr/bin/chromium; `apt-get install chromium`) and skip without it;
# PostgreSQL tests run when OVERSIGHT_TEST_POSTGRES_URL is set (.ci/run starts a server and sets it).
#   scripts/test.sh            everything (CI)
#   scripts/test.sh --fast     leaves out the slow tests (trainings, servers, browsers: pytest.ini's markers)
#   scripts/test.sh ARGS...    any other arguments go to pytest as they are
# A run of the whole suite (no test paths or expressions given) uses two worker processes (pytest-xdist), one test
# file at a time each, so a file's shared fixtures (a server, a training) are made once; OVERSIGHT_TEST_WORKERS
# sets their number, 0 runs everything in this one process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Bytecode is written, and compiled once here: every pytest worker, CLI subprocess and test server then loads the
# project's modules (and pytest its rewritten tests) instead of compiling them again. Some environments turn
# writing off (PYTHONDONTWRITEBYTECODE); on a fresh clone that cost each of the suite's hundreds of processes.
unset PYTHONDONTWRITEBYTECODE
.venv/bin/python -m compileall -q -j 0 app.py serve.py oversight storage views web bench >/dev/null
select=()
if [ "${1:-}" = --fast ]; then
  shift
  select=(-m "not slow and not browser")
fi
workers=${OVERSIGHT_TEST_WORKERS:-2}
for arg in "$@"; do
  case $arg in -*) ;; *) workers=0 ;; esac  # a path or an expression: a focused run, in one process
done
if [ "$workers" != 0 ]; then select+=(-n "$workers" --dist loadfile); fi
exec .venv/bin/python -m pytest ${select[@]+"${select[@]}"} "$@"
