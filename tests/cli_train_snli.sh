#!/usr/bin/env bash
# Training on real data: 300 steps of MNRL with hard negatives on the SNLI dev/test triplets,
# from a freshly initialised MiniLM-L6-shaped model (random weights, bert-base-uncased vocab).
# The loss must stay finite and fall clearly. Takes about two minutes on two cores, so the
# sanitizer build skips it (test_train and cli_train cover the same code there).
# usage: cli_train_snli.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
data="$shared/data/pairs/snli_devtest_triplets.jsonl"
vocab="$shared/data/vocab/bert-base-uncased-vocab.txt"
require_files "$data" "$vocab"
if [ "${SEMB_SANITIZED:-0}" = 1 ]; then
    skip "300 training steps are too slow under ASan/UBSan"
fi
make_tmp
set -e
"$semb" init --arch bert --vocab "$vocab" --max-seq-length 128 --output "$tmp/init" --seed 7
"$semb" train --model "$tmp/init" --data "$data" --output "$tmp/trained" --batch-size 16 \
    --steps 300 --lr 1e-4 --warmup-steps 30 --seed 7 --log "$tmp/log.jsonl"
set +e
# every step logged with a finite loss; mean of the last 50 steps well below the first 50
check "loss finite and decreasing over 300 steps" awk -F'"loss": ' '
    { split($2, a, ","); loss = a[1] + 0; n++
      if (a[1] !~ /^[0-9.eE+-]+$/ || loss != loss) bad = 1
      if (n <= 50) first += loss; if (n > 250) last += loss }
    END {
      first /= 50; last /= 50
      printf "steps %d, mean loss first 50 %.4f, last 50 %.4f\n", n, first, last
      exit (bad || n != 300 || !(last < first - 0.5))
    }' "$tmp/log.jsonl"
# the trained model encodes
printf 'A man is playing a guitar.\n' >"$tmp/in.txt"
encodes() {
    "$semb" encode --model "$tmp/trained" --input "$tmp/in.txt" --output "$tmp/emb.jsonl" 2>/dev/null &&
        [ -s "$tmp/emb.jsonl" ]
}
check "trained model encodes" encodes
finish cli_train_snli
