#!/usr/bin/env bash
# Build time from a fresh clone: clones the current commit into a scratch
# folder, fetches the dependencies (downloads are not build time), then
# times `cargo build --release --bin gatehouse` (what the README's
# `cargo run --release -- serve` builds) and, with `--dist`, the same with
# `--profile dist`, one after the other, each from an empty target dir,
# with cargo's --timings. Prints each wall time and the slowest crates, and
# copies the timing reports to ./target/build-timings/. The scratch clone
# (and its target dir) is removed at the end.
#
#   bench/build.sh [--dist] [TOP]
#
# TOP: how many of the slowest crates to print (default 10). Run it on a
# quiet machine: on a loaded one only the ranking means anything.
set -euo pipefail
cd "$(dirname "$0")/.."
profiles=(release)
if [ "${1:-}" = "--dist" ]; then
    profiles+=(dist)
    shift
fi
top="${1:-10}"
repo="$PWD"
commit="$(git rev-parse HEAD)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git clone -q --no-checkout "$repo" "$scratch/gatehouse"
git -C "$scratch/gatehouse" checkout -q "$commit"
cd "$scratch/gatehouse"
cargo fetch --locked -q
mkdir -p "$repo/target/build-timings"
printf 'commit %s, %s cores, rustc %s\n' "$commit" "$(nproc)" "$(rustc --version | cut -d' ' -f2)"
for profile in "${profiles[@]}"; do
    rm -rf target
    started=$(date +%s.%N)
    cargo build --locked --profile "$profile" --bin gatehouse --timings -q
    ended=$(date +%s.%N)
    report="$(ls -t target/cargo-timings/cargo-timing-2*.html | head -n 1)"
    cp "$report" "$repo/target/build-timings/$profile.html"
    python3 - "$profile" "$started" "$ended" "$top" "$report" <<'PY'
import json, re, sys
profile, started, ended, top, report = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
seconds = ended - started
print(f"\n{profile}: {int(seconds // 60)} min {seconds % 60:04.1f} s from a fresh clone")
html = open(report, encoding="utf-8").read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
units.sort(key=lambda unit: unit["duration"], reverse=True)
for unit in units[:top]:
    target = unit.get("target", "").strip()
    print(f"  {unit['duration']:7.1f} s  {unit['name']} {unit['version']}{target}")
PY
done
