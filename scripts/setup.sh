#!/usr/bin/env bash
# Create .venv (if missing) and install the project with the given extras (default: local,plot), quietly.
# Idempotent: .venv/.nikkei-deepar-setup stamps what was installed (a hash of pyproject.toml, this script
# and the Python version, plus the extras); when it matches, nothing is run. Any change re-installs.
# Usage: scripts/setup.sh [EXTRAS]      e.g. scripts/setup.sh dev,local,plot
#
# What one `pip install` cannot say, done here:
# - torch is installed first and pinned: on this team's machines torch==2.13.0 is a CPU wheel on local
#   disk; any other torch request would download a multi-GB CUDA build.
# - gluonts (the [local] extra's DeepAR) is installed with --no-deps, from [tool.nikkei-deepar.no-deps]
#   in pyproject.toml: its metadata pins toolz~=0.10 while exchange-calendars >= 4.11.2 requires
#   toolz >= 1.0. The [local] extra lists gluonts' real dependencies with toolz >= 1.0 instead, so pip
#   resolves one consistent set (current exchange-calendars, toolz 1.x) and prints no resolver ERROR.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-local,plot}
python=${PYTHON:-python3}
stamp=.venv/.nikkei-deepar-setup
[ -x .venv/bin/python ] || "$python" -m venv .venv
want=$({ cat pyproject.toml scripts/setup.sh; .venv/bin/python -VV; } | sha256sum | cut -c1-16)
# The project is installed editable: its modules are read from src/. Where PYTHONDONTWRITEBYTECODE is set
# (these machines set it), Python never writes their bytecode, so every command compiled ~60 modules again
# (0.3 s of a 1.1 s start). Compile what changed, every time (0.1 s when nothing did).
[ -d src ] && .venv/bin/python -m compileall -q src >/dev/null
if [ -f "$stamp" ]; then
    read -r have have_extras <"$stamp" || true
    missing=
    for extra in ${extras//,/ }; do
        [[ ",$have_extras," == *",$extra,"* ]] || missing=1
    done
    [ "$have" = "$want" ] && [ -z "$missing" ] && exit 0
    extras="$have_extras,$extras"  # keep what is there: one environment for every script
fi
rm -f "$stamp"
extras=$(tr ',' '\n' <<<"$extras" | sed '/^$/d' | sort -u | paste -sd, -)
echo "setting up .venv with the extras $extras (once; the next runs skip this)" >&2
pip=(.venv/bin/python -m pip --quiet --quiet)  # errors only: the machine's pip config may warn a lot
"${pip[@]}" install --upgrade pip
"${pip[@]}" install torch==2.13.0
"${pip[@]}" install -e ".[$extras]"
nodeps=$(.venv/bin/python - "$extras" <<'PY'
import sys, tomllib
table = tomllib.load(open("pyproject.toml", "rb"))["tool"]["nikkei-deepar"]["no-deps"]
print(" ".join(spec for extra in sys.argv[1].split(",") for spec in table.get(extra, [])))
PY
)
if [ -n "$nodeps" ]; then
    # shellcheck disable=SC2086  # a list of requirement specs
    "${pip[@]}" install --no-deps $nodeps
fi
echo "$want $extras" >"$stamp"
