#!/usr/bin/env bash
# HTTP benchmark on loopback: cold start, then GET /healthz (the baseline),
# GET /api/v1/whoami, POST /api/v1/authorize (decided and durably audited;
# `authorize` asks one question again and again, `authorize-new` a new one
# every time, about a pipeline never asked about before) and
# POST /api/v1/identities under wrk, on SQLite and on PostgreSQL. Prints
# wrk's latency distribution for each.
#
#   bench/http.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]
#
# With ROUNDS > 1 the five runs repeat that many times in turn, and each
# engine ends with every API's median share of healthz over the rounds: on
# a noisy machine one healthz run can be 15 % off the next.
#
# Needs wrk (apt-get install wrk) and, for the PostgreSQL half, the server
# at GATEHOUSE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
# Benchmarks measure the machinery, not a person's authenticator app: the
# admin acts without a second factor here (never do this in production).
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
cd "$(dirname "$0")/.."
duration="${1:-10}"
connections="${2:-64}"
rounds="${3:-1}"
admin_url="${GATEHOUSE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
bin="$PWD/target/dist/gatehouse"
port=18971
work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS gatehouse_bench WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --profile dist --locked -q
ls -l "$bin" | awk '{printf "binary size: %.1f MiB\n", $5 / 1048576}'

now_ms() { date +%s%3N; }

# shellcheck source=bench/lib.sh
. bench/lib.sh

run_engine() {
    local engine="$1" url="$2" dir="$work/$1"
    echo
    echo "== $engine"
    export GATEHOUSE_TOKEN
    GATEHOUSE_TOKEN="$("$bin" --data-dir "$dir" --database "$url" init --admin-email bench@example.com | tail -n 1)"

    local total=0 runs=5 start
    for _ in $(seq 1 "$runs"); do
        start=$(now_ms)
        GATEHOUSE_LOG_LEVEL=warn "$bin" --data-dir "$dir" --database "$url" serve --listen "127.0.0.1:$port" &
        pid=$!
        wait_ready
        total=$((total + $(now_ms) - start))
        kill "$pid"; wait "$pid" || true; pid=""
    done
    echo "cold start to ready (mean of $runs): $((total / runs)) ms"

    GATEHOUSE_LOG_LEVEL=warn "$bin" --data-dir "$dir" --database "$url" \
        serve --listen "127.0.0.1:$port" &
    pid=$!
    wait_ready
    local healthz_rate="" summary round
    declare -A shares=()
    for round in $(seq 1 "$rounds"); do
        if [ "$rounds" -gt 1 ]; then echo "-- round $round of $rounds"; fi
        for target in healthz whoami authorize authorize-new create; do
            echo "-- $target ($connections connections, ${duration}s)"
            summary="$(case "$target" in
                healthz) wrk -t2 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port/healthz" ;;
                whoami) wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/bearer.lua "http://127.0.0.1:$port/api/v1/whoami" ;;
                authorize) wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/authorize.lua "http://127.0.0.1:$port/api/v1/authorize" ;;
                authorize-new) wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/authorize_new.lua "http://127.0.0.1:$port/api/v1/authorize" ;;
                create) wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/create_identity.lua "http://127.0.0.1:$port/api/v1/identities" ;;
            esac | grep -E "Requests/sec|^ +(50|99)%|Non-2xx|Socket errors")"
            echo "$summary"
            local rate
            rate="$(awk '/Requests\/sec/ {print $2}' <<<"$summary")"
            if [ "$target" = healthz ]; then
                healthz_rate="$rate"
            elif [ -n "$rate" ] && [ -n "$healthz_rate" ]; then
                awk -v r="$rate" -v h="$healthz_rate" 'BEGIN {printf "   %.3f of healthz in this run\n", r / h}'
                shares[$target]+="$(awk -v r="$rate" -v h="$healthz_rate" 'BEGIN {printf "%.3f", r / h}') "
            fi
        done
    done
    if [ "$rounds" -gt 1 ]; then
        for target in whoami authorize authorize-new create; do
            printf '%s: median %s of healthz over %s rounds (%s)\n' "$target" \
                "$(median "${shares[$target]:-}")" \
                "$rounds" "${shares[$target]:-}"
        done
    fi
    kill "$pid"; wait "$pid" || true; pid=""
}

run_engine sqlite "sqlite://$work/sqlite/gatehouse.db"
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS gatehouse_bench WITH (FORCE)" >/dev/null
psql -q "$admin_url" -c "CREATE DATABASE gatehouse_bench" >/dev/null
run_engine postgres "${admin_url%/*}/gatehouse_bench"
