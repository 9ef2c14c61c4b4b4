#!/usr/bin/env bash
# End-to-end tests of how every command writes (issue #14): outputs never clobber a link, a
# FIFO or a device; `--output -` is standard output; a killed writer leaves no temporary
# file; lost standard output is an error; exit codes are 2 for usage, 1 for everything else.
# usage: cli_outputs.sh SEMB_BINARY SHARED_DIR
set -uo pipefail
. "$(dirname "$0")/lib_cli.sh"
semb=$1
shared=${2:-../shared}
fixture="$shared/fixtures/bert-tiny-mean"
require_files "$fixture/config.json"
make_tmp
cd "$tmp" || exit 1
printf 'a cat sat on the mat\nthe dog barked\nbirds fly south\n' >in.txt
"$semb" encode --model "$fixture" --input in.txt --output ref.jsonl || exit 1

# --- links, FIFOs, devices, standard output -------------------------------------------
ln -s real.jsonl link.jsonl
check "encode through a dangling link creates its target" \
    "$semb" encode --model "$fixture" --input in.txt --output link.jsonl
check "the link stays a link" test -L link.jsonl
check "its target holds the embeddings" cmp -s real.jsonl ref.jsonl
echo old >real.jsonl
chmod 600 real.jsonl
check "encode through a link to a file" \
    "$semb" encode --model "$fixture" --input in.txt --output link.jsonl
check "the link still a link, the target replaced with its mode kept" \
    bash -c "[ -L link.jsonl ] && cmp -s real.jsonl ref.jsonl && [ \$(stat -c %a real.jsonl) = 600 ]"

mkfifo fifo
# a writer that replaced the FIFO instead of writing into it would leave the reader waiting
timeout 60 cat fifo >from_fifo &
reader=$!
check "encode into a FIFO" timeout 60 "$semb" encode --model "$fixture" --input in.txt --output fifo
wait $reader
check "the reader got the embeddings, the FIFO is still a FIFO" \
    bash -c "cmp -s from_fifo ref.jsonl && [ -p fifo ]"
timeout 60 cat fifo >idx_from_fifo &
reader=$!
check "index build into a FIFO (a seeking writer, spooled)" \
    timeout 60 "$semb" index build --model "$fixture" --corpus in.txt --output fifo
wait $reader
check "the index read from the FIFO is whole" \
    bash -c "'$semb' index info --index idx_from_fifo | grep -q '^documents: 3'"

check "encode --output - is standard output" \
    bash -c "'$semb' encode --model '$fixture' --input in.txt --output - | cmp -s - ref.jsonl"
check "encode --output /dev/stdout into a pipe" \
    bash -c "'$semb' encode --model '$fixture' --input in.txt --output /dev/stdout | cmp -s - ref.jsonl"
echo "first line" >appended
check "encode --output /dev/stdout keeps the shell's >>" \
    bash -c "'$semb' encode --model '$fixture' --input in.txt --output /dev/stdout >>appended &&
             [ \"\$(head -1 appended)\" = 'first line' ] && tail -n +2 appended | cmp -s - ref.jsonl"
check "index build --output - writes the index alone to standard output" \
    bash -c "'$semb' index build --model '$fixture' --corpus in.txt --output - >stdout.idx 2>report &&
             grep -q '^indexed 3 documents' report &&
             '$semb' index info --index stdout.idx | grep -q '^documents: 3'"

# copies of /dev/null and /dev/full made here (root only), never the machine's own nodes
if mknod null c 1 3 2>/dev/null && mknod full c 1 7 2>/dev/null && echo x >null 2>/dev/null; then
    check "encode into a character device" \
        "$semb" encode --model "$fixture" --input in.txt --output null
    expect_error "encode into a full device" "full: write failed: No space left on device" \
        "$semb" encode --model "$fixture" --input in.txt --output full
    check "the device nodes stay devices" bash -c "[ -c null ] && [ -c full ]"
else
    echo "skip device nodes (not root, or a nodev file system)"
fi
mkdir folder
expect_error "a folder is refused" "folder: is a folder" \
    "$semb" encode --model "$fixture" --input in.txt --output folder

# folders: a dangling link names the folder to create, and stays a link
ln -s made-model model-link
check "init through a dangling link" "$semb" init --arch bert --vocab "$fixture/tokenizer.json" \
    --hidden 32 --layers 1 --heads 2 --intermediate 64 --output model-link
check "the link stays, the folder is where it points" \
    bash -c "[ -L model-link ] && [ -f made-model/config.json ]"

expect_error "init --output - is refused" "standard output cannot hold a folder" \
    "$semb" init --arch bert --vocab "$fixture/tokenizer.json" --output -
expect_error "corpus --output - is refused" "standard output cannot hold a folder" \
    "$semb" corpus --output - --sources jargon
check "no folder named -" test ! -e ./-

# --- a killed writer leaves nothing -----------------------------------------------------
# kill_while_writing PID: kill -9 PID once it holds a file open in killed/ other than the
# input (the output being written, or a copy of stdin), so the kill lands mid-write
kill_while_writing() {
    local pid=$1 fd
    for _ in $(seq 1 400); do
        for fd in /proc/"$pid"/fd/*; do
            case $(readlink "$fd" 2>/dev/null) in
            "$tmp"/killed/big.txt) ;;
            "$tmp"/killed/*)
                kill -9 "$pid"
                wait "$pid" 2>/dev/null
                return 0
                ;;
            esac
        done
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
}
mkdir killed
for i in $(seq 1 100000); do echo "sentence number $i about cats and dogs and birds"; done >killed/big.txt
"$semb" encode --model "$fixture" --input killed/big.txt --output killed/out.npy --threads 1 &
check "encode killed while writing" kill_while_writing $!
check "a killed encode leaves no temporary file" bash -c "[ \"\$(ls -A killed)\" = big.txt ]"
mkfifo stdin_fifo
"$semb" index build --model "$fixture" --corpus - --output killed/out.idx --threads 1 \
    <stdin_fifo &
pid=$!
exec 3>stdin_fifo # held open: the build is still copying its stdin when killed
head -1000 killed/big.txt >&3
check "index build killed while copying stdin" kill_while_writing $pid
exec 3>&-
check "a killed index build leaves no temporary file" bash -c "[ \"\$(ls -A killed)\" = big.txt ]"

# --- lost standard output ---------------------------------------------------------------
if [ -w /dev/full ]; then
    for cmd in "tokenize --model $fixture" "similarity --model $fixture a b" \
        "encode --model $fixture" "--version" "--help" "init --help"; do
        expect_error "semb $cmd >/dev/full" "standard output: write failed|<stdout>: write failed" \
            bash -c "echo hello | '$semb' $cmd >/dev/full"
    done
fi

# --- exit codes: 2 for usage, 1 for everything else ---------------------------------------
exit_code() { # exit_code NAME EXPECTED CMD...
    local name=$1 want=$2
    shift 2
    "$@" >/dev/null 2>&1 </dev/null
    local rc=$?
    check "$name exits $want (got $rc)" test "$rc" -eq "$want"
}
exit_code "no command" 2 "$semb"
exit_code "unknown command" 2 "$semb" frobnicate
exit_code "unknown option" 2 "$semb" encode --model "$fixture" --frobnicate
exit_code "missing --model" 2 "$semb" encode
exit_code "bad --batch-size" 2 "$semb" encode --model "$fixture" --batch-size 0
exit_code "bad --precision" 2 "$semb" encode --model "$fixture" --precision fp64
exit_code "missing model folder" 1 "$semb" encode --model no-such-model
exit_code "missing input file" 1 "$semb" encode --model "$fixture" --input no-such-file
exit_code "a prompt the model lacks" 1 "$semb" encode --model "$fixture" --input in.txt \
    --prompt-name nope
exit_code "train: missing --data" 2 "$semb" train --model "$fixture" --output t1
exit_code "train: missing data file" 1 "$semb" train --model "$fixture" --data nope.jsonl \
    --output t2 --steps 1
exit_code "init into an existing folder" 1 "$semb" init --arch bert \
    --vocab "$fixture/tokenizer.json" --output folder
exit_code "vocab: missing corpus" 1 "$semb" vocab --corpus nope.txt --size 100 --output v1
exit_code "index info of a missing file" 1 "$semb" index info --index nope.idx
exit_code "search: k 0" 2 "$semb" search --index x --model "$fixture" --query a -k 0
exit_code "quickstart into an existing folder" 1 "$semb" quickstart --output folder

finish cli_outputs
