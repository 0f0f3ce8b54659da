#!/usr/bin/env bash
# one-off-forecast.sh PRICE_FILE [CONFIG]: one forecast on SageMaker and no running cost afterwards:
#   prepare -> provision -> train --wait -> deploy -> predict -> teardown --yes
# The endpoint is deleted at the end whatever happened after `deploy` started (a failed predict, a
# timeout, Ctrl-C): an endpoint bills every hour it exists. If the teardown never runs (this machine
# dies), AWS deletes it anyway when it expires: `deploy --expires-in` (NIKKEI_DEEPAR_EXPIRES_IN, 2h).
#
#   examples/one-off-forecast.sh ~/Downloads/nikkei_stock_average_daily_jp.csv > forecast.csv
#
# stdout: the forecast as CSV (date,step,mean,q0.1,q0.5,q0.9; dates are Tokyo trading days).
# stderr: timestamped progress. Exit code: the first failing command's (see `nikkei-deepar --help`);
# if only the teardown failed, the teardown's, with the command to finish it by hand.
# Not meant for cron (nothing is left running to be used again): see daily-forecast.sh. Give it a config
# of its own stage ([aws.tags] stage, and its own [endpoint] name): its teardown deletes every endpoint
# its workspace's state lists, so a one-off in the cron jobs' stage would delete theirs.
#
# Environment:
#   NIKKEI_DEEPAR_CONFIG        the config, if not given as the argument (default: sagemaker.toml here)
#   NIKKEI_DEEPAR_BIN           the executable (default: `nikkei-deepar` on PATH, then ../.venv/bin)
#   NIKKEI_DEEPAR_HOME          the tool's home (caches, and the state unless the config sets
#                               [state] url; default ~/.local/state/nikkei-deepar)
#   NIKKEI_DEEPAR_TIMEOUT       seconds to wait for the training job (default 7200; exit 8 after, and
#                               the job runs on until [training] max_runtime_seconds)
#   NIKKEI_DEEPAR_EXPIRES_IN    how long AWS lets the endpoint live if the teardown never runs (2h)
#   NIKKEI_DEEPAR_TEARDOWN_ALL  1: also delete the bucket (with the data and model) and the role the
#                               tool created (`teardown --all`); default: only the endpoint side
#   AWS_PROFILE, AWS_REGION, AWS_* as for any AWS tool
set -euo pipefail

usage="usage: one-off-forecast.sh PRICE_FILE [CONFIG]"
if (($# < 1 || $# > 2)); then
    printf '%s\n' "$usage" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PRICES=$1
CONFIG=${2:-${NIKKEI_DEEPAR_CONFIG:-$here/sagemaker.toml}}
TIMEOUT=${NIKKEI_DEEPAR_TIMEOUT:-7200}
EXPIRES_IN=${NIKKEI_DEEPAR_EXPIRES_IN:-2h}

find_bin() {
    local candidate
    for candidate in "${NIKKEI_DEEPAR_BIN:-}" "$(command -v nikkei-deepar || true)" "$here/../.venv/bin/nikkei-deepar"; do
        if [[ -n $candidate && -x $candidate ]]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# Progress: one timestamped line per message on stderr; the tool's own timestamped lines pass unchanged.
log() { printf '%(%Y-%m-%dT%H:%M:%S%z)T %s\n' -1 "$*" >&2; }
stamp() {
    local line
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ $line =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}\  ]]; then
            printf '%s\n' "$line" >&2
        else
            log "$line"
        fi
    done
}
# Run one command: everything it prints goes, timestamped, to stderr; its exit code is the pipe's.
run() {
    log "\$ nikkei-deepar $*"
    "$BIN" "$@" --config "$CONFIG" 2>&1 | stamp
}

if ! BIN=$(find_bin); then
    log "error: nikkei-deepar not found: set NIKKEI_DEEPAR_BIN or PATH"
    exit 2
fi
if [[ ! -f $PRICES ]]; then
    log "error: $PRICES: no such file"
    printf '%s\n' "$usage" >&2
    exit 3
fi
work=$(mktemp -d)
deploying=0

finish() {
    local rc=$? teardown_flags=(--yes --wait-lock 60)
    trap - INT TERM
    if ((deploying)); then
        if [[ ${NIKKEI_DEEPAR_TEARDOWN_ALL:-0} == 1 ]]; then
            teardown_flags+=(--all)
        fi
        log "one-off: deleting the endpoint (it bills every hour it exists)"
        # what teardown prints goes to stderr as always, and to a file that says what it deleted
        if run teardown "${teardown_flags[@]}" 2>&1 | tee "$work/teardown.txt" >&2; then
            if grep -q 'nothing to delete' "$work/teardown.txt"; then
                log "one-off: no endpoint was up: nothing to delete"
            else
                log "one-off: torn down: nothing is left billing by the hour"
            fi
        else
            local code=$?
            log "one-off: TEARDOWN FAILED (exit $code): the endpoint may still exist and bill;" \
                "run: nikkei-deepar teardown --yes --config $CONFIG"
            ((rc != 0)) || rc=$code
        fi
    fi
    rm -rf "$work"
    if ((rc == 0)); then
        log "one-off: done"
    else
        log "one-off: FAILED with exit $rc"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM   # as the tool's own code for an interruption; the EXIT trap still runs

log "one-off: forecast from $PRICES (config $CONFIG)"
run prepare --input "$PRICES"   # first: a bad price file stops the run before anything is created
run provision
run train --wait --timeout "$TIMEOUT"
deploying=1   # from here on, whatever happens, the EXIT trap deletes the endpoint
run deploy --expires-in "$EXPIRES_IN"
run predict --format csv --output "$work/forecast.csv"
cat "$work/forecast.csv"
