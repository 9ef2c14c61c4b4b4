#!/usr/bin/env bash
# End-to-end tests of `semb eval sts|retrieval|triplet|paraphrase-mining` (issues #4, #5): the
# JSON they print, the fixture model's numbers against numpy/scipy (STS) or a pure-Python
# transcription of sentence-transformers' evaluators (retrieval, triplet, paraphrase mining)
# run on the embeddings `semb encode` gives, the TF-IDF baseline against scikit-learn 1.2's
# TfidfVectorizer() on the same data, the BEIR layout against the pairs layout, prompts, thread
# invariance, and one-line errors naming FILE:LINE or the flag at fault.
# usage: cli_eval.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
stsb="$shared/data/stsb"
snli="$shared/data/pairs/snli_devtest_pairs.jsonl"
triplets="$shared/data/pairs/snli_devtest_triplets.jsonl"
mrpc="$shared/data/pairs/mrpc_train_paraphrases.jsonl"
stack="$shared/data/pairs/stackexchange_title_body.jsonl"
require_files "$fixture" "$stsb/dev.tsv" "$stsb/test.tsv" "$snli" "$triplets" "$mrpc" "$stack"
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
sts_json='^\{"spearman": -?[01]\.[0-9]{6}, "pearson": -?[01]\.[0-9]{6}, "n": [0-9]+(, "(spearman|pearson)_(cosine|dot|euclidean|manhattan)": -?[01]\.[0-9]{6}){0,8}, "similarity": "cosine", "(model|baseline)": "[^"]+"\}$'
f='[01]\.[0-9]{6}'
retrieval_json="^\\{\"mrr@10\": $f, \"ndcg@10\": $f, \"map@100\": $f, \"accuracy@1\": $f, \"accuracy@3\": $f, \"accuracy@5\": $f, \"accuracy@10\": $f, \"precision@1\": $f, \"precision@3\": $f, \"precision@5\": $f, \"precision@10\": $f, \"recall@1\": $f, \"recall@3\": $f, \"recall@5\": $f, \"recall@10\": $f, \"queries\": [0-9]+, \"documents\": [0-9]+, \"similarity\": \"cosine\", \"(model|baseline)\": \"[^\"]+\"\\}\$"

# --- STS with the fixture model ---
check "sts dev.tsv runs" run "$tmp/dev.json" "$semb" eval sts --model "$fixture" --data "$stsb/dev.tsv" --threads 2
check "sts prints one JSON object" bash -c "[ \$(wc -l <'$tmp/dev.json') -eq 1 ] && grep -qE '$sts_json' '$tmp/dev.json'"
check "sts counts 1500 pairs" [ "$(field "$tmp/dev.json" n)" = 1500 ]
# scipy.stats.spearmanr / pearsonr of the cosines of `semb encode` embeddings: .378774, .360927
check "sts test.tsv runs" run "$tmp/test.json" "$semb" eval sts --model "$fixture" --data "$stsb/test.tsv" --threads 2 --batch-size 7
check "sts test spearman as scipy" near "$tmp/test.json" spearman 0.378774 0.0001
check "sts test pearson as scipy" near "$tmp/test.json" pearson 0.360927 0.0001
check "sts one thread" run "$tmp/test1.json" "$semb" eval sts --model "$fixture" --data "$stsb/test.tsv" --threads 1
check "sts threads do not change it" near "$tmp/test1.json" spearman "$(field "$tmp/test.json" spearman)" 0.00001
# the model's similarity function scores the pairs: manhattan ranks the test pairs differently
cp -r "$fixture" "$tmp/manhattan" && chmod -R u+w "$tmp/manhattan"
printf '{"similarity_fn_name": "manhattan"}\n' >"$tmp/manhattan/config_sentence_transformers.json"
check "sts manhattan model runs" run "$tmp/man.json" "$semb" eval sts --model "$tmp/manhattan" --data "$stsb/test.tsv"
check "sts reports the model's similarity" grep -q '"similarity": "manhattan"' "$tmp/man.json"
check "sts reports every similarity function" [ "$(field "$tmp/test.json" spearman_cosine)" = "$(field "$tmp/test.json" spearman)" ]
check "sts headline is the model's function" [ "$(field "$tmp/man.json" spearman)" = "$(field "$tmp/man.json" spearman_manhattan)" ]
check "sts manhattan agrees across models" [ "$(field "$tmp/man.json" spearman_manhattan)" = "$(field "$tmp/test.json" spearman_manhattan)" ]
check "sts manhattan scores differ from cosine" bash -c "! grep -q '\"spearman\": $(field "$tmp/test.json" spearman),' '$tmp/man.json'"
check "sts --pretty" bash -c "'$semb' eval sts --model '$fixture' --data '$stsb/test.tsv' --pretty | grep -qE '^  spearman +0\.3788\$'"

# --- the TF-IDF baseline: scikit-learn's TfidfVectorizer() gives .693131 / .706628 ---
check "tfidf sts runs" run "$tmp/tfidf.json" "$semb" eval sts --baseline tfidf --data "$stsb/test.tsv"
check "tfidf sts JSON" grep -qE "$sts_json" "$tmp/tfidf.json"
check "tfidf spearman as scikit-learn" near "$tmp/tfidf.json" spearman 0.693131 0.000001
check "tfidf pearson as scikit-learn" near "$tmp/tfidf.json" pearson 0.706628 0.000001

# --- retrieval on the first 1500 SNLI pairs (1391 distinct anchors, 1480 distinct positives);
# the expected numbers are a Python reference (scikit-learn TF-IDF, numpy cosines of the
# `semb encode` embeddings, the documented tie order) ---
head -n 1500 "$snli" >"$tmp/pairs.jsonl"
check "retrieval tfidf runs" run "$tmp/r_tfidf.json" "$semb" eval retrieval --baseline tfidf --data "$tmp/pairs.jsonl" --threads 2
check "retrieval JSON" grep -qE "$retrieval_json" "$tmp/r_tfidf.json"
check "retrieval sizes" bash -c "[ '$(field "$tmp/r_tfidf.json" queries)/$(field "$tmp/r_tfidf.json" documents)' = 1391/1480 ]"
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
check "retrieval list sizes" bash -c "grep -q '\"queries\": 2, \"documents\": 2,' '$tmp/list.json'"

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
check "constant predictions give null" bash -c "[ $rc -eq 0 ] && grep -q '^{\"spearman\": null, \"pearson\": null, \"n\": 2, ' '$tmp/const.json' && grep -q 'undefined' '$tmp/const.err'"

# --- retrieval: every metric against a pure-Python transcription of sentence-transformers'
# InformationRetrievalEvaluator (ranking by the documented tie order) on the cosines of the
# `semb encode` embeddings of the first 300 SNLI pairs ---
head -n 300 "$snli" >"$tmp/p300.jsonl"
check "retrieval 300 pairs" run "$tmp/r300.json" "$semb" eval retrieval --model "$fixture" --data "$tmp/p300.jsonl" --threads 2
check "retrieval JSON keys" grep -qE "$retrieval_json" "$tmp/r300.json"
for kv in mrr@10=0.139237 ndcg@10=0.160548 map@100=0.146339 accuracy@1=0.093863 accuracy@3=0.155235 \
    accuracy@5=0.198556 accuracy@10=0.249097 precision@1=0.093863 precision@3=0.052948 \
    precision@5=0.042599 precision@10=0.026354 recall@1=0.088448 recall@3=0.146209 \
    recall@5=0.191336 recall@10=0.240072; do
    check "retrieval ${kv%%=*} as the Python reference" near "$tmp/r300.json" "${kv%%=*}" "${kv#*=}" 0.000002
done
check "retrieval in chunks of 7 documents" run "$tmp/r300c.json" "$semb" eval retrieval --model "$fixture" --data "$tmp/p300.jsonl" --chunk-size 7 --batch-size 5 --threads 1
check "chunks do not change it" bash -c "[ \"\$(cut -d, -f1-17 '$tmp/r300.json')\" = \"\$(cut -d, -f1-17 '$tmp/r300c.json')\" ]"
check "retrieval --pretty" bash -c "'$semb' eval retrieval --model '$fixture' --data '$tmp/p300.jsonl' --pretty | grep -qE '^  map@100 +0\.1463\$'"

# --- the BEIR layout, written from the StackExchange title/body pairs: one query and one
# document per line (every text distinct), so it must give what the pairs layout gives ---
head -n 150 "$stack" >"$tmp/se.jsonl"
sed -E 's/^\{"anchor": (".*"), "positive": (".*")\}$/\1/' "$tmp/se.jsonl" |
    awk '{ printf "{\"_id\": \"q%d\", \"text\": %s}\n", NR, $0 }' >"$tmp/queries.jsonl"
sed -E 's/^\{"anchor": (".*"), "positive": (".*")\}$/\2/' "$tmp/se.jsonl" |
    awk '{ printf "{\"_id\": \"d%d\", \"title\": \"\", \"text\": %s}\n", NR, $0 }' >"$tmp/corpus.jsonl"
awk 'BEGIN { print "query-id\tcorpus-id\tscore" } { printf "q%d\td%d\t1\n", NR, NR }' "$tmp/se.jsonl" >"$tmp/qrels.tsv"
check "BEIR files written" bash -c "[ \$(sort -u '$tmp/queries.jsonl' | wc -l) -eq 150 ] && head -1 '$tmp/corpus.jsonl' | grep -q '^{\"_id\": \"d1\", \"title\": \"\", \"text\": \"I was offered'"
check "retrieval BEIR" run "$tmp/beir.json" "$semb" eval retrieval --model "$fixture" --queries "$tmp/queries.jsonl" --corpus "$tmp/corpus.jsonl" --qrels "$tmp/qrels.tsv"
check "retrieval pairs" run "$tmp/se.json" "$semb" eval retrieval --model "$fixture" --data "$tmp/se.jsonl"
check "BEIR equals pairs" bash -c "[ \"\$(cut -d, -f1-17 '$tmp/beir.json')\" = \"\$(cut -d, -f1-17 '$tmp/se.json')\" ] && grep -q '\"queries\": 150, \"documents\": 150' '$tmp/beir.json'"
check "tfidf BEIR equals pairs" bash -c "[ \"\$('$semb' eval retrieval --baseline tfidf --queries '$tmp/queries.jsonl' --corpus '$tmp/corpus.jsonl' --qrels '$tmp/qrels.tsv' | cut -d, -f1-17)\" = \"\$('$semb' eval retrieval --baseline tfidf --data '$tmp/se.jsonl' | cut -d, -f1-17)\" ]"
# unknown ids and an unjudged query: warnings, not errors
{ cat "$tmp/qrels.tsv"; printf 'q1\tnope\t1\nq999\td1\t1\n'; } | grep -v $'^q150\t' >"$tmp/qrels2.tsv"
"$semb" eval retrieval --model "$fixture" --queries "$tmp/queries.jsonl" --corpus "$tmp/corpus.jsonl" --qrels "$tmp/qrels2.tsv" >"$tmp/beir2.json" 2>"$tmp/beir2.err"
check "unknown ids warned with file:line" bash -c "grep -q 'qrels2.tsv:151: unknown corpus id .nope.; line skipped' '$tmp/beir2.err' && grep -q 'qrels2.tsv:152: unknown query id .q999.' '$tmp/beir2.err' && grep -q '2 lines naming unknown ids skipped' '$tmp/beir2.err'"
check "unjudged query left out" bash -c "grep -q '1 of 150 queries have no relevant document' '$tmp/beir2.err' && grep -q '\"queries\": 149, \"documents\": 150' '$tmp/beir2.json'"

# --- prompts: a model whose "query" prompt is "query: " uses it unless told otherwise ---
cp -r "$fixture" "$tmp/prompted"
sed -i 's/"query": ""/"query": "query: "/' "$tmp/prompted/config_sentence_transformers.json"
check "prompt default" run "$tmp/pr_default.json" "$semb" eval retrieval --model "$tmp/prompted" --data "$tmp/se.jsonl"
check "prompt given" run "$tmp/pr_given.json" "$semb" eval retrieval --model "$fixture" --data "$tmp/se.jsonl" --query-prompt "query: "
check "prompt off" run "$tmp/pr_off.json" "$semb" eval retrieval --model "$tmp/prompted" --data "$tmp/se.jsonl" --query-prompt ""
check "the model's prompt is the given one" bash -c "[ \"\$(cut -d, -f1-17 '$tmp/pr_default.json')\" = \"\$(cut -d, -f1-17 '$tmp/pr_given.json')\" ]"
check "no prompt is the plain model" bash -c "[ \"\$(cut -d, -f1-17 '$tmp/pr_off.json')\" = \"\$(cut -d, -f1-17 '$tmp/se.json')\" ] && [ \"\$(cut -d, -f1-17 '$tmp/pr_off.json')\" != \"\$(cut -d, -f1-17 '$tmp/pr_given.json')\" ]"
# a query longer than the model's maximum: truncated, and said once
long=$(printf 'beer %.0s' $(seq 1 1200))
{ printf '{"anchor": "%s", "positive": "a long one"}\n' "$long"; cat "$tmp/se.jsonl"; } >"$tmp/long.jsonl"
"$semb" eval retrieval --model "$fixture" --data "$tmp/long.jsonl" >"$tmp/long.json" 2>"$tmp/long.err"
check "truncation is said" bash -c "grep -qE '^semb eval retrieval: warning: 1 of 151 queries are longer than [0-9]+ tokens and were truncated to [0-9]+ tokens \(the first: #1\)\$' '$tmp/long.err' && grep -q '\"queries\": 151' '$tmp/long.json'"

# --- triplets: the Python transcription of TripletEvaluator gives .575 under all four ---
head -n 400 "$triplets" >"$tmp/t400.jsonl"
check "triplet runs" run "$tmp/t.json" "$semb" eval triplet --model "$fixture" --data "$tmp/t400.jsonl" --chunk-size 64
check "triplet JSON" grep -qE '^\{"accuracy": 0\.575000, "accuracy_cosine": 0\.575000, "accuracy_dot": 0\.575000, "accuracy_euclidean": 0\.575000, "accuracy_manhattan": 0\.575000, "triplets": 400, "similarity": "cosine", "model": "[^"]+"\}$' "$tmp/t.json"
printf '["a", "b", "c"]\n{"anchor": "a", "positive": "b", "negative": ["c", "d"]}\n' >"$tmp/t_forms.jsonl"
check "triplet list and object lines" bash -c "'$semb' eval triplet --model '$fixture' --data '$tmp/t_forms.jsonl' | grep -q '\"triplets\": 2,'"

# --- paraphrase mining: ParaphraseMiningEvaluator and util.paraphrase_mining transcribed
# literally in Python give these on the first 300 MRPC pairs ---
head -n 300 "$mrpc" >"$tmp/m300.jsonl"
check "paraphrase mining runs" run "$tmp/m.json" "$semb" eval paraphrase-mining --model "$fixture" --data "$tmp/m300.jsonl"
for kv in average_precision=0.562159 f1=0.584416 precision=0.833333 recall=0.450000 threshold=0.989245 \
    sentences=598 duplicates=300 candidates=43891; do
    check "mining ${kv%%=*} as the Python reference" near "$tmp/m.json" "${kv%%=*}" "${kv#*=}" 0.000002
done
# the same pairs as sentences with ids and id pairs give the same numbers; distractors add
# sentences (python3's json module writes the two files)
python3 - "$tmp/m300.jsonl" "$tmp/m_sent.tsv" "$tmp/m_dup.tsv" "$tmp/m_sent_distract.tsv" <<'PY'
import json, sys
ids, order, pairs = {}, [], []
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    for t in (d["anchor"], d["positive"]):
        if t not in ids:
            ids[t] = "s%d" % len(ids)
            order.append(t)
    if ids[d["anchor"]] != ids[d["positive"]]:
        pairs.append((ids[d["anchor"]], ids[d["positive"]]))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for t in order:
        f.write("%s\t%s\n" % (ids[t], t))
with open(sys.argv[3], "w") as f:
    for a, b in pairs:
        f.write("%s\t%s\n" % (a, b))
with open(sys.argv[4], "w", encoding="utf-8") as f:
    for t in order:
        f.write("%s\t%s\n" % (ids[t], t))
    for i in range(50):
        f.write("x%d\tA distractor sentence number %d about nothing.\n" % (i, i))
PY
check "mining by ids runs" run "$tmp/mid.json" "$semb" eval paraphrase-mining --model "$fixture" --sentences "$tmp/m_sent.tsv" --duplicates "$tmp/m_dup.tsv"
check "mining by ids = by pairs (AP)" [ "$(field "$tmp/mid.json" average_precision)" = "$(field "$tmp/m.json" average_precision)" ]
check "mining by ids = by pairs (F1)" [ "$(field "$tmp/mid.json" f1)" = "$(field "$tmp/m.json" f1)" ]
check "mining with distractors runs" run "$tmp/mdis.json" "$semb" eval paraphrase-mining --model "$fixture" --sentences "$tmp/m_sent_distract.tsv" --duplicates "$tmp/m_dup.tsv"
check "distractors are mined too" [ "$(field "$tmp/mdis.json" sentences)" -eq $(( $(field "$tmp/mid.json" sentences) + 50 )) ]
expect_error --no-stdout "mining ids need both files" "both --sentences and --duplicates" "$semb" eval paraphrase-mining --model "$fixture" --sentences "$tmp/m_sent.tsv"
expect_error --no-stdout "mining ids or pairs" "both --sentences and --duplicates" "$semb" eval paraphrase-mining --model "$fixture" --data "$tmp/m300.jsonl" --sentences "$tmp/m_sent.tsv" --duplicates "$tmp/m_dup.tsv"
check "mining top-k 3 in chunks" run "$tmp/m3.json" "$semb" eval paraphrase-mining --model "$fixture" --data "$tmp/m300.jsonl" --top-k 3 --query-chunk-size 7 --corpus-chunk-size 50 --threads 1
check "mining top-k 3 AP" near "$tmp/m3.json" average_precision 0.600287 0.000002
check "mining top-k 3 candidates" near "$tmp/m3.json" candidates 1369 0
check "mining max-pairs" bash -c "'$semb' eval paraphrase-mining --model '$fixture' --data '$tmp/m300.jsonl' --max-pairs 10 | grep -q '\"candidates\": 10,'"
printf '["a b", "b c"]\n["b c", "c d"]\n["x", "x"]\n' >"$tmp/closure.jsonl"
"$semb" eval paraphrase-mining --model "$fixture" --data "$tmp/closure.jsonl" --add-transitive-closure >"$tmp/cl.json" 2>"$tmp/cl.err"
# four sentences ("x" stays, a distractor); a~b, b~c and the closure's a~c
check "transitive closure adds a~c" bash -c "grep -q '\"sentences\": 4, \"duplicates\": 3, \"candidates\": 6,' '$tmp/cl.json'"
check "identical pair left out with a warning" grep -q "1 pair of identical texts left out" "$tmp/cl.err"

# --- errors of the new kinds ---
printf '{"anchor": "a", "positive": "b", "negative": "c"}\n{"anchor": "a", "positive": "b"}\n' >"$tmp/t_bad.jsonl"
printf '["same", "same"]\n' >"$tmp/m_same.jsonl"
printf '{"_id": "d1", "text": "x"}\n{"text": "y"}\n' >"$tmp/c_bad.jsonl"
printf '{"_id": "d1", "text": "x"}\n{"_id": "d1", "text": "y"}\n' >"$tmp/c_dup.jsonl"
: >"$tmp/c_empty.jsonl"
expect_error --no-stdout "triplet without negative" "t_bad.jsonl:2: no negative text" "$semb" eval triplet --model "$fixture" --data "$tmp/t_bad.jsonl"
expect_error --no-stdout "triplet baseline refused" "unknown option '--baseline'" "$semb" eval triplet --baseline tfidf --data "$tmp/t400.jsonl"
expect_error --no-stdout "triplet no model" "--model is required" "$semb" eval triplet --data "$tmp/t400.jsonl"
expect_failure "mining no usable pair" "m_same.jsonl: no pair of two different texts" "$semb" eval paraphrase-mining --model "$fixture" --data "$tmp/m_same.jsonl"
expect_error --no-stdout "mining bad top-k" "--top-k, --max-pairs and the chunk sizes must be positive" "$semb" eval paraphrase-mining --model "$fixture" --data "$tmp/m300.jsonl" --top-k 0
expect_error --no-stdout "BEIR missing _id" "c_bad.jsonl:2: \"_id\" missing or not a string" "$semb" eval retrieval --model "$fixture" --queries "$tmp/queries.jsonl" --corpus "$tmp/c_bad.jsonl" --qrels "$tmp/qrels.tsv"
expect_error --no-stdout "BEIR duplicate id" "c_dup.jsonl:2: duplicate _id 'd1' \(first on line 1\)" "$semb" eval retrieval --baseline tfidf --queries "$tmp/queries.jsonl" --corpus "$tmp/c_dup.jsonl" --qrels "$tmp/qrels.tsv"
expect_error --no-stdout "BEIR empty corpus" "c_empty.jsonl: no documents" "$semb" eval retrieval --baseline tfidf --queries "$tmp/queries.jsonl" --corpus "$tmp/c_empty.jsonl" --qrels "$tmp/qrels.tsv"
expect_error --no-stdout "BEIR incomplete" "needs all of --queries, --corpus and --qrels" "$semb" eval retrieval --baseline tfidf --queries "$tmp/queries.jsonl"
expect_error --no-stdout "BEIR and pairs" "give either --data or --queries" "$semb" eval retrieval --baseline tfidf --data "$tmp/se.jsonl" --queries "$tmp/queries.jsonl" --corpus "$tmp/corpus.jsonl" --qrels "$tmp/qrels.tsv"
expect_error --no-stdout "retrieval without data" "give either --data or --queries" "$semb" eval retrieval --baseline tfidf
check "eval triplet --help" bash -c "'$semb' eval triplet --help | grep -q TripletEvaluator"
check "eval paraphrase-mining --help" bash -c "'$semb' eval paraphrase-mining --help | grep -q -- --add-transitive-closure"

finish cli_eval
