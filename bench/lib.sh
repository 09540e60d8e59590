# Shared by the HTTP benchmark scripts; source it from the repository's root.

# Sets `bin`: the binary given, or the `dist` build (target/dist/gatehouse, built first when
# missing).
use_binary() {
    bin="${1:-$PWD/target/dist/gatehouse}"
    [ -x "$bin" ] || cargo build --profile dist --locked -q
}

# Sets `work` to a scratch folder and `pid` (the server's, once started)
# to none; on exit the server is stopped and the folder removed.
scratch_and_cleanup() {
    work="$(mktemp -d)"
    pid=""
    trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
}

# Returns once the server on `port` (set by the script) answers /readyz, or stops the script;
# gives up after TRIES tries 5 ms apart (default 400: two seconds).
wait_ready() {
    for _ in $(seq 1 "${1:-400}"); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        sleep 0.005
    done
    echo "server did not start" >&2
    exit 1
}

# Prints the median of the numbers in its arguments (split on spaces).
median() {
    # shellcheck disable=SC2048,SC2086 # one word per number is the point
    printf '%s\n' $* | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
