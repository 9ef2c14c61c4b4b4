#!/usr/bin/env bash
# Training throughput, peak memory, GradCache and the data pipeline's share beside the PyTorch
# anchor in the same run: the train and gradcache parts of bench/run.sh.
# usage: bench/train_bench.sh [SHARED_DIR] [ROUNDS]    (default ../shared, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
exec bench/run.sh --only peak,train,gradcache --rounds "${2:-3}" "${1:-../shared}"
