#!/usr/bin/env bash
# Encoding and tokenizer benchmarks on this machine, beside the PyTorch anchor in the same run.
# usage: bench/run.sh [SHARED_DIR]     (results printed; copy them into bench/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
scripts/build.sh
out=bench/out
mkdir -p "$out"
model="$out/minilm-l6-random"
[ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
    --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ; $(build/semb --version)"
echo "== semb tokenizer"
build/bench_tokenizer "$shared/data/stsb"/*.tsv
echo "== semb encode (STS-B test sentences)"
build/bench_encode "$model" "$shared/data/stsb/test.tsv" 3
. bench/anchor_env.sh
anchor_deps || true
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    for t in 1 2; do for b in 32 128; do
        echo "== PyTorch anchor, infer, batch $b, threads $t ($(anchor_env))"
        env $(anchor_env) /usr/bin/python3 \
            "$shared/anchors/torch_cpu_bench.py" run --model minilm --mode infer --batch $b \
            --threads $t --dtype fp32 | grep RESULT
    done; done
else
    echo "== PyTorch anchor skipped: install python3-torch python3-numpy (Debian) to compare"
fi
