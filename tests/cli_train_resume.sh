#!/usr/bin/env bash
# Checkpoints and resuming (issue #4): 20 steps in one run equal 10 steps + a resumed 10, bit
# for bit (weights and optimizer state), with dropout and shuffling on; a run killed with
# SIGKILL at random moments again and again, resumed each time, ends at the same bits; a
# run stopped by --max-minutes resumes to the same end; the --log of resumed runs holds each
# step once, a log that cannot be written stops the run, and one run at a time uses an output
# folder (issue #14). Also: the model card and loss chart
# in the output, evaluation during training, and a run from a new model (--arch).
# usage: cli_train_resume.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture"
make_tmp
# 40 pairs from STS-B train, enough for shuffled batches of 4 over several passes
tail -n +2 "$shared/data/stsb/train.tsv" | head -40 | awk -F'\t' '
    function esc(s) { gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); return s }
    { printf "{\"anchor\": \"%s\", \"positive\": \"%s\"}\n", esc($2), esc($3) }' >"$tmp/pairs.jsonl"
opts=(--data "$tmp/pairs.jsonl" --steps 20 --batch-size 4 --lr 1e-3 --dropout 0.1 --seed 5 --threads 1)
log_steps_are() { # log_steps_are FILE N: FILE's lines are steps 1..N, each once, in order
    [ "$(sed 's/^{"step": \([0-9]*\),.*/\1/' "$1" | tr '\n' ' ')" = "$(seq -s ' ' 1 "$2") " ]
}
same_state() { # checkpoint folders A and B hold the same weights and optimizer state
    cmp -s "$1/model.safetensors" "$2/model.safetensors" &&
        cmp -s "$1/optimizer.safetensors" "$2/optimizer.safetensors"
}

"$semb" train --model "$fixture" "${opts[@]}" --save-every 10 --keep-checkpoints 0 \
    --output "$tmp/full" --log "$tmp/full.jsonl" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "one run of 20 steps with a checkpoint every 10" test -d "$tmp/full/checkpoint-20"
check "its checkpoint-10 is kept (--keep-checkpoints 0)" test -d "$tmp/full/checkpoint-10"
check "the output folder is a model: semb encode loads it" bash -c "echo 'a test sentence' | '$semb' encode --model '$tmp/full' --threads 1 | grep -q '^\['"
check "a checkpoint folder is a model too" bash -c "echo 'a test sentence' | '$semb' encode --model '$tmp/full/checkpoint-10' --threads 1 | grep -q '^\['"
check "top-level weights are the last checkpoint's" cmp -s "$tmp/full/model.safetensors" "$tmp/full/checkpoint-20/model.safetensors"
check "model card written" grep -q "MultipleNegativesRankingLoss" "$tmp/full/README.md"
check "loss chart written" grep -q "<svg" "$tmp/full/training_loss.svg"
check "trainer state names step 20" grep -q '"global_step": *20' "$tmp/full/checkpoint-20/trainer_state.json"

# 10 + resume 10: start from a copy of checkpoint-10 alone
mkdir "$tmp/half" && cp -r "$tmp/full/checkpoint-10" "$tmp/half/"
"$semb" train --resume "$tmp/half" "${opts[@]}" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "10 + resumed 10 = 20 in one run, bit for bit" same_state "$tmp/half/checkpoint-20" "$tmp/full/checkpoint-20"

# The log of a run killed after step 15, a line torn, resumed from checkpoint-10: cut back to
# step 10, then steps 11..20 once (issue #14)
check "the full run's log has steps 1..20" log_steps_are "$tmp/full.jsonl" 20
mkdir "$tmp/torn" && cp -r "$tmp/full/checkpoint-10" "$tmp/torn/"
{ head -15 "$tmp/full.jsonl"; printf '{"step": 16, "loss": 1.2'; } >"$tmp/torn.jsonl"
"$semb" train --resume "$tmp/torn" "${opts[@]}" --log "$tmp/torn.jsonl" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "resumed from step 10: the log has steps 1..20, each once" log_steps_are "$tmp/torn.jsonl" 20
check "the steps before the checkpoint are kept as they were" cmp -s <(head -10 "$tmp/torn.jsonl") <(head -10 "$tmp/full.jsonl")
mkdir "$tmp/foreign" && cp -r "$tmp/full/checkpoint-10" "$tmp/foreign/" && echo 'my notes' >"$tmp/notes.txt"
expect_error "resume with --log naming another kind of file" "notes.txt:1: not a JSON object.*not a semb train log" \
    "$semb" train --resume "$tmp/foreign" "${opts[@]}" --log "$tmp/notes.txt"
check "that file left as it was" grep -qx 'my notes' "$tmp/notes.txt"
if [ -w /dev/full ]; then
    expect_error "a log that cannot be written stops the run, naming it" "^semb train: /dev/full: cannot write the log: No space left on device" \
        "$semb" train --model "$fixture" "${opts[@]}" --output "$tmp/full-disk" --log /dev/full
fi

# Resuming refuses other settings and a finished run
expect_refusal() { # name pattern args...: semb train ARGS fails, its stderr matching pattern
    expect_failure "$1" "$2" "$semb" train "${@:3}"
}
mkdir "$tmp/other" && cp -r "$tmp/full/checkpoint-10" "$tmp/other/"
expect_refusal "resume with another batch size" "options.batch_size" --resume "$tmp/other" "${opts[@]}" --batch-size 5
expect_refusal "resume with another lr" "options.lr" --resume "$tmp/other" "${opts[@]}" --lr 2e-3
expect_refusal "resume of a finished run" "already trained to step 20" --resume "$tmp/full" "${opts[@]}"
expect_refusal "resume from a missing folder" "empty-does-not-exist: cannot read the folder" --resume "$tmp/empty-does-not-exist" "${opts[@]}"
mkdir "$tmp/no-checkpoints"
expect_refusal "resume from a folder without checkpoints" "no-checkpoints.*checkpoint" --resume "$tmp/no-checkpoints" "${opts[@]}"
expect_refusal "a fresh run into a folder with checkpoints" "not empty" --model "$fixture" "${opts[@]}" --output "$tmp/full"

# --max-minutes: stop early with a checkpoint, then resume to the same end
"$semb" train --model "$fixture" "${opts[@]}" --max-minutes 0.000001 --output "$tmp/timed" >"$tmp/out" 2>"$tmp/err"
check "--max-minutes stops early and says how to continue" grep -q "stopped at step 1 of 20.*--resume" "$tmp/out"
"$semb" train --resume "$tmp/timed" "${opts[@]}" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "the timed-out run resumed equals the full run" same_state "$tmp/timed/checkpoint-20" "$tmp/full/checkpoint-20"

# kill -9 at random moments, resume each time (from scratch when nothing was saved yet)
killed_args() { # resume when there is a checkpoint, else start over
    if ls -d "$tmp/killed"/checkpoint-* >/dev/null 2>&1; then
        args=(--resume "$tmp/killed")
    else
        rm -rf "$tmp/killed"
        args=(--model "$fixture" --output "$tmp/killed")
    fi
}
# the kills land within the first third of an uninterrupted run's time, measured here, so
# that a fast machine (the whole run in a fraction of a second) still sees runs cut short
t0=$(date +%s%N)
"$semb" train --model "$fixture" "${opts[@]}" --save-every 1 --output "$tmp/span" >/dev/null 2>&1
span_ms=$((($(date +%s%N) - t0) / 3000000))
[ "$span_ms" -ge 20 ] || span_ms=20
kills=0
for attempt in $(seq 1 60); do
    killed_args
    "$semb" train "${args[@]}" "${opts[@]}" --save-every 1 --log "$tmp/killed.jsonl" >/dev/null 2>"$tmp/kerr" &
    pid=$!
    ms=$((RANDOM % span_ms))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
    wait $pid 2>/dev/null
    [ -d "$tmp/killed/checkpoint-20" ] && break
done
if [ ! -d "$tmp/killed/checkpoint-20" ]; then # finish it off (slow builds: maybe from scratch)
    killed_args
    "$semb" train "${args[@]}" "${opts[@]}" --save-every 1 --log "$tmp/killed.jsonl" >/dev/null 2>"$tmp/kerr" || cat "$tmp/kerr"
fi
echo "     $kills kills (within ${span_ms} ms of a start)"
check "killed $kills times and resumed: same bits as the uninterrupted run" same_state "$tmp/killed/checkpoint-20" "$tmp/full/checkpoint-20"
check "at least 5 kills landed" test "$kills" -ge 5
check "killed and resumed: the log has steps 1..20, each once, in order" log_steps_are "$tmp/killed.jsonl" 20
check "no checkpoint folder is incomplete" bash -c "for d in '$tmp/killed'/checkpoint-*; do [ -s \"\$d/trainer_state.json\" ] && [ -s \"\$d/optimizer.safetensors\" ] || exit 1; done"

# One run per output folder (issue #14): a second run into it, fresh or resumed, is refused
# while the first runs; once the first is killed (-9, its lock file left behind), a run goes on
"$semb" train --model "$fixture" "${opts[@]}" --steps 1000000 --save-every 5 --output "$tmp/locked" >/dev/null 2>"$tmp/lerr" &
pid=$!
for _ in $(seq 1 300); do
    ls -d "$tmp/locked"/checkpoint-* >/dev/null 2>&1 && break
    sleep 0.1
done
# (--max-minutes: a run that is not refused ends soon all the same)
expect_error "a second fresh run into a folder in use is refused" "locked: another semb train \(pid $pid\) is using this output folder" \
    "$semb" train --model "$fixture" "${opts[@]}" --steps 1000000 --max-minutes 0.01 --output "$tmp/locked"
expect_error "a --resume of a folder in use is refused" "locked/: another semb train \(pid $pid\) is using this output folder" \
    "$semb" train --resume "$tmp/locked/" "${opts[@]}" --steps 1000000 --max-minutes 0.01
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
check "the killed run's lock file is left behind" test -e "$tmp/.locked.semb-train.lock"
"$semb" train --resume "$tmp/locked" "${opts[@]}" --steps 1000000 --max-minutes 0.000001 >"$tmp/out" 2>"$tmp/err"
check "after kill -9 a resumed run goes on" grep -q "stopped at step .* of 1000000" "$tmp/out"
check "a run that ends removes its lock file" test ! -e "$tmp/.locked.semb-train.lock"

# evaluation during training, and a new model from --arch
printf 'score\tsentence1\tsentence2\n' >"$tmp/sts.tsv"
tail -n +2 "$shared/data/stsb/dev.tsv" | head -50 >>"$tmp/sts.tsv"
"$semb" train --arch bert --vocab "$fixture/tokenizer.json" --hidden 32 --layers 2 --heads 2 \
    --intermediate 64 --data "$tmp/pairs.jsonl" --steps 6 --batch-size 4 --threads 1 \
    --eval-sts "$tmp/sts.tsv" --eval-every 3 --log "$tmp/arch.jsonl" --output "$tmp/arch" >/dev/null 2>"$tmp/err"
check "train --arch: a new model trained and saved" test -s "$tmp/arch/model.safetensors"
check "evaluations at steps 3 and 6 in the log" bash -c "[ \$(grep -c eval_sts_spearman '$tmp/arch.jsonl') -eq 2 ]"
check "evaluations printed" grep -q "STS Spearman" "$tmp/err"
check "evaluation in the model card" grep -q "spearman" "$tmp/arch/README.md"
check "the card says trained from scratch" grep -qi "scratch" "$tmp/arch/README.md"
check "log lines carry tokens_per_s and elapsed_s" grep -q '"tokens_per_s".*"elapsed_s"' "$tmp/arch.jsonl"

# An evaluation with no correlation to speak of (every gold score the same: NaN) is logged as
# null, so that the log stays JSON and a resume can cut it back
{ printf 'score\tsentence1\tsentence2\n'; tail -n +2 "$tmp/sts.tsv" | awk -F'\t' 'BEGIN { OFS = "\t" } { $1 = "3.0"; print }'; } >"$tmp/flat.tsv"
flat=(--data "$tmp/pairs.jsonl" --steps 4 --batch-size 4 --threads 1 --eval-sts "$tmp/flat.tsv" --eval-every 2 --save-every 2 --log "$tmp/flat.jsonl")
"$semb" train --model "$fixture" "${flat[@]}" --keep-checkpoints 0 --output "$tmp/flat" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
check "a NaN correlation is logged as null" grep -q '"step": 4, "eval_sts_spearman": null, "eval_sts_pearson": null}$' "$tmp/flat.jsonl"
mkdir "$tmp/flat2" && cp -r "$tmp/flat/checkpoint-2" "$tmp/flat2/"
check "that log is cut back on a resume" "$semb" train --resume "$tmp/flat2" "${flat[@]}" >/dev/null 2>&1
check "each step logged once, each evaluation once" bash -c "[ \$(grep -c '\"loss\"' '$tmp/flat.jsonl') -eq 4 ] && [ \$(grep -c eval_sts '$tmp/flat.jsonl') -eq 2 ]"

finish cli_train_resume
