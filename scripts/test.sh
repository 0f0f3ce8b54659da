#!/usr/bin/env bash
# Set up .venv from the project's own files (if needed) and run the whole test suite, lint and types.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev,local,plot
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
.venv/bin/pytest -n 2 --dist loadgroup "$@"  # two workers: the machines this runs on have two cores
