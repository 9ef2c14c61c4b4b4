#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install the Debian packages semb needs (build
# dependencies and the text packages its training corpus comes from), build, check the build
# (semb selfcheck), then train a sentence-embedding model from scratch: semb quickstart builds
# pair datasets from WordNet, three dictionaries and the package descriptions, learns a
# vocabulary, trains for the time budget (10 minutes by default) and evaluates on held-out
# pairs beside a TF-IDF baseline. Arguments go to semb quickstart (e.g. --minutes 3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/semb selfcheck
args=("$@")
sts=../shared/data/stsb/test.tsv
if [ -f "$sts" ] && [[ " $* " != *" --eval-sts "* ]]; then
    args+=(--eval-sts "$sts")
fi
build/semb quickstart "${args[@]}"
