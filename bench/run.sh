#!/usr/bin/env bash
# Issue #6's measurements in one run, semb beside ONNX Runtime and PyTorch on the same machine,
# printed as markdown tables (also in bench/out/run/report.md). About 15 minutes on 2 cores;
# --quick checks the whole script in about 2 (numbers not comparable: tiny workloads, 1 round).
#
# usage: bench/run.sh [--quick] [--only PARTS] [--rounds N] [SHARED_DIR]   (default ../shared)
#   PARTS, comma-separated: peak, encode, train, gradcache, lengths (default: all). The data
#   pipeline's share comes from the train and gradcache parts, thread scaling from encode and
#   train; peak is the denominator of the "% of peak" rows, so keep it in a partial run.
#
# Workload (issue #6): a MiniLM-L6-shaped model with random weights (`semb init`: hidden 384,
# 6 layers, 12 heads, FFN 1536, bert-base-uncased vocabulary, max_seq_length 256); STS-B test
# sentences for encoding, STS-B train pairs for training. Engines are alternated within each
# round (the first engine moves by one each round) and the tables give medians over rounds:
# these machines vary by up to ±30% from run to run. Each part is a function below; see
# bench/README.md for what each table measures.
set -euo pipefail
trap 'echo "run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

quick=0 only="" rounds="" shared=../shared
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --only) only=${2:?--only needs a list of parts}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) shared=$1 ;;
    esac
    shift
done
parts=${only:-peak,encode,train,gradcache,lengths}
for p in ${parts//,/ }; do
    case $p in peak | encode | train | gradcache | lengths) ;; *) echo "run.sh: unknown part $p" >&2; exit 2 ;; esac
done
wants() { [[ ",$parts," == *",$1,"* ]]; }

if [ $quick = 1 ]; then # sizes that only check the script end to end
    rounds=${rounds:-1} enc_sentences=256 train_steps=2 torch_steps=1 torch_warmup=0
    gc_batch=256 gc_plain_steps=2 len_tokens=1024 peak_seconds=0.05
else
    rounds=${rounds:-3} enc_sentences=1024 train_steps=4 torch_steps=2 torch_warmup=1
    gc_batch=4096 gc_plain_steps=5 len_tokens=8192 peak_seconds=0.2
fi
lengths=16,64,128,256

out=bench/out/run
results=$out/results.jsonl
model=bench/out/minilm-l6-random
onnx=bench/out/onnx
rm -rf "$out/logs" "$out/lengths"
mkdir -p "$out/logs" "$out/lengths"
: >"$results"
tables() { /usr/bin/python3 bench/tables.py "$@"; }
say() { echo "== $(date +%T) $*"; }
warn() { echo "== WARNING: $*" >&2; }
# rotate N ITEMS...: the items starting at index N mod count (round r starts with item r-1)
rotate() {
    local n=$1
    shift
    local items=("$@") i
    for ((i = 0; i < ${#items[@]}; i++)); do echo "${items[$(((i + n) % ${#items[@]}))]}"; done
}

# --- setup: build, model, data, anchors; what is not available is reported as n/a -----------
setup() {
    say "build (log: $out/build.log)"
    scripts/build.sh >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
    [ -d "$model" ] || build/semb init --arch bert --hidden 384 --layers 6 --heads 12 \
        --intermediate 1536 --vocab "$shared/data/vocab/bert-base-uncased-vocab.txt" --output "$model"
    # encoding: the first enc_sentences STS-B test sentences (sentence1, sentence2 of each line);
    # ONNX Runtime gets semb's token ids for them
    awk -F'\t' 'NR > 1 && NF >= 3 { print $2; print $3 }' "$shared/data/stsb/test.tsv" |
        sed -n "1,${enc_sentences}p" >"$out/stsb_test.txt"
    build/semb tokenize --model "$model" --input "$out/stsb_test.txt" >"$out/stsb_test_tokens.jsonl"
    # training: sentence1 -> anchor, sentence2 -> positive, JSON-escaped; their token ids give
    # the attention FLOPs per token of the % of peak rows
    tail -n +2 "$shared/data/stsb/train.tsv" | awk -F'\t' '
        function esc(s) { gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\001-\037]/, " ", s); return s }
        NF >= 3 { printf "{\"anchor\": \"%s\", \"positive\": \"%s\"}\n", esc($2), esc($3) }' >"$out/stsb_train_pairs.jsonl"
    tail -n +2 "$shared/data/stsb/train.tsv" | awk -F'\t' 'NF >= 3 { print $2; print $3 }' |
        build/semb tokenize --model "$model" >"$out/stsb_train_tokens.jsonl"
    tables add-machine "$results" --semb-version "$(build/semb --version)"

    semb_bf16_encode=0 semb_bf16_train=0 torch=0 torch_bf16=0 ort=0
    build/bench_encode "$model" "$shared/data/stsb/test.tsv" --precision bf16 --sentences 2 \
        --batch 2 --threads 1 --repeats 1 >/dev/null 2>&1 && semb_bf16_encode=1
    build/semb train --help 2>&1 | grep -q -- --precision && semb_bf16_train=1
    . bench/anchor_env.sh
    if wants encode || wants train; then
        anchor_deps || warn "could not install the PyTorch anchor's packages"
        /usr/bin/python3 -c 'import torch' 2>/dev/null && torch=1
        # without AVX512-BF16 or AMX, PyTorch 1.13 emulates bf16 about 30x slower than its fp32:
        # minutes per configuration, and no information; BENCH_TORCH_BF16=1 runs it anyway
        if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo || [ "${BENCH_TORCH_BF16:-0}" = 1 ]; then
            torch_bf16=$torch
        fi
    fi
    if wants encode || wants lengths; then
        setup_ort && ort=1 || warn "ONNX Runtime not available: its rows are n/a"
    fi
    say "semb bf16: encode $semb_bf16_encode, train $semb_bf16_train; PyTorch $torch (bf16 $torch_bf16);" \
        "ONNX Runtime $ort"
}

# onnxruntime-node (pinned in bench/onnx/package-lock.json; ONNXRUNTIME_NODE_INSTALL=skip, since
# a plain install downloads GPU files), the model exported by the anchor script, and ORT's
# outputs checked against torch's reference embeddings
setup_ort() {
    command -v node >/dev/null || return 1
    [ -e bench/onnx/node_modules/onnxruntime-node/package.json ] ||
        (cd bench/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >/dev/null) || return 1
    if [ ! -e "$onnx/minilm_meanpool.onnx" ]; then
        anchor_deps || return 1
        /usr/bin/python3 "$shared/anchors/torch_cpu_bench.py" export-onnx --out "$onnx" || return 1
    fi
    say "ONNX Runtime vs torch reference embeddings"
    node bench/onnx/ort_bench.js check --dir "$onnx"
}

# engines PART: the engines this machine can run for that part, in the order of round 1
engines() {
    local e
    for e in semb ort torch semb-bf16 torch-bf16 semb-int8; do
        case $1:$e in
        train:ort | lengths:torch* | lengths:*bf16 | lengths:*int8 | train:*int8) continue ;;
        *:ort) [ $ort = 1 ] || continue ;;
        *:torch) [ $torch = 1 ] || continue ;;
        *:torch-bf16) [ $torch_bf16 = 1 ] || continue ;;
        encode:semb-bf16) [ $semb_bf16_encode = 1 ] || continue ;;
        train:semb-bf16) [ $semb_bf16_train = 1 ] || continue ;;
        esac
        echo "$e"
    done
}

torch_run() { # TAGS... -- ANCHOR ARGS...: one anchor configuration, its RESULT line recorded
    local tags=() threads
    while [ "$1" != -- ]; do tags+=("$1"); shift; done
    shift
    threads=$(printf '%s\n' "$@" | grep -A1 -x -- --threads | tail -1)
    env $(anchor_env) OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" /usr/bin/python3 \
        "$shared/anchors/torch_cpu_bench.py" run --model minilm "$@" | tables add "$results" engine=torch "${tags[@]}"
}

# --- peak ----------------------------------------------------------------------------------
part_peak() {
    say "fp32 FMA peak (bench_peak)"
    build/bench_peak --threads 1,2 --seconds "$peak_seconds" | tables add-peak "$results"
}

# --- a. encoding: sentences/s at batch 32 and 128 on 1 and 2 threads --------------------------
encode_engine() { # ENGINE ROUND
    local tags=(part=encode round=$2) b t
    case $1 in
    semb | semb-bf16 | semb-int8)
        local p=fp32 opt=()
        [ "$1" = semb-bf16 ] && p=bf16 opt=(--precision bf16)
        [ "$1" = semb-int8 ] && p=int8 opt=(--precision int8)
        build/bench_encode "$model" "$shared/data/stsb/test.tsv" --repeats 1 --sentences "$enc_sentences" \
            "${opt[@]}" | tables add "$results" engine=semb precision=$p "${tags[@]}" ;;
    ort)
        node bench/onnx/ort_bench.js bench --dir "$onnx" --tokens "$out/stsb_test_tokens.jsonl" --reps 1 |
            tables add "$results" engine=ort precision=fp32 "${tags[@]}" ;;
    torch | torch-bf16)
        local p=fp32
        [ "$1" = torch-bf16 ] && p=bf16
        for t in 1 2; do for b in 32 128; do
            torch_run precision=$p "${tags[@]}" -- --mode infer --batch $b --threads $t --dtype $p \
                --reps 1 --warmup 2 --n-sentences "$enc_sentences" || return 1
        done; done ;;
    esac
}

part_encode() {
    local r e
    for r in $(seq "$rounds"); do
        for e in $(rotate $((r - 1)) $(engines encode)); do
            say "encode, round $r/$rounds: $e"
            encode_engine "$e" "$r" || warn "encode $e round $r failed"
        done
    done
}

# --- b. training: pairs/s at batch 32 and 128 -----------------------------------------------
semb_train() { # PART PRECISION BATCH MINI THREADS STEPS ROUND
    local log="$out/logs/$1-$2-b$3-m$4-t$5-r$7.jsonl" opt=()
    [ "$4" -gt 0 ] && opt+=(--mini-batch-size "$4")
    [ "$2" = bf16 ] && opt+=(--precision bf16)
    rm -rf "$out/trained"
    /usr/bin/time -f "%M" -o "$out/rss" build/semb train --model "$model" --data "$out/stsb_train_pairs.jsonl" \
        --output "$out/trained" --batch-size "$3" --steps "$6" --threads "$5" --log "$log" "${opt[@]}" \
        >"$out/train.out" 2>&1 || { tail -5 "$out/train.out"; return 1; }
    rm -rf "$out/trained"
    tables add-train "$results" part="$1" engine=semb precision="$2" batch="$3" mini="$4" \
        threads="$5" round="$7" --log "$log" --rss-kb "$(tail -1 "$out/rss")"
}

train_engine() { # ENGINE ROUND
    local b t
    case $1 in
    semb)
        for t in 1 2; do for b in 32 128; do
            semb_train train fp32 $b 0 $t "$train_steps" "$2" || return 1
        done; done ;;
    semb-bf16)
        for b in 32 128; do semb_train train bf16 $b 0 2 "$train_steps" "$2" || return 1; done ;;
    torch | torch-bf16)
        local p=fp32
        [ "$1" = torch-bf16 ] && p=bf16
        for b in 32 128; do
            torch_run part=train precision=$p round="$2" -- --mode train --batch $b --threads 2 --dtype $p \
                --steps "$torch_steps" --warmup "$torch_warmup" --reps 1 || return 1
        done ;;
    esac
}

part_train() {
    local r e
    for r in $(seq "$rounds"); do
        for e in $(rotate $((r - 1)) $(engines train)); do
            say "train, round $r/$rounds: $e"
            train_engine "$e" "$r" || warn "train $e round $r failed"
        done
    done
}

# --- c. GradCache: batch 4,096 in mini-batches of 64 against plain batches of 64 -------------
# One step of 4,096 pairs takes ~1.5 minutes on 2 threads, so it runs once, alone: its
# first-step costs (workspaces touched, the data file read into the shuffle buffer: data_s
# shows the latter) are well under 1% of such a step. Plain batches of 64 run before and after
# it, so a drift of the machine shows and the median sits between.
part_gradcache() {
    say "GradCache: plain batch 64, $gc_plain_steps steps"
    semb_train gradcache fp32 64 0 2 "$gc_plain_steps" 1 || warn "plain batch 64 failed"
    say "GradCache: batch $gc_batch, mini-batch 64, 1 step"
    semb_train gradcache fp32 "$gc_batch" 64 2 1 1 || warn "GradCache batch $gc_batch failed"
    say "GradCache: plain batch 64 again"
    semb_train gradcache fp32 64 0 2 "$gc_plain_steps" 2 || warn "plain batch 64 failed"
}

# --- f. length scaling: sentences of exactly 16, 64, 128, 256 tokens, batch 32, 2 threads -----
# bench_encode builds them from STS-B test words and writes their token ids for ONNX Runtime.
# PyTorch is left out: its anchor draws its own lengths and takes no token file.
part_lengths() {
    local r e L
    for r in $(seq "$rounds"); do
        for e in $(rotate $((r - 1)) $(engines lengths)); do
            say "lengths, round $r/$rounds: $e"
            if [ "$e" = semb ]; then
                build/bench_encode "$model" --lengths "$lengths" --source "$shared/data/stsb/test.tsv" \
                    --length-tokens "$len_tokens" --batch 32 --threads 2 --repeats 1 \
                    --write-tokens "$out/lengths" | tables add "$results" part=lengths engine=semb round="$r" ||
                    warn "lengths semb round $r failed"
            else
                for L in ${lengths//,/ }; do
                    [ -e "$out/lengths/len-$L.jsonl" ] || continue
                    node bench/onnx/ort_bench.js bench --dir "$onnx" --tokens "$out/lengths/len-$L.jsonl" \
                        --batch 32 --threads 2 --reps 1 |
                        tables add "$results" part=lengths engine=ort precision=fp32 length="$L" round="$r" ||
                        warn "lengths ORT $L round $r failed"
                done
            fi
        done
    done
}

start=$(date +%s)
setup
for p in peak encode train gradcache lengths; do
    wants $p || continue
    t0=$(date +%s)
    part_$p
    say "part $p: $(($(date +%s) - t0)) s"
done
say "all parts: $(($(date +%s) - start)) s; tables (also in $out/report.md):"
echo
tables report "$results" --model "$model" --train-tokens "$out/stsb_train_tokens.jsonl" | tee "$out/report.md"
