#!/usr/bin/env bash
# Search throughput (build/bench_search, random unit vectors) and the retrieval quality of
# quantized indexes with a real model (semb index build / semb search on pair files).
# Then HNSW: a graph over clustered synthetic vectors (HNSW_DOCUMENTS, default 200000) and
# over a real corpus embedded by MODEL (recall@10 against exact, MRR@10 of both).
# usage: bench/search_bench.sh [DOCUMENTS] [MODEL] [SHARED_DIR] [HNSW_DOCUMENTS]
#   DOCUMENTS: corpus size of the throughput runs (default 1000000; needs ~2 GB in bench/out)
#   MODEL: a trained model folder for the quality table (default /work/qs/model; skipped if absent)
#   HNSW_DOCUMENTS: the synthetic graph's size (1000000 builds for well over 6 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
documents=${1:-1000000}
model=${2:-/work/qs/model}
shared=${3:-../shared}
hnsw_documents=${4:-200000}
out=bench/out/search
mkdir -p "$out"
nice -n 19 cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
nice -n 19 cmake --build build -j2 --target semb bench_search >/dev/null

echo "== throughput: $documents x 384 random unit vectors, exact search, k = 10"
for p in float32 int8 binary; do   # float32 first: the others measure recall against it
    nice -n 19 build/bench_search --documents "$documents" --precision "$p" --dir "$out"
done
rm -f "$out"/*.idx
echo "== HNSW: $hnsw_documents x 384 clustered unit vectors, graph M 16, ef_construction 200, k = 10"
nice -n 19 build/bench_search --documents "$hnsw_documents" --data clustered --hnsw 1 --dir "$out"
rm -f "$out"/*.idx

[ -d "$model" ] || { echo "no model at $model: quality table skipped"; exit 0; }
echo "== quality: anchors search the distinct positives of each pair file"
# prep FILE: corpus.jsonl (distinct positives, id = first line) and queries.txt + qrels (the
# line's anchor and the id of its positive), via python3's json module
for name in stackexchange_title_body scitldr_traindev_title_abstract; do
    python3 - "$shared/data/pairs/$name.jsonl" "$out" <<'PY'
import json, sys
ids, corpus, queries = {}, [], []
for line in open(sys.argv[1], encoding="utf-8"):
    pair = json.loads(line)
    anchor, positive = (pair["anchor"], pair["positive"]) if isinstance(pair, dict) else pair[:2]
    if positive not in ids:
        ids[positive] = len(ids)
        corpus.append({"id": ids[positive], "text": positive})
    queries.append((anchor.replace("\n", " "), ids[positive]))
with open(sys.argv[2] + "/corpus.jsonl", "w", encoding="utf-8") as f:
    for doc in corpus:
        f.write(json.dumps(doc) + "\n")
with open(sys.argv[2] + "/queries.txt", "w", encoding="utf-8") as f:
    f.write("".join(q + "\n" for q, _ in queries))
with open(sys.argv[2] + "/qrels.txt", "w") as f:
    f.write("".join(f"{d}\n" for _, d in queries))
PY
    for p in float32 int8 binary; do
        nice -n 19 build/semb index build --model "$model" --corpus "$out/corpus.jsonl" \
            --input-format jsonl --output "$out/$p.idx" --precision "$p" >/dev/null
        nice -n 19 build/semb search --index "$out/$p.idx" --model "$model" \
            --queries "$out/queries.txt" -k 10 --format jsonl >"$out/$p.hits"
    done
    python3 - "$out" "$name" <<'PY'
import json, os, sys
out, name = sys.argv[1], sys.argv[2]
relevant = [int(x) for x in open(out + "/qrels.txt")]
def load(p):
    top = [[] for _ in relevant]
    for line in open(f"{out}/{p}.hits"):
        h = json.loads(line)
        top[h["query"]].append(h["id"])
    return top
exact = load("float32")
for p in ["float32", "int8", "binary"]:
    top = load(p)
    mrr = sum(1 / (t.index(r) + 1) if r in t else 0 for t, r in zip(top, relevant)) / len(top)
    overlap = sum(len(set(t) & set(e)) for t, e in zip(top, exact)) / (10 * len(top))
    size = os.path.getsize(f"{out}/{p}.idx") / 1e6
    print(f"| {name} | {p} | {size:.2f} MB | {mrr:.4f} | {overlap:.4f} |")
PY
done
rm -f "$out"/*.idx "$out"/*.hits

echo "== HNSW on real embeddings: the anchors of two pair files search their positives among"
echo "   the distinct texts of three more (distractors); exact against the graph at several ef"
python3 - "$shared/data/pairs" "$out" <<'PY'
import json, sys
d, out = sys.argv[1], sys.argv[2]
def pairs(name):
    for line in open(f"{d}/{name}.jsonl", encoding="utf-8"):
        p = json.loads(line)
        yield (p["anchor"], p["positive"]) if isinstance(p, dict) else tuple(p[:2])
ids, corpus, queries = {}, [], []
def add(t):
    if t not in ids:
        ids[t] = len(ids)
        corpus.append({"id": ids[t], "text": t})
    return ids[t]
for name in ["scitldr_traindev_title_abstract", "stackexchange_title_body"]:
    queries += [(a.replace("\n", " "), add(p)) for a, p in pairs(name)]
for name in ["coco2017val_caption_pairs", "mrpc_train_paraphrases", "stackexchange_title_answer"]:
    for a, p in pairs(name):
        add(a), add(p)
with open(out + "/corpus.jsonl", "w", encoding="utf-8") as f:
    f.write("".join(json.dumps(doc) + "\n" for doc in corpus))
with open(out + "/queries.txt", "w", encoding="utf-8") as f:
    f.write("".join(q + "\n" for q, _ in queries))
with open(out + "/qrels.txt", "w") as f:
    f.write("".join(f"{r}\n" for _, r in queries))
print(f"{len(corpus)} documents, {len(queries)} queries")
PY
# the build prints the seconds spent linking the graph (the rest is encoding and writing)
nice -n 19 build/semb index build --model "$model" --corpus "$out/corpus.jsonl" --input-format jsonl \
    --output "$out/hnsw.idx" --hnsw
build/semb index info --index "$out/hnsw.idx" | grep hnsw
for mode in exact ef16 default ef200; do
    case $mode in exact) flags=--exact ;; ef16) flags="--ef 16" ;; default) flags= ;; ef200) flags="--ef 200" ;; esac
    t0=$(date +%s.%N)
    nice -n 19 build/semb search --index "$out/hnsw.idx" --model "$model" --queries "$out/queries.txt" \
        -k 10 --format jsonl $flags >"$out/$mode.hits"
    echo "$mode: semb search (encoding the queries included) $(echo "$(date +%s.%N) - $t0" | bc) s"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
relevant = [int(x) for x in open(out + "/qrels.txt")]
def load(mode):
    top = [[] for _ in relevant]
    for line in open(f"{out}/{mode}.hits"):
        h = json.loads(line)
        top[h["query"]].append(h["id"])
    return top
exact = load("exact")
for mode in ["exact", "ef16", "default", "ef200"]:
    top = load(mode)
    mrr = sum(1 / (t.index(r) + 1) if r in t else 0 for t, r in zip(top, relevant)) / len(top)
    recall = sum(len(set(t) & set(e)) for t, e in zip(top, exact)) / (10 * len(top))
    print(f"| {mode} | {mrr:.4f} | {recall:.4f} |")
PY
