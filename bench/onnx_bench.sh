#!/usr/bin/env bash
# semb encoding beside ONNX Runtime (onnxruntime-node, CPU) and PyTorch in the same run: the
# encode part of bench/run.sh (which installs what is missing and checks ORT's outputs).
# usage: bench/onnx_bench.sh [SHARED_DIR] [ROUNDS]     (default ../shared, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
exec bench/run.sh --only peak,encode --rounds "${2:-3}" "${1:-../shared}"
