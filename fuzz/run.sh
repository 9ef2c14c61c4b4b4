#!/usr/bin/env bash
# Builds the libFuzzer targets fuzz/fuzz_*.c (clang, ASan + UBSan, in build-fuzz/) and runs
# each for a bounded time on a working copy of its seed corpus: the seeds committed under
# fuzz/corpus/TARGET/ plus seeds made from the shared fixtures and data at run time. Exits
# non-zero when any target finds a crash, a sanitizer report, a leak, a timeout (-timeout=10)
# or an input that needs more than 2 GB (-rss_limit_mb=2048); the input that did it is left
# in fuzz/out/TARGET/crashes/ (replay: build-fuzz/fuzz_TARGET FILE). Each target's log is
# fuzz/out/TARGET/fuzz.log; the final line is a table of executions, coverage (cov/ft of
# libFuzzer's last report), corpus size and crashes per target, as fuzz/README.md keeps it.
#
# usage: fuzz/run.sh [SECONDS [TARGET...]]   (default 60 seconds, every target)
#   fuzz/run.sh 600 runs every target for 10 minutes; targets: request tokenizer safetensors
#   model_folder data_reader index_file eval_readers
#   env SEMB_SHARED_DIR (default ../shared) for the fixtures (without them the targets that
#   load a model are skipped), SEMB_FUZZ_MODEL to fuzz the request path with another model.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac
shift $(($# > 0 ? 1 : 0))
all_targets=(request tokenizer safetensors model_folder data_reader index_file eval_readers)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [ -e "fuzz/fuzz_$t.c" ] || { echo "run.sh: no target '$t' (${all_targets[*]})" >&2; exit 2; }
done
shared=${SEMB_SHARED_DIR:-$(cd .. && pwd)/shared}
export SEMB_SHARED_DIR=$shared
export SEMB_FUZZ_MODEL=${SEMB_FUZZ_MODEL:-$shared/fixtures/bert-tiny-mean}
# request, tokenizer and model_folder load fixture models: skipped without them, as tests are
runnable=()
for t in "${targets[@]}"; do
    case $t in
    request | tokenizer | model_folder)
        if [ ! -e "$SEMB_FUZZ_MODEL/config.json" ] || [ ! -d "$shared/fixtures/mpnet-tiny-mean" ]
        then echo "run.sh: fuzz_$t skipped: no fixtures in $shared" >&2; continue; fi ;;
    esac
    runnable+=("$t")
done
[ ${#runnable[@]} -gt 0 ] || exit 0
targets=("${runnable[@]}")
# clang (libFuzzer) is not a build dependency: installed here when missing (Debian)
command -v clang >/dev/null ||
    { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get install -y -qq --no-install-recommends clang libomp-dev >/dev/null; }
command -v clang >/dev/null ||
    { echo "run.sh: clang is needed (apt-get install clang libomp-dev)" >&2; exit 2; }

echo "== build (build-fuzz/, log build-fuzz/build.log)"
mkdir -p build-fuzz
if ! { nice -n 19 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSEMB_FUZZ=ON \
        -DSEMB_SHARED_DIR="$shared" &&
       nice -n 19 cmake --build build-fuzz -j2 --target "${targets[@]/#/fuzz_}"; } \
        >build-fuzz/build.log 2>&1; then
    tail -30 build-fuzz/build.log
    exit 1
fi

# seed NAME: a file of the standard input in the working corpus (kept when already there).
# (Reads its input either way: a writer into a closed pipe would stop the script.)
seed() { if [ -e "$corpus/$1" ]; then cat >/dev/null; else cat >"$corpus/$1"; fi; }
# part FILE: a file's bytes, or none when it does not exist (an absent file's empty part).
part() { [ ! -e "$1" ] || cat "$1"; }

# Seeds made from the shared fixtures and data (too large, or not ours, to commit).
shared_seeds() {
    local f i=0 dir
    case $1 in
    tokenizer)
        [ ! -e "$shared/data/stsb/dev.tsv" ] ||
            head -n 40 "$shared/data/stsb/dev.tsv" | cut -f2 | while read -r line; do
                i=$((i + 1)); printf '%s' "$line" | seed "stsb_$i"; done ;;
    safetensors)
        for f in "$shared"/fixtures/*/*.safetensors; do
            [ "$(stat -c %s "$f")" -gt 65536 ] ||
                seed "$(basename "$(dirname "$f")")_$(basename "$f")" <"$f"; done ;;
    model_folder)
        # byte i picks fixture i (fuzz_model_folder.c), then its JSON files joined by NUL
        for dir in bert-tiny-mean bert-tiny-cls bert-tiny-max distilbert-tiny-mean \
                   mpnet-tiny-mean; do
            f=$shared/fixtures/$dir
            { printf "\\$(printf %03o $i)"
              for n in config.json modules.json sentence_bert_config.json tokenizer_config.json \
                       1_Pooling/config.json; do part "$f/$n"; printf '\0'; done
              part "$f/config_sentence_transformers.json"; } | seed "$dir"
            i=$((i + 1))
        done
        for f in "$shared"/data/st-configs/all-MiniLM-L6-v2*; do
            [ -e "$f/config.json" ] || continue
            { printf '\0'
              for n in config.json modules.json sentence_bert_config.json tokenizer_config.json \
                       1_Pooling/config.json; do part "$f/$n"; printf '\0'; done
              part "$f/config_sentence_transformers.json"; } | seed "$(basename "$f")"
        done ;;
    data_reader)
        # the option byte's low bits pick .jsonl (0), .jsonl.gz (3), .jsonl.zst (5)
        for f in "$shared"/data/pairs/*.jsonl; do
            [ -e "$f" ] || continue
            { printf '\0'; head -n 8 "$f"; } | seed "$(basename "$f" .jsonl)"
            { printf '\3'; head -n 8 "$f" | gzip -c; } | seed "$(basename "$f" .jsonl)_gz"
            ! command -v zstd >/dev/null ||
                { printf '\5'; head -n 8 "$f" | zstd -q -c; } | seed "$(basename "$f" .jsonl)_zst"
        done ;;
    eval_readers)
        for f in "$shared"/data/stsb/*.tsv; do
            [ -e "$f" ] && head -n 20 "$f" | seed "stsb_$(basename "$f" .tsv)"; done
        for f in "$shared"/data/pairs/*.jsonl; do
            [ -e "$f" ] && head -n 8 "$f" | seed "pairs_$(basename "$f" .jsonl)"; done ;;
    esac
    return 0
}

failed=()
summary="target	execs	cov	ft	corpus (inputs/bytes)	crashes"
for t in "${targets[@]}"; do
    out=fuzz/out/$t
    corpus=$out/corpus
    mkdir -p "$corpus" "$out/crashes"
    cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    shared_seeds "$t"
    dict=(); [ ! -e "fuzz/$t.dict" ] || dict=(-dict="fuzz/$t.dict")
    max_len=16384; [ "$t" != safetensors ] || max_len=65536
    echo "== fuzz_$t for ${seconds}s (corpus $corpus, log $out/fuzz.log)"
    # OMP threads: one; the encoder is not what is fuzzed, and a quiet machine keeps execs fast
    status=0
    OMP_NUM_THREADS=1 nice -n 19 "build-fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=$max_len "${dict[@]}" -artifact_prefix="$out/crashes/" \
        -print_final_stats=1 "$corpus" >"$out/fuzz.log" 2>&1 || status=$?
    last=$(grep -a -E '^#[0-9]+' "$out/fuzz.log" | tail -1 || true)
    execs=$(sed -n "s/^stat::number_of_executed_units: *//p" "$out/fuzz.log" | tail -1)
    crashes=$(find "$out/crashes" -type f | wc -l)
    summary+=$'\n'"$t	${execs:-?}	$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    summary+="	$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    summary+="	$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")	$crashes"
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        grep -a -m1 -E -A16 '^==[0-9]+== ?ERROR|runtime error|ALARM|out-of-memory' \
            "$out/fuzz.log" || tail -20 "$out/fuzz.log"
    fi
done
echo "== summary"
column -t -s $'\t' <<<"$summary" 2>/dev/null || echo "$summary"
[ ${#failed[@]} -eq 0 ] ||
    { echo "run.sh: findings in: ${failed[*]} (fuzz/out/TARGET/crashes/)" >&2; exit 1; }
