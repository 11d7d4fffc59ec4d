#!/bin/sh
# classify_bench.sh - sentence classification speed (and accuracy) of `seqlm classify` beside
# PyTorch (../shared/bench/torch_tasks.py classify), the same data, model and settings, run in
# the same go: embedding 100, BiLSTM 150 per direction, max pooling, dropout 0.5, Adam 1e-3,
# batch 50, vocabulary = training units seen >= 2 times, 10% of the training part held out
# (seeded) for early stopping; prediction batches of 256 in length order.
#
# usage: sh bench/classify_bench.sh [path/to/seqlm]
#   TASK=rt (default): rt-polarity, fold 0 of the 10 folds by line number (CP1252 input)
#   TASK=nsmc UNIT=char|word: NSMC, train on id % 5 != 0, test on id % 5 == 0
#   EPOCHS (default 1), LIMIT seconds per training run (default 120), THREADS (default 1)
#
# Prints train and predict sentences/s of both and the ratio seqlm / PyTorch; "train" counts
# sentences over timed training steps only (forward, backward, update), as torch_tasks.py does.
set -eu
SEQLM=${1:-build/seqlm}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$HERE/../../shared}
[ -d "$SHARED/data" ] || SHARED=$HERE/../shared
D=$SHARED/data
if [ ! -d "$D/rt-polarity" ] || [ ! -d "$D/nsmc" ]; then
    echo "SKIP: $D/rt-polarity or nsmc not found (the benchmark needs ../shared/data)"
    exit 0
fi
TASK=${TASK:-rt}
UNIT=${UNIT:-word}
EPOCHS=${EPOCHS:-1}
LIMIT=${LIMIT:-120}
THREADS=${THREADS:-1}
PY="env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/classify-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
COMMON="--epochs $EPOCHS --patience 1 --max-time $LIMIT --threads $THREADS --eval-batch 256 --seed 1"

echo "task $TASK, unit $UNIT, epochs <= $EPOCHS, time limit $LIMIT s per run, threads $THREADS"
case $TASK in
rt)
    "$SEQLM" classify cv $COMMON --fold-limit 1 --json --encoding CP1252 \
        --label-file pos="$D/rt-polarity/rt-polarity.pos" \
        --label-file neg="$D/rt-polarity/rt-polarity.neg" >"$TMP/ours.json" 2>"$TMP/ours.err"
    ours=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.2f %.1f %.1f" % (100*j["accuracy"][0], j["train_sents_per_s"], j["predict_sents_per_s"]))' "$TMP/ours.json")
    $PY "$SHARED/bench/torch_tasks.py" classify --task rt --folds 1 --epochs "$EPOCHS" \
        --patience 1 --time-limit "$LIMIT" --threads "$THREADS" >"$TMP/torch.out" 2>&1 || true
    ;;
nsmc)
    "$SEQLM" classify train $COMMON --split-by-id 5 --allow-empty --unit "$UNIT" --heldout 0.1 \
        -o "$TMP/m.safetensors" "$D/nsmc/ratings_test.txt" 2>"$TMP/ours.err"
    "$SEQLM" classify eval --json --threads "$THREADS" --eval-batch 256 --split-by-id 5 \
        --allow-empty -m "$TMP/m.safetensors" "$D/nsmc/ratings_test.txt" >"$TMP/ours.json" \
        2>>"$TMP/ours.err"
    acc=$(python3 -c 'import json,sys; print("%.2f" % (100*json.load(open(sys.argv[1]))["accuracy"]))' "$TMP/ours.json")
    tr=$(sed -n 's/.*; \([0-9.]*\) sent\/s training.*/\1/p' "$TMP/ours.err" | tail -1)
    pr=$(sed -n 's/^seqlm: \([0-9.]*\) sentences\/s$/\1/p' "$TMP/ours.err" | tail -1)
    ours="$acc $tr $pr"
    $PY "$SHARED/bench/torch_tasks.py" classify --task nsmc --unit "$UNIT" --epochs "$EPOCHS" \
        --patience 1 --time-limit "$LIMIT" --threads "$THREADS" >"$TMP/torch.out" 2>&1 || true
    ;;
*)
    echo "TASK must be rt or nsmc" >&2
    exit 2
    ;;
esac
if res=$(grep '^RESULT' "$TMP/torch.out"); then
    torch=$(echo "$res" | sed -n 's/.*test accuracy \([0-9.]*\).*train .* = \([0-9.]*\) sent\/s | predict .* = \([0-9.]*\) sent\/s.*/\1 \2 \3/p')
else
    echo "(PyTorch did not run: $(tail -n 1 "$TMP/torch.out"))"
    torch="- - -"
fi
set -- $ours $torch
printf '%-8s %10s %14s %16s\n' "" "accuracy" "train sent/s" "predict sent/s"
printf '%-8s %10s %14s %16s\n' seqlm "$1" "$2" "$3"
printf '%-8s %10s %14s %16s\n' pytorch "$4" "$5" "$6"
[ "$5" = - ] || python3 -c 'import sys; a=list(map(float, sys.argv[1:])); print("ratio seqlm/pytorch: train %.2fx, predict %.2fx" % (a[0]/a[2], a[1]/a[3]))' "$2" "$3" "$5" "$6"
