#!/usr/bin/env bash
# Where the CPU goes under load, on SQLite: for GET /healthz and for
# POST /api/v1/authorize under wrk, the server's CPU time per request (in
# all, and per thread name), wrk's own CPU time, and how much of the machine
# stayed idle, the bytes the audit appender wrote per request, and the
# write requests and flushes the disk completed per request.
# Throughput alone cannot tell a cheaper request from a pipeline that
# waits; this can.
#
#   bench/cpu.sh [DURATION_SECONDS] [CONNECTIONS] [BINARY]
#
# Needs wrk and GNU time (apt-get install wrk time). BINARY defaults to the
# `dist` build (target/dist/gatehouse, built first when missing).
set -euo pipefail
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
cd "$(dirname "$0")/.."
duration="${1:-5}"
connections="${2:-64}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
use_binary "${3:-}"
port=18979
scratch_and_cleanup

export GATEHOUSE_TOKEN
GATEHOUSE_TOKEN="$("$bin" --data-dir "$work" init --admin-email bench@example.com | tail -n 1)"
GATEHOUSE_LOG_LEVEL=warn "$bin" --data-dir "$work" serve --listen "127.0.0.1:$port" >/dev/null &
pid=$!
wait_ready

ticks=$(getconf CLK_TCK)
# utime + stime of the process, and of each thread summed by thread name.
process_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
thread_ticks() {
    for task in /proc/"$pid"/task/*; do
        printf '%s %s\n' "$(tr ' ' '_' <"$task/comm")" "$(awk '{print $14 + $15}' "$task/stat")"
    done | awk '{sum[$1] += $2} END {for (name in sum) print name, sum[name]}' | sort
}
# Bytes and write calls of the audit appender's thread so far: what its
# commits cost in I/O (WAL frames, and the checkpoints that copy them back).
appender_io() {
    local task
    for task in /proc/"$pid"/task/*; do
        if [ "$(cat "$task/comm")" = gatehouse-audit ]; then
            awk '/^wchar/ {w = $2} /^syscw/ {c = $2} END {print w, c}' "$task/io"
            return
        fi
    done
    echo "0 0"
}
# Write requests and flushes the disk under the data dir completed so far
# (the whole disk's, for a partition; nothing for a file system without
# one): what a durable append costs the device, which fsync's CPU time
# alone does not show.
source_dev="$(df --output=source "$work" | tail -n 1)"
disk="$(lsblk -no pkname "$source_dev" 2>/dev/null | head -n 1 || true)"
disk="${disk:-$(basename "$source_dev")}"
disk_ops() { awk -v d="$disk" '$3 == d {print $8, $19}' /proc/diskstats; }
# idle + iowait, and all, from the machine's counters.
machine_ticks() { awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

for target in healthz authorize; do
    before=$(process_ticks); thread_ticks >"$work/threads.before"; machine_before=$(machine_ticks)
    io_before=$(appender_io); disk_before=$(disk_ops)
    case "$target" in
        healthz) args=("http://127.0.0.1:$port/healthz") ;;
        authorize) args=(-s bench/authorize.lua "http://127.0.0.1:$port/api/v1/authorize") ;;
    esac
    out="$(/usr/bin/time -f 'wrk-cpu %U %S' wrk -t2 -c"$connections" -d"${duration}s" "${args[@]}" 2>&1)"
    after=$(process_ticks); thread_ticks >"$work/threads.after"; machine_after=$(machine_ticks)
    io_after=$(appender_io); disk_after=$(disk_ops)
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    echo "-- $target ($connections connections, ${duration}s): $rate req/s"
    awk -v a="$before" -v b="$after" -v n="$requests" -v t="$ticks" -v d="$duration" \
        'BEGIN {printf "   server   %6.1f µs/request (%.2f cores)\n", (b - a) / t * 1e6 / n, (b - a) / t / d}'
    join "$work/threads.before" "$work/threads.after" | awk -v n="$requests" -v t="$ticks" \
        '$3 > $2 {printf "     %-18s %6.1f µs/request\n", $1, ($3 - $2) / t * 1e6 / n}'
    awk -v n="$requests" '/^wrk-cpu/ {printf "   wrk      %6.1f µs/request\n", ($2 + $3) * 1e6 / n}' <<<"$out"
    echo "$machine_before $machine_after" | awk '{printf "   machine idle %.0f%%\n", 100 * ($3 - $1) / ($4 - $2)}'
    echo "$io_before $io_after" | awk -v n="$requests" \
        '$3 > $1 {printf "   audit appender wrote %.0f bytes in %.1f calls per request\n", ($3 - $1) / n, ($4 - $2) / n}'
    if [ -n "$disk_before" ] && [ -n "$disk_after" ]; then
        echo "$disk_before $disk_after" | awk -v n="$requests" -v d="$disk" \
            '{printf "   disk %s: %.3f write requests and %.3f flushes per request\n", d, ($3 - $1) / n, ($4 - $2) / n}'
    fi
done
