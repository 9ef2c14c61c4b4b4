#!/usr/bin/env bash
# End-to-end tests of `semb bias`: the table (sorted most female-leaning first) and the overall
# line, the JSON object, the built-in lists equal to the shipped data/bias/ files (and used
# without any data folder), user lists, determinism, and one-line errors naming FILE:LINE.
# usage: cli_bias.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
data="$(cd "$(dirname "$0")/.." && pwd)/data/bias"
require_files "$fixture/model.safetensors"
make_tmp
# absolute paths: the first run starts in a folder of its own
semb=$(realpath "$semb")
fixture=$(realpath "$fixture")
# run OUT CMD...: runs CMD with stdout to OUT and stderr to OUT.err; stderr shown on failure
run() {
    local out=$1
    shift
    "$@" >"$out" 2>"$out.err" || { echo "     $(tail -3 "$out.err")"; return 1; }
}
row='  +[0-9]+\.[0-9]%  +[0-9]+\.[0-9]%  +[0-9]+\.[0-9]%  +[-+][0-9]\.[0-9]{6}$'

# --- the built-in lists, from a folder with no data in it ---
check "bias runs" bash -c "cd '$tmp' && '$semb' bias --model '$fixture' --threads 2 >'$tmp/text' 2>'$tmp/text.err'"
check "occupation table: header and 60 rows" bash -c "[ \"\$(sed -n 1p '$tmp/text' | tr -s ' ')\" = 'occupation female male ties mean f-m' ] && [ \$(sed -n '2,/^$/p' '$tmp/text' | grep -cE '^[a-z][a-z ]+$row') -eq 60 ]"
check "template table: 10 rows" bash -c "[ \$(grep -cE '^.*\{occupation\}|^.*\{a_occupation\}' '$tmp/text') -eq 10 ] && grep -q '^template (anchor | proposition)' '$tmp/text'"
check "overall line" grep -qE '^overall: 600 cases \(60 occupations x 10 templates\): closer to female [0-9.]+%, closer to male [0-9.]+%, ties [0-9.]+%, mean difference \(female - male\) [-+][0-9]\.[0-9]{6}$' "$tmp/text"
# most female-leaning first: female share minus male share never rises down the table
check "sorted by preference" bash -c "sed -n '2,/^$/p' '$tmp/text' | grep -E '$row' | awk '{ n = NF; lean = \$(n-3) - \$(n-2); if (NR > 1 && lean > prev + 1e-9) bad = 1; prev = lean } END { exit bad }'"
check "shares add up to 100%" bash -c "sed -n '2,/^$/p' '$tmp/text' | grep -E '$row' | awk '{ n = NF; s = \$(n-3) + \$(n-2) + \$(n-1); if (s < 99.85 || s > 100.15) bad = 1 } END { exit bad }'"
check "same lists from the shipped files" bash -c "'$semb' bias --model '$fixture' --occupations '$data/occupations.txt' --templates '$data/templates.tsv' | cmp -s - '$tmp/text'"
check "deterministic" bash -c "'$semb' bias --model '$fixture' --threads 2 | cmp -s - '$tmp/text'"

# --- JSON ---
check "json runs" run "$tmp/json" "$semb" bias --model "$fixture" --format json
check "one line, one object" bash -c "[ \$(wc -l <'$tmp/json') -eq 1 ] && grep -qE '^\{\"model\": ?\"[^\"]+\", ?\"similarity\": ?\"cosine\", ?\"overall\": ?\{\"cases\": ?600,' '$tmp/json'"
check "60 occupations, 10 templates" bash -c "[ \$(grep -o '\"occupation\":' '$tmp/json' | wc -l) -eq 60 ] && [ \$(grep -o '\"anchor\":' '$tmp/json' | wc -l) -eq 10 ]"
overall_json=$(grep -oE '"overall": ?\{[^}]*\}' "$tmp/json")
n_of() { echo "$overall_json" | sed -nE "s/.*\"$1\": ?([0-9.e-]+).*/\1/p"; }
check "overall counts add up" bash -c "[ \$(( $(n_of female_closer) + $(n_of male_closer) + $(n_of ties) )) -eq 600 ]"
pct=$(awk -v f="$(n_of female_share)" 'BEGIN { printf "%.1f", 100 * f }')
check "json overall as the text" grep -qF "closer to female $pct%" "$tmp/text"

# --- user lists ---
printf 'nurse\nengineer\n' >"$tmp/occ.txt"
printf 'The {occupation} left.\t{pronoun} left.\n{a_occupation} sat down.\t{pronoun} sat down.\nI met the {occupation}.\tI met {object}.\n' >"$tmp/tpl.tsv"
check "user lists" run "$tmp/small" "$semb" bias --model "$fixture" --occupations "$tmp/occ.txt" --templates "$tmp/tpl.tsv"
check "2 x 3 cases" grep -qE '^overall: 6 cases \(2 occupations x 3 templates\)' "$tmp/small"
check "user occupations only" bash -c "[ \$(sed -n '2,/^$/p' '$tmp/small' | grep -cE '$row') -eq 2 ]"

# --- errors ---
printf 'The {occupation} left.\t{pronoun} left.\nThe {occupation} left. {pronoun} left.\n' >"$tmp/notab.tsv"
printf '# c\nThe {occupation} told her.\t{pronoun} left.\n' >"$tmp/gendered.tsv"
printf 'The boss left.\t{pronoun} left.\n' >"$tmp/nooccupation.tsv"
printf 'The {occupation} left.\tSomeone left.\n' >"$tmp/nopronoun.tsv"
printf 'The {occupation} left.\t{gender} left.\n' >"$tmp/unknown.tsv"
printf 'nurse\n\nteacher\nnurse\n' >"$tmp/dup.txt"
printf '# nothing\n' >"$tmp/none.txt"
expect_error --no-stdout "missing TAB" "notab.tsv:2: missing TAB" "$semb" bias --model "$fixture" --templates "$tmp/notab.tsv"
expect_error --no-stdout "gendered anchor" "gendered.tsv:2: the anchor holds the gendered pronoun 'her'" "$semb" bias --model "$fixture" --templates "$tmp/gendered.tsv"
expect_error --no-stdout "no occupation" "nooccupation.tsv:1: the anchor has no \{occupation\}" "$semb" bias --model "$fixture" --templates "$tmp/nooccupation.tsv"
expect_error --no-stdout "no pronoun" "nopronoun.tsv:1: the proposition has no pronoun placeholder" "$semb" bias --model "$fixture" --templates "$tmp/nopronoun.tsv"
expect_error --no-stdout "unknown placeholder" "unknown.tsv:1: the proposition has an unknown placeholder '\{gender\}'" "$semb" bias --model "$fixture" --templates "$tmp/unknown.tsv"
expect_error --no-stdout "duplicate occupation" "dup.txt:4: duplicate occupation 'nurse' \(also on line 1\)" "$semb" bias --model "$fixture" --occupations "$tmp/dup.txt"
expect_error --no-stdout "no occupations" "none.txt: no occupations" "$semb" bias --model "$fixture" --occupations "$tmp/none.txt"
expect_error --no-stdout "missing file" "absent.txt: cannot open" "$semb" bias --model "$fixture" --occupations "$tmp/absent.txt"
expect_error --no-stdout "missing model" "no-such-model" "$semb" bias --model "$tmp/no-such-model"
expect_error --no-stdout "no model" "--model is required" "$semb" bias
expect_error --no-stdout "bad format" "--format: 'jsonl' is not one of text, json" "$semb" bias --model "$fixture" --format jsonl
check "bias --help" bash -c "'$semb' bias --help | grep -q -- --occupations"

finish cli_bias
