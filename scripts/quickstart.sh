#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build, then run semb's
# self-check (kernels vs references, a model created, saved, loaded and encoded, and the
# sentence-transformers fixtures when ../shared is present).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/semb selfcheck
