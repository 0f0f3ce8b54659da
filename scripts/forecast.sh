#!/usr/bin/env bash
# The main job on a fresh machine, no AWS account needed: set up .venv with the local DeepAR extra
# (skipped when .venv already matches the project: scripts/setup.sh keeps a stamp), then
# prepare -> provision -> train -> wait -> deploy -> predict -> backtest with backend = "local"
# (GluonTS DeepAR on this machine; examples/local.toml). The ledger and models go to ./.nikkei-deepar.
# Usage: scripts/forecast.sh [PRICE_FILE]     default: data/nikkei.csv, the sample shipped with the project
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-$root/data/nikkei.csv}
if [ ! -f "$file" ]; then
    echo "error: $file: no such price file; data/README.md says where to download one" >&2
    exit 3
fi
file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
cd "$root"
scripts/setup.sh local,plot
export NIKKEI_DEEPAR_HOME=${NIKKEI_DEEPAR_HOME:-$PWD/.nikkei-deepar}
nd() { .venv/bin/nikkei-deepar "$@" --config examples/local.toml; }
nd prepare --input "$file"
nd provision
nd train --wait
nd deploy
nd predict
nd backtest --windows 10
