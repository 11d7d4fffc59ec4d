#!/bin/sh
# Neural LM benchmark (issue #4): training tokens/s, evaluation tokens/s, sampling tokens/s and
# peak memory, each beside PyTorch 1.13 (../shared/bench/torch_lm.py) run in the same go on the
# same data and threads, as ../shared/BENCHMARKS.md prescribes. Prints a Markdown table.
# usage: bench/lm_bench.sh [path/to/seqlm] [shared-dir]     (STEPS=N scales the runs)
set -eu
SEQLM=${1:-build/seqlm}
SHARED=${2:-$(dirname "$0")/../../shared}
DATA=$SHARED/data
THREADS=${THREADS:-2}
STEPS=${STEPS:-100}
TORCH_BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -f "$DATA/brown/brown.train.txt" ]; then
    echo "SKIP: $DATA/brown not found (the benchmark needs ../shared/data)"
    exit 0
fi
have_torch=0
if /usr/bin/python3 -c "import torch" 2>/dev/null && [ -f "$SHARED/bench/torch_lm.py" ]; then
    have_torch=1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Tiny Shakespeare: bytes, first 90% train, last 10% valid
SH=$DATA/shakespeare/input.txt
size=$(wc -c <"$SH")
head -c $((size * 9 / 10)) "$SH" >"$WORK/sh.train.txt"
tail -c +$((size * 9 / 10 + 1)) "$SH" >"$WORK/sh.valid.txt"

peak() { sed -n 's/^\([0-9]*\)$/\1/p' "$1" | tail -n 1; } # KB from /usr/bin/time -f %M

# ours NAME STEPS ARGS...: a --max-steps run; prints "tokens/s peakMB"
ours() {
    name=$1
    steps=$2
    shift 2
    /usr/bin/time -f "%M" -o "$WORK/$name.rss" "$SEQLM" train --max-steps "$steps" \
        --threads "$THREADS" --checkpoint none --quiet --log "$WORK/$name.log" \
        -o "$WORK/$name.safetensors" "$@" >/dev/null 2>"$WORK/$name.err" || {
        cat "$WORK/$name.err" >&2
        exit 1
    }
    tps=$(tail -n 1 "$WORK/$name.log" | sed 's/.*"tokens_per_s": *\([0-9.e+]*\).*/\1/')
    echo "$tps $(($(peak "$WORK/$name.rss") / 1024))"
}

# torch NAME STEPS ARGS...: prints "tokens/s peakMB" or "- -"
torch() {
    name=$1
    steps=$2
    shift 2
    [ $have_torch = 1 ] || {
        echo "- -"
        return
    }
    LD_LIBRARY_PATH=$TORCH_BLAS /usr/bin/python3 "$SHARED/bench/torch_lm.py" --threads "$THREADS" \
        --max-steps "$steps" --warmup 10 "$@" >"$WORK/$name.torch" 2>&1 || {
        echo "- -"
        return
    }
    tps=$(sed -n 's/.*train throughput: .* = \([0-9]*\) tok\/s.*/\1/p' "$WORK/$name.torch")
    mb=$(sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p' "$WORK/$name.torch")
    echo "${tps:--} ${mb:--}"
}

row() { # label ours_tps ours_mb torch_tps torch_mb
    /usr/bin/python3 -c '
import sys
label, ot, om, tt, tm = sys.argv[1:]
ratio = "%.2fx" % (float(ot) / float(tt)) if tt != "-" else "-"
mem = "%.2f" % (float(om) / float(tm)) if tm != "-" else "-"
print("| %s | %.0f | %s | %s | %s | %s | %s |" % (label, float(ot), tt, ratio, om, tm, mem))' "$@"
}

printf '## training throughput (%s threads, batch 20, bptt 35 unless noted)\n\n' "$THREADS"
echo "| model | seqlm tokens/s | PyTorch tokens/s | ratio | seqlm peak MB | PyTorch peak MB | memory ratio |"
echo "|---|---|---|---|---|---|---|"
BROWN="--train $DATA/brown/brown.train.txt --min-count 4"
for spec in "LSTM lstm 200 $STEPS" "GRU gru 200 $STEPS" "RNN_TANH rnn-tanh 200 $STEPS" "LSTM lstm 650 $((STEPS / 3))"; do
    set -- $spec
    o=$(ours "$2-$3" "$4" $BROWN --arch "$2" --layers 2 --hidden "$3" --embedding "$3" --lr 20 --clip 0.25)
    t=$(torch "$2-$3" "$4" --level word --model "$1" --nlayers 2 --nhid "$3" --emsize "$3")
    row "Brown, $2 2x$3" $o $t
done
o=$(ours char "$((STEPS / 3))" --train "$WORK/sh.train.txt" --unit byte --arch lstm --layers 2 \
    --hidden 512 --embedding 64 --batch 50 --bptt 100 --optimizer adam --lr 0.002 --clip 5)
t=$(torch char "$((STEPS / 3))" --level char --model LSTM --nlayers 2 --nhid 512 --emsize 64 \
    --batch 50 --bptt 100 --optim adam --lr 0.002 --clip 5)
row "Shakespeare bytes, lstm 2x512 (batch 50, bptt 100)" $o $t

echo
echo "## evaluation and generation (LSTM 2x200 on Brown, the model from the run above)"
echo
/usr/bin/time -f "%e" -o "$WORK/eval.time" "$SEQLM" eval --json --threads "$THREADS" \
    -m "$WORK/lstm-200.safetensors" "$DATA/brown/brown.valid.txt" >"$WORK/eval.json"
# the same in bf16 (seqlm eval --precision bf16), where the CPU has AVX512_BF16
/usr/bin/time -f "%e" -o "$WORK/eval16.time" "$SEQLM" eval --json --threads "$THREADS" --precision bf16 \
    -m "$WORK/lstm-200.safetensors" "$DATA/brown/brown.valid.txt" >"$WORK/eval16.json" 2>/dev/null ||
    echo "-" >"$WORK/eval16.time"
"$SEQLM" sample -m "$WORK/lstm-200.safetensors" --threads "$THREADS" --count 200 --seed 1 >"$WORK/sample.txt"
/usr/bin/time -f "%e" -o "$WORK/sample.time" "$SEQLM" sample --threads "$THREADS" \
    -m "$WORK/lstm-200.safetensors" --count 200 --seed 1 >/dev/null
t_eval=- t_gen=-
if [ $have_torch = 1 ]; then
    LD_LIBRARY_PATH=$TORCH_BLAS /usr/bin/python3 "$SHARED/bench/torch_lm.py" --threads "$THREADS" \
        --level word --model LSTM --nlayers 2 --nhid 200 --emsize 200 --eval-only >"$WORK/eval.torch" 2>&1 &&
        t_eval=$(sed -n 's/^eval valid:.* = \([0-9]*\) tok\/s.*/\1/p' "$WORK/eval.torch")
    LD_LIBRARY_PATH=$TORCH_BLAS /usr/bin/python3 "$SHARED/bench/torch_lm.py" --threads "$THREADS" \
        --level word --model LSTM --nlayers 2 --nhid 200 --emsize 200 --generate 2000 >"$WORK/gen.torch" 2>&1 &&
        t_gen=$(sed -n 's/.*generate: .* = \([0-9]*\) tok\/s.*/\1/p' "$WORK/gen.torch")
fi
/usr/bin/python3 - "$WORK/eval.json" "$WORK/eval.time" "$WORK/eval16.json" "$WORK/eval16.time" "$WORK/sample.txt" "$WORK/sample.time" "${t_eval:--}" "${t_gen:--}" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1])); et = float(open(sys.argv[2]).read().split()[-1])
t16 = open(sys.argv[4]).read().split()[-1]
words = sum(len(l.split()) + 1 for l in open(sys.argv[5]))  # each sentence's words and its </s>
st = float(open(sys.argv[6]).read().split()[-1]); te, tg = sys.argv[7], sys.argv[8]
print("| task | seqlm tokens/s | PyTorch tokens/s | ratio |")
print("|---|---|---|---|")
e = ev["tokens"] / et
print("| perplexity of Brown valid (%d tokens, end to end) | %.0f | %s | %s |" % (ev["tokens"], e, te, "%.2fx" % (e / float(te)) if te != "-" else "-"))
if t16 != "-":
    ev16 = json.load(open(sys.argv[3])); e16 = ev16["tokens"] / float(t16)
    print("| the same with --precision bf16 (perplexity %.3f, fp32 %.3f) | %.0f | %s | %s |" % (ev16["perplexity"], ev["perplexity"], e16, te, "%.2fx" % (e16 / float(te)) if te != "-" else "-"))
else:
    print("| the same with --precision bf16 | - (no AVX512_BF16) | %s | - |" % te)
g = words / st
print("| sampling one token at a time (%d tokens, end to end) | %.0f | %s | %s |" % (words, g, tg, "%.2fx" % (g / float(tg)) if tg != "-" else "-"))
PY
