#!/usr/bin/env bash
# semb encoding beside ONNX Runtime (onnxruntime-node, CPU) in the same run on the same machine.
# usage: bench/onnx_bench.sh [SHARED_DIR] [ROUNDS]     (default ../shared, 3 rounds)
#
# Installs what is missing: onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip npm ci in bench/onnx;
# a plain install downloads GPU files), Debian's python3-torch (bench/anchor_env.sh), then
# torch_cpu_bench.py export-onnx writes the MiniLM-L6-shaped random-weight encoder + mean pooling
# as ONNX into bench/out/onnx. ORT's outputs are checked against torch's reference embeddings.
# Workload for both engines: the 2,758 STS-B test sentences, with the same token ids (semb's
# tokenizer writes them for ORT). Each round runs semb (build/bench_encode, 1 pass per config) then
# ORT (1 pass per config), so both see the same machine state; the table gives medians over rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
rounds=${2:-3}
scripts/build.sh
out=bench/out/onnx
mkdir -p "$out"
model=bench/out/minilm-l6-random
[ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
    --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
[ -e bench/onnx/node_modules/onnxruntime-node/package.json ] ||
    (cd bench/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
if [ ! -e "$out/minilm_meanpool.onnx" ]; then
    . bench/anchor_env.sh
    anchor_deps
    /usr/bin/python3 "$shared/anchors/torch_cpu_bench.py" export-onnx --out "$out"
fi
awk -F'\t' 'NR > 1 && NF >= 3 { print $2; print $3 }' "$shared/data/stsb/test.tsv" >"$out/stsb_test.txt"
build/semb tokenize --model "$model" --input "$out/stsb_test.txt" >"$out/stsb_test_tokens.jsonl"
echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) CPUs," \
    "$(grep -ow -m1 -e avx512f -e avx2 /proc/cpuinfo | sort -u | tr '\n' ' '); $(build/semb --version)"
echo "== ONNX Runtime vs torch reference (1,024 exported sentences, batch 32)"
node bench/onnx/ort_bench.js check --dir "$out"
log="$out/onnx_bench.log"
: >"$log"
for r in $(seq "$rounds"); do
    echo "== round $r/$rounds: semb encode (STS-B test)"
    build/bench_encode "$model" "$shared/data/stsb/test.tsv" 1 | tee -a "$log"
    echo "== round $r/$rounds: ONNX Runtime encode (STS-B test, same token ids)"
    node bench/onnx/ort_bench.js bench --dir "$out" --tokens "$out/stsb_test_tokens.jsonl" --reps 1 |
        tee -a "$log"
done
echo "== medians over $rounds rounds (log: $log)"
node bench/onnx/ort_bench.js summary "$log"
