# Shared by the HTTP benchmark scripts; source it after setting `port`.

# Returns once the server on `port` answers /readyz, or stops the script;
# gives up after TRIES tries 5 ms apart (default 400: two seconds).
wait_ready() {
    for _ in $(seq 1 "${1:-400}"); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        sleep 0.005
    done
    echo "server did not start" >&2
    exit 1
}
