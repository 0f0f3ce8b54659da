#!/usr/bin/env bash
# The main job on a fresh machine, no AWS account needed: set up .venv with the local DeepAR extra,
# then prepare -> provision -> train -> wait -> deploy -> predict -> backtest with backend = "local"
# (GluonTS DeepAR on this machine; examples/local.toml). The ledger and models go to ./.nikkei-deepar.
# Usage: scripts/forecast.sh PRICE_FILE        e.g. scripts/forecast.sh ../shared/data/nikkei.csv
set -euo pipefail
file=${1:?usage: scripts/forecast.sh PRICE_FILE (a Nikkei 225 price file, see data/README.md)}
file=$(realpath "$file")
cd "$(dirname "$0")/.."
scripts/setup.sh local,plot
export NIKKEI_DEEPAR_HOME=${NIKKEI_DEEPAR_HOME:-$PWD/.nikkei-deepar}
nd() { .venv/bin/nikkei-deepar "$@" --config examples/local.toml; }
nd prepare --input "$file"
nd provision
nd train --wait
nd deploy
nd predict
nd backtest --windows 10
