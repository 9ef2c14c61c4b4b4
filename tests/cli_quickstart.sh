#!/usr/bin/env bash
# The main job end to end, shrunk to seconds: semb quickstart with a tiny model and budget
# builds the corpus from the Debian text packages, a vocabulary, trains, evaluates beside the
# TF-IDF baseline and saves a model with its card. Skipped when none of the data packages is
# installed (scripts/install-deps.sh installs them) and under the sanitizer build (slow).
# usage: cli_quickstart.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
if [ ! -e /usr/share/wordnet/data.noun ] && [ ! -d /usr/share/dictd ]; then
    skip "no WordNet or dictd data installed (scripts/install-deps.sh)"
fi
if [ "${SEMB_SANITIZED:-0}" = 1 ]; then
    skip "too slow under ASan/UBSan"
fi
make_tmp
"$semb" quickstart --minutes 0.15 --hidden 64 --layers 1 --vocab-size 2000 --batch-size 16 \
    --mini-batch-size 8 --output "$tmp/model" >"$tmp/out" 2>"$tmp/err"
rc=$?
tail -25 "$tmp/out"
check "quickstart exits 0" test $rc -eq 0
check "every step reported" bash -c "grep -q '^\[1/5\]' '$tmp/out' && grep -q '^\[5/5\]' '$tmp/out'"
check "datasets with held-out splits" grep -qE "train pairs +[0-9]+ held out" "$tmp/out"
check "vocabulary learned" grep -q "tokens from" "$tmp/out"
check "retrieval table beside TF-IDF" grep -q "mean MRR@10: semb [0-9.]*, TF-IDF [0-9.]*" "$tmp/out"
check "the model folder loads" bash -c "echo 'a dog' | '$semb' encode --model '$tmp/model' | grep -q '^\['"
check "model card" grep -q "MultipleNegativesSymmetricRankingLoss\|Symmetric" "$tmp/model/README.md"
check "loss chart" test -s "$tmp/model/training_loss.svg"
check "a second quickstart into the same folder is refused" bash -c "! '$semb' quickstart --output '$tmp/model' 2>/dev/null"
finish cli_quickstart
