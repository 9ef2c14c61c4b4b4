#!/usr/bin/env bash
# Builds the libFuzzer target fuzz_request (clang, ASan + UBSan, in build-fuzz/) and runs it
# for a bounded time on a working copy of the seed corpus. Exits non-zero when it finds a
# crash, a sanitizer report, a leak or a broken answer; the input that did it is left in
# fuzz/out/crashes/ (replay: build-fuzz/fuzz_request FILE).
#
# usage: fuzz/run.sh [SECONDS]   (default 60)
#   env SEMB_SHARED_DIR (default ../shared) for the fixture model, SEMB_FUZZ_MODEL to fuzz
#   with another model.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac
shared=${SEMB_SHARED_DIR:-$(cd .. && pwd)/shared}
export SEMB_FUZZ_MODEL=${SEMB_FUZZ_MODEL:-$shared/fixtures/bert-tiny-mean}
[ -e "$SEMB_FUZZ_MODEL/config.json" ] || { echo "run.sh: no model at $SEMB_FUZZ_MODEL" >&2; exit 2; }
# clang (libFuzzer) is not a build dependency: installed here when missing (Debian)
command -v clang >/dev/null ||
    { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get install -y -qq --no-install-recommends clang libomp-dev >/dev/null; }
command -v clang >/dev/null || { echo "run.sh: clang is needed (apt-get install clang libomp-dev)" >&2; exit 2; }

echo "== build (build-fuzz/, log build-fuzz/build.log)"
mkdir -p build-fuzz
if ! { nice -n 19 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSEMB_FUZZ=ON \
        -DSEMB_SHARED_DIR="$shared" &&
       nice -n 19 cmake --build build-fuzz --target fuzz_request -j2; } >build-fuzz/build.log 2>&1; then
    tail -30 build-fuzz/build.log
    exit 1
fi

mkdir -p fuzz/out/corpus fuzz/out/crashes
cp -n fuzz/corpus/* fuzz/out/corpus/ 2>/dev/null || true
echo "== fuzz_request for ${seconds}s (corpus fuzz/out/corpus)"
# OMP threads: one; the encoder is not what is fuzzed, and a quiet machine keeps execs fast
OMP_NUM_THREADS=1 nice -n 19 build-fuzz/fuzz_request -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=4096 -max_len=16384 -dict=fuzz/request.dict \
    -artifact_prefix=fuzz/out/crashes/ -print_final_stats=1 \
    fuzz/out/corpus
