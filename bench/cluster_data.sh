#!/usr/bin/env bash
# Builds a labelled clustering set from Debian's WordNet (package wordnet-base): the glosses of
# noun synsets, each labelled with its lexicographer file (noun.animal, noun.food, ...). Ten
# lexicographer files, 200 glosses each, picked evenly over each file's synsets in data.noun
# order, so the set is the same on every machine with the same WordNet.
# The text is the gloss's definition (the part before any quoted examples), without the lemma.
# usage: bench/cluster_data.sh [OUTPUT.jsonl] [PER_LABEL]   (default bench/out/wordnet_lexnames.jsonl, 200)
set -euo pipefail
out=${1:-bench/out/wordnet_lexnames.jsonl}
per=${2:-200}
data=/usr/share/wordnet/data.noun
[ -r "$data" ] || { echo "cluster_data.sh: $data not found (sudo apt-get install wordnet-base)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# lex_filenum -> lexicographer file, as WordNet's lexnames file numbers them
LC_ALL=C awk -v per="$per" '
BEGIN {
    split("05 noun.animal 06 noun.artifact 08 noun.body 10 noun.communication 12 noun.feeling " \
          "13 noun.food 15 noun.location 18 noun.person 20 noun.plant 28 noun.time", kv, " ")
    for (i = 1; i in kv; i += 2) { name[kv[i]] = kv[i + 1]; order[++n_files] = kv[i] }
}
/^  / { next }                                  # the license header
($2 in name) {
    gloss = $0
    if (!sub(/^[^|]*\| /, "", gloss)) next
    sub(/; *".*$/, "", gloss)                   # quoted examples
    sub(/[ ;]+$/, "", gloss)
    if (gloss == "") next
    gsub(/\\/, "\\\\", gloss); gsub(/"/, "\\\"", gloss)
    text[$2, ++count[$2]] = gloss
}
END {
    for (f = 1; f <= n_files; f++) {
        id = order[f]
        if (count[id] < per) { printf "cluster_data.sh: %s has only %d glosses\n", name[id], count[id] > "/dev/stderr"; exit 1 }
        for (i = 0; i < per; i++)
            printf "{\"text\": \"%s\", \"label\": \"%s\"}\n", text[id, int(i * count[id] / per) + 1], name[id]
    }
}' "$data" >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out: $(wc -l <"$out") texts, $(grep -o '"label": "[^"]*"' "$out" | sort -u | wc -l) labels"
