#!/usr/bin/env bash
# End-to-end test of `semb corpus` on the machine's own Debian text packages (wordnet-base,
# dict-gcide, dict-foldoc, dict-jargon; scripts/install-deps.sh installs them): sizes, the
# data_config.json the trainer reads, held-out splits that share no text with train,
# determinism, and the messages for missing packages. tests/test_corpus.c covers the parsers
# on synthetic files wherever the packages are missing.
# usage: cli_corpus.sh SEMB_BINARY [SHARED_DIR]
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
have=()
[ -r /usr/share/wordnet/data.noun ] && have+=(wordnet)
for d in gcide foldoc jargon; do [ -r /usr/share/dictd/$d.index ] && have+=($d); done
if [ ${#have[@]} -eq 0 ]; then
    skip "none of wordnet-base, dict-gcide, dict-foldoc, dict-jargon is installed \
(scripts/install-deps.sh installs them)"
fi
echo "sources installed: ${have[*]}"
make_tmp
lines() { wc -l <"$1" | tr -d ' '; }

start=$(date +%s.%N)
"$semb" corpus --output "$tmp/a" >"$tmp/a.out" 2>"$tmp/a.err"
rc=$?
end=$(date +%s.%N)
cat "$tmp/a.out" "$tmp/a.err"
echo "semb corpus took $(awk "BEGIN { printf \"%.1f\", $end - $start }") s"
check "corpus exits 0" [ $rc -eq 0 ]
check "data_config.json written" [ -s "$tmp/a/data_config.json" ]

# every dataset in data_config.json: its train file has the lines it says, a held-out file
# exists, and the report printed the same numbers
while read -r name weight count; do
    base=${name%.train.jsonl}
    check "$base: $count train lines" [ "$(lines "$tmp/a/$name")" = "$count" ]
    check "$base: weight $weight >= 1" [ "$weight" -ge 1 ]
    check "$base: reported" grep -qE "^$base +$count " "$tmp/a.out"
    check "$base: held-out file" [ -f "$tmp/a/$base.heldout.jsonl" ]
done < <(sed -nE 's/.*"name": "([^"]+)", "weight": ([0-9]+), "lines": ([0-9]+).*/\1 \2 \3/p' \
    "$tmp/a/data_config.json")

# sizes the installed packages give (Debian 12's versions give 110k, 45k, 126k, 11k, 2k)
min_pairs() { # dataset, minimum train pairs
    [ -f "$tmp/a/$1.train.jsonl" ] && [ "$(lines "$tmp/a/$1.train.jsonl")" -ge "$2" ]
}
for s in "${have[@]}"; do
    case $s in
    wordnet)
        check "wordnet_gloss >= 100000 pairs" min_pairs wordnet_gloss 100000
        check "wordnet_examples >= 40000 pairs" min_pairs wordnet_examples 40000 ;;
    gcide) check "gcide >= 100000 pairs" min_pairs gcide 100000 ;;
    foldoc) check "foldoc >= 10000 pairs" min_pairs foldoc 10000 ;;
    jargon) check "jargon >= 2000 pairs" min_pairs jargon 2000 ;;
    esac
done
check "debian_descriptions has pairs" min_pairs debian_descriptions 100

# held-out: about 2%, and no text of a held-out pair in train
no_shared_text() { # dataset
    local f=$tmp/a/$1
    [ -s "$f.heldout.jsonl" ] || return 1
    # each line is {"anchor": "...", "positive": "..."}: split into the two JSON strings
    sed -E 's/^\{"anchor": (".*"), "positive": (".*")\}$/\1\n\2/' "$f.train.jsonl" | sort -u >"$tmp/train.texts"
    sed -E 's/^\{"anchor": (".*"), "positive": (".*")\}$/\1\n\2/' "$f.heldout.jsonl" | sort -u >"$tmp/heldout.texts"
    [ -z "$(comm -12 "$tmp/train.texts" "$tmp/heldout.texts" | head -1)" ]
}
for f in "$tmp"/a/*.train.jsonl; do
    base=$(basename "$f" .train.jsonl)
    train=$(lines "$f")
    heldout=$(lines "$tmp/a/$base.heldout.jsonl")
    total=$((train + heldout))
    check "$base: held-out $heldout of $total is 2%" [ "$heldout" -eq $(((total * 2 + 99) / 100)) ]
    check "$base: held-out shares no text with train" no_shared_text "$base"
done
check "valid UTF-8 everywhere" bash -c "cat '$tmp'/a/*.jsonl | iconv -f UTF-8 -t UTF-8 >/dev/null"

# same seed, same bytes; a held-out count instead of a fraction
one=${have[0]}
"$semb" corpus --output "$tmp/b" --sources "$one" >/dev/null 2>&1
check "same seed gives the same files" bash -c "cd '$tmp/b' && for f in *.jsonl; do cmp -s \$f '$tmp/a/'\$f || exit 1; done"
"$semb" corpus --output "$tmp/c" --sources "$one" --held-out 100 --seed 7 >/dev/null 2>&1
for f in "$tmp"/c/*.heldout.jsonl; do
    check "--held-out 100: $(basename "$f")" [ "$(lines "$f")" -eq 100 ]
done
check "another seed, another split" bash -c "! cmp -s '$tmp/c/$(ls "$tmp/c" | grep heldout | head -1)' '$tmp/a/$(ls "$tmp/c" | grep heldout | head -1)'"

# a missing package: named with its apt-get command, the rest still built
"$semb" corpus --output "$tmp/d" --sources "$one,gcide" --dictd-dir "$tmp/nothing" >"$tmp/d.out" 2>"$tmp/d.err"
rc=$?
if [ "$one" = wordnet ]; then
    check "missing gcide: still exits 0" [ $rc -eq 0 ]
    check "missing gcide: names the package" grep -q "apt-get install dict-gcide" "$tmp/d.err"
    check "missing gcide: the rest built" [ -s "$tmp/d/wordnet_gloss.train.jsonl" ]
fi
"$semb" corpus --output "$tmp/e" --sources gcide,jargon --dictd-dir "$tmp/nothing" >"$tmp/e.out" 2>"$tmp/e.err"
rc=$?
check "nothing installed: exit 1" [ $rc -eq 1 ]
check "nothing installed: says what to install" grep -q "apt-get install dict-gcide dict-jargon" "$tmp/e.err"
check "nothing installed: no output folder" [ ! -e "$tmp/e" ]
"$semb" corpus --output "$tmp/f" --sources wordnet,thesaurus >/dev/null 2>"$tmp/f.err"
check "unknown source: usage error 2" [ $? -eq 2 ]
check "unknown source: named" grep -q "'thesaurus'" "$tmp/f.err"
"$semb" corpus --output "$tmp/g" --held-out 2.5 >/dev/null 2>"$tmp/g.err"
check "fractional count rejected" [ $? -ne 0 ]

finish cli_corpus
