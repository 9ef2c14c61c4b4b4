#!/usr/bin/env bash
# End-to-end test of the web demo (issue #7) in a real browser: starts `semb serve` with the
# bert-tiny-mean fixture and a 200-document index built here, then tests/browser/check_demo.py
# drives headless chromium through chromium-driver (W3C WebDriver, Python standard library
# only): GET / is web/index.html byte for byte, each tab is filled and run, its result is the
# API's answer (one bar per sentence, answers ranked as /rank, hits as /search, groups as
# /cluster, one bias row per occupation), an API error is shown; then the page of a server
# started with --api-key (401 shown, then the typed key used) and of one without an index (the
# Search tab says so); each server must stop on SIGTERM. A screenshot of each tab is kept in
# cli_browser_output/ under the folder CTest runs in (or $SEMB_TEST_OUTPUT); their paths are
# printed. Skipped (77) without ../shared, without `semb serve` in the build, or without
# chromium and chromium-driver.
# usage: cli_browser.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
pairs="$shared/data/pairs/stackexchange_title_body.jsonl"
require_files "$fixture/model.safetensors" "$pairs"
"$semb" serve --help >/dev/null 2>&1 || skip "this build has no 'semb serve'"
chromium=$(command -v chromium || true)
chromedriver=$(command -v chromedriver || true)
if [ -z "$chromium" ] || [ -z "$chromedriver" ]; then
    skip "chromium and chromium-driver are not installed (scripts/install-deps.sh installs them)"
fi
command -v python3 >/dev/null || skip "python3 not found"
make_tmp
out="${SEMB_TEST_OUTPUT:-$PWD}/cli_browser_output"
rm -rf "$out" && mkdir -p "$out"

servers=()
# stop_servers: SIGTERM to every server started here; one still running 30 s later is killed
# and reported (a graceful shutdown must not hang)
stop_servers() {
    local pid ok=0
    for pid in "${servers[@]}"; do
        kill "$pid" 2>/dev/null
        for _ in $(seq 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "     semb serve (pid $pid) still running 30 s after SIGTERM; killed"
            kill -9 "$pid" 2>/dev/null
            ok=1
        fi
        wait "$pid" 2>/dev/null
    done
    servers=()
    return $ok
}
trap 'stop_servers; chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# serve NAME ARGS...: starts `semb serve --port 0 ARGS...` with stderr in $tmp/NAME.err and
# sets $url from its "listening on" line (waiting up to 60 s for the model to load)
serve() {
    local name=$1
    shift
    "$semb" serve --model "$fixture" --port 0 --threads 2 "$@" 2>"$tmp/$name.err" >/dev/null &
    local pid=$!
    servers+=("$pid")
    url=""
    for _ in $(seq 600); do
        url=$(sed -nE 's|^semb serve: listening on (http://[^ ]+).*|\1|p' "$tmp/$name.err" | head -1)
        [ -n "$url" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "     semb serve $name did not start: $(tail -3 "$tmp/$name.err")"
    return 1
}
# demo NAME ARGS...: the browser checks against $url; their output in $tmp/NAME.log
demo() {
    local name=$1
    shift
    PYTHONDONTWRITEBYTECODE=1 python3 "$here/browser/check_demo.py" --url "$url" --out "$out" --chromium "$chromium" \
        --chromedriver "$chromedriver" "$@" >"$tmp/$name.log" 2>&1
    local rc=$?
    sed 's/^/     /' "$tmp/$name.log"
    return $rc
}

# a 200-document index of StackExchange titles (JSON-decoded by sed: these hold no escapes
# but \" and \/)
head -n 200 "$pairs" | sed -E 's/^\{"anchor": "(([^"\\]|\\.)*)", .*/\1/; s/\\"/"/g; s/\\\//\//g' >"$tmp/titles.txt"
check "index build" bash -c "'$semb' index build --model '$fixture' --corpus '$tmp/titles.txt' --output '$tmp/titles.idx' --threads 2 >'$tmp/build.out' 2>&1"

if check "serve with an index" serve full --index "$tmp/titles.idx"; then
    check "every tab in the browser" demo full --page "$here/../web/index.html"
fi
check "server with an index stops on SIGTERM" stop_servers

if check "serve with --api-key" serve key --api-key "browser-test-key"; then
    check "api key in the browser" demo key --api-key "browser-test-key" --prefix key-
fi
check "server with --api-key stops on SIGTERM" stop_servers

if check "serve without an index" serve bare; then
    check "search tab without an index" demo bare --no-index
fi
check "server without an index stops on SIGTERM" stop_servers

echo "screenshots in $out:"
for png in "$out"/*.png; do
    [ -e "$png" ] && echo "     $png"
done
finish cli_browser
