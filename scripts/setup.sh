#!/usr/bin/env bash
# Create .venv (if missing) and install the project with the given extras (default: local,plot).
# torch is installed first and pinned: on this machine torch==2.13.0 is a CPU wheel on local disk;
# any other torch request (including gluonts' unpinned one) would download a multi-GB CUDA build.
# Usage: scripts/setup.sh [EXTRAS]      e.g. scripts/setup.sh dev,local,plot
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-local,plot}
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[$extras]"
