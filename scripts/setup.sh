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
# gluonts pins toolz~=0.10 while exchange-calendars >= 4.11.2 needs toolz >= 1.0 (both run with either),
# so a one-shot resolve with the [local] extra picks exchange-calendars 4.11.1, whose Tokyo holiday
# tables end in 2025. Take the current release explicitly; pip then warns about gluonts' toolz pin,
# which is expected and harmless.
.venv/bin/python -m pip install -q 'exchange-calendars>=4.13' 'toolz>=1.0'
