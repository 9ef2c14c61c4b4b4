#!/usr/bin/env bash
# Every evaluator of `semb eval` on the public data in ../shared/data, for one model and for the
# TF-IDF baseline where it applies, as one markdown table (the "Evaluation" table of
# bench/README.md). Deterministic: the same model gives the same table on any machine.
# usage: bench/eval_bench.sh MODEL [SHARED_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bench/eval_bench.sh MODEL [SHARED_DIR]}
shared=${2:-../shared}
out=bench/out/eval
mkdir -p "$out"
nice -n 19 cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
nice -n 19 cmake --build build -j2 --target semb >/dev/null
semb=build/semb
pairs=$shared/data/pairs

# get FILE KEY: a number from a one-line JSON object, 4 decimals (x100 for readability)
get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("%.2f" % (100*v))' "$1" "$2"; }

echo "model: $model"
echo
echo "| task | data | metric | model | TF-IDF |"
echo "|---|---|---|---:|---:|"
for split in dev test; do
    $semb eval sts --model "$model" --data "$shared/data/stsb/$split.tsv" >"$out/sts_$split.json" 2>/dev/null
    $semb eval sts --baseline tfidf --data "$shared/data/stsb/$split.tsv" >"$out/sts_${split}_tfidf.json"
    echo "| STS | STS-B $split | Spearman x100 | $(get "$out/sts_$split.json" spearman) | $(get "$out/sts_${split}_tfidf.json" spearman) |"
done
for name in stackexchange_title_body stackexchange_title_answer scitldr_traindev_title_abstract \
            scitldr_traindev_tldr_abstract coco2017val_caption_pairs; do
    $semb eval retrieval --model "$model" --data "$pairs/$name.jsonl" >"$out/$name.json" 2>/dev/null
    $semb eval retrieval --baseline tfidf --data "$pairs/$name.jsonl" >"$out/${name}_tfidf.json"
    for metric in mrr@10 ndcg@10 recall@10; do
        echo "| retrieval | $name | $metric x100 | $(get "$out/$name.json" "$metric") | $(get "$out/${name}_tfidf.json" "$metric") |"
    done
done
$semb eval triplet --model "$model" --data "$pairs/snli_devtest_triplets.jsonl" >"$out/triplet.json" 2>/dev/null
echo "| triplet | snli_devtest_triplets | accuracy x100 | $(get "$out/triplet.json" accuracy) | |"
$semb eval paraphrase-mining --model "$model" --data "$pairs/mrpc_train_paraphrases.jsonl" >"$out/mining.json" 2>/dev/null
echo "| paraphrase mining | mrpc_train_paraphrases | average precision x100 | $(get "$out/mining.json" average_precision) | |"
echo "| paraphrase mining | mrpc_train_paraphrases | best F1 x100 | $(get "$out/mining.json" f1) | |"
if bench/cluster_data.sh "$out/wordnet_lexnames.jsonl" >/dev/null 2>&1; then
    $semb eval cluster --model "$model" --data "$out/wordnet_lexnames.jsonl" >"$out/cluster.json" 2>/dev/null
    echo "| clustering | WordNet noun lexnames (10 x 200) | V-measure x100 | $(get "$out/cluster.json" v_measure) | |"
fi
