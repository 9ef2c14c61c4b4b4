#!/usr/bin/env bash
# End-to-end tests of `semb similarity`: the matrix of a few texts (under the model's
# similarity function) and, with --input, the top pairs of a file found by paraphrase mining,
# checked against the full matrix of the same sentences; text and jsonl output; errors.
# usage: cli_similarity.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
stsb="$shared/data/stsb/test.tsv"
require_files "$fixture" "$stsb"
make_tmp

check "matrix" bash -c "'$semb' similarity --model '$fixture' 'A man plays guitar.' 'Someone plays an instrument.' | grep -q '^Cosine similarity'"

# 40 sentences of STS-B (some repeated, so some pairs score 1 and tie)
sed -n '2,21p' "$stsb" | cut -f2,3 | tr '\t' '\n' >"$tmp/s.txt"
check "top pairs" bash -c "'$semb' similarity --model '$fixture' --input '$tmp/s.txt' --top 15 >'$tmp/top.txt'"
check "15 lines of 5 fields" bash -c "[ \$(wc -l <'$tmp/top.txt') -eq 15 ] && awk -F'\t' 'NF != 5 { bad = 1 } END { exit bad }' '$tmp/top.txt'"
# the same pairs by brute force: every pair's cosine from `semb encode`, best first (ties by
# line numbers), the 15 best printed to 4 decimals, must be the mined list
"$semb" encode --model "$fixture" --input "$tmp/s.txt" --format jsonl >"$tmp/e.jsonl"
tr -d '[]' <"$tmp/e.jsonl" | awk -F, '
    { for (k = 1; k <= NF; k++) v[NR, k] = $k; d = NF; n = NR }
    END {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
            s = 0; for (k = 1; k <= d; k++) s += v[i, k] * v[j, k]
            printf "%.12f\t%d\t%d\n", s, i, j
        }
    }' | sort -t$'\t' -k1,1gr -k2,2n -k3,3n | head -15 |
    awk -F'\t' '{ printf "%.4f\t%d\t%d\n", $1, $2, $3 }' >"$tmp/brute.txt"
check "top pairs are the brute-force best" bash -c "diff <(cut -f1-3 '$tmp/top.txt') '$tmp/brute.txt'"
check "texts are the lines named" bash -c "line=\$(head -1 '$tmp/top.txt'); i=\$(echo \"\$line\" | cut -f2); [ \"\$(echo \"\$line\" | cut -f4)\" = \"\$(sed -n \${i}p '$tmp/s.txt')\" ]"
check "jsonl" bash -c "'$semb' similarity --model '$fixture' --input '$tmp/s.txt' --top 3 --format jsonl | head -1 | grep -qE '^\{\"rank\": 1, \"score\": [0-9.]+, \"line_i\": [0-9]+, \"line_j\": [0-9]+, \"text_i\": \".*\", \"text_j\": \".*\"\}\$'"
check "default top 20" bash -c "[ \$('$semb' similarity --model '$fixture' --input '$tmp/s.txt' | wc -l) -eq 20 ]"
check "more than there are pairs" bash -c "printf 'a\nb\nc\n' | '$semb' similarity --model '$fixture' --input - --top 50 | wc -l | grep -qx 3"
printf 'only one\n' >"$tmp/one.txt"
"$semb" similarity --model "$fixture" --input "$tmp/one.txt" >"$tmp/one.out" 2>"$tmp/one.err"
check "one sentence: no pairs, a warning" bash -c "[ $? -eq 0 ] && [ ! -s '$tmp/one.out' ] && grep -q 'no pairs' '$tmp/one.err'"
long=$(printf 'guitar %.0s' $(seq 1 1200))
printf 'short\n%s\n' "$long" >"$tmp/long.txt"
check "truncation is said" bash -c "'$semb' similarity --model '$fixture' --input '$tmp/long.txt' 2>&1 >/dev/null | grep -q 'truncated to [0-9]* tokens (the first on line 2)'"

expect_error --no-stdout "bad format" "--format: 'xml' is not text or jsonl" "$semb" similarity --model "$fixture" --input "$tmp/s.txt" --format xml
expect_error --no-stdout "bad top" "--top must be positive" "$semb" similarity --model "$fixture" --input "$tmp/s.txt" --top 0
expect_error --no-stdout "input and texts" "either --input FILE or at least two texts" "$semb" similarity --model "$fixture" --input "$tmp/s.txt" "a" "b"
expect_error --no-stdout "one text" "either --input FILE or at least two texts" "$semb" similarity --model "$fixture" "a"
expect_error --no-stdout "missing input" "absent.txt" "$semb" similarity --model "$fixture" --input "$tmp/absent.txt"
expect_error --no-stdout "bad input format" "--input-format: 'xml'" "$semb" similarity --model "$fixture" --input "$tmp/s.txt" --input-format xml

finish cli_similarity
