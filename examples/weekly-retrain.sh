#!/usr/bin/env bash
# weekly-retrain.sh [CONFIG]: retrain DeepAR on fresh data and deploy the new model only if it is no
# worse than the last promoted one, whose endpoint the daily script may have torn down
# (`nikkei-deepar retrain`: prepare -> train -> wait -> gate -> deploy),
# then score the week's kept forecasts against the closes that came (`nikkei-deepar score`).
# The endpoint a deploy brings up is deleted by AWS after [endpoint] expires_after (24 h in
# sagemaker.toml); daily-forecast.sh brings the chosen model up again for each forecast.
#
# crontab (`crontab -e`), every Saturday at 06:00 machine time:
#   0 6 * * 6  $HOME/src/nikkei-deepar/examples/weekly-retrain.sh $HOME/nikkei-deepar/nikkei-deepar.toml
# (the clone in ~/src/nikkei-deepar; the config, forecasts and logs in ~/nikkei-deepar; the state in the
# config's [state] url, shared with every host of the stage; examples/README.md has the whole crontab
# with its PATH and MAILTO lines, and how to create the state bucket once)
#
# Writes   $NIKKEI_DEEPAR_LOG_DIR/retrain-YYYY-MM-DD.json   the one JSON summary (`retrain --json`)
#          $NIKKEI_DEEPAR_LOG_DIR/score-YYYY-MM-DD.txt      the score of every forecast kept so far
# Logs to  $NIKKEI_DEEPAR_LOG_DIR/weekly-retrain-YYYY-MM-DD.log   (default dir ~/nikkei-deepar/logs)
#
# Exit code: retrain's own, unchanged. What it means for whoever reads the cron mail:
#   0          normal: the new model was deployed, the endpoint already served it, or the promotion
#              gate kept the current model because the new one scored worse ("kept-current-model")
#   4 6 7 8    ALERT, a human should look now: 4 AWS/auth error (or throttling that outlasted the
#              retries), 6 training job or endpoint Failed (the reason is in the log and the JSON),
#              7 training job Stopped, 8 --timeout reached (the job still runs, and bills; run the
#              script again: on the same data it waits for that job instead of starting another)
#   2 3 5 1    FIX: 2 config error, 3 bad or missing price data (the previous data was kept),
#              5 missing bucket/role/prepared data (run `nikkei-deepar provision`), 1 a bug
#   9 10 130   RETRY: 9 another command (on any host) held the state's lease for longer than the
#              wait, 10 the shared state kept changing under a write (nothing written), 130
#              interrupted; run it again: on the same data it resumes (a running or finished job is
#              reused)
#   11         FIX: the state or the history was written by a newer version of the tool: upgrade it
# `score` runs after retrain whatever retrain's outcome; when retrain exits 0 and score fails (5 no
# prepared data, 11 a history written by a newer version), the script exits with score's code.
# Silent when the exit code is 0; otherwise one line goes to the original stderr, which cron mails to
# MAILTO, starting with ALERT, FIX or RETRY.
#
# Environment (cron provides only PATH, HOME, SHELL, LOGNAME; see examples/README.md):
#   NIKKEI_DEEPAR_CONFIG       the config, if not given as the argument (default: sagemaker.toml here)
#   NIKKEI_DEEPAR_BIN          the executable (default: `nikkei-deepar` on PATH, then ../.venv/bin)
#   NIKKEI_DEEPAR_HOME         the tool's home (caches; default ~/.local/state/nikkei-deepar)
#   NIKKEI_DEEPAR_LOG_DIR
#   NIKKEI_DEEPAR_WAIT_LOCK    seconds to wait for another command's lock (default 600)
#   NIKKEI_DEEPAR_TIMEOUT      seconds to wait for the training job (default 10800; exit 8 after)
#   NIKKEI_DEEPAR_FORCE_DEPLOY 1: deploy the new model even if it scores worse (skips the gate)
#   AWS_PROFILE, AWS_REGION, AWS_* as for any AWS tool
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIG=${1:-${NIKKEI_DEEPAR_CONFIG:-$here/sagemaker.toml}}
LOG_DIR=${NIKKEI_DEEPAR_LOG_DIR:-$HOME/nikkei-deepar/logs}
WAIT_LOCK=${NIKKEI_DEEPAR_WAIT_LOCK:-600}
TIMEOUT=${NIKKEI_DEEPAR_TIMEOUT:-10800}
DAY=$(date +%F)
LOG=$LOG_DIR/weekly-retrain-$DAY.log
SUMMARY=$LOG_DIR/retrain-$DAY.json
SCORE=$LOG_DIR/score-$DAY.txt

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
# One field of the JSON summary (a dotted path, list indices as numbers) with python3 or jq; empty if
# neither is installed or the file holds no JSON document.
field() {
    if command -v python3 >/dev/null; then
        python3 -c 'import json, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
for key in sys.argv[2].split("."):
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        value = value[int(key)]
    else:
        value = value.get(key) if isinstance(value, dict) else None
print("" if value is None else value)' "$SUMMARY" "$1" 2>/dev/null || true
    elif command -v jq >/dev/null; then
        jq -r "$(sed -E 's/\.([0-9]+)/[\1]/g' <<<".$1") // empty" "$SUMMARY" 2>/dev/null || true
    fi
}

mkdir -p "$LOG_DIR"
exec 3>&2 >>"$LOG" 2>&1   # fd 3: the original stderr, for the one line cron mails

# A human should hear of every non-zero exit; the first word says how urgent it is.
alert() {
    local rc=$1 kind
    case $rc in
        4 | 6 | 7 | 8) kind=ALERT ;;
        9 | 10 | 130) kind=RETRY ;;
        *) kind=FIX ;;
    esac
    log "weekly-retrain: $kind: exit $rc${2:+: $2}"
    printf '%s: weekly-retrain exit %s on %s%s; see %s\n' "$kind" "$rc" "${HOSTNAME:-?}" "${2:+: $2}" "$LOG" >&3
}

log "weekly-retrain: start (config $CONFIG, pid $$)"
if ! BIN=$(find_bin); then
    log "error: nikkei-deepar not found: set NIKKEI_DEEPAR_BIN or PATH (cron's PATH is /usr/bin:/bin)"
    alert 2 "nikkei-deepar not found"
    exit 2
fi

flags=(--json --config "$CONFIG" --wait-lock "$WAIT_LOCK" --timeout "$TIMEOUT")
if [[ ${NIKKEI_DEEPAR_FORCE_DEPLOY:-0} == 1 ]]; then
    flags+=(--force-deploy)
fi
log "\$ nikkei-deepar retrain ${flags[*]}"
# Ctrl-C or SIGTERM reach retrain too: it stops cleanly with 130 (RETRY below) and the next run resumes.
# stdout (the JSON document) to the summary file; stderr (progress) through `stamp` to the log
if "$BIN" retrain "${flags[@]}" 2>&1 >"$SUMMARY" | stamp; then rc=0; else rc=$?; fi

status=$(field data.status)
job=$(field data.job)
gate=$(field data.gate.decision)
reason=$(field data.gate.reason)
error=$(field errors.0.message)
log "weekly-retrain: retrain ${status:-?} (exit $rc), job ${job:-none}, gate ${gate:-none}${reason:+: $reason}"
log "weekly-retrain: summary in $SUMMARY"

case $rc in
    0)
        if [[ $status == kept-current-model ]]; then
            log "weekly-retrain: the deployed model stays (normal, not an error): the new one scored worse"
        fi
        ;;
    *) alert "$rc" "${error:-retrain ${status:-failed}}" ;;
esac

# The track record: every forecast daily-forecast.sh kept, against the closes that came since.
log "\$ nikkei-deepar score --config $CONFIG"
if "$BIN" score --config "$CONFIG" 2>&1 >"$SCORE" | stamp; then score_rc=0; else score_rc=$?; fi
stamp <"$SCORE"
log "weekly-retrain: score (exit $score_rc) in $SCORE"
if ((rc == 0 && score_rc != 0)); then
    rc=$score_rc
    alert "$rc" "score failed"
fi
exit "$rc"
