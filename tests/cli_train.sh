#!/usr/bin/env bash
# cli_train.sh - `seqlm train` and `seqlm plot` end to end on small text made here.
#
# usage: bash tests/cli_train.sh /abs/path/to/seqlm [shared-data-dir]
#
# A tiny model trains and is written; --log writes JSON lines whose last has tokens_per_s; the
# same seed gives byte-identical model files; a run killed with SIGKILL and resumed from its
# checkpoint ends byte-identical to an uninterrupted one; --optimizer's rates and the shared
# options' messages; bad flags exit 2, unusable input
# (a text too short for one window, an empty validation text, a diverging run) exits 1;
# `seqlm plot` draws a PNG (skipped without gnuplot). Each check prints PASS or FAIL (or SKIP);
# the last line is "N passed, M failed" and the exit status is non-zero when anything failed.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3
cli_tmpdir cli-train

# --- text: a small grammar, the same every time ----------------------------------------------
python3 - <<'EOF'
import random
r = random.Random(1)
subj = ["the cat", "a dog", "the old man", "my sister", "the bird", "our teacher"]
verb = ["sees", "likes", "chases", "finds", "watches", "paints"]
obj = ["the ball", "a red apple", "the small house", "the river", "a green tree", "the moon"]
def lines(n):
    return "".join("%s %s %s\n" % (r.choice(subj), r.choice(verb), r.choice(obj)) for _ in range(n))
open("train.txt", "w").write(lines(400))
open("valid.txt", "w").write(lines(40))
open("big.txt", "w").write(lines(3000))
open("short.txt", "w").write("the cat sees\n")
open("empty.txt", "w").write("")
EOF
SMALL=(--layers 1 --hidden 24 --embedding 24 --batch 8 --bptt 10 --threads 2)

# --- training, the log, reproducibility ------------------------------------------------------
run "$SEQLM" train --train train.txt --valid valid.txt -o m1.safetensors "${SMALL[@]}" --epochs 3 \
    --seed 3 --log log.jsonl --log-interval 0.01 -q
check_cmd "train writes a model" test "$rc" -eq 0 -a -s m1.safetensors
check_cmd "train writes a checkpoint beside it" test -s m1.safetensors.ckpt
check_cmd "--log: JSON lines, the last with tokens_per_s" python3 -c '
import json, sys
rows = [json.loads(l) for l in open("log.jsonl")]
assert rows[0]["event"] == "start" and rows[0]["params"] > 0, rows[0]
assert sum(r["event"] == "epoch" for r in rows) == 3
assert rows[-1]["event"] == "end" and rows[-1]["tokens_per_s"] > 0, rows[-1]
'
run "$SEQLM" train --train train.txt --valid valid.txt -o m2.safetensors "${SMALL[@]}" --epochs 3 \
    --seed 3 -q
check_cmd "the same seed gives a byte-identical model" cmp -s m1.safetensors m2.safetensors
run "$SEQLM" train --train train.txt --valid valid.txt -o m3.safetensors "${SMALL[@]}" --epochs 3 \
    --seed 4 -q
check_cmd "another seed gives another model" test -s m3.safetensors
check_cmd "another seed: not the same bytes" eval '! cmp -s m1.safetensors m3.safetensors'
run "$SEQLM" train --train train.txt -o m4.safetensors "${SMALL[@]}" --epochs 1
check_cmd "progress: parameter count and memory at the start" \
    grep -q "parameters, about" "$T/stderr"
check_cmd "no --valid says the last model is kept" grep -q "last model is kept" "$T/stderr"

# --- kill -9, resume: the same bits as an uninterrupted run ----------------------------------
# 600 updates take about 1.2 s here (2 ms each), so the kill, 50 ms after the first checkpoint
# (update 5), lands mid-run; the check below fails if the run ended first.
RUN=(--train big.txt -u char --layers 1 --hidden 64 --embedding 16 --batch 16 --bptt 32
    --threads 1 --dropout 0.1 --optimizer adam --max-steps 600 --checkpoint-every 5 -q)
run "$SEQLM" train "${RUN[@]}" -o a.safetensors --checkpoint a.ckpt
check_cmd "uninterrupted run with --max-steps" test -s a.safetensors
"$SEQLM" train "${RUN[@]}" -o b.safetensors --checkpoint b.ckpt 2>err.txt &
pid=$!
for _ in $(seq 1 1000); do
    [ -s b.ckpt ] && break
    sleep 0.01
done
sleep 0.05
killed=1
kill -9 "$pid" 2>/dev/null || killed=0
wait "$pid" 2>/dev/null
check_cmd "kill -9 lands mid-run (after $(st_meta b.ckpt run.step) of 600 updates)" \
    test "$killed" -eq 1 -a ! -e b.safetensors
run "$SEQLM" train --resume b.ckpt -o b.safetensors
check_cmd "resume after kill -9 succeeds" test "$rc" -eq 0
check_cmd "resumed model is byte-identical to the uninterrupted one" cmp -s a.safetensors b.safetensors

# --- resume keeps the checkpoint's --log-interval unless given ----------------------------------
run "$SEQLM" train "${RUN[@]}" --max-steps 10 --log-interval 0.000001 -o li.safetensors \
    --checkpoint li.ckpt
run "$SEQLM" train --resume li.ckpt --max-steps 20 --log li.jsonl -o li.safetensors
check_cmd "resume: the checkpoint's log interval (an interval line per update)" \
    test "$(grep -c '"event":"interval"' li.jsonl)" -ge 5

# --- Ctrl-C: a checkpoint, exit 1, and how to continue -------------------------------------
"$SEQLM" train "${RUN[@]}" --max-steps 100000 -o c.safetensors --checkpoint c.ckpt 2>int.txt &
pid=$!
for _ in $(seq 1 400); do
    [ -s c.ckpt ] && break
    sleep 0.01
done
kill -INT "$pid"
wait "$pid"
rc=$?
check_cmd "SIGINT: exit 1 and a checkpoint" test "$rc" -eq 1 -a -s c.ckpt
grep -q "resume c.ckpt" int.txt
st=$?
check "SIGINT: a message naming the checkpoint to resume" $st "its stderr: $(tail -n 1 int.txt)"

# --- bad usage: exit 2 -----------------------------------------------------------------------
expect_error "unknown flag (exit 2)" 2 -- "$SEQLM" train --train train.txt -o x.st --bogus
expect_error "unknown --arch (exit 2)" 2 -- \
    "$SEQLM" train --train train.txt -o x.st --arch transformer
expect_error "--hidden 0 (exit 2)" 2 -- "$SEQLM" train --train train.txt -o x.st --hidden 0
expect_error "--batch -1 (exit 2)" 2 -- "$SEQLM" train --train train.txt -o x.st --batch -1
expect_error "--lr nan (exit 2)" 2 -- "$SEQLM" train --train train.txt -o x.st --lr nan
expect_error "--tie-weights with hidden != embedding (exit 2)" 2 -- \
    "$SEQLM" train --train train.txt -o x.st --tie-weights --hidden 32 --embedding 16
expect_error "--direct without --arch window (exit 2)" 2 -- \
    "$SEQLM" train --train train.txt -o x.st --direct
expect_error "--vocab with --min-count (exit 2)" 2 -- \
    "$SEQLM" train --train train.txt -o x.st --vocab v.txt --min-count 2
expect_error "missing -o (exit 2)" 2 -- "$SEQLM" train --train train.txt
expect_error "--resume with a model flag (exit 2)" 2 -- "$SEQLM" train --resume b.ckpt --hidden 10
expect_error "plot: bad output suffix (exit 2)" 2 -- "$SEQLM" plot log.jsonl -o curves.jpg

# --- the shared training options: train's defaults and the messages -------------------------
ONE=(--train train.txt -o opt.st "${SMALL[@]}" --max-steps 1 --checkpoint none)
run "$SEQLM" train "${ONE[@]}" --optimizer adam
check_cmd "--optimizer adam: adam's rate" grep -q "; adam lr 0.001, clip 0.25" "$T/stderr"
run "$SEQLM" train "${ONE[@]}" --optimizer adam --optimizer sgd
check_cmd "--optimizer sgd: train's rate 20" grep -q "; sgd lr 20, clip 0.25" "$T/stderr"
run "$SEQLM" train "${ONE[@]}" --lr 0.5 --optimizer adam --clip 1
check_cmd "--lr before --optimizer is kept" grep -q "; adam lr 0.5, clip 1," "$T/stderr"
expect_error "--epochs 0" 2 "--epochs must be an integer >= 1, not '0'" -- \
    "$SEQLM" train --train train.txt -o x.st --epochs 0
expect_error "--threads beyond 4096" 2 "--threads must be an integer from 1 to 4096" -- \
    "$SEQLM" train --train train.txt -o x.st --threads 5000
expect_error "--lr-decay below 1" 2 "--lr-decay must be a number >= 1, not '0.5'" -- \
    "$SEQLM" train --train train.txt -o x.st --lr-decay 0.5
expect_error "unknown --optimizer" 2 "unknown --optimizer 'lion' (sgd, adagrad," -- \
    "$SEQLM" train --train train.txt -o x.st --optimizer lion
expect_error "a long option without its value" 2 "option '--lr' needs a value" -- \
    "$SEQLM" train --train train.txt -o x.st --lr
expect_error "--resume names the flag it cannot change" 2 "--hidden cannot be changed" -- \
    "$SEQLM" train --resume b.ckpt --hidden 10

# --- bad input: exit 1 -----------------------------------------------------------------------
expect_error "a text too short for one window (exit 1)" 1 -- \
    "$SEQLM" train --train short.txt -o x.st --batch 20 -q
expect_error "an empty validation text (exit 1)" 1 -- \
    "$SEQLM" train --train train.txt --valid empty.txt -o x.st "${SMALL[@]}" -q
expect_error "a missing training file (exit 1)" 1 -- "$SEQLM" train --train nope.txt -o x.st -q
expect_error "--resume of a model file (not a checkpoint) (exit 1)" 1 -- \
    "$SEQLM" train --resume m1.safetensors -o x.st -q
expect_error "a diverging run (exit 1)" 1 -- \
    "$SEQLM" train --train train.txt -o nan.st "${SMALL[@]}" --lr 1e9 --clip 0 -q
check_cmd "the divergence message suggests a lower --lr" grep -q -- "--lr" "$T/stderr"

# --- plot ------------------------------------------------------------------------------------
if command -v gnuplot >/dev/null 2>&1; then
    run "$SEQLM" plot log.jsonl -o curves.png
    check_cmd "plot writes a PNG" python3 -c '
import sys
sys.exit(open("curves.png", "rb").read(8) != b"\x89PNG\r\n\x1a\n")'
    run "$SEQLM" plot log.jsonl -o curves.svg
    check_cmd "plot writes an SVG" grep -q "<svg" curves.svg
else
    echo "SKIP: seqlm plot (gnuplot is not installed)"
fi

cli_finish
