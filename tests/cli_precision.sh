#!/usr/bin/env bash
# --precision fp32|bf16|int8 of semb encode and semb train: bf16 and int8 embeddings close to
# fp32 ones (and not identical: their paths ran), int8 refused by train, a bf16 training run whose checkpoint keeps the
# precision (a resume with another one is refused, one with the same continues bit for bit),
# its model card saying bf16, and unknown values refused.
# usage: cli_precision.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture"
make_tmp
printf 'a man is playing a guitar\nthe cat sleeps on the mat\nquarterly revenue rose 4%%\n' >"$tmp/in.txt"

# encode
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --threads 1 >"$tmp/fp32.jsonl" 2>"$tmp/err" || cat "$tmp/err"
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --threads 1 --precision bf16 >"$tmp/bf16.jsonl" 2>"$tmp/err" || cat "$tmp/err"
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --threads 1 --precision fp32 >"$tmp/fp32b.jsonl" 2>"$tmp/err" || cat "$tmp/err"
check "encode --precision bf16 writes 3 embeddings" test "$(grep -c '^\[' "$tmp/bf16.jsonl")" -eq 3
check "--precision fp32 is the default" cmp -s "$tmp/fp32.jsonl" "$tmp/fp32b.jsonl"
check "bf16 embeddings are not the fp32 bits" bash -c "test -s '$tmp/fp32.jsonl' && ! cmp -s '$tmp/fp32.jsonl' '$tmp/bf16.jsonl'"
# cosine of each bf16 embedding with its fp32 one (both normalised by the model) >= 0.999
cosines_close() {
    paste -d';' <(tr -d '[]' <"$1") <(tr -d '[]' <"$2") | awk -F';' '{
        n = split($1, a, ","); split($2, b, ","); ab = aa = bb = 0
        for (i = 1; i <= n; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i] }
        if (ab / sqrt(aa * bb) < 0.999) bad = 1; rows++ } END { exit (bad || rows != 3) }'
}
check "bf16 embeddings within cosine 0.999 of fp32" cosines_close "$tmp/fp32.jsonl" "$tmp/bf16.jsonl"
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --threads 2 --precision int8 >"$tmp/int8.jsonl" 2>"$tmp/err" || cat "$tmp/err"
"$semb" encode --model "$fixture" --input "$tmp/in.txt" --threads 1 --precision int8 --batch-size 1 >"$tmp/int8b.jsonl" 2>"$tmp/err" || cat "$tmp/err"
check "encode --precision int8 writes 3 embeddings" test "$(grep -c '^\[' "$tmp/int8.jsonl")" -eq 3
check "int8 embeddings are not the fp32 bits" bash -c "test -s '$tmp/int8.jsonl' && ! cmp -s '$tmp/fp32.jsonl' '$tmp/int8.jsonl'"
check "int8 embeddings within cosine 0.999 of fp32" cosines_close "$tmp/fp32.jsonl" "$tmp/int8.jsonl"
check "int8 does not depend on threads or batch size" cmp -s "$tmp/int8.jsonl" "$tmp/int8b.jsonl"
head -31 "$shared/data/stsb/test.tsv" >"$tmp/sts.tsv"
"$semb" eval sts --model "$fixture" --data "$tmp/sts.tsv" >"$tmp/sts32.json" 2>"$tmp/err" || cat "$tmp/err"
"$semb" eval sts --model "$fixture" --data "$tmp/sts.tsv" --precision int8 >"$tmp/sts8.json" 2>"$tmp/err" || cat "$tmp/err"
# Spearman of 30 pairs in fp32 and int8: within 0.02 of each other (ranks rarely move)
spearman() { sed -n 's/^{"spearman": \([-0-9.]*\),.*/\1/p' "$1"; }
check "eval sts --precision int8 reports a Spearman near fp32's" \
    awk -v a="$(spearman "$tmp/sts32.json")" -v b="$(spearman "$tmp/sts8.json")" \
    'BEGIN { exit !(a != "" && b != "" && a - b < 0.02 && b - a < 0.02) }'
expect_error --no-stdout "eval sts refuses an unknown precision" "^semb eval sts: --precision: 'int4' is not fp32, bf16 or int8$" \
    "$semb" eval sts --model "$fixture" --data "$tmp/sts.tsv" --precision int4
# the other commands that encode take --precision too: each runs in int8, and differs from fp32
printf 'a guitar is played\nthe cat sleeps\nrevenue rose\n' >"$tmp/cands.txt"
"$semb" rank --model "$fixture" --query "a man plays music" --candidates "$tmp/cands.txt" --format jsonl >"$tmp/rank32" 2>"$tmp/err" || cat "$tmp/err"
check "rank --precision int8 runs" bash -c "'$semb' rank --model '$fixture' --query 'a man plays music' --candidates '$tmp/cands.txt' --format jsonl --precision int8 >'$tmp/rank8' 2>'$tmp/err' && test -s '$tmp/rank8'"
check "and scores other than fp32's" bash -c "test -s '$tmp/rank32' && ! cmp -s '$tmp/rank32' '$tmp/rank8'"
"$semb" similarity --model "$fixture" --input "$tmp/in.txt" --format jsonl >"$tmp/sim32" 2>"$tmp/err" || cat "$tmp/err"
check "similarity --precision int8 runs" bash -c "'$semb' similarity --model '$fixture' --input '$tmp/in.txt' --format jsonl --precision int8 >'$tmp/sim8' 2>'$tmp/err' && test -s '$tmp/sim8'"
check "and scores other than fp32's" bash -c "test -s '$tmp/sim32' && ! cmp -s '$tmp/sim32' '$tmp/sim8'"
check "cluster --precision int8 runs" bash -c "'$semb' cluster --model '$fixture' --input '$tmp/in.txt' --k 2 --precision int8 >/dev/null 2>'$tmp/err'"
check "bias --precision int8 runs" bash -c "'$semb' bias --model '$fixture' --precision int8 --format json >'$tmp/bias8' 2>'$tmp/err' && test -s '$tmp/bias8'"
check "eval triplet --precision int8 runs" bash -c "printf '{\"anchor\": \"a\", \"positive\": \"b\", \"negative\": \"c\"}\n' >'$tmp/t.jsonl' && '$semb' eval triplet --model '$fixture' --data '$tmp/t.jsonl' --precision int8 >/dev/null 2>'$tmp/err'"
expect_error --no-stdout "rank refuses an unknown precision" "^semb rank: --precision: 'int4' is not fp32, bf16 or int8$" \
    "$semb" rank --model "$fixture" --query q --candidates "$tmp/cands.txt" --precision int4
expect_error --no-stdout "eval refuses --precision with the TF-IDF baseline" "--precision applies to a model" \
    "$semb" eval sts --baseline tfidf --data "$tmp/sts.tsv" --precision int8
expect_error --no-stdout "encode refuses an unknown precision" "^semb encode: --precision: 'fp16' is not fp32, bf16 or int8$" \
    "$semb" encode --model "$fixture" --input "$tmp/in.txt" --precision fp16
expect_error --no-stdout "encode refuses an empty precision" "--precision: '' is not fp32, bf16 or int8" \
    "$semb" encode --model "$fixture" --input "$tmp/in.txt" --precision ""

# train
tail -n +2 "$shared/data/stsb/train.tsv" | head -16 | awk -F'\t' '
    function esc(s) { gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); return s }
    { printf "{\"anchor\": \"%s\", \"positive\": \"%s\"}\n", esc($2), esc($3) }' >"$tmp/pairs.jsonl"
opts=(--data "$tmp/pairs.jsonl" --steps 4 --batch-size 4 --lr 1e-3 --dropout 0.1 --seed 3 --threads 1)
"$semb" train --model "$fixture" "${opts[@]}" --precision bf16 --save-every 2 --keep-checkpoints 0 \
    --output "$tmp/full" --log "$tmp/full.jsonl" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "train --precision bf16 runs 4 steps" grep -q '"step": *4' "$tmp/full.jsonl"
check "its losses are finite numbers" bash -c "test -s '$tmp/full.jsonl' && ! grep -qiE 'nan|inf' '$tmp/full.jsonl'"
check "the checkpoint keeps the precision" grep -q '"precision": *"bf16"' "$tmp/full/checkpoint-2/trainer_state.json"
check "the model card says bf16" grep -q '`bf16`: True' "$tmp/full/README.md"
mkdir "$tmp/half" && cp -r "$tmp/full/checkpoint-2" "$tmp/half/"
expect_failure "a resume in fp32 of a bf16 run is refused" 'options.precision: the checkpoint has "bf16", this run "fp32"' \
    "$semb" train --resume "$tmp/half" "${opts[@]}"
"$semb" train --resume "$tmp/half" "${opts[@]}" --precision bf16 >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "a bf16 resume ends at the uninterrupted run's bits" cmp -s "$tmp/half/checkpoint-4/model.safetensors" "$tmp/full/checkpoint-4/model.safetensors"
"$semb" train --model "$fixture" "${opts[@]}" --save-every 2 --keep-checkpoints 0 --output "$tmp/fp32" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "an fp32 run's checkpoint says fp32" grep -q '"precision": *"fp32"' "$tmp/fp32/checkpoint-4/trainer_state.json"
check "and its model card does not say bf16" bash -c "test -s '$tmp/fp32/README.md' && ! grep -q '\`bf16\`' '$tmp/fp32/README.md'"
# a checkpoint from before --precision existed (no such option saved) was fp32
mkdir "$tmp/old" && cp -r "$tmp/fp32/checkpoint-2" "$tmp/old/"
sed -i 's/"precision": *"fp32", *//' "$tmp/old/checkpoint-2/trainer_state.json"
check "(the old checkpoint has no precision)" bash -c "! grep -q precision '$tmp/old/checkpoint-2/trainer_state.json'"
expect_failure "an old checkpoint refuses a bf16 resume" 'options.precision: the checkpoint has "fp32", this run "bf16"' \
    "$semb" train --resume "$tmp/old" "${opts[@]}" --precision bf16
"$semb" train --resume "$tmp/old" "${opts[@]}" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "an old checkpoint resumes in fp32 to the same bits" cmp -s "$tmp/old/checkpoint-4/model.safetensors" "$tmp/fp32/checkpoint-4/model.safetensors"
check "bf16 and fp32 training end at other weights" bash -c "test -s '$tmp/fp32/model.safetensors' && ! cmp -s '$tmp/fp32/model.safetensors' '$tmp/full/model.safetensors'"
expect_error --no-stdout "train refuses int8" "^semb train: --precision: 'int8' is not fp32 or bf16 .int8 is for encoding only.$" \
    "$semb" train --model "$fixture" "${opts[@]}" --precision int8 --output "$tmp/bad"
check "and writes nothing" test ! -e "$tmp/bad"
expect_error --no-stdout "train refuses an unknown precision" "^semb train: --precision: 'fp8' is not fp32 or bf16$" \
    "$semb" train --model "$fixture" "${opts[@]}" --precision fp8 --output "$tmp/bad"
finish cli_precision
