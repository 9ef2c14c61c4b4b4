#!/usr/bin/env bash
# End-to-end tests of `semb serve`'s limits on slow clients (issue #14): a client trickling
# header lines is cut off at --request-timeout though it keeps sending; --max-per-address
# closes the (cap+1)-th connection from one address and not one from another; a kept-alive
# connection may idle past --request-timeout (--timeout is its limit); ordinary
# requests are answered, each before the slow clients' own deadline, while more slow clients
# than --max-connections (from several addresses, each at its cap) trickle and reconnect,
# and /metrics counts the connections dropped.
# The clients are tests/serve_clients.py. Servers are always killed on exit.
# usage: cli_serve_limits.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
clients="$(dirname "$0")/serve_clients.py"
require_files "$fixture/model.safetensors"
if ! command -v python3 >/dev/null; then
    skip "python3 not installed"
fi
make_tmp
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# start_server NAME ARGS...: semb serve on a free port in the background (stderr in
# $tmp/NAME.err) once it prints its URL; sets $pid and $port
start_server() {
    local name=$1 url=""
    shift
    "$semb" serve --model "$fixture" --port 0 --threads 1 "$@" 2>"$tmp/$name.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 600); do
        url=$(sed -n 's/^semb serve: listening on \(http:.*\)$/\1/p' "$tmp/$name.err")
        [ -n "$url" ] && port=${url##*:} && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "     server $name did not start: $(cat "$tmp/$name.err")"
    return 1
}

# stopped PID: the server exits within 20 s, with status 0
stopped() {
    for _ in $(seq 400); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    ! kill -0 "$1" 2>/dev/null && wait "$1"
}

# run_clients ARGS...: serve_clients.py with its line of facts shown
run_clients() {
    local out rc
    out=$(python3 "$clients" "$@")
    rc=$?
    echo "     $out"
    return $rc
}

check "server with --request-timeout 2 --max-per-address 4" \
    start_server cap --request-timeout 2 --max-per-address 4 --max-connections 64
# sends for 12 s, six times the deadline; the old 30 s idle timeout restarted with each line
check "a client trickling header lines is cut off at the deadline" run_clients trickle "$port" 12
check "the trickler was not cut before its deadline" \
    bash -c "python3 '$clients' trickle '$port' 12 | awk '{ exit !(\$3 >= 1.5) }'"
check "connection 5 from one address closed, the 4 before it and another address open" \
    run_clients cap "$port" 4
# idle for longer than --request-timeout (2 s) but within --timeout (30 s): the next request
# line starts a new head deadline
check "a kept-alive connection idles past --request-timeout" run_clients keepalive "$port" 3
check "still answering" bash -c "python3 -c '
import urllib.request
urllib.request.urlopen(\"http://127.0.0.1:$port/health\", timeout=5).read()'"
kill -TERM "$pid"

# 48 slow clients for 32 slots, 8 from each of 6 addresses (the cap); every ordinary request
# must be answered within 3 s, the slow clients' --request-timeout: the slots are not theirs
check "server with 32 slots" start_server flood --request-timeout 3 --max-per-address 8 \
    --max-connections 32
check "ordinary requests answered while 48 slow clients trickle from 6 addresses" \
    run_clients flood "$port" 48 6 20 3
check "/metrics counts the connections dropped" run_clients dropped "$port"
kill -TERM "$pid"
check "flood server exits 0" stopped "$pid"

# --- bad limits: one line, no server ---
expect_error "request-timeout 0" "--request-timeout must be at least 1" \
    "$semb" serve --model "$fixture" --port 0 --request-timeout 0
expect_error "min-body-rate not a rate" "--min-body-rate: 'fast' is not a rate" \
    "$semb" serve --model "$fixture" --port 0 --min-body-rate fast
expect_error "max-per-address negative" "--max-per-address must be at least 0" \
    "$semb" serve --model "$fixture" --port 0 --max-per-address -1
finish cli_serve_limits
