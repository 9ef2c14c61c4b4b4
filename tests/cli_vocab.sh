#!/usr/bin/env bash
# End-to-end tests of `semb vocab`: a vocabulary learnt from plain text loads in semb init /
# semb tokenize through both vocab.txt and tokenizer.json (same ids, no [UNK] for the
# corpus), runs are reproducible, and bad input fails with one line and leaves nothing.
# usage: cli_vocab.sh SEMB_BINARY [SHARED_DIR]   (shared/ is not needed)
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
make_tmp

# A corpus in two files: prose with punctuation, accents, digits and a few CJK characters.
for i in $(seq 1 60); do
    echo "The quick brown fox $i jumps over the lazy dog; naïve café-goers don't mind."
    echo "Tokenizers split words into pieces: unbelievable, unbelievably, believers, 東京 $((i * 7))."
done >"$tmp/a.txt"
for i in $(seq 1 40); do
    echo "Résumé writing is rewriting, rewritten and written again ($i)."
done >"$tmp/b.txt"
cat "$tmp/a.txt" "$tmp/b.txt" >"$tmp/all.txt"

check "vocab --help" bash -c "'$semb' vocab --help | grep -q '^usage: semb vocab'"
check "vocab listed" bash -c "'$semb' --help | grep -q '^  vocab '"
check "train" bash -c "'$semb' vocab --corpus '$tmp/a.txt' '$tmp/b.txt' --size 150 --output '$tmp/v' >'$tmp/v.log' 2>&1"
check "summary line" grep -q "^wrote $tmp/v: 150 tokens (5 special" "$tmp/v.log"
check "four files" bash -c "[ \"\$(ls '$tmp/v' | tr '\n' ' ')\" = 'special_tokens_map.json tokenizer.json tokenizer_config.json vocab.txt ' ]"
check "size honoured" bash -c "[ \$(wc -l <'$tmp/v/vocab.txt') -eq 150 ]"
check "specials first" bash -c "[ \"\$(head -5 '$tmp/v/vocab.txt' | tr '\n' ' ')\" = '[PAD] [UNK] [CLS] [SEP] [MASK] ' ]"
check "no temporary left" bash -c "[ \$(ls -A '$tmp' | grep -c tmp) -eq 0 ]"

# Repeated --corpus is the same as files listed after one --corpus; a second run is identical.
"$semb" vocab --corpus "$tmp/a.txt" --corpus "$tmp/b.txt" --size 150 --output "$tmp/v2" >/dev/null 2>&1
check "repeated --corpus, reproducible" bash -c "cmp -s '$tmp/v/vocab.txt' '$tmp/v2/vocab.txt' && cmp -s '$tmp/v/tokenizer.json' '$tmp/v2/tokenizer.json'"

# Loading: semb init through either file, then tokenize the corpus: same ids, no [UNK] (1).
"$semb" init --arch bert --vocab "$tmp/v/tokenizer.json" --hidden 32 --layers 1 --heads 2 \
    --intermediate 64 --output "$tmp/mj" >/dev/null
"$semb" init --arch bert --vocab "$tmp/v/vocab.txt" --hidden 32 --layers 1 --heads 2 \
    --intermediate 64 --output "$tmp/mt" >/dev/null
"$semb" tokenize --model "$tmp/mj" --input "$tmp/all.txt" >"$tmp/ids_json.txt"
"$semb" tokenize --model "$tmp/mt" --input "$tmp/all.txt" >"$tmp/ids_txt.txt"
check "tokenize via tokenizer.json" bash -c "[ \$(wc -l <'$tmp/ids_json.txt') -eq 160 ]"
check "vocab.txt and tokenizer.json agree" cmp -s "$tmp/ids_json.txt" "$tmp/ids_txt.txt"
check "no [UNK] in the corpus" bash -c "! grep -qE '(\\[|, )1(,|\\])' '$tmp/ids_json.txt'"
check "[CLS] ... [SEP] ids" bash -c "grep -qE '^\\[2, .*, 3\\]$' '$tmp/ids_json.txt'"
check "unseen character is [UNK]" bash -c "echo 'Ω' | '$semb' tokenize --model '$tmp/mj' | grep -qx '\\[2, 1, 3\\]'"

# The whole corpus as one vocabulary: every distinct word becomes a single token.
"$semb" vocab --corpus "$tmp/all.txt" --size 100000 --min-frequency 1 --output "$tmp/big" \
    >"$tmp/big.log" 2>&1
check "runs out of pairs, says so" grep -q "stopped early: the corpus ran out of pairs" "$tmp/big.log"
check "whole words, lowercased, accents stripped" bash -c "grep -qx 'unbelievably' '$tmp/big/vocab.txt' && grep -qx 'resume' '$tmp/big/vocab.txt' && ! grep -q 'é' '$tmp/big/vocab.txt'"
"$semb" vocab --corpus "$tmp/all.txt" --size 150 --cased --output "$tmp/cased" >/dev/null 2>&1
check "--cased keeps case and accents" bash -c "grep -qx 'T' '$tmp/cased/vocab.txt' && grep -qx 'é' '$tmp/cased/vocab.txt' && grep -q '\"lowercase\": false' '$tmp/cased/tokenizer.json'"
"$semb" init --arch bert --vocab "$tmp/cased/tokenizer.json" --hidden 32 --layers 1 --heads 2 \
    --intermediate 64 --output "$tmp/mcased" >/dev/null
check "semb init over a cased tokenizer says do_lower_case false" grep -q '"do_lower_case": false' "$tmp/mcased/tokenizer_config.json"
check "and over a lowercasing one, true" grep -q '"do_lower_case": true' "$tmp/mj/tokenizer_config.json"

# Bad input: one line, non-zero exit, nothing written.
expect_error "missing corpus" "nope.txt: cannot open" "$semb" vocab --corpus "$tmp/a.txt" "$tmp/nope.txt" --size 150 --output "$tmp/e1"
check "  ... no output" test ! -e "$tmp/e1"
expect_error "size below the alphabet" "too small.*limit the alphabet" "$semb" vocab --corpus "$tmp/a.txt" --size 20 --output "$tmp/e2"
check "  ... no output" test ! -e "$tmp/e2"
expect_error "existing output" "already exists" "$semb" vocab --corpus "$tmp/a.txt" --size 150 --output "$tmp/v"
check "  ... left as it was" cmp -s "$tmp/v/vocab.txt" "$tmp/v2/vocab.txt"
expect_error "output parent missing" "cannot create a folder there" "$semb" vocab --corpus "$tmp/a.txt" --size 150 --output "$tmp/no/such/dir"
expect_error "no corpus" "--corpus and --output are required" "$semb" vocab --size 150 --output "$tmp/e3"
expect_error "bad size" "--size must be positive" "$semb" vocab --corpus "$tmp/a.txt" --size 0 --output "$tmp/e4"
: >"$tmp/empty.txt"
expect_error "empty corpus" "no words" "$semb" vocab --corpus "$tmp/empty.txt" --size 150 --output "$tmp/e5"
check "  ... no temporary left" bash -c "[ \$(ls -A '$tmp' | grep -c tmp) -eq 0 ]"
printf 'good line\nbad \xff line\ngood again\n' >"$tmp/bad.txt"
"$semb" vocab --corpus "$tmp/bad.txt" --size 30 --output "$tmp/bad" >/dev/null 2>"$tmp/bad.err"
check "invalid UTF-8 line skipped with a warning" grep -q "skipped 1 lines that are not valid UTF-8, the first at $tmp/bad.txt:2" "$tmp/bad.err"

finish cli_vocab
