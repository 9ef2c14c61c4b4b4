#!/usr/bin/env bash
# End-to-end tests of the semb command: every subcommand, each output format, and the
# bad-input paths (one-line error naming file and line, non-zero exit, no partial output).
# usage: cli_commands.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture"
make_tmp

check "--version" bash -c "'$semb' --version | grep -q '^semb [0-9]'"
for cmd in encode tokenize similarity init selfcheck; do
    check "$cmd --help" bash -c "'$semb' $cmd --help | grep -q '^usage: semb $cmd'"
done
expect_error "unknown command" "unknown command" "$semb" frobnicate
expect_error "unknown option" "unknown option '--bogus'" "$semb" encode --model "$fixture" --bogus

printf 'Hello, world!\nThe capital of France is Paris.\n\nx\n' >"$tmp/in.txt"
check "tokenize ids" bash -c "'$semb' tokenize --model '$fixture' --input '$tmp/in.txt' | head -1 | grep -qx '\[101, 7592, 1010, 2088, 999, 102\]'"
check "tokenize empty line" bash -c "'$semb' tokenize --model '$fixture' --input '$tmp/in.txt' | sed -n 3p | grep -qx '\[101, 102\]'"
# input files and standard input may be gzip or zstd (io/line_source): the same ids come out
"$semb" tokenize --model "$fixture" --input "$tmp/in.txt" >"$tmp/ids.plain"
gzip -c "$tmp/in.txt" >"$tmp/in.txt.gz"
check "tokenize reads a .gz input" bash -c "'$semb' tokenize --model '$fixture' --input '$tmp/in.txt.gz' | cmp -s - '$tmp/ids.plain'"
check "tokenize reads gzip on stdin" bash -c "'$semb' tokenize --model '$fixture' < '$tmp/in.txt.gz' | cmp -s - '$tmp/ids.plain'"
if command -v zstd >/dev/null; then
    zstd -q -c "$tmp/in.txt" >"$tmp/in.txt.zst"
    check "tokenize reads a .zst input" bash -c "'$semb' tokenize --model '$fixture' --input '$tmp/in.txt.zst' | cmp -s - '$tmp/ids.plain'"
fi

check "encode jsonl" bash -c "'$semb' encode --model '$fixture' --input '$tmp/in.txt' > '$tmp/e.jsonl' && [ \$(wc -l < '$tmp/e.jsonl') -eq 4 ]"
check "encode npy" "$semb" encode --model "$fixture" --input "$tmp/in.txt" --output "$tmp/e.npy"
check "npy magic and size" bash -c "head -c 6 '$tmp/e.npy' | od -c | grep -q 'N   U   M   P   Y' && [ \$(stat -c %s '$tmp/e.npy') -eq \$((128 + 4 * 32 * 4)) ]"
check "npy header shape" bash -c "head -c 128 '$tmp/e.npy' | grep -aq \"'shape': (4, 32)\""
check "stdin input" bash -c "'$semb' encode --model '$fixture' < '$tmp/in.txt' | cmp -s - '$tmp/e.jsonl'"
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --batch-size 1 >"$tmp/b1.jsonl"
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --batch-size 3 --threads 1 >"$tmp/b3.jsonl"
check "batch size and threads agree to rounding" same_numbers "$tmp/b1.jsonl" "$tmp/b3.jsonl"

printf '"tab\\there"\n"new\\nline"\n"Hello, world!"\n' >"$tmp/in.jsonl"
"$semb" encode --model "$fixture" --input "$tmp/in.jsonl" --input-format jsonl | sed -n 3p >"$tmp/j3.jsonl"
head -1 "$tmp/e.jsonl" >"$tmp/e1.jsonl"
check "jsonl input" same_numbers "$tmp/j3.jsonl" "$tmp/e1.jsonl"
# prompts: --prompt is prompt + text; the model's default_prompt_name applies unless overridden
printf 'query: Hello, world!\nquery: x\n' >"$tmp/prompted.txt"
printf 'Hello, world!\nx\n' >"$tmp/plain.txt"
"$semb" encode --model "$fixture" --input "$tmp/prompted.txt" >"$tmp/p_manual.jsonl"
"$semb" encode --model "$fixture" --input "$tmp/plain.txt" --prompt "query: " >"$tmp/p_flag.jsonl"
check "encode --prompt is prompt + text" same_numbers "$tmp/p_manual.jsonl" "$tmp/p_flag.jsonl"
cp -r "$fixture" "$tmp/prompted-model" && chmod -R u+w "$tmp/prompted-model"
printf '{"prompts": {"query": "query: ", "document": ""}, "default_prompt_name": "query"}\n' >"$tmp/prompted-model/config_sentence_transformers.json"
"$semb" encode --model "$tmp/prompted-model" --input "$tmp/plain.txt" >"$tmp/p_default.jsonl"
check "encode applies default_prompt_name" same_numbers "$tmp/p_manual.jsonl" "$tmp/p_default.jsonl"
"$semb" encode --model "$tmp/prompted-model" --input "$tmp/plain.txt" --prompt-name document >"$tmp/p_doc.jsonl"
"$semb" encode --model "$fixture" --input "$tmp/plain.txt" >"$tmp/p_none.jsonl"
check "encode --prompt-name picks the prompt" same_numbers "$tmp/p_doc.jsonl" "$tmp/p_none.jsonl"
"$semb" encode --model "$tmp/prompted-model" --input "$tmp/plain.txt" --prompt "" >"$tmp/p_off.jsonl"
check "encode --prompt '' turns the default off" same_numbers "$tmp/p_off.jsonl" "$tmp/p_none.jsonl"
expect_error --no-stdout "encode unknown prompt name" "no prompt 'passage'" "$semb" encode --model "$tmp/prompted-model" --input "$tmp/plain.txt" --prompt-name passage
expect_error --no-stdout "encode prompt and prompt name" "not both" "$semb" encode --model "$fixture" --input "$tmp/plain.txt" --prompt a --prompt-name b
check "similarity" bash -c "'$semb' similarity --model '$fixture' 'A man plays guitar.' 'Someone plays an instrument.' 'The sky is blue.' | grep -q 'Cosine similarity'"

check "init mpnet" "$semb" init --arch mpnet --hidden 32 --layers 1 --heads 4 --intermediate 64 --vocab "$shared/data/vocab/mpnet-base-vocab.txt" --output "$tmp/new-model"
check "encode with init model" bash -c "'$semb' encode --model '$tmp/new-model' --input '$tmp/in.txt' | wc -l | grep -qx 4"
expect_error "init into existing folder" "already exists" "$semb" init --arch bert --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$tmp/new-model"
expect_error "init unknown arch" "arch.*gpt" "$semb" init --arch gpt --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$tmp/m2"
check "failed init leaves nothing" bash -c "! ls '$tmp' | grep -q m2"

# Bad input: each one a single error line naming the file and line, and no output file.
printf 'good line\n\xff\xfe bad bytes\n' >"$tmp/bad-utf8.txt"
expect_error "invalid UTF-8" "bad-utf8.txt: line 2: invalid UTF-8" "$semb" encode --model "$fixture" --input "$tmp/bad-utf8.txt" --output "$tmp/bad.npy"
check "no partial output file" bash -c "! ls '$tmp' | grep -q 'bad.npy'"
: >"$tmp/empty.txt"
expect_error "empty input" "empty.txt: no input sentences" "$semb" encode --model "$fixture" --input "$tmp/empty.txt" --output "$tmp/bad.npy"
printf '"ok"\n{"text": 1}\n' >"$tmp/bad.jsonl"
expect_error "jsonl not a string" "bad.jsonl: line 2: expected a JSON string" "$semb" encode --model "$fixture" --input "$tmp/bad.jsonl" --input-format jsonl
expect_error "missing model folder" "/no/such/model: model folder not found" "$semb" encode --model /no/such/model --input "$tmp/in.txt"
expect_error "missing input file" "nope.txt: cannot open" "$semb" encode --model "$fixture" --input "$tmp/nope.txt"
expect_error "unwritable output" "cannot|No such" "$semb" encode --model "$fixture" --input "$tmp/in.txt" --output /nonexistent-dir/out.npy
cp -r "$fixture" "$tmp/broken" && chmod -R u+w "$tmp/broken"
printf '{"model_type": "bert", oops' >"$tmp/broken/config.json"
expect_error "invalid config.json" "broken/config.json: line 1" "$semb" encode --model "$tmp/broken" --input "$tmp/in.txt"
cp "$fixture/config.json" "$tmp/broken/config.json"
head -c 5000 "$fixture/model.safetensors" >"$tmp/broken/model.safetensors"
expect_error "truncated safetensors" "model.safetensors" "$semb" encode --model "$tmp/broken" --input "$tmp/in.txt"

finish cli_commands
