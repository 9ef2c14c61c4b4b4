# Shared helpers of the end-to-end CLI tests tests/cli_*.sh (this file's name does not match
# that glob, so CMake does not run it as a test). Each script sources it with
#     . "$(dirname "$0")/lib_cli.sh"
# then calls skip / require_files for what it needs, make_tmp after those checks, counts results with check / expect_error /
# expect_failure, and ends with `finish NAME`.
# shellcheck shell=bash

passed=0
failed=0

# skip REASON: the loud SKIPPED line naming this script, then exit 77 (CTest counts the
# test as skipped, not passed)
skip() {
    echo "SKIPPED $(basename "$0" .sh): $1; none of its tests ran"
    exit 77
}

# require_files PATH...: skip unless every PATH exists (fixtures and data under ../shared)
require_files() {
    local need
    for need in "$@"; do
        [ -e "$need" ] || skip "$need not found"
    done
}

# make_tmp: a fresh temporary folder in $tmp, removed on exit (made writable first, so that
# read-only files and folders a test leaves inside do not stop the removal)
make_tmp() {
    tmp=$(mktemp -d)
    trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
}

# check NAME CMD...: CMD must succeed
check() {
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# expect_error [--no-stdout] NAME PATTERN CMD...: CMD exits 1 or 2 (not a signal, not a
# sanitizer report) with exactly one stderr line, matching the extended regex PATTERN;
# with --no-stdout, nothing on stdout either. CMD's output is left in $tmp/out and $tmp/err.
expect_error() {
    local no_stdout=0
    if [ "$1" = --no-stdout ]; then
        no_stdout=1
        shift
    fi
    local name=$1 pattern=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ge 1 ] && [ $rc -le 2 ] && { [ $no_stdout -eq 0 ] || [ ! -s "$tmp/out" ]; } &&
        [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE -- "$pattern" "$tmp/err"; then
        passed=$((passed + 1)); echo "ok   $name: $(cat "$tmp/err")"
    else
        failed=$((failed + 1)); echo "FAIL $name (rc $rc): $(cat "$tmp/err")"
    fi
}

# expect_failure NAME PATTERN CMD...: the looser form: CMD exits non-zero and its stderr
# (any number of lines) matches the extended regex PATTERN; the first stderr line is shown.
# CMD's output is left in $tmp/out and $tmp/err.
expect_failure() {
    local name=$1 pattern=$2
    shift 2
    if ! "$@" >"$tmp/out" 2>"$tmp/err" && grep -qE -- "$pattern" "$tmp/err"; then
        passed=$((passed + 1)); echo "ok   $name: $(head -1 "$tmp/err")"
    else
        failed=$((failed + 1)); echo "FAIL $name: $(head -1 "$tmp/err")"
    fi
}

# same_numbers A B: two JSONL embedding files agree to float rounding (|a - b| <= 1e-6)
same_numbers() {
    paste -d' ' <(tr -d '[]' <"$1" | tr ',' '\n') <(tr -d '[]' <"$2" | tr ',' '\n') |
        awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 || NF != 2) bad = 1; n++ } END { exit (bad || n == 0) }'
}

# finish NAME: the summary line; exits 0 when nothing failed, 1 otherwise
finish() {
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
