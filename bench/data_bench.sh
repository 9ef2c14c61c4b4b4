#!/usr/bin/env bash
# Data pipeline throughput and memory: reader + sampler + tokenizer (build/bench_data), on
# generated JSONL pair files of 0.2 GB and GB_BIG GB (default 2), plain and zstd, read whole
# (one pass). Peak RSS must not grow with the file: streaming, never loading.
# usage: bench/data_bench.sh [SHARED_DIR] [GB_BIG]    (needs ~2x GB_BIG of free disk in bench/out)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
big=${2:-2}
scripts/build.sh
out=bench/out
mkdir -p "$out"
model="$out/minilm-l6-random"
[ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
    --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
# gen GB FILE: ~100-word pairs of English-like text, ~260 bytes a line, all distinct
gen() {
    awk -v bytes="$(awk -v g="$1" 'BEGIN { printf "%.0f", g * 1e9 }')" 'BEGIN {
        split("the of and to in is was for on that with as by at from his her it an were which are this be or", w, " ")
        split("river model sentence vector paper music city language system network energy market history", n, " ")
        srand(7); total = 0; i = 0
        while (total < bytes) {
            a = "what is the " n[int(rand() * 13) + 1] " " i " " w[int(rand() * 22) + 1] " " n[int(rand() * 13) + 1] "?"
            p = "the " n[int(rand() * 13) + 1] " " i
            for (k = 0; k < 30; k++) p = p " " w[int(rand() * 22) + 1] " " n[int(rand() * 13) + 1]
            line = "{\"anchor\": \"" a "\", \"positive\": \"" p ".\"}"
            print line; total += length(line) + 1; i++
        }
    }' >"$2"
}
for gb in 0.2 "$big"; do
    f="$out/data-$gb.jsonl"
    [ -s "$f" ] || { echo "== generating $f"; gen "$gb" "$f"; }
    [ -s "$f.zst" ] || zstd -q -T2 -3 "$f" -o "$f.zst"
    lines=$(wc -l <"$f")
    for file in "$f" "$f.zst"; do
        echo "== $file ($(du -h "$file" | cut -f1), $lines lines): one pass, batch 256, 2 shares per batch"
        build/bench_data "$model" "$file" --batch-size 256 --batches $((lines / 256))
    done
done
echo "== reader + sampler without the tokenizer (0.2 GB, plain)"
build/bench_data "$model" "$out/data-0.2.jsonl" --batch-size 256 --no-tokenize --batches 3000
