#!/usr/bin/env bash
# End-to-end tests of `semb cluster` (k-means and community detection; text and JSONL output)
# and `semb eval cluster` (V-measure of k-means against labels) with the tiny fixture model:
# every text printed exactly once, seeds and thread counts that do not change the result,
# labels recovered when the texts of a label are identical, and one-line errors naming the
# flag or FILE:LINE at fault.
# usage: cli_cluster.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
snli="$shared/data/pairs/snli_devtest_pairs.jsonl"
require_files "$fixture" "$snli"
make_tmp
run() {
    local out=$1
    shift
    "$@" >"$out" 2>"$tmp/run.err" || { echo "     $(tail -3 "$tmp/run.err")"; return 1; }
}
field() { sed -nE "s/.*\"$2\": (-?[0-9.]+|null).*/\1/p" "$1"; }

# 60 distinct sentences, one per line
sed -nE 's/^\{"anchor": "([^"\\]*)".*/\1/p' "$snli" | awk '!seen[$0]++' | head -n 60 >"$tmp/in.txt"
check "60 input sentences" [ "$(wc -l <"$tmp/in.txt")" -eq 60 ]
# text TEXT-OUTPUT: the texts listed under the cluster headers, sorted
listed() { grep -E '^  ' "$1" | sed 's/^  //' | sort; }

# --- k-means ---
check "kmeans runs" run "$tmp/k.txt" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 5 --threads 2
check "five cluster headers" [ "$(grep -cE '^Cluster [1-5] \([0-9]+ texts?\):$' "$tmp/k.txt")" -eq 5 ]
check "every text once" bash -c "diff <(sort '$tmp/in.txt') <(grep -E '^  ' '$tmp/k.txt' | sed 's/^  //' | sort)"
check "sizes add up to 60" [ "$(sed -nE 's/^Cluster [0-9]+ \(([0-9]+) texts?\):$/\1/p' "$tmp/k.txt" | awk '{ s += $1 } END { print s }')" -eq 60 ]
check "largest cluster first" bash -c "sed -nE 's/^Cluster [0-9]+ \(([0-9]+) texts?\):$/\1/p' '$tmp/k.txt' | sort -rn -c"
check "same seed, same clusters" bash -c "'$semb' cluster --model '$fixture' --input '$tmp/in.txt' --k 5 --threads 1 | cmp -s - '$tmp/k.txt'"
check "stdin input" bash -c "'$semb' cluster --model '$fixture' --k 5 --threads 2 <'$tmp/in.txt' | cmp -s - '$tmp/k.txt'"
check "n-init runs" run "$tmp/k3.txt" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 5 --n-init 3 --seed 7
check "kmeans jsonl" run "$tmp/k.jsonl" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 5 --format jsonl
check "jsonl: one object per cluster" [ "$(grep -cE '^\{"cluster": ?[1-5], ?"size": ?[0-9]+, ?"members": ?\[\{"index": ?[0-9]+, ?"text": ?".*\}\], ?"centroid_nearest": ?\{"index": ?[0-9]+, ?"text": ?"[^"]*"\}\}$' "$tmp/k.jsonl")" -eq 5 ]
check "jsonl: indices 0..59 once each" bash -c "grep -oE '\"members\": ?\[.*\]' '$tmp/k.jsonl' | grep -oE '\"index\": ?[0-9]+' | grep -oE '[0-9]+' | sort -n | diff - <(seq 0 59)"
check "jsonl: same clustering as text" bash -c "diff <(sed -nE 's/^\{\"cluster\": ?[0-9]+, ?\"size\": ?([0-9]+).*/\1/p' '$tmp/k.jsonl') <(sed -nE 's/^Cluster [0-9]+ \(([0-9]+) texts?\):$/\1/p' '$tmp/k.txt')"
check "jsonl: centroid_nearest is the first member" bash -c "awk '{ m = \$0; sub(/.*\"members\": ?\\[\\{/, \"\", m); sub(/\\}.*/, \"\", m); c = \$0; sub(/.*\"centroid_nearest\": ?\\{/, \"\", c); sub(/\\}.*/, \"\", c); if (m != c) bad = 1 } END { exit bad }' '$tmp/k.jsonl'"
check "k == n" run "$tmp/kn.txt" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 60
check "k == n: sixty singletons" [ "$(grep -c '^Cluster [0-9]* (1 text):$' "$tmp/kn.txt")" -eq 60 ]
check "k == 1" bash -c "'$semb' cluster --model '$fixture' --input '$tmp/in.txt' --k 1 | head -1 | grep -qx 'Cluster 1 (60 texts):'"

# --- community detection ---
check "communities run" run "$tmp/c.txt" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --threshold 0.97 --min-size 3
check "communities: listed + unclustered = 60" bash -c "n=\$(grep -cE '^  ' '$tmp/c.txt'); u=\$(sed -nE 's/^Unclustered: ([0-9]+) texts? .*/\1/p' '$tmp/c.txt'); [ \$((n + u)) -eq 60 ]"
check "communities: no text twice" bash -c "[ -z \"\$(grep -E '^  ' '$tmp/c.txt' | sort | uniq -d)\" ]"
check "communities jsonl" run "$tmp/c.jsonl" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --threshold 0.97 --min-size 3 --format jsonl --threads 1
check "communities jsonl ends with the unclustered count" bash -c "tail -1 '$tmp/c.jsonl' | grep -qE '^\{\"unclustered\": ?[0-9]+\}$'"
check "communities: sizes >= 3" bash -c "! sed -nE 's/.*\"size\": ?([0-9]+).*/\1/p' '$tmp/c.jsonl' | awk '\$1 < 3' | grep -q ."
# threshold -1: every text in one community; 1 with min size 2: none (distinct texts)
check "threshold -1: one community" bash -c "'$semb' cluster --model '$fixture' --input '$tmp/in.txt' --threshold -1 --min-size 1 | head -1 | grep -qx 'Cluster 1 (60 texts):'"
check "threshold 1: all unclustered" bash -c "'$semb' cluster --model '$fixture' --input '$tmp/in.txt' --threshold 1 --min-size 2 | grep -qx 'Unclustered: 60 texts (in no community of at least 2)'"
# identical texts: three groups of five copies form three communities of 5
for w in "apples and pears" "a red bus drives by" "zebra stripes at night"; do for i in 1 2 3 4 5; do echo "$w"; done; done >"$tmp/dup.txt"
check "duplicates: three communities of five" bash -c "[ \$('$semb' cluster --model '$fixture' --input '$tmp/dup.txt' --threshold 0.999 --min-size 5 | grep -c '^Cluster [1-3] (5 texts):\$') -eq 3 ]"
check "duplicates: k-means recovers them" bash -c "[ \$('$semb' cluster --model '$fixture' --input '$tmp/dup.txt' --k 3 | grep -c '^Cluster [1-3] (5 texts):\$') -eq 3 ]"

# --- semb eval cluster ---
if ! "$semb" eval cluster --help >/dev/null 2>&1; then
    echo "FAIL eval cluster is not dispatched: src/cli/cmd_eval.c needs the line calling cmd_eval_cluster"
    failed=$((failed + 1))
else
    : >"$tmp/lab.jsonl"
    for w in "apples and pears" "a red bus drives by" "zebra stripes at night"; do
        for i in 1 2 3 4; do printf '{"text": "%s", "label": "%s"}\n' "$w" "${w%% *}" >>"$tmp/lab.jsonl"; done
    done
    check "eval cluster runs" run "$tmp/e.json" "$semb" eval cluster --model "$fixture" --data "$tmp/lab.jsonl"
    check "eval cluster JSON" grep -qE '^\{"v_measure": [01]\.[0-9]{6}, "homogeneity": [01]\.[0-9]{6}, "completeness": [01]\.[0-9]{6}, "adjusted_rand": -?[01]\.[0-9]{6}, "clusters": 3, "texts": 12, "labels": 3, .*"model": ".*", "similarity": "cosine"\}$' "$tmp/e.json"
    check "identical texts per label: V = 1" [ "$(field "$tmp/e.json" v_measure)" = 1.000000 ]
    check "eval cluster --k 6: homogeneity 1" bash -c "'$semb' eval cluster --model '$fixture' --data '$tmp/lab.jsonl' --k 6 | grep -q '\"homogeneity\": 1.000000, .*\"clusters\": 6'"
    check "eval cluster --pretty" bash -c "'$semb' eval cluster --model '$fixture' --data '$tmp/lab.jsonl' --pretty | grep -qE '^  V-measure +1\.0000$'"
    # integer labels, on real sentences
    awk '{ printf "{\"text\": \"%s\", \"label\": %d}\n", $0, NR % 4 }' "$tmp/in.txt" >"$tmp/int.jsonl"
    check "integer labels" run "$tmp/i.json" "$semb" eval cluster --model "$fixture" --data "$tmp/int.jsonl" --seed 3 --n-init 2 --threads 2
    check "integer labels: 4 labels, 4 clusters, 60 texts" grep -q '"clusters": 4, "texts": 60, "labels": 4' "$tmp/i.json"
    check "eval cluster threads do not change it" bash -c "'$semb' eval cluster --model '$fixture' --data '$tmp/int.jsonl' --seed 3 --n-init 2 --threads 1 | cmp -s - '$tmp/i.json'"
    printf '{"text": "a", "label": 1}\n{"text": "b"}\n' >"$tmp/nolabel.jsonl"
    printf '{"text": "a", "label": 1}\n\n{"text": "b", "label": 1\n' >"$tmp/badjson.jsonl"
    expect_error --no-stdout "eval: label missing" 'nolabel.jsonl:2: "label" is missing' "$semb" eval cluster --model "$fixture" --data "$tmp/nolabel.jsonl"
    expect_error --no-stdout "eval: invalid JSON line" 'badjson.jsonl:3: not JSON' "$semb" eval cluster --model "$fixture" --data "$tmp/badjson.jsonl"
    expect_error --no-stdout "eval: k > n" 'k = 13 is larger than the number of points \(12\)' "$semb" eval cluster --model "$fixture" --data "$tmp/lab.jsonl" --k 13
    expect_error --no-stdout "eval: no --data" '--model and --data are required' "$semb" eval cluster --model "$fixture"
    expect_error --no-stdout "eval: missing file" 'absent.jsonl: cannot open' "$semb" eval cluster --model "$fixture" --data "$tmp/absent.jsonl"
fi

# --- errors ---
: >"$tmp/empty.txt"
expect_error --no-stdout "empty input" 'empty.txt: no input sentences' "$semb" cluster --model "$fixture" --input "$tmp/empty.txt" --k 2
expect_error --no-stdout "k > n" 'k = 61 is larger than the number of points \(60\)' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 61
expect_error --no-stdout "k = 0" '--k 0: must be at least 1' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 0
expect_error --no-stdout "k < 0" '--k -2: must be at least 1' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k -2
expect_error --no-stdout "threshold above 1" '--threshold 1.5: must be within \[-1, 1\]' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --threshold 1.5
expect_error --no-stdout "threshold below -1" '--threshold -2: must be within' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --threshold -2 --min-size 2
expect_error --no-stdout "min size 0" '--min-size 0: must be at least 1' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --min-size 0
expect_error --no-stdout "both modes" 'give either --k N' "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 3 --threshold 0.5
expect_error --no-stdout "no mode" 'give either --k N' "$semb" cluster --model "$fixture" --input "$tmp/in.txt"
expect_error --no-stdout "no model" '--model is required' "$semb" cluster --input "$tmp/in.txt" --k 2
expect_error --no-stdout "bad format" "--format: 'csv' is not one of text, jsonl" "$semb" cluster --model "$fixture" --input "$tmp/in.txt" --k 2 --format csv
printf '"ok"\n\n42\n' >"$tmp/bad.jsonl"
expect_error --no-stdout "jsonl input: not a string" 'bad.jsonl: line 3: expected a JSON string' "$semb" cluster --model "$fixture" --input "$tmp/bad.jsonl" --input-format jsonl --k 1
# a text past the model's max sequence length is clustered, with one warning
{ head -n 3 "$tmp/in.txt"; printf 'word %.0s' $(seq 1 400); echo; } >"$tmp/long.txt"
"$semb" cluster --model "$fixture" --input "$tmp/long.txt" --k 2 >"$tmp/long.out" 2>"$tmp/long.err"
rc=$?
check "long text: warned once, clustered" bash -c "[ $rc -eq 0 ] && [ \$(wc -l <'$tmp/long.err') -eq 1 ] && grep -q 'truncated to [0-9]* tokens (the first at .*long.txt:4)' '$tmp/long.err' && [ \$(grep -c '^  ' '$tmp/long.out') -eq 4 ]"

finish cli_cluster
