#!/usr/bin/env bash
# The conventions of include/semb.h (its opening comment): every public function is marked
# SEMB_API, every options struct has a semb_..._options_default(), and, given the built
# library, every declared function is defined in it (no declaration left behind by a removal).
# usage: scripts/check_api.sh [LIBRARY]   (default build/libsemb.a)
set -euo pipefail
cd "$(dirname "$0")/.."
header=include/semb.h
library=${1:-build/libsemb.a}
bad=0

# a declaration starts at column 0 with its return type; typedefs and the extern "C" are not
while IFS=: read -r line text; do
    echo "$header:$line: public function without SEMB_API: $text"
    bad=1
done < <(grep -nE '^[a-z].*\bsemb_[a-z0-9_]+\(' "$header" |
         grep -vE '^[0-9]+:(typedef|extern|SEMB_API )')

declared=$(grep -oE '^SEMB_API [^(]*\bsemb_[a-z0-9_]+\(' "$header" | grep -oE 'semb_[a-z0-9_]+\($' |
           tr -d '(' | sort -u || true)

structs=$(grep -oE '^typedef struct semb_[a-z0-9_]+_options\b' "$header" | awk '{ print $3 }')
for options in $structs; do
    if ! grep -qx "${options}_default" <<<"$declared"; then
        echo "$header: $options has no ${options}_default()"
        bad=1
    fi
done

if [ -f "$library" ]; then
    defined=$(nm --defined-only -g "$library" 2>/dev/null | awk '$2 == "T" { print $3 }' | sort -u)
    for name in $declared; do
        if ! grep -qx "$name" <<<"$defined"; then
            echo "$header: $name is declared but $library does not define it"
            bad=1
        fi
    done
else
    echo "check_api: no library at $library; checked the header only" >&2
fi
[ $bad -eq 0 ] &&
    echo "check_api: $(wc -w <<<"$declared") public functions, all SEMB_API and defined"
exit $bad
