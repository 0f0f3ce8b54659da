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
# (the clone in ~/src/nikkei-deepar; the config, forecasts and logs in ~/nikkei-deepar; the state in the
# config's [state] url, shared with every host of the stage; examples/README.md has the whole crontab
# with its PATH and MAILTO lines, and how to create the state bucket once)
#
# Writes   $NIKKEI_DEEPAR_OUT_DIR/forecast-YYYY-MM-DD.csv   (default ~/nikkei-deepar/forecasts)
# Keeps    every forecast in the forecast history beside the state (`predict` does it);
#          weekly-retrain.sh runs `nikkei-deepar score` on them
# Logs to  $NIKKEI_DEEPAR_LOG_DIR/daily-forecast-YYYY-MM-DD.log   (default ~/nikkei-deepar/logs)
#
# Exit code: the failing command's, unchanged. What it means for whoever reads the cron mail:
#   0          normal: today's forecast is written (and kept)
#   4 6 8      ALERT, a human should look now: 4 AWS/auth error or the endpoint's error answer,
#              6 the endpoint failed, 8 a timeout
#   2 3 5 1    FIX: 2 config error, 3 bad, missing or stale price data (sagemaker.toml's
#              [data] on_stale = "fail": the download brought no close for [data] max_age_sessions
#              sessions; nothing was forecast), 5 nothing ever deployed (run weekly-retrain.sh first)
#              or no scheduler role (run provision), 1 a bug
#   9 10 130   RETRY: 9 another command (on any host) held the state's lease for longer than the
#              wait, 10 the shared state kept changing under a write (nothing written), 130 interrupted
#   11         FIX: the state was written by a newer version of the tool: upgrade it
# Silent when the exit code is 0; otherwise one line goes to the original stderr, which cron mails to
# MAILTO, starting with ALERT, FIX or RETRY (as weekly-retrain.sh's).
#
# Environment (cron provides only PATH, HOME, SHELL, LOGNAME; see examples/README.md):
#   NIKKEI_DEEPAR_CONFIG       the config, if not given as the argument (default: sagemaker.toml here)
#   NIKKEI_DEEPAR_BIN          the executable (default: `nikkei-deepar` on PATH, then ../.venv/bin)
#   NIKKEI_DEEPAR_HOME         the tool's home (caches; default ~/.local/state/nikkei-deepar)
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

# A human should hear of every non-zero exit; the first word says how urgent it is.
alert() {
    local rc=$1 kind
    case $rc in
        4 | 6 | 7 | 8) kind=ALERT ;;
        9 | 10 | 130) kind=RETRY ;;
        *) kind=FIX ;;
    esac
    log "daily-forecast: $kind: exit $rc${2:+: $2}"
    printf '%s: daily-forecast exit %s on %s%s; see %s\n' "$kind" "$rc" "${HOSTNAME:-?}" "${2:+: $2}" "$LOG" >&3
}
# The last error the tool printed to the log (without its time stamp and "error: "), or nothing.
last_error() {
    local line
    line=$(grep -o ' error: .*' "$LOG" | tail -n 1) || true
    line=${line# error: }
    printf '%s' "${line#"${line%%[! ]*}"}"   # without the indent of a problem under its error
}

deploying=0
finish() {
    local rc=$? from
    trap - INT TERM
    if ((deploying)); then
        from=$(wc -l <"$LOG")
        if run teardown --yes; then
            # what teardown printed (the lines after `from`) says whether there was anything to delete
            if tail -n "+$((from + 1))" "$LOG" | grep -q 'nothing to delete'; then
                log "daily-forecast: no endpoint was up: nothing to delete"
            else
                log "daily-forecast: endpoint deleted: nothing is left billing by the hour"
            fi
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
        alert "$rc" "$(last_error)"
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
