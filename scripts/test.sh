#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite with CTest. Tests that need ../shared
# report themselves as skipped when it is absent. SEMB_SANITIZE=1 uses an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ "${SEMB_SANITIZE:-0}" = 1 ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEMB_SANITIZE=ON >/dev/null
    cmake --build build-asan -j"$(nproc)"
    cd build-asan
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
    scripts/build.sh
    cd build
fi
ctest --output-on-failure "$@"
