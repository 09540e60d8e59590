#!/usr/bin/env bash
# Soak: mixed load on one server for a long run, watching its resident
# memory for a leak. wrk drives, at once and for the whole run, a repeated
# decision (authorize.lua), a decision about a new pipeline each time
# (authorize_new.lua), identity creations (create_identity.lua), whoami
# (bearer.lua), inclusion proofs (inclusion_proof.lua) and /healthz, on
# SQLite. The server's RSS (VmRSS from /proc, with its anonymous and
# file-backed parts) is sampled every SAMPLE seconds; the sample taken
# once the warm-up is over is the baseline, the last one (as the load
# ends) is compared with it. Prints both and their ratio, and exits 1 if
# the end is more than 10 % above the warm-up.
#
#   bench/soak.sh [DURATION_SECONDS] [WARMUP_SECONDS] [CONNECTIONS] [BINARY]
#
# Defaults: 600 s in all, of which the first 120 s are the warm-up, 48
# connections (8 per load), the `dist` build (target/dist/gatehouse, built first when missing).
# Needs wrk (apt-get install wrk).
#
# Memory that grows by design must be full by the end of the warm-up, or it
# reads as a leak: the proof cache (`[audit] proof_cache_mib`, 128 MiB by
# default, 64 bytes an entry) would still be filling after ten minutes of
# this load, so it gets 16 MiB here unless GATEHOUSE_AUDIT_PROOF_CACHE_MIB
# says otherwise.
set -euo pipefail
# The machinery is measured, not a person's authenticator app: the admin
# acts without a second factor here (never do this in production).
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
export GATEHOUSE_AUDIT_PROOF_CACHE_MIB="${GATEHOUSE_AUDIT_PROOF_CACHE_MIB:-16}"
cd "$(dirname "$0")/.."
duration="${1:-600}"
warmup="${2:-120}"
connections="${3:-48}"
sample="${SAMPLE:-30}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
use_binary "${4:-}"
port=18983
scratch_and_cleanup
[ "$warmup" -lt "$duration" ] || { echo "the warm-up must end before the run does" >&2; exit 2; }
per_load=$(( connections / 6 > 0 ? connections / 6 : 1 ))

export GATEHOUSE_TOKEN
GATEHOUSE_TOKEN="$("$bin" --data-dir "$work" init --admin-email soak@example.com | tail -n 1)"
GATEHOUSE_LOG_LEVEL=warn "$bin" --data-dir "$work" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
wait_ready
# Proofs need entries to prove: a first two hundred decisions.
for _ in $(seq 1 200); do
    curl -fs -o /dev/null -H "Authorization: Bearer $GATEHOUSE_TOKEN" -H 'Content-Type: application/json' \
        -d '{"action":"pipeline.trigger","resource":{"type":"Pipeline","id":"acme/web:seed"}}' \
        "http://127.0.0.1:$port/api/v1/authorize"
done
export GATEHOUSE_BENCH_SIZE=200

# kB: VmRSS RssAnon RssFile
rss() { awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2} END {print ""}' "/proc/$pid/status"; }

base="http://127.0.0.1:$port"
wrks=()
run_wrk() {
    wrk -t1 -c"$per_load" -d"${duration}s" "$@" >"$work/wrk.$((${#wrks[@]})).out" 2>&1 &
    wrks+=($!)
}
started=$(date +%s)
run_wrk -s bench/authorize.lua "$base/api/v1/authorize"
run_wrk -s bench/authorize_new.lua "$base/api/v1/authorize"
run_wrk -s bench/create_identity.lua "$base/api/v1/identities"
run_wrk -s bench/bearer.lua "$base/api/v1/whoami"
run_wrk -s bench/inclusion_proof.lua "$base/api/v1/audit/proof/inclusion"
run_wrk "$base/healthz"

echo "soak: ${duration}s of mixed load (${per_load} connections each for 6 loads), warm-up ${warmup}s, RSS every ${sample}s, proof cache ${GATEHOUSE_AUDIT_PROOF_CACHE_MIB} MiB"
echo "elapsed_s  rss_kib  anon_kib  file_kib"
warm="" last=""
next=$sample
while :; do
    elapsed=$(( $(date +%s) - started ))
    # The last sample is taken just before wrk stops.
    if [ "$elapsed" -ge $(( duration - 2 )) ]; then
        last="$(rss)"
        printf '%9s  %s\n' "$elapsed" "$last"
        break
    fi
    if [ "$elapsed" -ge "$next" ]; then
        now="$(rss)"
        printf '%9s  %s\n' "$elapsed" "$now"
        next=$(( next + sample ))
        if [ -z "$warm" ] && [ "$elapsed" -ge "$warmup" ]; then
            warm="$now"
        fi
    fi
    sleep 1
done
for w in "${wrks[@]}"; do wait "$w" || true; done

echo
i=0
for name in authorize authorize-new create-identity whoami inclusion-proof healthz; do
    printf '%-16s %s  %s\n' "$name" \
        "$(awk '/Requests\/sec/ {print $2 " req/s"}' "$work/wrk.$i.out")" \
        "$(awk '/Non-2xx/ {print $0}' "$work/wrk.$i.out")"
    i=$((i + 1))
done
# The checkpoint is a signed note: origin, then the tree's size.
entries="$(curl -fs -H "Authorization: Bearer $GATEHOUSE_TOKEN" "$base/api/v1/audit/checkpoint" | sed -n 2p || true)"
echo "audit log at the end: $entries entries; data dir $(du -sh "$work" | cut -f1)"
echo
read -r warm_rss warm_anon warm_file <<<"$warm"
read -r end_rss end_anon end_file <<<"$last"
echo "RSS after warm-up (${warmup}s): ${warm_rss} KiB (anonymous ${warm_anon}, file ${warm_file})"
echo "RSS at the end (${duration}s): ${end_rss} KiB (anonymous ${end_anon}, file ${end_file})"
ratio="$(awk -v e="$end_rss" -v w="$warm_rss" 'BEGIN {printf "%.3f", e / w}')"
echo "end / warm-up: $ratio"
if awk -v r="$ratio" 'BEGIN {exit !(r > 1.10)}'; then
    echo "FAIL: resident memory grew more than 10 % after the warm-up" >&2
    exit 1
fi
echo "ok: within 10 % of the warm-up"
