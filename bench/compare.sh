#!/usr/bin/env bash
# POST /api/v1/authorize as a share of GET /healthz on SQLite, for one build
# or several compared in turn. On a noisy machine two runs of a few seconds
# each can land in different weather; here the two targets alternate in
# one-second runs (PAIRS of each, summed), so each share is measured over
# the same stretch of time, and every build runs once per round, in turn.
# Prints each round's share per build, then each build's median.
#
#   bench/compare.sh [-r ROUNDS] [-p PAIRS] [-c CONNECTIONS] [-s SCRIPT] [BINARY...]
#
# Defaults: 6 rounds, 5 pairs, 64 connections, bench/authorize.lua (one
# question asked again and again; bench/authorize_new.lua asks a new one
# every time), the `dist` build (target/dist/gatehouse, built first when missing). Needs wrk
# (apt-get install wrk).
set -euo pipefail
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
cd "$(dirname "$0")/.."
rounds=6
pairs=5
connections=64
script=bench/authorize.lua
while getopts "r:p:c:s:" option; do
    case "$option" in
        r) rounds="$OPTARG" ;;
        p) pairs="$OPTARG" ;;
        c) connections="$OPTARG" ;;
        s) script="$OPTARG" ;;
        *) echo "usage: bench/compare.sh [-r ROUNDS] [-p PAIRS] [-c CONNECTIONS] [-s SCRIPT] [BINARY...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
# shellcheck source=bench/lib.sh
. bench/lib.sh
binaries=()
if [ "$#" -eq 0 ]; then
    use_binary ""
    binaries=("$bin")
else
    binaries=("$@")
fi
port=18985
scratch_and_cleanup

rate() { awk '/Requests\/sec/ {print $2}'; }
healthz() { wrk -t2 -c"$connections" -d"$1" "http://127.0.0.1:$port/healthz" | rate; }
authorize() { wrk -t2 -c"$connections" -d"$1" -s "$script" "http://127.0.0.1:$port/api/v1/authorize" | rate; }

declare -a tokens shares
for i in "${!binaries[@]}"; do
    tokens[i]="$("${binaries[i]}" --data-dir "$work/$i" init --admin-email bench@example.com | tail -n 1)"
    shares[i]=""
done

for round in $(seq 1 "$rounds"); do
    for i in "${!binaries[@]}"; do
        export GATEHOUSE_TOKEN="${tokens[i]}"
        GATEHOUSE_LOG_LEVEL=warn "${binaries[i]}" --data-dir "$work/$i" serve --listen "127.0.0.1:$port" >/dev/null &
        pid=$!
        wait_ready
        # Warm up: the memos, the caches and the log's first pages.
        authorize 1s >/dev/null
        healthz_sum=0
        authorize_sum=0
        for _ in $(seq 1 "$pairs"); do
            healthz_sum=$(awk -v s="$healthz_sum" -v r="$(healthz 1s)" 'BEGIN {print s + r}')
            authorize_sum=$(awk -v s="$authorize_sum" -v r="$(authorize 1s)" 'BEGIN {print s + r}')
        done
        share=$(awk -v a="$authorize_sum" -v h="$healthz_sum" 'BEGIN {printf "%.3f", a / h}')
        printf 'round %s, %s: healthz %.0f/s, authorize %.0f/s, share %s\n' "$round" "${binaries[i]}" \
            "$(awk -v s="$healthz_sum" -v n="$pairs" 'BEGIN {print s / n}')" \
            "$(awk -v s="$authorize_sum" -v n="$pairs" 'BEGIN {print s / n}')" "$share"
        shares[i]+="$share "
        kill "$pid"; wait "$pid" || true; pid=""
    done
done

for i in "${!binaries[@]}"; do
    printf '%s: authorize median %s of healthz over %s rounds (%s)\n' "${binaries[i]}" \
        "$(median "${shares[i]}")" \
        "$rounds" "${shares[i]% }"
done
