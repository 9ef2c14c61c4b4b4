#!/usr/bin/env bash
# End-to-end tests of `semb train` on the tiny fixture model: pairs, triples and k hard
# negatives, the --log and --dump-gradients files, determinism, the options, and the bad-input
# paths (issue #3): skipped lines warned about with FILE:LINE and counted, one-line errors
# naming the flag or file when nothing can be trained, never a crash, never a half-written
# or partial output folder.
# usage: cli_train.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture"
make_tmp
# train ARGS...: 3 steps of 4 anchors from the fixture, one thread unless ARGS say otherwise
# (fast even on a busy machine); stderr kept in $tmp/train.err and shown on failure
train() {
    "$semb" train --model "$fixture" --steps 3 --batch-size 4 --threads 1 "$@" >"$tmp/train.out" 2>"$tmp/train.err" ||
        { echo "     $(tail -3 "$tmp/train.err")"; return 1; }
}
# log_ok FILE STEPS: one JSON object per step with step 1..STEPS and numeric loss, lr, grad_norm,
# pairs_per_s, step_s and its parts data_s, first_pass_s, forward_s, loss_s, backward_s, optimizer_s
log_ok() {
    [ "$(wc -l <"$1")" -eq "$2" ] || return 1
    local n=0 line key
    while IFS= read -r line; do
        n=$((n + 1))
        [[ $line =~ ^\{.*\}$ && $line =~ \"step\":\ *$n[,}] ]] || return 1
        for key in loss lr grad_norm pairs_per_s step_s data_s first_pass_s forward_s loss_s \
            backward_s optimizer_s; do
            [[ $line =~ \"$key\":\ *-?[0-9] ]] || return 1
        done
    done <"$1"
}
# no_leftovers DIR NAME: DIR holds no NAME and no temporary NAME.tmp.* folder
no_leftovers() {
    [ ! -e "$1/$2" ] && ! ls -A "$1" | grep -q "^$2\.tmp\."
}
# safetensors_has DIR/FILE NAME: the JSON header (after its 8-byte length) names tensor NAME
safetensors_has() {
    local n
    n=$(od -An -t u8 -N8 "$1" | tr -d ' ') && [ -n "$n" ] && [ "$n" -gt 0 ] &&
        head -c $((8 + n)) "$1" | tail -c "$n" | grep -q "^{.*\"$2\""
}

# --- data: 12 examples on 12 topics, with 0, 1 (string and list) and 3 hard negatives
topics=(cats dogs rain piano coffee trains chess rivers bread stars tennis maps)
for i in "${!topics[@]}"; do
    t=${topics[$i]} u=${topics[$(((i + 5) % 12))]} v=${topics[$(((i + 7) % 12))]} w=${topics[$(((i + 9) % 12))]}
    ap="\"anchor\": \"What do you know about $t?\", \"positive\": \"Here is fact $i about $t.\""
    echo "{$ap}" >>"$tmp/pairs.jsonl"
    echo "{$ap, \"negative\": \"A note on $u.\"}" >>"$tmp/triples.jsonl"
    echo "{$ap, \"negative\": [\"A note on $u.\", \"Some words about $v.\"]}" >>"$tmp/k2.jsonl"
    echo "{$ap, \"negative\": [\"A note on $u.\", \"Some words about $v.\", \"$w, briefly.\"]}" >>"$tmp/k3.jsonl"
done
printf 'What do you know about cats?\nThe weather is rainy today.\nChess is a board game.\n' >"$tmp/sentences.txt"

# --- happy path: pairs, then triples; the log, the saved folder, the changed embeddings
check "train pairs" train --data "$tmp/pairs.jsonl" --output "$tmp/out-pairs" --log "$tmp/log.jsonl"
check "log: one JSON object per step" log_ok "$tmp/log.jsonl" 3
check "stdout names the output" grep -q "out-pairs" "$tmp/train.out"
check "stdout gives the data pipeline's share" grep -q "^reading and tokenizing data: .*%)$" "$tmp/train.out"
check "no warnings on clean data" test ! -s "$tmp/train.err"
carried_ok() { # every file of the input model but the weights (and the test references) is carried over unchanged
    local f n=0
    while IFS= read -r f; do
        cmp -s "$fixture/$f" "$tmp/out-pairs/$f" || { echo "     $f missing or changed"; return 1; }
        n=$((n + 1))
    done < <(cd "$fixture" && find . -type f ! -name 'ref.*' ! -name model.safetensors ! -name README.md | sed 's|^\./||')
    [ "$n" -ge 8 ]
}
check "all config and tokenizer files carried over" carried_ok
for f in modules.json config.json config_sentence_transformers.json sentence_bert_config.json \
    tokenizer.json tokenizer_config.json 1_Pooling/config.json 2_Normalize/config.json; do
    check "output has $f" test -s "$tmp/out-pairs/$f"
done
check "output has new weights" bash -c "[ -s '$tmp/out-pairs/model.safetensors' ] && ! cmp -s '$fixture/model.safetensors' '$tmp/out-pairs/model.safetensors'"
check "no temporary folder left" no_leftovers "$tmp" "out-pairs.tmp"
"$semb" encode --model "$fixture" --input "$tmp/sentences.txt" >"$tmp/e-in.jsonl"
check "trained model loads with encode" bash -c "'$semb' encode --model '$tmp/out-pairs' --input '$tmp/sentences.txt' > '$tmp/e-out.jsonl' && [ \$(wc -l < '$tmp/e-out.jsonl') -eq 3 ]"
check "embeddings differ beyond rounding" bash -c "$(declare -f same_numbers); ! same_numbers '$tmp/e-in.jsonl' '$tmp/e-out.jsonl'"
check "train triples, negative a string" train --data "$tmp/triples.jsonl" --output "$tmp/out-triples" --log "$tmp/log3.jsonl"
check "triples log" log_ok "$tmp/log3.jsonl" 3
check "train 2 negatives as a list" train --data "$tmp/k2.jsonl" --output "$tmp/out-k2"
check "train 3 negatives" train --data "$tmp/k3.jsonl" --output "$tmp/out-k3" --batch-size 3
check "k3 model loads with encode" bash -c "'$semb' encode --model '$tmp/out-k3' --input '$tmp/sentences.txt' | wc -l | grep -qx 3"

# a Normalize module at another path (modules.json names it) is saved where it was
cp -r "$fixture" "$tmp/renamed" && mv "$tmp/renamed/2_Normalize" "$tmp/renamed/3_Normalize" &&
    sed -i 's/2_Normalize/3_Normalize/' "$tmp/renamed/modules.json"
check "train a model whose Normalize is in 3_Normalize" "$semb" train --model "$tmp/renamed" --data "$tmp/pairs.jsonl" \
    --steps 1 --batch-size 4 --threads 1 --output "$tmp/out-renamed"
check "its output keeps 3_Normalize" bash -c "[ -d '$tmp/out-renamed/3_Normalize' ] && [ ! -e '$tmp/out-renamed/2_Normalize' ] && cmp -s '$tmp/renamed/modules.json' '$tmp/out-renamed/modules.json'"

# --- the first step's gradients
check "--dump-gradients" train --data "$tmp/triples.jsonl" --output "$tmp/out-dump" --dump-gradients "$tmp/grads.safetensors"
check "gradient dump is a safetensors file with the loss" safetensors_has "$tmp/grads.safetensors" loss
check "gradient dump has encoder gradients" safetensors_has "$tmp/grads.safetensors" "encoder.layer.0.attention.self.query.weight"

# --- determinism: same seed, dropout and threads, shuffled -> identical bytes; another seed ->
# different. (Another thread count may change the last bits: sums split differently.)
check "seeded run 1" train --data "$tmp/pairs.jsonl" --dropout 0.1 --seed 7 --steps 4 --threads 2 --output "$tmp/seed7a"
check "seeded run 2" train --data "$tmp/pairs.jsonl" --dropout 0.1 --seed 7 --steps 4 --threads 2 --output "$tmp/seed7b"
check "another seed" train --data "$tmp/pairs.jsonl" --dropout 0.1 --seed 8 --steps 4 --threads 2 --output "$tmp/seed8"
check "same seed: byte-identical weights" cmp -s "$tmp/seed7a/model.safetensors" "$tmp/seed7b/model.safetensors"
check "another seed: different weights" bash -c "! cmp -s '$tmp/seed7a/model.safetensors' '$tmp/seed8/model.safetensors'"

# --- the options
check "--no-shuffle" train --data "$tmp/pairs.jsonl" --no-shuffle --output "$tmp/o-noshuffle"
check "--symmetric" train --data "$tmp/triples.jsonl" --symmetric --output "$tmp/o-symmetric"
check "--similarity dot" train --data "$tmp/pairs.jsonl" --similarity dot --output "$tmp/o-dot"
check "--scheduler constant" train --data "$tmp/pairs.jsonl" --scheduler constant --output "$tmp/o-constant"
check "--scheduler cosine" train --data "$tmp/pairs.jsonl" --scheduler cosine --output "$tmp/o-cosine"
check "full batch, no dropout" train --data "$tmp/k2.jsonl" --dropout 0 --no-shuffle --output "$tmp/o-full" --log "$tmp/log-full.jsonl"
check "--mini-batch-size 2" train --data "$tmp/k2.jsonl" --dropout 0 --no-shuffle --mini-batch-size 2 --output "$tmp/o-mini" --log "$tmp/log-mini.jsonl"
same_losses() { # the losses of two logs agree to 1e-5
    paste -d' ' <(sed 's/.*"loss": *\([^,]*\),.*/\1/' "$1") <(sed 's/.*"loss": *\([^,]*\),.*/\1/' "$2") |
        awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5 || NF != 2) bad = 1; n++ } END { exit (bad || n != 3) }'
}
check "GradCache losses equal full batch" same_losses "$tmp/log-full.jsonl" "$tmp/log-mini.jsonl"

# --- recoverable lines: a counted warning naming FILE:LINE each, the line skipped, training goes on
{
    head -4 "$tmp/pairs.jsonl"
    echo '{"anchor": "broken JSON", "positive": '                      # line 5
    sed -n 5,6p "$tmp/pairs.jsonl"
    echo '{"anchor": "no positive here"}'                              # line 8
    echo '{"anchor": "", "positive": "empty anchor"}'                  # line 9
    echo
    echo '{"anchor": "one negative", "positive": "p", "negative": "n"}' # line 11: the others have none
    sed -n 7,12p "$tmp/pairs.jsonl"
    echo '{"anchor": "a number", "positive": 3}'                       # line 18
    echo '{"anchor": "a", "positive": "   "}'                          # line 19
} >"$tmp/mixed.jsonl"
check "bad lines skipped, training goes on" train --data "$tmp/mixed.jsonl" --output "$tmp/out-mixed"
check "skipped model saved" test -s "$tmp/out-mixed/model.safetensors"
check "warning: malformed JSON at FILE:LINE" grep -q "^semb train: warning: .*mixed.jsonl:5: malformed JSON" "$tmp/train.err"
check "warning: missing field" grep -q "mixed.jsonl:8: missing field \"positive\"" "$tmp/train.err"
check "warning: empty text" grep -q "mixed.jsonl:9: field \"anchor\" is empty" "$tmp/train.err"
check "warning: another number of negatives" grep -q "mixed.jsonl:11: 1 negative, but the first example (line 1) has 0" "$tmp/train.err"
check "warning: non-string field" grep -q "mixed.jsonl:18: field \"positive\" is not a string" "$tmp/train.err"
check "only the first 5 lines listed" bash -c "[ \$(grep -c 'line skipped' '$tmp/train.err') -eq 5 ] && ! grep -q 'mixed.jsonl:19' '$tmp/train.err'"
check "skipped and blank lines counted" grep -q "mixed.jsonl: skipped 6 of 18 lines (the first 5 listed above) and 1 blank line; training on 12 examples" "$tmp/train.err"
{ head -3 "$tmp/pairs.jsonl"; printf '\n  \t\n'; sed -n 4,12p "$tmp/pairs.jsonl"; echo; } >"$tmp/blanks.jsonl"
check "blank lines only: trains" train --data "$tmp/blanks.jsonl" --output "$tmp/out-blanks"
check "blank lines only: counted, one warning" bash -c "[ \$(wc -l < '$tmp/train.err') -eq 1 ] && grep -q 'blanks.jsonl: skipped 3 blank lines; training on 12 examples' '$tmp/train.err'"
{ head -3 "$tmp/pairs.jsonl"; echo 'not json'; sed -n 4,12p "$tmp/pairs.jsonl"; } >"$tmp/one-bad.jsonl"
check "one bad line" train --data "$tmp/one-bad.jsonl" --output "$tmp/out-one-bad"
check "one bad line: warning and count" bash -c "[ \$(wc -l < '$tmp/train.err') -eq 2 ] && grep -q 'one-bad.jsonl:4: malformed JSON' '$tmp/train.err' && grep -q 'skipped 1 of 13 lines; training on 12 examples' '$tmp/train.err'"

# --- several files: weights, gzip/zstd, TSV and list layouts, a data config, --epochs
mkdir -p "$tmp/multi"
gzip -c "$tmp/pairs.jsonl" >"$tmp/multi/pairs.jsonl.gz"
sed 's/.*"anchor": "\([^"]*\)", "positive": "\([^"]*\)".*/\1\t\2/' "$tmp/pairs.jsonl" >"$tmp/multi/pairs:v2.tsv"
sed 's/.*"anchor": "\([^"]*\)", "positive": "\([^"]*\)", "negative": "\([^"]*\)".*/["\1", "\2", "\3"]/' "$tmp/triples.jsonl" >"$tmp/multi/lists.jsonl"
if command -v zstd >/dev/null; then
    zstd -q -c "$tmp/multi/lists.jsonl" >"$tmp/multi/lists.jsonl.zst" && lists="$tmp/multi/lists.jsonl.zst"
else
    lists="$tmp/multi/lists.jsonl"
fi
check "train on weighted gzip, TSV (':' in its name) and list files" train --data "$tmp/multi/pairs.jsonl.gz:3" \
    --data "$tmp/multi/pairs:v2.tsv" --data "$lists:2" --steps 6 --output "$tmp/out-multi" --log "$tmp/log-multi.jsonl"
check "multi-file log" log_ok "$tmp/log-multi.jsonl" 6
check "clean multi-file data: no warnings" test ! -s "$tmp/train.err"
printf '[{"name": "pairs.jsonl.gz", "weight": 10, "lines": 12},\n {"name": "lists.jsonl", "weight": 1}]\n' >"$tmp/multi/data_config.json"
check "--data-config, one file per batch" train --data-config "$tmp/multi/data_config.json" --datasets-per-batch 1 --output "$tmp/out-config"
train_epochs() { # as train, without --steps
    "$semb" train --model "$fixture" --batch-size 4 --threads 1 "$@" >"$tmp/train.out" 2>"$tmp/train.err" ||
        { echo "     $(tail -3 "$tmp/train.err")"; return 1; }
}
check "--epochs 2: steps from the line counts (24 lines x 2 / 4)" train_epochs --data "$tmp/pairs.jsonl" \
    --data "$tmp/multi/pairs:v2.tsv" --epochs 2 --output "$tmp/out-epochs" --log "$tmp/log-epochs.jsonl"
check "--epochs log has 12 steps" log_ok "$tmp/log-epochs.jsonl" 12
check "--epochs from the config's line counts (24 x 1 / 4)" train_epochs --data-config "$tmp/multi/data_config.json" \
    --epochs 1 --output "$tmp/out-epochs2" --log "$tmp/log-epochs2.jsonl"
check "config --epochs log has 6 steps" log_ok "$tmp/log-epochs2.jsonl" 6
check "--max-seq-length 6 --shuffle-buffer 3" train --data "$tmp/k2.jsonl" --max-seq-length 6 --shuffle-buffer 3 --output "$tmp/out-maxlen"
expect_error "--strict: the first bad line is fatal" "mixed.jsonl:5: malformed JSON.*--strict" "$semb" train --model "$fixture" \
    --data "$tmp/mixed.jsonl" --strict --steps 1 --batch-size 4 --output "$tmp/bad-out"
{ cat "$tmp/pairs.jsonl"; printf '{"anchor": "%0200d", "positive": "long"}\n' 0; } >"$tmp/long.jsonl"
check "--max-line-bytes skips long lines" train --data "$tmp/long.jsonl" --max-line-bytes 150 --output "$tmp/out-maxline"
check "the long line named" grep -q "long.jsonl:13: line of 234 bytes is longer than --max-line-bytes 150; line skipped" "$tmp/train.err"
expect_error "a missing second file, before training" "nope.jsonl.gz: cannot open" "$semb" train --model "$fixture" \
    --data "$tmp/pairs.jsonl" --data "$tmp/nope.jsonl.gz:2" --batch-size 4 --output "$tmp/bad-out"
printf 'not gzip\n' >"$tmp/fake.jsonl.gz"
expect_error "a .gz that is not gzip" "fake.jsonl.gz: named .gz but is not gzip data" "$semb" train --model "$fixture" \
    --data "$tmp/fake.jsonl.gz" --output "$tmp/bad-out"
# a bad weight is named as one, not read into a file name that then does not exist (issue #14)
for w in 0 -1 abc nan inf '' 1e400; do
    expect_error "bad weight '$w'" "--data .*pairs.jsonl:$w: weight '$w' is not a positive finite number" \
        "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl:$w" --output "$tmp/bad-out"
done
cp "$tmp/pairs.jsonl" "$tmp/pairs.jsonl:abc"
check "a file whose name ends in ':abc' is a file" train --data "$tmp/pairs.jsonl:abc" --steps 1 --output "$tmp/out-colon"
echo '[{"weight": 1}]' >"$tmp/data_config.json"
expect_error "a bad data config" "data_config.json: entry 1: \"name\" is missing" "$semb" train --model "$fixture" --data-config "$tmp/data_config.json" --output "$tmp/bad-out"
expect_error "--epochs with --steps" "--epochs and --steps" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --epochs 1 --steps 3 --output "$tmp/bad-out"
expect_error "--datasets-per-batch 0" "--datasets-per-batch: 0 is not a positive number" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --datasets-per-batch 0 --output "$tmp/bad-out"
expect_error "--shuffle-buffer 0" "--shuffle-buffer: 0 is not a positive number" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --shuffle-buffer 0 --output "$tmp/bad-out"
expect_error "--max-seq-length 0" "--max-seq-length: 0 is not a positive number" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --max-seq-length 0 --output "$tmp/bad-out"

# --- nothing to train: one error line naming the file, non-zero exit, no output
: >"$tmp/empty.jsonl"
expect_error "empty data file" "empty.jsonl: no training examples: the file is empty" "$semb" train --model "$fixture" --data "$tmp/empty.jsonl" --output "$tmp/bad-out"
printf '\n\n' >"$tmp/blank.jsonl"
expect_error "blank lines only" "blank.jsonl: no training examples" "$semb" train --model "$fixture" --data "$tmp/blank.jsonl" --output "$tmp/bad-out"
printf '{"anchor": "a"}\nnot json\n{"anchor": " ", "positive": "p"}\n' >"$tmp/allbad.jsonl"
expect_error "every line bad" "allbad.jsonl: no usable training examples: all 3 lines skipped; first: .*allbad.jsonl:1: missing field \"positive\"" "$semb" train --model "$fixture" --data "$tmp/allbad.jsonl" --output "$tmp/bad-out"
expect_error "data file missing" "nope.jsonl: cannot open" "$semb" train --model "$fixture" --data "$tmp/nope.jsonl" --output "$tmp/bad-out"
expect_error "batch larger than the data" "pairs.jsonl: --batch-size 13 is larger than the data \(12 usable examples\)" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --batch-size 13 --output "$tmp/bad-out"
expect_error "missing model folder" "/no/such/model: model folder not found" "$semb" train --model /no/such/model --data "$tmp/pairs.jsonl" --output "$tmp/bad-out"
expect_error "no --output" "--output \(or --resume\) are required" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl"
bad_flag() { # bad_flag FLAG VALUE PATTERN
    expect_error "$1 $2" "^semb train: .*$1.*$3" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --output "$tmp/bad-out" --steps 1 --batch-size 4 "$1" "$2"
}
bad_flag --batch-size 0 "not a positive number"
# one pair per batch has no in-batch negative: its loss is always 0 (issue #14)
bad_flag --batch-size 1 "1 is too small.*needs at least 2"
expect_error "--batch-size 1 with GradCache" "--batch-size: 1 is too small" "$semb" train --model "$fixture" \
    --data "$tmp/pairs.jsonl" --output "$tmp/bad-out" --steps 1 --batch-size 1 --mini-batch-size 1
check "--batch-size 2 --mini-batch-size 1 trains" train --data "$tmp/pairs.jsonl" --steps 1 --batch-size 2 \
    --mini-batch-size 1 --output "$tmp/out-b2"
bad_flag --steps -1 "not a positive number"
bad_flag --lr abc "not a number"
bad_flag --lr -1 ">= 0"
bad_flag --scheduler bogus "'bogus' is not linear, constant or cosine"
bad_flag --similarity bogus "'bogus' is not cosine or dot"
bad_flag --mini-batch-size 0 "not a positive number"
bad_flag --warmup-steps -1 "negative"
bad_flag --dropout 1.5 "not in \[0, 1\)"
bad_flag --dropout -0.1 "not in \[0, 1\)"
bad_flag --max-grad-norm -1 ">= 0"
bad_flag --scale 0 "not a positive number"
bad_flag --steps 2x "not an integer"
check "failed runs left no output" no_leftovers "$tmp" bad-out

# --- the output folder: refused when it holds files, never half-written
cp "$tmp/out-pairs/model.safetensors" "$tmp/pairs-weights"
expect_error "existing non-empty output refused" "out-pairs: already exists and is not empty" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --steps 1 --batch-size 4 --output "$tmp/out-pairs"
check "existing output untouched" cmp -s "$tmp/pairs-weights" "$tmp/out-pairs/model.safetensors"
expect_error "--output is the --model folder" "already exists and is not empty" "$semb" train --model "$tmp/out-pairs" --data "$tmp/pairs.jsonl" --steps 1 --batch-size 4 --output "$tmp/out-pairs/"
expect_error "--output is a file" "pairs-weights: exists and is not a folder" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --steps 1 --batch-size 4 --output "$tmp/pairs-weights"
mkdir "$tmp/empty-out" "$tmp/empty-target" && ln -s "$tmp/empty-target" "$tmp/link-out"
# a link is followed (issue #14): the folder it names is filled, the link stays
check "--output is a symbolic link to an empty folder" train --data "$tmp/pairs.jsonl" --steps 1 --output "$tmp/link-out"
check "the link stays, its folder holds the model" bash -c "[ -L '$tmp/link-out' ] && [ -s '$tmp/empty-target/model.safetensors' ]"
check "existing empty output folder is used" train --data "$tmp/pairs.jsonl" --steps 1 --output "$tmp/empty-out"
check "empty output folder filled" test -s "$tmp/empty-out/model.safetensors"
expect_error "output below a regular file" "pairs-weights/sub: cannot create a folder there: Not a directory" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --steps 1 --batch-size 4 --output "$tmp/pairs-weights/sub"
mkdir "$tmp/readonly" && chmod 555 "$tmp/readonly"
if touch "$tmp/readonly/probe" 2>/dev/null; then
    rm -f "$tmp/readonly/probe"
    echo "skipped read-only output folder (running as root: chmod 555 does not stop writes)"
else
    expect_error "read-only output folder" "readonly/out: cannot create a folder there: Permission denied" "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --steps 1 --batch-size 4 --output "$tmp/readonly/out"
    check "read-only folder left empty" bash -c "[ -z \"\$(ls -A '$tmp/readonly')\" ]"
fi
# A failure while writing (a file-size limit the weights exceed, even for root): the run
# fails with one line naming the file, and neither the folder nor a temporary one remains.
mkdir "$tmp/limited"
(
    trap '' XFSZ
    ulimit -f 2048
    exec "$semb" train --model "$fixture" --data "$tmp/pairs.jsonl" --steps 1 --batch-size 4 --output "$tmp/limited/out"
) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "write failure: non-zero exit, one line naming the weights" bash -c "[ $rc -eq 1 ] && [ \$(wc -l < '$tmp/err') -eq 1 ] && grep -q 'limited/out.*cannot save.*model.safetensors' '$tmp/err'"
echo "     $(cat "$tmp/err")"
check "write failure: nothing left behind" bash -c "[ -z \"\$(ls -A '$tmp/limited')\" ]"

finish cli_train
