#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: GET /healthz and
# POST /api/v1/authorize on SQLite, N of each sent one after another on one
# keep-alive connection, with the count per server thread. Unlike a rate,
# the count repeats to within a fraction of a percent whatever else the
# machine is doing, so it can tell two builds apart where wrk cannot. It
# counts work, not waiting: the client is sequential, so every audit batch
# holds one entry and the appender's per-batch costs (signature, fsync) are
# all charged to that one request.
#
#   bench/instructions.sh [N] [BINARY]
#
# Needs valgrind and python3. BINARY defaults to the `dist` build (target/dist/gatehouse, built
# first when missing); N to 1000.
set -euo pipefail
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
cd "$(dirname "$0")/.."
count="${1:-1000}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
use_binary "${2:-}"
port=18983
scratch_and_cleanup

export GATEHOUSE_TOKEN
GATEHOUSE_TOKEN="$("$bin" --data-dir "$work/data" init --admin-email bench@example.com | tail -n 1)"
GATEHOUSE_LOG_LEVEL=warn valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$work/callgrind.out" \
    "$bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" >/dev/null 2>"$work/valgrind.log" &
pid=$!
# Under valgrind the server takes seconds to start.
wait_ready 12000
# Warm up: the memos, the caches and the log's first pages.
python3 bench/sequential_client.py "$port" 200 authorize

for target in healthz authorize; do
    rm -f "$work"/callgrind.out*
    callgrind_control -z "$pid" >/dev/null 2>&1
    python3 bench/sequential_client.py "$port" "$count" "$target"
    callgrind_control -d "$pid" >/dev/null 2>&1
    total=0
    threads=""
    for dump in "$work"/callgrind.out*; do
        ir=$(awk '/^summary:/ {print $2; exit}' "$dump")
        [ -n "$ir" ] && [ "$ir" -gt 0 ] || continue
        total=$((total + ir))
        threads="$threads $((ir / count))"
    done
    echo "$target: $((total / count)) instructions per request (per thread:$threads)"
done
