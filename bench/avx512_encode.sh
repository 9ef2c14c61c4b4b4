#!/usr/bin/env bash
# `semb encode` end to end on the AVX2 kernels (SEMB_CPU=avx2) against the AVX-512 ones (no
# cap), in the same run: batch 32 and 128, 1 and 2 threads, on bench/run.sh's MiniLM-L6-shaped
# random model and the first 1,024 STS-B test sentences. Each round runs every cell on both
# paths, the path that goes first alternating, and the table gives medians over rounds
# (sentences/s from the wall time of the whole command: loading and tokenizing included). The
# two paths' embeddings are compared byte for byte (fp32 and int8: the kernels give the same
# bits; bf16 changes with SEMB_CPU, which also turns AVX512-BF16 off).
#   bench/avx512_encode.sh [SHARED_DIR] [--rounds N] [--precision fp32|int8] [--sentences N]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared rounds=3 precision=fp32 sentences=1024
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    --sentences) sentences=$2; shift 2 ;;
    -*) echo "usage: $0 [SHARED_DIR] [--rounds N] [--precision P] [--sentences N]" >&2; exit 2 ;;
    *) shared=$1; shift ;;
    esac
done
out=bench/out/avx512 model=bench/out/minilm-l6-random
mkdir -p "$out"
[ -x build/semb ] || { echo "build first: cmake --build build" >&2; exit 1; }
[ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
    --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
awk -F'\t' 'NR > 1 && NF >= 3 { print $2; print $3 }' "$shared/data/stsb/test.tsv" |
    sed -n "1,${sentences}p" >"$out/sentences.txt"
n=$(wc -l <"$out/sentences.txt")
results=$out/results.txt
: >"$results"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) CPUs;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "semb: $(build/semb --version)"
for ((r = 1; r <= rounds; r++)); do
    for batch in 32 128; do
        for threads in 1 2; do
            paths=(avx2 native)
            ((r % 2)) || paths=(native avx2)
            for path in "${paths[@]}"; do
                start=$(date +%s.%N)
                SEMB_CPU=$path build/semb encode --model "$model" --input "$out/sentences.txt" \
                    --output "$out/$path.npy" --batch-size "$batch" --threads "$threads" \
                    --precision "$precision"
                end=$(date +%s.%N)
                echo "$batch $threads $path $(echo "$n / ($end - $start)" | bc -l)" >>"$results"
            done
            if [ "$precision" != bf16 ] && ! cmp -s "$out/avx2.npy" "$out/native.npy"; then
                echo "avx2 and avx512 embeddings differ (batch $batch, $threads threads)" >&2
                exit 1
            fi
        done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$precision" "$rounds" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {}
for b, t, p in {(r[0], r[1], r[2]) for r in rows}:
    med[b, t, p] = statistics.median(float(r[3]) for r in rows if r[:3] == [b, t, p])
cells = [("32", "1"), ("128", "1"), ("32", "2"), ("128", "2")]
print(f"\n| semb encode {sys.argv[2]}, sentences/s (median of {sys.argv[3]}) |"
      + "".join(f" batch {b}, {t} thread{'s' if t != '1' else ''} |" for b, t in cells))
print("|---|" + "---:|" * len(cells))
for p, name in (("avx2", "AVX2 kernels (SEMB_CPU=avx2)"), ("native", "AVX-512 kernels")):
    print(f"| {name} |" + "".join(f" {med[b, t, p]:.1f} |" for b, t in cells))
print("| AVX-512 / AVX2 |" + "".join(f" {med[b, t, 'native'] / med[b, t, 'avx2']:.2f} |"
                                      for b, t in cells))
PY
