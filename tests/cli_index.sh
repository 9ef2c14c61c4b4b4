#!/usr/bin/env bash
# End-to-end tests of `semb index build`, `semb index info` and `semb search` (issue #5) on 300
# StackExchange titles with the bert-tiny-mean fixture: the three precisions, text and JSONL
# output, ids and titles from JSONL, ties in corpus order, k beyond the corpus, long queries,
# and one-line errors for every bad input (empty corpus, bad UTF-8 at file:line, duplicate
# ids, unknown precision, k <= 0, another model, corrupt and truncated index files); the HNSW
# graph (--hnsw): approximate hits equal to --exact ones, --ef, info, a corrupt graph section,
# a manhattan model refused, bad --hnsw-m / --hnsw-ef-construction / --ef values.
# usage: cli_index.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
other="$shared/fixtures/bert-tiny-cls"
pairs="$shared/data/pairs/stackexchange_title_body.jsonl"
require_files "$fixture" "$other" "$pairs"
make_tmp
run() {
    local out=$1
    shift
    "$@" >"$out" 2>"$tmp/run.err" || { echo "     $(tail -3 "$tmp/run.err")"; return 1; }
}
# the anchors (titles) of the first 300 pairs, one a line (JSON-decoded by sed: these titles
# hold no escapes but \" and \/)
head -n 300 "$pairs" | sed -E 's/^\{"anchor": "(([^"\\]|\\.)*)", .*/\1/; s/\\"/"/g; s/\\\//\//g' >"$tmp/titles.txt"
check "300 titles" [ "$(wc -l <"$tmp/titles.txt")" -eq 300 ]

for p in float32 int8 binary; do
    check "build $p" run "$tmp/build_$p.out" "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" \
        --output "$tmp/$p.idx" --precision "$p" --threads 2 --chunk-size 64
    check "build $p reports" grep -q "indexed 300 documents" "$tmp/build_$p.out"
done
check "sizes float32 > int8 > binary" bash -c "[ $(stat -c %s "$tmp/float32.idx") -gt $(stat -c %s "$tmp/int8.idx") ] && [ $(stat -c %s "$tmp/int8.idx") -gt $(stat -c %s "$tmp/binary.idx") ]"
check "int8 --calibration with the corpus's own texts" run "$tmp/b" "$semb" index build --model "$fixture" \
    --corpus "$tmp/titles.txt" --output "$tmp/int8_cal.idx" --precision int8 --calibration "$tmp/titles.txt" --chunk-size 64
check "same ranges, same file" cmp -s "$tmp/int8.idx" "$tmp/int8_cal.idx"
check "no temporary files left" bash -c "[ \$(ls '$tmp' | grep -c tmp) -eq 0 ]"
check "index info" run "$tmp/info" "$semb" index info --index "$tmp/int8.idx"
check "info fields" bash -c "grep -q 'documents: 300' '$tmp/info' && grep -q 'precision: int8' '$tmp/info' && grep -q 'similarity: cosine' '$tmp/info'"

# a title searched for finds itself first, in every precision
title=$(sed -n 42p "$tmp/titles.txt")
for p in float32 int8 binary; do
    check "search $p jsonl" run "$tmp/s_$p.jsonl" "$semb" search --index "$tmp/$p.idx" --model "$fixture" \
        --query "$title" -k 5 --format jsonl --threads 2
    check "search $p: 5 hits" [ "$(wc -l <"$tmp/s_$p.jsonl")" -eq 5 ]
    check "search $p: JSON lines" bash -c "grep -cE '^\{\"rank\": [1-5], \"score\": -?[0-9]+\.[0-9]{6}, \"id\": [0-9]+, \"text\": \".*\"\}$' '$tmp/s_$p.jsonl' | grep -qx 5"
done
check "float32 finds the title itself (line 42)" bash -c "head -1 '$tmp/s_float32.jsonl' | grep -q '\"rank\": 1, \"score\": 1.000000, \"id\": 42,'"
check "int8 finds it too" bash -c "head -1 '$tmp/s_int8.jsonl' | grep -q '\"id\": 42,'"
check "scores best first" bash -c "sed -E 's/.*\"score\": (-?[0-9.]+).*/\1/' '$tmp/s_float32.jsonl' | sort -gr | diff -q - <(sed -E 's/.*\"score\": (-?[0-9.]+).*/\1/' '$tmp/s_float32.jsonl')"
check "binary --exact" run "$tmp/s_exact.jsonl" "$semb" search --index "$tmp/binary.idx" --model "$fixture" \
    --query "$title" -k 5 --format jsonl --exact
check "binary --rescore-multiplier 1" run "$tmp/s_r1.jsonl" "$semb" search --index "$tmp/binary.idx" --model "$fixture" \
    --query "$title" -k 5 --format jsonl --rescore-multiplier 1
check "text output" run "$tmp/s.txt" "$semb" search --index "$tmp/float32.idx" --model "$fixture" --query "$title" -k 3
check "text output: rank score id text" bash -c "head -1 '$tmp/s.txt' | grep -qE '^  1  1\.0000  42  '"
check "threads do not change hits" bash -c "'$semb' search --index '$tmp/float32.idx' --model '$fixture' --query '$title' -k 20 --format jsonl --threads 1 | diff -q - <('$semb' search --index '$tmp/float32.idx' --model '$fixture' --query '$title' -k 20 --format jsonl --threads 2)"

# --queries: a "query" field per hit
sed -n '1p;2p;3p' "$tmp/titles.txt" >"$tmp/queries.txt"
check "queries file" run "$tmp/q.jsonl" "$semb" search --index "$tmp/float32.idx" --model "$fixture" --queries "$tmp/queries.txt" -k 2 --format jsonl
check "queries: 6 hits with query indices" bash -c "[ \$(grep -c '^{\"query\": [0-2], \"rank\"' '$tmp/q.jsonl') -eq 6 ]"
check "queries: each finds its own line" bash -c "grep -q '^{\"query\": 2, \"rank\": 1, \"score\": 1.000000, \"id\": 3,' '$tmp/q.jsonl'"

# ties: duplicate documents score alike and come in corpus order
printf 'beer\nwine\nbeer\nbeer\n' >"$tmp/dups.txt"
check "build duplicates" run "$tmp/b" "$semb" index build --model "$fixture" --corpus "$tmp/dups.txt" --output "$tmp/dups.idx"
check "search duplicates" run "$tmp/d.jsonl" "$semb" search --index "$tmp/dups.idx" --model "$fixture" --query beer --format jsonl
check "ties in corpus order" bash -c "sed -E 's/.*\"id\": ([0-9]+).*/\1/' '$tmp/d.jsonl' | tr '\n' ' ' | grep -qx '1 3 4 2 '"
check "k beyond the corpus: all, warned" bash -c "[ \$(wc -l <'$tmp/d.jsonl') -eq 4 ] && grep -q 'returning all of them' '$tmp/run.err'"

# JSONL corpus: ids (string and integer), BEIR titles
printf '%s\n' '{"_id": "doc-a", "title": "Hops", "text": "Citra is an aroma hop."}' \
    '{"_id": "doc-b", "text": "Lager ferments cold."}' >"$tmp/beir.jsonl"
check "build jsonl" run "$tmp/b" "$semb" index build --model "$fixture" --corpus "$tmp/beir.jsonl" --input-format jsonl --output "$tmp/beir.idx"
check "search jsonl ids" run "$tmp/j.jsonl" "$semb" search --index "$tmp/beir.idx" --model "$fixture" --query "Hops Citra is an aroma hop." --format jsonl
check "string id and joined title" bash -c "head -1 '$tmp/j.jsonl' | grep -q '\"id\": \"doc-a\", \"text\": \"Hops Citra is an aroma hop.\"}'"
printf '%s\n' '{"id": 10, "text": "one"}' '{"id": 20, "text": "two"}' >"$tmp/int.jsonl"
check "integer ids" bash -c "'$semb' index build --model '$fixture' --corpus '$tmp/int.jsonl' --input-format jsonl --output '$tmp/int.idx' >/dev/null && '$semb' search --index '$tmp/int.idx' --model '$fixture' --query two --format jsonl -k 1 | grep -q '\"id\": 20,'"

# a query longer than the model's max sequence length: truncated, and said so
long=$(printf 'beer %.0s' $(seq 1 400))
check "long query runs" run "$tmp/long.jsonl" "$semb" search --index "$tmp/float32.idx" --model "$fixture" --query "$long" -k 1
check "long query warned" grep -q 'truncated to [0-9]* tokens' "$tmp/run.err"
printf '%s\n' "$title" "$long" >"$tmp/long_docs.txt"
check "long document warned at build" bash -c "'$semb' index build --model '$fixture' --corpus '$tmp/long_docs.txt' --output '$tmp/long.idx' 2>&1 >/dev/null | grep -q 'truncated to [0-9]* tokens (the first at .*long_docs.txt:2)'"

# --- bad input: one line on stderr, nothing written ---
: >"$tmp/empty.txt"
expect_error --no-stdout "empty corpus" 'empty.txt: the corpus holds no documents' \
    "$semb" index build --model "$fixture" --corpus "$tmp/empty.txt" --output "$tmp/e.idx"
check "empty corpus leaves no index" [ ! -e "$tmp/e.idx" ]
printf 'good\nbad \xff\n' >"$tmp/utf8.txt"
expect_error --no-stdout "invalid UTF-8 names file:line" 'utf8.txt:2: invalid UTF-8' \
    "$semb" index build --model "$fixture" --corpus "$tmp/utf8.txt" --output "$tmp/e.idx"
printf '%s\n' '{"id": "x", "text": "a"}' '{"id": "y", "text": "b"}' '{"id": "x", "text": "c"}' >"$tmp/dupid.jsonl"
expect_error --no-stdout "duplicate ids" 'dupid.jsonl:3: duplicate id "x" \(also line 1\)' \
    "$semb" index build --model "$fixture" --corpus "$tmp/dupid.jsonl" --input-format jsonl --output "$tmp/e.idx"
expect_error --no-stdout "unknown precision" "precision 'int4' is not one of float32, int8, binary" \
    "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --precision int4
expect_error --no-stdout "calibration without int8" 'calibration file is for int8 only' \
    "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --calibration "$tmp/titles.txt"
check "no index written by failures" [ ! -e "$tmp/e.idx" ]
expect_error --no-stdout "k 0" '-k must be at least 1' \
    "$semb" search --index "$tmp/float32.idx" --model "$fixture" --query beer -k 0
expect_error --no-stdout "k negative" '-k must be at least 1' \
    "$semb" search --index "$tmp/float32.idx" --model "$fixture" --query beer -k -3
expect_error --no-stdout "another model" 'built with model .*bert-tiny-mean .*not with .*bert-tiny-cls' \
    "$semb" search --index "$tmp/float32.idx" --model "$other" --query beer
expect_error --no-stdout "query and queries" 'one of --query or --queries' \
    "$semb" search --index "$tmp/float32.idx" --model "$fixture"
head -c 3000 "$tmp/float32.idx" >"$tmp/cut.idx"
expect_error --no-stdout "truncated index" 'cut.idx: truncated or extended' \
    "$semb" search --index "$tmp/cut.idx" --model "$fixture" --query beer
cp "$tmp/float32.idx" "$tmp/flip.idx"
printf '\x07' | dd of="$tmp/flip.idx" bs=1 seek=33 conv=notrunc status=none
expect_error --no-stdout "flipped header byte" 'flip.idx: header or section table corrupt' \
    "$semb" search --index "$tmp/flip.idx" --model "$fixture" --query beer
expect_error --no-stdout "not an index" 'titles.txt: not a semb index' \
    "$semb" search --index "$tmp/titles.txt" --model "$fixture" --query beer
expect_error --no-stdout "missing index" 'nothing.idx: cannot open' \
    "$semb" search --index "$tmp/nothing.idx" --model "$fixture" --query beer
# --- HNSW graph ---
for p in float32 int8 binary; do
    check "build $p --hnsw" run "$tmp/hb_$p.out" "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" \
        --output "$tmp/h_$p.idx" --precision "$p" --hnsw --threads 2 --chunk-size 64
    check "build $p --hnsw reports the graph" grep -q "HNSW graph: M 16, ef_construction 200" "$tmp/hb_$p.out"
    check "graph adds to the $p file" [ "$(stat -c %s "$tmp/h_$p.idx")" -gt "$(stat -c %s "$tmp/$p.idx")" ]
    # every title as a query: approximate (ef 300: all 300 documents) == exact: the same score
    # at each rank, the same id unless tied within float rounding (int8's exact path folds the
    # dequantization into the query, in float)
    check "search $p approximate" run "$tmp/ha_$p.jsonl" "$semb" search --index "$tmp/h_$p.idx" --model "$fixture" \
        --queries "$tmp/titles.txt" -k 10 --ef 300 --format jsonl --threads 2
    check "search $p --exact" run "$tmp/he_$p.jsonl" "$semb" search --index "$tmp/h_$p.idx" --model "$fixture" \
        --queries "$tmp/titles.txt" -k 10 --exact --format jsonl --threads 2
    check "$p: approximate at ef 300 == exact (3000 hits)" bash -c "[ \$(wc -l <'$tmp/ha_$p.jsonl') -eq 3000 ] && paste -d'\n' '$tmp/ha_$p.jsonl' '$tmp/he_$p.jsonl' | awk -F'\"score\": |, \"id\": |, \"text\"' 'NR % 2 { s = \$2; id = \$3; next } { d = s - \$2; if (d > 2e-6 || d < -2e-6) bad++; if (id != \$3) swaps++ } END { exit bad > 0 || swaps > 6 }'"
done
check "float32 --exact on a graph index == the index without one" bash -c "'$semb' search --index '$tmp/float32.idx' --model '$fixture' --queries '$tmp/titles.txt' -k 10 --format jsonl --threads 2 | diff -q - '$tmp/he_float32.jsonl'"
check "default ef finds the title itself" bash -c "'$semb' search --index '$tmp/h_float32.idx' --model '$fixture' --query '$title' -k 3 --format jsonl | head -1 | grep -q '\"rank\": 1, \"score\": 1.000000, \"id\": 42,'"
check "ef below k is raised to k" bash -c "[ \$('$semb' search --index '$tmp/h_float32.idx' --model '$fixture' --query '$title' -k 20 --ef 1 | wc -l) -eq 20 ]"
check "--hnsw-m / --hnsw-ef-construction" run "$tmp/hm.out" "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" \
    --output "$tmp/hm.idx" --hnsw --hnsw-m 4 --hnsw-ef-construction 20
check "info shows the graph" bash -c "'$semb' index info --index '$tmp/hm.idx' | grep -qE '^hnsw: M 4, ef_construction 20, seed 100, [0-9]+ bytes$'"
check "info without a graph" bash -c "'$semb' index info --index '$tmp/float32.idx' | grep -qx 'hnsw: none (exact search only)'"
check "ties in corpus order through the graph" bash -c "'$semb' index build --model '$fixture' --corpus '$tmp/dups.txt' --output '$tmp/hd.idx' --hnsw >/dev/null && '$semb' search --index '$tmp/hd.idx' --model '$fixture' --query beer --format jsonl 2>/dev/null | sed -E 's/.*\"id\": ([0-9]+).*/\1/' | tr '\n' ' ' | grep -qx '1 3 4 2 '"

mkdir "$tmp/manhattan"
cp -r "$fixture"/. "$tmp/manhattan"/
printf '{"similarity_fn_name": "manhattan"}\n' >"$tmp/manhattan/config_sentence_transformers.json"
expect_error --no-stdout "manhattan model refused" 'manhattan similarity, which an HNSW graph .*cannot search' \
    "$semb" index build --model "$tmp/manhattan" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --hnsw
check "manhattan without --hnsw builds" run "$tmp/b" "$semb" index build --model "$tmp/manhattan" --corpus "$tmp/titles.txt" --output "$tmp/man.idx"
expect_error --no-stdout "--hnsw-m 1" '--hnsw-m must be in 2 .. 2048 \(got 1\)' \
    "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --hnsw --hnsw-m 1
expect_error --no-stdout "--hnsw-m 5000" '--hnsw-m must be in 2 .. 2048' \
    "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --hnsw --hnsw-m 5000
expect_error --no-stdout "--hnsw-ef-construction 0" '--hnsw-ef-construction must be at least 1' \
    "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --hnsw --hnsw-ef-construction 0
expect_error --no-stdout "--hnsw-m without --hnsw" 'need --hnsw' \
    "$semb" index build --model "$fixture" --corpus "$tmp/titles.txt" --output "$tmp/e.idx" --hnsw-m 8
check "no index written by refused graphs" [ ! -e "$tmp/e.idx" ]
expect_error --no-stdout "--ef 0" '--ef must be at least 1 \(got 0\)' \
    "$semb" search --index "$tmp/h_float32.idx" --model "$fixture" --query beer --ef 0
expect_error --no-stdout "--ef negative" '--ef must be at least 1' \
    "$semb" search --index "$tmp/h_float32.idx" --model "$fixture" --query beer --ef -5
expect_error --no-stdout "--ef with --exact" '--ef is for the approximate search' \
    "$semb" search --index "$tmp/h_float32.idx" --model "$fixture" --query beer --ef 50 --exact
expect_error --no-stdout "--ef without a graph" 'float32.idx has no HNSW graph' \
    "$semb" search --index "$tmp/float32.idx" --model "$fixture" --query beer --ef 50
expect_error --no-stdout "--rescore-multiplier through a graph" '--rescore-multiplier: .*through its HNSW graph' \
    "$semb" search --index "$tmp/h_binary.idx" --model "$fixture" --query beer --rescore-multiplier 2
# a corrupt graph: the file's CRC covers the header and table, the graph is checked on load
graph_at=$(grep -obUa SEMBHNSW "$tmp/h_float32.idx" | head -1 | cut -d: -f1)
for spot in 8 20 200; do
    cp "$tmp/h_float32.idx" "$tmp/hflip.idx"
    printf '\x7f' | dd of="$tmp/hflip.idx" bs=1 seek=$((graph_at + spot)) conv=notrunc status=none
    expect_error --no-stdout "corrupt graph byte $spot" 'hflip.idx: HNSW graph unusable \(rebuild the index\)' \
        "$semb" search --index "$tmp/hflip.idx" --model "$fixture" --query beer
done
check "a corrupt graph still searches --exact" run "$tmp/b" "$semb" search --index "$tmp/hflip.idx" --model "$fixture" --query beer --exact
head -c $((graph_at + 100)) "$tmp/h_float32.idx" >"$tmp/hcut.idx"
expect_error --no-stdout "graph section cut" 'hcut.idx: truncated or extended' \
    "$semb" search --index "$tmp/hcut.idx" --model "$fixture" --query beer
check "index info takes the file as its argument" bash -c "'$semb' index info '$tmp/float32.idx' | grep -q '^documents: '"
expect_error --no-stdout "index info two files" "give one index file" "$semb" index info "$tmp/float32.idx" "$tmp/float32.idx"
# a corpus on stdin is spooled beside the output (read twice) and removed; messages say <stdin>
mkdir -p "$tmp/stdin"
check "build from stdin" bash -c "'$semb' index build --model '$fixture' --corpus - --output '$tmp/stdin/s.idx' --threads 2 --chunk-size 64 <'$tmp/titles.txt' >/dev/null"
check "stdin index equals the file's" bash -c "[ \"\$('$semb' search --index '$tmp/stdin/s.idx' --model '$fixture' --query 'beer' -k 5)\" = \"\$('$semb' search --index '$tmp/float32.idx' --model '$fixture' --query 'beer' -k 5)\" ]"
check "no spooled copy left" [ "$(ls "$tmp/stdin")" = s.idx ]
printf 'fine\n\377 bad\n' >"$tmp/bad_stdin.txt"
expect_error --no-stdout "stdin invalid UTF-8 named <stdin>:2" "<stdin>:2: invalid UTF-8" bash -c "'$semb' index build --model '$fixture' --corpus - --output '$tmp/stdin/b.idx' <'$tmp/bad_stdin.txt'"
check "failed stdin build leaves nothing" [ "$(ls "$tmp/stdin")" = s.idx ]
finish cli_index
