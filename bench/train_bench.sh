#!/usr/bin/env bash
# Training throughput and peak memory: semb train on STS-B train pairs with a random
# MiniLM-L6-shaped model, beside the PyTorch anchor in the same run.
# usage: bench/train_bench.sh [SHARED_DIR] [STEPS]   (STEPS for batches 32/128; GradCache
# batches run 3 steps: each takes minutes on two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
steps=${2:-6}
scripts/build.sh
out=bench/out
mkdir -p "$out"
model="$out/minilm-l6-random"
[ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
    --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
pairs="$out/stsb-train-pairs.jsonl"
# sentence1 -> anchor, sentence2 -> positive, JSON-escaped
tail -n +2 "$shared/data/stsb/train.tsv" | awk -F'\t' '
    function esc(s) { gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\001-\037]/, " ", s); return s }
    { printf "{\"anchor\": \"%s\", \"positive\": \"%s\"}\n", esc($2), esc($3) }' >"$pairs"
run() { # batch mini threads [steps]
    local log="$out/train-b$1-m$2-t$3.jsonl" n=${4:-$steps}
    rm -rf "$out/trained"
    local mini=()
    [ "$2" -gt 0 ] && mini=(--mini-batch-size "$2")
    /usr/bin/time -f "%M" -o "$out/rss" build/semb train --model "$model" --data "$pairs" \
        --output "$out/trained" --batch-size "$1" "${mini[@]}" --steps "$n" \
        --threads "$3" --log "$log" >/dev/null
    # median pairs/s of the steps after the first (warm-up)
    local rate
    rate=$(tail -n +2 "$log" | sed 's/.*"pairs_per_s": \([0-9.]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf "semb train batch %5d mini %4s threads %d: %8.1f pairs/s, peak RSS %6.0f MiB\n" \
        "$1" "$2" "$3" "$rate" "$(($(cat "$out/rss") / 1024))"
}
echo "== $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(build/semb --version)"
for t in 1 2; do
    run 32 0 $t
    run 128 0 $t
    run 1024 64 $t 3
    run 4096 64 $t 3
done
. bench/anchor_env.sh
anchor_deps || true
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    for t in 1 2; do for b in 32 128; do
        echo "== PyTorch anchor, train fp32, batch $b, threads $t ($(anchor_env))"
        env $(anchor_env) /usr/bin/python3 \
            "$shared/anchors/torch_cpu_bench.py" run --model minilm --mode train --batch $b \
            --threads $t --dtype fp32 | grep RESULT
    done; done
fi
