#!/usr/bin/env bash
# Approximate search (HNSW) against exact search: the runs behind bench/README.md's
# "Approximate search (HNSW)". usage: bench/hnsw_bench.sh [--large]
# (--large adds 1M x 384 clustered vectors: about 1.6 GB of vectors plus the graph, and a
# build of several minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ; $(nproc) cores"
for data in random clustered; do
    nice -n 19 build/bench_hnsw --n 100000 --dim 384 --queries 1000 --data "$data"
done
if [ "${1:-}" = "--large" ]; then
    nice -n 19 build/bench_hnsw --n 1000000 --dim 384 --queries 1000 --data clustered
fi
