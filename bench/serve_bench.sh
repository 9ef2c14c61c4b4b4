#!/usr/bin/env bash
# Load test of `semb serve` (issue #7): wrk against POST /v1/embeddings on loopback, one
# sentence a request (STS-B test sentences, varied), with 1, 8 and 64 connections, each for a
# bounded time. Prints requests/s, p50/p99 latency, failed requests and the server's RSS
# before/after each run as a markdown table (also bench/out/serve/report.md); --soak runs 8
# connections for SECONDS and samples the RSS along the way (the issue's "no growth over 5
# minutes": --soak 300).
#
# usage: bench/serve_bench.sh [--duration S] [--connections "1 8 64"] [--soak SECONDS]
#                             [--threads N] [SHARED_DIR]   (default ../shared)
#   env SERVE_BENCH_DURATION: the default of --duration (20 s a run)
# The model is the random MiniLM-L6-shaped one of bench/run.sh (bench/out/minilm-l6-random,
# created with `semb init` when missing). wrk runs on the same machine as the server and takes
# some of its cores: compare runs of this script with each other, not with `semb encode`.
# Exit status 1 when any request failed (non-2xx or a socket error).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${SERVE_BENCH_DURATION:-20} connections="1 8 64" soak=0 threads=0 shared=../shared
while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --connections) connections=${2:?--connections needs a list}; shift ;;
    --soak) soak=${2:?--soak needs seconds}; shift ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "serve_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) shared=$1 ;;
    esac
    shift
done
for n in $duration $soak $threads $connections; do
    case $n in '' | *[!0-9]*) echo "serve_bench.sh: '$n' is not a whole number" >&2; exit 2 ;; esac
done
# wrk is not a build dependency: installed here when missing (Debian)
command -v wrk >/dev/null ||
    { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
command -v wrk >/dev/null || { echo "serve_bench.sh: wrk is needed (apt-get install wrk)" >&2; exit 2; }

out=bench/out/serve
model=bench/out/minilm-l6-random
mkdir -p "$out"
say() { echo "== $(date +%T) $*"; }

# --- setup: build, model, request bodies ---
if [ ! -x build/semb ]; then
    say "build (log: $out/build.log)"
    scripts/build.sh >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
fi
[ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
    --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
awk -F'\t' 'NR > 1 && NF >= 3 { print $2; print $3 }' "$shared/data/stsb/test.tsv" |
    /usr/bin/python3 -c 'import json, sys
for line in sys.stdin:
    print(json.dumps({"input": line.rstrip("\n"), "model": "minilm-l6-random"}))' >"$out/bodies.jsonl"
export SERVE_BENCH_BODIES=$out/bodies.jsonl

# --- the server ---
server_pid=""
trap '[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null; true' EXIT
build/semb serve --model "$model" --port 0 --threads "$threads" 2>"$out/server.log" &
server_pid=$!
url=""
for _ in $(seq 600); do
    url=$(sed -n 's/^semb serve: listening on \(http:.*\)$/\1/p' "$out/server.log")
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$url" ] || { echo "serve_bench.sh: the server did not start:" >&2; cat "$out/server.log" >&2; exit 1; }
say "server $url (pid $server_pid, log $out/server.log)"
check=$(curl -s -o "$out/check.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$(head -1 "$out/bodies.jsonl")" "$url/v1/embeddings")
if [ "$check" != 200 ]; then
    echo "== WARNING: POST /v1/embeddings answers $check, not 200: the numbers below measure" \
        "errors: $(head -c 200 "$out/check.json")" >&2
fi

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
failed=0

# wrk_to LOG CONNECTIONS SECONDS: one wrk run, its output in LOG
wrk_to() {
    local t=2
    [ "$2" -lt 2 ] && t=1
    wrk -t"$t" -c"$2" -d"${3}s" --timeout 60s --latency -s bench/serve_bench.lua "$url" >"$1" 2>&1
}
# results LOG: the RESULT fields of a wrk log as shell variables (requests, duration_us, ...)
results() {
    local line
    line=$(grep '^RESULT ' "$1") || { cat "$1" >&2; return 1; }
    eval "${line#RESULT }"
}
# run_wrk CONNECTIONS SECONDS: wrk_to and results, the log bench/out/serve/wrk_cN.log
run_wrk() {
    wrk_to "$out/wrk_c$1.log" "$1" "$2" && results "$out/wrk_c$1.log"
}

say "warm-up: 8 connections, 3 s"
run_wrk 8 3
report=$out/report.md
{
    echo "| connections | requests/s | p50 ms | p99 ms | failed | RSS before MiB | RSS after MiB |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
} >"$report"
for c in $connections; do
    say "$c connection(s), $duration s"
    before=$(rss_kib)
    run_wrk "$c" "$duration"
    after=$(rss_kib)
    bad=$((non2xx + socket_errors))
    failed=$((failed + bad))
    awk -v c="$c" -v r="$requests" -v d="$duration_us" -v p50="$p50_us" -v p99="$p99_us" \
        -v bad="$bad" -v b="$(mib "$before")" -v a="$(mib "$after")" \
        'BEGIN { printf "| %d | %.1f | %.2f | %.2f | %d | %s | %s |\n", c, r / (d / 1e6), p50 / 1000, p99 / 1000, bad, b, a }' \
        >>"$report"
done

if [ "$soak" -gt 0 ]; then
    step=$((soak / 10 > 5 ? soak / 10 : 5))
    say "soak: 8 connections, $soak s, RSS every $step s"
    wrk_to "$out/wrk_soak.log" 8 "$soak" &
    wrk_pid=$!
    samples=()
    while kill -0 "$wrk_pid" 2>/dev/null; do
        samples+=("$(rss_kib)")
        sleep "$step"
    done
    wait "$wrk_pid"
    results "$out/wrk_soak.log"
    samples+=("$(rss_kib)")
    {
        echo
        echo "Soak, 8 connections, $soak s: RSS (MiB) every $step s: $(for k in "${samples[@]}"; do printf '%s ' "$(mib "$k")"; done)"
        # growth from the first sample after warm-up (the second) to the last: a leak grows
        # with the requests served; a steady server settles within the first samples
        first=${samples[1]:-${samples[0]}} last=${samples[-1]}
        awk -v f="$first" -v l="$last" -v n="$requests" \
            'BEGIN { printf "RSS growth after warm-up: %+.1f MiB (%+.1f%%) over %d requests\n", (l - f) / 1024, 100 * (l - f) / f, n }'
    } >>"$report"
    failed=$((failed + non2xx + socket_errors))
fi

say "server stop (SIGTERM)"
kill -TERM "$server_pid"
wait "$server_pid" && server_pid="" || { echo "serve_bench.sh: the server exited $?" >&2; failed=$((failed + 1)); }
echo
cat "$report"
echo "(wrk and the server share this machine's $(nproc) cores; wrk logs in $out/wrk_*.log)"
[ "$failed" -eq 0 ] || { echo "serve_bench.sh: $failed requests failed" >&2; exit 1; }
