#!/usr/bin/env bash
# End-to-end tests of `semb rank`: text and jsonl output best first with ties in file order,
# the model's query/document prompts applied by default (scores equal to dot products of the
# `semb encode` embeddings of the prompted texts), explicit prompts and prompt names, several
# queries, -k, truncation warnings, and one-line errors.
# usage: cli_rank.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture/model.safetensors"
make_tmp
# run OUT CMD...: runs CMD with stdout to OUT and stderr to OUT.err; stderr shown on failure
run() {
    local out=$1
    shift
    "$@" >"$out" 2>"$out.err" || { echo "     $(tail -3 "$out.err")"; return 1; }
}
# a copy of the fixture with prompts (query, document) and a short max sequence length
model="$tmp/model"
mkdir "$model"
(cd "$fixture" && cp -r 1_Pooling 2_Normalize config.json modules.json model.safetensors \
    tokenizer.json tokenizer_config.json "$model/") && chmod -R u+w "$model"
printf '{"prompts": {"query": "query: ", "document": "passage: "}, "similarity_fn_name": "cosine"}\n' \
    >"$model/config_sentence_transformers.json"
printf '{"max_seq_length": 12, "do_lower_case": false}\n' >"$model/sentence_bert_config.json"

printf '%s\n' "Paris is the capital of France." "The cat sat on the mat." \
    "France's capital city is Paris." "The cat sat on the mat." "Stocks fell." >"$tmp/cands.txt"
query="What is the capital of France?"

# --- text and jsonl output ---
check "rank runs" run "$tmp/text" "$semb" rank --model "$model" --query "$query" --candidates "$tmp/cands.txt" --threads 2
check "five lines: rank, score, text" bash -c "[ \$(wc -l <'$tmp/text') -eq 5 ] && ! grep -vqE '^ +[1-5]  +-?[0-9]\.[0-9]{6}  .+$' '$tmp/text'"
check "best first" bash -c "awk '{print \$2}' '$tmp/text' | sort -g -r -c"
check "no stderr" bash -c "[ ! -s '$tmp/text.err' ]"
check "rank jsonl runs" run "$tmp/jsonl" "$semb" rank --model "$model" --query "$query" --candidates "$tmp/cands.txt" --format jsonl
check "jsonl fields" bash -c "! grep -vqE '^\{\"rank\": [1-5], \"score\": -?[0-9.]+, \"index\": [0-4], \"text\": \".*\"\}$' '$tmp/jsonl' && [ \$(wc -l <'$tmp/jsonl') -eq 5 ]"
check "jsonl and text agree" bash -c "diff <(sed -E 's/.*\"score\": ([-0-9.]+).*/\1/' '$tmp/jsonl') <(awk '{print \$2}' '$tmp/text')"
# the two cat sentences (index 1 and 3) score alike and keep their file order
check "ties in file order" bash -c "grep -o '\"index\": [13]' '$tmp/jsonl' | tr -d '\n' | grep -qx '\"index\": 1\"index\": 3' && [ \"\$(grep '\"index\": 1' '$tmp/jsonl' | sed -E 's/.*score\": ([-0-9.]+).*/\1/')\" = \"\$(grep '\"index\": 3' '$tmp/jsonl' | sed -E 's/.*score\": ([-0-9.]+).*/\1/')\" ]"

# --- the prompts: scores are the dot products of the prompted texts' (normalised) embeddings ---
printf 'query: %s\n' "$query" >"$tmp/pq.txt"
sed 's/^/passage: /' "$tmp/cands.txt" >"$tmp/pd.txt"
check "encode prompted query" run "$tmp/q.emb" "$semb" encode --model "$model" --input "$tmp/pq.txt" --format jsonl
check "encode prompted candidates" run "$tmp/d.emb" "$semb" encode --model "$model" --input "$tmp/pd.txt" --format jsonl
# same_scores RANKING: its (index, score) pairs equal the dot products of $tmp/q.emb with each
# row of $tmp/d.emb (the fixture normalises, so these are cosines) to the printed precision
same_scores() {
    awk 'NR == FNR { gsub(/[][]/, ""); split($0, q, ","); next }
         { gsub(/[][]/, ""); n = split($0, d, ","); s = 0; for (i = 1; i <= n; i++) s += q[i] * d[i]; printf "%d %.6f\n", FNR - 1, s }' \
        "$tmp/q.emb" "$tmp/d.emb" >"$tmp/want"
    sed -E 's/.*"score": ([-0-9.]+), "index": ([0-9]+).*/\2 \1/' "$1" | sort -n >"$tmp/got"
    paste -d' ' "$tmp/want" "$tmp/got" |
        awk '{ d = $2 - $4; if (d < 0) d = -d; if ($1 != $3 || d > 2e-6) bad = 1 } END { exit bad || NR != 5 }' ||
        { echo "     want/got:"; paste "$tmp/want" "$tmp/got"; return 1; }
}
check "scores equal encode of prompted texts" same_scores "$tmp/jsonl"
check "explicit prompts give the same" bash -c "'$semb' rank --model '$model' --query '$query' --candidates '$tmp/cands.txt' --format jsonl --query-prompt 'query: ' --document-prompt 'passage: ' | cmp -s - '$tmp/jsonl'"
check "prompt names give the same" bash -c "'$semb' rank --model '$model' --query '$query' --candidates '$tmp/cands.txt' --format jsonl --query-prompt-name query --document-prompt-name document | cmp -s - '$tmp/jsonl'"
check "empty prompts turn them off" run "$tmp/off" "$semb" rank --model "$model" --query "$query" --candidates "$tmp/cands.txt" --format jsonl --query-prompt "" --document-prompt ""
check "and change the scores" bash -c "! cmp -s '$tmp/off' '$tmp/jsonl'"
printf '%s\n' "$query" >"$tmp/plain_q.txt"
check "encode unprompted query" run "$tmp/q.emb" "$semb" encode --model "$model" --input "$tmp/plain_q.txt" --format jsonl
check "encode unprompted candidates" run "$tmp/d.emb" "$semb" encode --model "$model" --input "$tmp/cands.txt" --format jsonl
check "unprompted scores equal encode" same_scores "$tmp/off"

# --- several queries, -k, jsonl input ---
printf '%s\n' "$query" "Where did the cat sit?" >"$tmp/queries.txt"
check "--queries runs" run "$tmp/multi" "$semb" rank --model "$model" --queries "$tmp/queries.txt" --candidates "$tmp/cands.txt" -k 2
check "one ranking per query" bash -c "[ \$(wc -l <'$tmp/multi') -eq 7 ] && grep -qx 'query 1: $query' '$tmp/multi' && grep -qx 'query 2: Where did the cat sit?' '$tmp/multi'"
check "first query's top 2 as alone" bash -c "diff <(sed -n 2,3p '$tmp/multi') <(head -2 '$tmp/text')"
check "--queries jsonl" run "$tmp/multi.jsonl" "$semb" rank --model "$model" --queries "$tmp/queries.txt" --candidates "$tmp/cands.txt" -k 2 --format jsonl
check "jsonl names the query" bash -c "[ \$(grep -c '^{\"query\": 0, \"rank\"' '$tmp/multi.jsonl') -eq 2 ] && [ \$(grep -c '^{\"query\": 1, \"rank\"' '$tmp/multi.jsonl') -eq 2 ]"
check "-k larger than the candidates" run "$tmp/k10" "$semb" rank --model "$model" --query "$query" --candidates "$tmp/cands.txt" -k 10
check "shows all with a note" bash -c "cmp -s '$tmp/k10' '$tmp/text' && grep -q 'note: -k 10 is more than the 5 candidates; showing all 5' '$tmp/k10.err'"
printf '"Paris is the capital of France."\n\n"Line one\\nline two"\n' >"$tmp/cands.jsonl"
check "jsonl candidates" run "$tmp/fromjsonl" "$semb" rank --model "$model" --query "$query" --candidates "$tmp/cands.jsonl" --input-format jsonl --format jsonl
check "jsonl texts round-trip" bash -c "grep -qF '\"text\": \"Line one\\nline two\"' '$tmp/fromjsonl' && [ \$(wc -l <'$tmp/fromjsonl') -eq 2 ]"

# --- truncation at the max sequence length (12 here) ---
printf '%s\n' "Short." "one two three four five six seven eight nine ten eleven twelve" >"$tmp/long.txt"
check "long inputs rank" run "$tmp/long" "$semb" rank --model "$model" --query "$query and what else is there to know about it" --candidates "$tmp/long.txt"
check "warns of the query" grep -qE "warning: the query has [0-9]+ tokens with its prompt; truncated to 12 tokens" "$tmp/long.err"
check "warns of candidate 2" grep -qE "warning: candidate 2 \(line 2\) has [0-9]+ tokens with its prompt; truncated to 12 tokens" "$tmp/long.err"
check "not of candidate 1" bash -c "! grep -q 'candidate 1' '$tmp/long.err'"
printf '%s\n' "short" "a b c d e f g h i j k l m n o p" >"$tmp/longq.txt"
check "--queries long" run "$tmp/longq" "$semb" rank --model "$model" --queries "$tmp/longq.txt" --candidates "$tmp/cands.txt" --query-prompt ""
check "names the query's line" grep -qE "warning: query 2 \($tmp/longq.txt line 2\) has 18 tokens; truncated to 12 tokens" "$tmp/longq.err"
for i in 1 2 3 4 5 6 7; do echo "long candidate $i one two three four five six seven eight nine ten"; done >"$tmp/many.txt"
check "many long candidates" run "$tmp/many" "$semb" rank --model "$model" --query q --candidates "$tmp/many.txt" --document-prompt ""
check "five named, then a count" bash -c "[ \$(grep -c 'warning: candidate [1-5] (line [1-5]) has 15 tokens; truncated to 12 tokens' '$tmp/many.err') -eq 5 ] && grep -qx 'semb rank: warning: 2 more texts truncated to 12 tokens (7 in all)' '$tmp/many.err' && [ \$(wc -l <'$tmp/many.err') -eq 6 ]"

# --- errors ---
: >"$tmp/empty.txt"
printf '"ok"\n{"text": "x"}\n' >"$tmp/bad.jsonl"
expect_error --no-stdout "missing model" "no-such-model" "$semb" rank --model "$tmp/no-such-model" --query q --candidates "$tmp/cands.txt"
expect_error --no-stdout "empty candidates" "empty.txt: no input sentences" "$semb" rank --model "$model" --query q --candidates "$tmp/empty.txt"
expect_error --no-stdout "missing candidates file" "absent.txt: cannot open" "$semb" rank --model "$model" --query q --candidates "$tmp/absent.txt"
expect_error --no-stdout "bad jsonl candidate" "bad.jsonl: line 2: expected a JSON string" "$semb" rank --model "$model" --query q --candidates "$tmp/bad.jsonl" --input-format jsonl
expect_error --no-stdout "-k 0" "-k must be positive" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" -k 0
expect_error --no-stdout "-k -3" "-k must be positive" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" -k -3
expect_error --no-stdout "unknown prompt name" "--query-prompt-name: the model has no prompt named 'search'" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" --query-prompt-name search
expect_error --no-stdout "unknown document prompt name" "--document-prompt-name: the model has no prompt named 'passage'" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" --document-prompt-name passage
expect_error --no-stdout "prompt and name" "not both" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" --query-prompt x --query-prompt-name query
expect_error --no-stdout "query and queries" "give --query or --queries, not both" "$semb" rank --model "$model" --query q --queries "$tmp/queries.txt" --candidates "$tmp/cands.txt"
expect_error --no-stdout "no query" "--query or --queries is required" "$semb" rank --model "$model" --candidates "$tmp/cands.txt"
expect_error --no-stdout "no candidates flag" "--candidates is required" "$semb" rank --model "$model" --query q
expect_error --no-stdout "bad format" "--format: 'csv' is not one of text, jsonl" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" --format csv
expect_error --no-stdout "bad input format" "--input-format: 'csv'" "$semb" rank --model "$model" --query q --candidates "$tmp/cands.txt" --input-format csv
expect_error --no-stdout "empty queries file" "empty.txt: no input sentences" "$semb" rank --model "$model" --queries "$tmp/empty.txt" --candidates "$tmp/cands.txt"
check "rank --help" bash -c "'$semb' rank --help | grep -q -- '-k N'"

finish cli_rank
