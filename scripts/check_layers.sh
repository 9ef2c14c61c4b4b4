#!/usr/bin/env bash
# The floors of src/ (ARCHITECTURE.md): a module may use its own code and the modules on
# lower floors, never one on its own floor or above. Checked twice: the #include "module/..."
# lines of every source, and the symbols every object file of the library takes from another
# (so a call through the public semb.h into a higher module is caught too).
# usage: scripts/check_layers.sh [OBJECT_DIR]   (default build/CMakeFiles/semb_lib.dir/src)
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${1:-build/CMakeFiles/semb_lib.dir/src}
floors="core:0 io:1 text:2 kernels:2 model:3 index:4 corpus:4 eval:5 train:6 serve:7 cli:8"
floor_of() { # floor_of MODULE
    local pair
    for pair in $floors; do
        [ "${pair%%:*}" = "$1" ] && { echo "${pair#*:}"; return; }
    done
    echo "check_layers: module '$1' has no floor; add it to $0 and ARCHITECTURE.md" >&2
    exit 1
}
bad=0
allowed() { # allowed USER_MODULE USED_MODULE
    [ "$1" = "$2" ] || [ "$(floor_of "$2")" -lt "$(floor_of "$1")" ]
}

for dir in src/*/; do
    module=$(basename "$dir")
    floor_of "$module" >/dev/null
    while IFS=: read -r file line used; do
        if ! allowed "$module" "$used"; then
            echo "$file:$line: $module (floor $(floor_of "$module")) includes $used/ (floor $(floor_of "$used"))"
            bad=1
        fi
    done < <(grep -Hno '^#include "[a-z_]*/' "$dir"* | sed 's/#include "//; s#/$##')
done

# the objects of today's sources (a build folder keeps those of moved or deleted files)
current_objects() {
    local o rel
    for o in "$objects"/*/*.o; do
        rel=${o#"$objects"/}
        [ -e "src/${rel%.o}" ] && echo "$o"
    done
}

if [ -d "$objects" ]; then
    # symbol -> module that defines it
    declare -A home
    while read -r module symbol; do
        home[$symbol]=$module
    done < <(for o in $(current_objects); do
                 m=$(basename "$(dirname "$o")")
                 nm --defined-only -g "$o" | awk -v m="$m" 'NF == 3 { print m, $3 }'
             done)
    for o in $(current_objects); do
        module=$(basename "$(dirname "$o")")
        for symbol in $(nm -u "$o" | awk '{ print $2 }'); do
            used=${home[$symbol]:-}
            if [ -n "$used" ] && ! allowed "$module" "$used"; then
                echo "$o: $module (floor $(floor_of "$module")) calls $symbol of $used (floor $(floor_of "$used"))"
                bad=1
            fi
        done
    done
else
    echo "check_layers: no objects at $objects; checked includes only" >&2
fi
[ $bad -eq 0 ] && echo "check_layers: every module uses only its own floor's module and lower floors"
exit $bad
