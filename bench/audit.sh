#!/usr/bin/env bash
# Audit benchmarks: appends (group commit vs one transaction per entry, both
# engines) and in-process proofs via `cargo bench`, then, on the large log
# that bench built, proofs over HTTP (against GET /healthz in the same run)
# and `gatehouse audit verify` throughput (against sha256sum of the same
# file).
#
#   bench/audit.sh [ENTRIES]      default 1000000
#
# Needs wrk (apt-get install wrk) and PostgreSQL as for the tests.
set -euo pipefail
# Benchmarks measure the machinery, not a person's authenticator app: the
# admin acts without a second factor here (never do this in production).
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
cd "$(dirname "$0")/.."
entries="${1:-1000000}"
data="$(mktemp -d)/log"
port=18972
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$(dirname "$data")"; }
trap cleanup EXIT

cargo build --profile dist --locked -q
GATEHOUSE_BENCH_ENTRIES="$entries" GATEHOUSE_BENCH_DATA_DIR="$data" cargo bench --locked -q -p gatehouse-store --bench audit

bin="$PWD/target/dist/gatehouse"
export GATEHOUSE_TOKEN GATEHOUSE_BENCH_SIZE
GATEHOUSE_TOKEN="$(cat "$data/bench-admin-token")"
GATEHOUSE_LOG_LEVEL=warn "$bin" --data-dir "$data" serve --listen "127.0.0.1:$port" &
pid=$!
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
GATEHOUSE_BENCH_SIZE="$(curl -fs -H "Authorization: Bearer $GATEHOUSE_TOKEN" "http://127.0.0.1:$port/api/v1/audit/checkpoint" | sed -n 2p)"

sleep 5 # the server loads the tree into memory after it starts
for connections in 1 16; do
    echo
    echo "== proofs over HTTP at $GATEHOUSE_BENCH_SIZE entries ($connections connections, 10 s)"
    echo "-- GET /healthz (baseline)"
    wrk -t1 -c"$connections" -d10s --latency "http://127.0.0.1:$port/healthz" | grep -E "Requests/sec|^ +(50|99)%"
    echo "-- GET /api/v1/audit/proof/inclusion (random index; authenticated and authorized like any call)"
    wrk -t1 -c"$connections" -d10s --latency -s bench/inclusion_proof.lua "http://127.0.0.1:$port/" |
        grep -E "Requests/sec|^ +(50|99)%|Non-2xx"
done
kill "$pid"; wait "$pid" || true; pid=""

echo
echo "== audit verify on an export of $GATEHOUSE_BENCH_SIZE entries"
"$bin" --data-dir "$data" audit export --out "$data/export.jsonl"
ls -l "$data/export.jsonl" | awk '{printf "export size: %.0f MiB\n", $5 / 1048576}'
start=$(date +%s%N); sha256sum "$data/export.jsonl" >/dev/null; end=$(date +%s%N)
baseline_ms=$(( (end - start) / 1000000 ))
start=$(date +%s%N); "$bin" audit verify "$data/export.jsonl"; end=$(date +%s%N)
verify_ms=$(( (end - start) / 1000000 ))
echo "sha256sum of the file (baseline): ${baseline_ms} ms; audit verify: ${verify_ms} ms"
echo "verify throughput: $(( GATEHOUSE_BENCH_SIZE * 1000 / (verify_ms + 1) )) entries/s"
