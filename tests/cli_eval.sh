#!/usr/bin/env bash
# End-to-end tests of `semb eval sts` and `semb eval retrieval` (issue #4): the JSON they print,
# the fixture model's numbers against numpy/scipy run on the embeddings `semb encode` gives,
# the TF-IDF baseline against scikit-learn 1.2's TfidfVectorizer() on the same data, thread
# invariance, and one-line errors naming FILE:LINE or the flag at fault.
# usage: cli_eval.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
stsb="$shared/data/stsb"
snli="$shared/data/pairs/snli_devtest_pairs.jsonl"
for need in "$fixture" "$stsb/dev.tsv" "$stsb/test.tsv" "$snli"; do
    if [ ! -e "$need" ]; then
        echo "SKIPPED cli_eval: $need not found; none of its tests ran"
        exit 77
    fi
done
make_tmp
# run OUT CMD...: runs CMD with stdout to OUT; stderr shown on failure
run() {
    local out=$1
    shift
    "$@" >"$out" 2>"$tmp/run.err" || { echo "     $(tail -3 "$tmp/run.err")"; return 1; }
}
# field FILE KEY: the number after "KEY": in a one-line JSON object
field() { sed -nE "s/.*\"$2\": (-?[0-9.]+|null).*/\1/p" "$1"; }
# near FILE KEY WANT TOL
near() {
    local got
    got=$(field "$1" "$2")
    awk -v g="$got" -v w="$3" -v t="$4" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }' ||
        { echo "     $2: got '$got', want $3 +- $4"; return 1; }
}
sts_json='^\{"spearman": -?[0-9]+\.[0-9]{4}, "pearson": -?[0-9]+\.[0-9]{4}, "n": [0-9]+\}$'
retrieval_json='^\{"mrr@10": [01]\.[0-9]{6}, "recall@1": [01]\.[0-9]{6}, "recall@10": [01]\.[0-9]{6}, "ndcg@10": [01]\.[0-9]{6}, "queries": [0-9]+, "corpus": [0-9]+\}$'

# --- STS with the fixture model ---
check "sts dev.tsv runs" run "$tmp/dev.json" "$semb" eval sts --model "$fixture" --data "$stsb/dev.tsv" --threads 2
check "sts prints one JSON object" bash -c "[ \$(wc -l <'$tmp/dev.json') -eq 1 ] && grep -qE '$sts_json' '$tmp/dev.json'"
check "sts counts 1500 pairs" [ "$(field "$tmp/dev.json" n)" = 1500 ]
# scipy.stats.spearmanr / pearsonr of the cosines of `semb encode` embeddings: 37.8774, 36.0927
check "sts test.tsv runs" run "$tmp/test.json" "$semb" eval sts --model "$fixture" --data "$stsb/test.tsv" --threads 2 --batch-size 7
check "sts test spearman as scipy" near "$tmp/test.json" spearman 37.8774 0.01
check "sts test pearson as scipy" near "$tmp/test.json" pearson 36.0927 0.01
check "sts one thread" run "$tmp/test1.json" "$semb" eval sts --model "$fixture" --data "$stsb/test.tsv" --threads 1
check "sts threads do not change it" near "$tmp/test1.json" spearman "$(field "$tmp/test.json" spearman)" 0.001

# --- the TF-IDF baseline: scikit-learn's TfidfVectorizer() gives 69.3131 / 70.6628 ---
check "tfidf sts runs" run "$tmp/tfidf.json" "$semb" eval sts --baseline tfidf --data "$stsb/test.tsv"
check "tfidf sts JSON" grep -qE "$sts_json" "$tmp/tfidf.json"
check "tfidf spearman as scikit-learn" near "$tmp/tfidf.json" spearman 69.3131 0.0001
check "tfidf pearson as scikit-learn" near "$tmp/tfidf.json" pearson 70.6628 0.0001

# --- retrieval on the first 1500 SNLI pairs (1391 distinct anchors, 1480 distinct positives);
# the expected numbers are a Python reference (scikit-learn TF-IDF, numpy cosines of the
# `semb encode` embeddings, the documented tie order) ---
head -n 1500 "$snli" >"$tmp/pairs.jsonl"
check "retrieval tfidf runs" run "$tmp/r_tfidf.json" "$semb" eval retrieval --baseline tfidf --data "$tmp/pairs.jsonl" --threads 2
check "retrieval JSON" grep -qE "$retrieval_json" "$tmp/r_tfidf.json"
check "retrieval sizes" bash -c "[ '$(field "$tmp/r_tfidf.json" queries)/$(field "$tmp/r_tfidf.json" corpus)' = 1391/1480 ]"
check "tfidf mrr@10" near "$tmp/r_tfidf.json" 'mrr@10' 0.545550 0.000002
check "tfidf recall@1" near "$tmp/r_tfidf.json" 'recall@1' 0.445363 0.000002
check "tfidf recall@10" near "$tmp/r_tfidf.json" 'recall@10' 0.684879 0.000002
check "tfidf ndcg@10" near "$tmp/r_tfidf.json" 'ndcg@10' 0.573567 0.000002
check "retrieval model runs" run "$tmp/r_model.json" "$semb" eval retrieval --model "$fixture" --data "$tmp/pairs.jsonl" --threads 2
check "model mrr@10" near "$tmp/r_model.json" 'mrr@10' 0.092760 0.001
check "model recall@1" near "$tmp/r_model.json" 'recall@1' 0.063144 0.001
check "model recall@10" near "$tmp/r_model.json" 'recall@10' 0.142224 0.001
check "model ndcg@10" near "$tmp/r_model.json" 'ndcg@10' 0.101980 0.001
printf '["q one", "d one"]\n{"anchor": "q two", "positive": "d two", "negative": "x"}\n' >"$tmp/list.jsonl"
check "retrieval list and object lines" run "$tmp/list.json" "$semb" eval retrieval --baseline tfidf --data "$tmp/list.jsonl"
check "retrieval list sizes" bash -c "grep -q '\"queries\": 2, \"corpus\": 2}' '$tmp/list.json'"

# --- help and errors ---
check "eval --help" run "$tmp/help" "$semb" eval --help
check "eval sts --help" bash -c "'$semb' eval sts --help | grep -q -- --baseline"
printf 'score\tsentence1\tsentence2\n1.0\tA\tB\nhigh\tA\tB\n' >"$tmp/word.tsv"
printf 'score\tsentence1\tsentence2\n1.0\tA\tB\n2.0\tA only\n' >"$tmp/short.tsv"
printf 'sentence1\tsentence2\n' >"$tmp/header.tsv"
: >"$tmp/empty.tsv"
printf 'score\tsentence1\tsentence2\n1\tsame\tsame\n2\tsame\tsame\n' >"$tmp/constant.tsv"
printf '{"anchor": "a", "positive": "b"}\n{"anchor": "a"\n' >"$tmp/bad.jsonl"
expect_error --no-stdout "non-numeric score" "word.tsv:3: score 'high' is not a number" "$semb" eval sts --baseline tfidf --data "$tmp/word.tsv"
expect_error --no-stdout "missing column" "short.tsv:3: expected 3 tab-separated fields" "$semb" eval sts --model "$fixture" --data "$tmp/short.tsv"
expect_error --no-stdout "header without score" "header.tsv:1: the header has no 'score' column" "$semb" eval sts --baseline tfidf --data "$tmp/header.tsv"
expect_error --no-stdout "empty file" "empty.tsv: empty file" "$semb" eval sts --baseline tfidf --data "$tmp/empty.tsv"
expect_error --no-stdout "missing file" "absent.tsv: cannot open" "$semb" eval sts --baseline tfidf --data "$tmp/absent.tsv"
expect_error --no-stdout "bad pairs line" "bad.jsonl:2: not JSON" "$semb" eval retrieval --baseline tfidf --data "$tmp/bad.jsonl"
expect_error --no-stdout "no --data" "--data is required" "$semb" eval sts --model "$fixture"
expect_error --no-stdout "no model" "--model \(or --baseline tfidf\) is required" "$semb" eval sts --data "$stsb/dev.tsv"
expect_error --no-stdout "model and baseline" "drop --model" "$semb" eval retrieval --model "$fixture" --baseline tfidf --data "$tmp/list.jsonl"
expect_error --no-stdout "unknown baseline" "'bm25' is not tfidf" "$semb" eval sts --baseline bm25 --data "$stsb/dev.tsv"
expect_error --no-stdout "unknown task" "unknown task 'clustering'" "$semb" eval clustering
expect_error --no-stdout "missing model folder" "no-such-model" "$semb" eval sts --model "$tmp/no-such-model" --data "$stsb/dev.tsv"
# a constant column has no correlation: null (valid JSON) and a warning, exit 0
"$semb" eval sts --model "$fixture" --data "$tmp/constant.tsv" >"$tmp/const.json" 2>"$tmp/const.err"
rc=$?
check "constant predictions give null" bash -c "[ $rc -eq 0 ] && grep -qx '{\"spearman\": null, \"pearson\": null, \"n\": 2}' '$tmp/const.json' && grep -q 'undefined' '$tmp/const.err'"

finish cli_eval
