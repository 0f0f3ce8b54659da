#!/usr/bin/env bash
# daily-forecast.sh [CONFIG]: refresh the price data and write today's forecast, with an endpoint that
# exists only while the forecast is made. No retraining (that is weekly-retrain.sh):
#   prepare -> deploy --redeploy --expires-in 2h -> predict -> teardown --yes
# `deploy --redeploy` brings up the model last deployed (by weekly-retrain.sh: the promotion gate's
# choice) and has AWS delete the endpoint 2 hours later whatever happens here; the teardown at the end
# (run from the EXIT trap, also after a failure or Ctrl-C) deletes it at once. If this machine dies
# before the teardown, the endpoint is still deleted at its expiry: nothing bills past it.
#
# crontab (`crontab -e`), every weekday at 18:30 machine time (the Tokyo close is 15:30 JST):
#   30 18 * * 1-5  $HOME/src/nikkei-deepar/examples/daily-forecast.sh $HOME/nikkei-deepar/nikkei-deepar.toml
# (the clone in ~/src/nikkei-deepar; the config, its ledger, forecasts and logs in ~/nikkei-deepar;
# examples/README.md has the whole crontab with its PATH and MAILTO lines)
#
# Writes   $NIKKEI_DEEPAR_OUT_DIR/forecast-YYYY-MM-DD.csv   (default ~/nikkei-deepar/forecasts)
# Logs to  $NIKKEI_DEEPAR_LOG_DIR/daily-forecast-YYYY-MM-DD.log   (default ~/nikkei-deepar/logs)
# Silent on success. On failure one line goes to the original stderr (cron mails it to MAILTO) and the
# script exits with the failing command's code: 2 config, 3 bad or missing data, 4 AWS/auth or the
# endpoint's error answer, 5 nothing ever deployed (run weekly-retrain.sh first) or no scheduler role
# (run provision), 6 the endpoint failed, 9 lock held for longer than the wait, 130 interrupted.
#
# Environment (cron provides only PATH, HOME, SHELL, LOGNAME; see examples/README.md):
#   NIKKEI_DEEPAR_CONFIG       the config, if not given as the argument (default: sagemaker.toml here)
#   NIKKEI_DEEPAR_BIN          the executable (default: `nikkei-deepar` on PATH, then ../.venv/bin)
#   NIKKEI_DEEPAR_HOME         the ledger folder, only if you set one when you deployed
#   NIKKEI_DEEPAR_OUT_DIR, NIKKEI_DEEPAR_LOG_DIR
#   NIKKEI_DEEPAR_WAIT_LOCK    seconds to wait for another command's lock (default 600)
#   NIKKEI_DEEPAR_ALLOW_STALE  1: if the download fails, forecast from the previous copy (a warning)
#   NIKKEI_DEEPAR_EXPIRES_IN   how long AWS lets the endpoint live if the teardown never runs (default 2h)
#   AWS_PROFILE, AWS_REGION, AWS_* as for any AWS tool
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIG=${1:-${NIKKEI_DEEPAR_CONFIG:-$here/sagemaker.toml}}
OUT_DIR=${NIKKEI_DEEPAR_OUT_DIR:-$HOME/nikkei-deepar/forecasts}
LOG_DIR=${NIKKEI_DEEPAR_LOG_DIR:-$HOME/nikkei-deepar/logs}
WAIT_LOCK=${NIKKEI_DEEPAR_WAIT_LOCK:-600}
EXPIRES_IN=${NIKKEI_DEEPAR_EXPIRES_IN:-2h}
DAY=$(date +%F)
LOG=$LOG_DIR/daily-forecast-$DAY.log
FORECAST=$OUT_DIR/forecast-$DAY.csv

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

# One timestamped line per message; lines the tool already timestamped pass through unchanged.
log() { printf '%(%Y-%m-%dT%H:%M:%S%z)T %s\n' -1 "$*"; }
stamp() {
    local line
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ $line =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}\  ]]; then
            printf '%s\n' "$line"
        else
            log "$line"
        fi
    done
}
# Run one command; its stdout and stderr go through `stamp` to the log, its exit code is the pipe's.
run() {
    log "\$ nikkei-deepar $*"
    "$BIN" "$@" --config "$CONFIG" --wait-lock "$WAIT_LOCK" 2>&1 | stamp
}

mkdir -p "$OUT_DIR" "$LOG_DIR"
exec 3>&2 >>"$LOG" 2>&1   # fd 3: the original stderr, for the one failure line cron mails

deploying=0
finish() {
    local rc=$?
    trap - INT TERM
    if ((deploying)); then
        if run teardown --yes; then
            log "daily-forecast: endpoint deleted: nothing is left billing by the hour"
        else
            local code=$?
            log "daily-forecast: TEARDOWN FAILED (exit $code): AWS deletes the endpoint at its expiry" \
                "($EXPIRES_IN after the deploy); to delete it now: nikkei-deepar teardown --yes --config $CONFIG"
            ((rc != 0)) || rc=$code
        fi
    fi
    if ((rc == 0)); then
        log "daily-forecast: done: $FORECAST"
    else
        log "daily-forecast: FAILED with exit $rc"
        printf 'daily-forecast: failed with exit %s on %s, see %s\n' "$rc" "${HOSTNAME:-?}" "$LOG" >&3
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM   # as the tool's own code for an interruption; the EXIT trap still runs

log "daily-forecast: start (config $CONFIG, pid $$)"
if ! BIN=$(find_bin); then
    log "error: nikkei-deepar not found: set NIKKEI_DEEPAR_BIN or PATH (cron's PATH is /usr/bin:/bin)"
    exit 2
fi

prepare_flags=()
if [[ ${NIKKEI_DEEPAR_ALLOW_STALE:-0} == 1 ]]; then
    prepare_flags+=(--allow-stale)
fi
run prepare "${prepare_flags[@]}"
deploying=1   # from here on, whatever happens, the EXIT trap deletes the endpoint
run deploy --redeploy --expires-in "$EXPIRES_IN"
run predict --format csv --output "$FORECAST"
