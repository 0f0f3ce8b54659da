#!/usr/bin/env bash
# Set up .venv from the project's own files (if needed) and run the whole test suite, lint and types.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev,local,plot
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
# two workers (these machines have two cores); a module stays on one worker: tests/test_bench_smoke.py and
# tests/hostile/test_deadlines.py run their slow parts together, once per worker that reaches them
.venv/bin/pytest -n 2 --dist loadscope "$@"
