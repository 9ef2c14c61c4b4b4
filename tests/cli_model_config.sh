#!/usr/bin/env bash
# End-to-end checks of a model folder's sizes and lengths (issue #14, items 2 and 7): a config
# that lies about its sizes fails at once with one line naming the key and tensor; every
# --max-seq-length follows the model's position limit; a warning reaches stderr.
# usage: cli_model_config.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture"
make_tmp
printf 'Hello, world!\nx\n' >"$tmp/in.txt"

# copy NAME: a writable copy of the fixture in $tmp/NAME
copy() {
    cp -r "$fixture" "$tmp/$1" && chmod -R u+w "$tmp/$1"
}

copy huge
sed -i -e 's/"intermediate_size": *64/"intermediate_size": 16777216/' \
    -e 's/"num_hidden_layers": *2/"num_hidden_layers": 6/' "$tmp/huge/config.json"
start=$(date +%s%N)
expect_error --no-stdout "encode refuses a 16M-wide FFN from the header" \
    "intermediate_size.*16777216.*|encoder.layer.0.intermediate.dense.weight.*intermediate_size" \
    "$semb" encode --model "$tmp/huge" --input "$tmp/in.txt"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "refused within a second (${elapsed_ms} ms)" test "$elapsed_ms" -lt 1000

copy short
printf '{"max_seq_length": 2, "do_lower_case": false}\n' >"$tmp/short/sentence_bert_config.json"
expect_error --no-stdout "max_seq_length 2 refused" \
    "sentence_bert_config.json: max_seq_length: 2" \
    "$semb" encode --model "$tmp/short" --input "$tmp/in.txt"

copy warn
printf '{"max_seq_length": 100, "do_lower_case": false}\n' >"$tmp/warn/sentence_bert_config.json"
sed -i 's/"model_max_length": *[0-9]*/"model_max_length": 50/' "$tmp/warn/tokenizer_config.json"
check "a tokenizer limit below max_seq_length is a warning on stderr" bash -c \
    "'$semb' encode --model '$tmp/warn' --input '$tmp/in.txt' >'$tmp/w.jsonl' 2>'$tmp/w.err' &&
     [ \$(wc -l <'$tmp/w.jsonl') -eq 2 ] &&
     grep -q '^semb encode: warning: .*model_max_length 50 is below .*max_seq_length 100' \
         '$tmp/w.err'"

expect_error --no-stdout "init --max-seq-length above the positions" \
    "--max-seq-length: 600 is above the 512 positions" \
    "$semb" init --arch bert --hidden 32 --layers 1 --heads 4 --intermediate 64 \
    --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --max-seq-length 600 \
    --output "$tmp/init-model"
check "nothing left by the refused init" test ! -e "$tmp/init-model"

printf '{"anchor": "a cat", "positive": "a small cat"}\n' >"$tmp/pairs.jsonl"
printf '{"anchor": "a dog", "positive": "a big dog"}\n' >>"$tmp/pairs.jsonl"
expect_error --no-stdout "train --max-seq-length above the positions" \
    "--max-seq-length: 1000 is above the 512 positions" \
    "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --output "$tmp/trained" \
    --batch-size 2 --steps 1 --max-seq-length 1000 --threads 1
expect_error --no-stdout "train --max-seq-length 2" "--max-seq-length: 2 is below 3" \
    "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --output "$tmp/trained" \
    --batch-size 2 --steps 1 --max-seq-length 2 --threads 1

finish cli_model_config
