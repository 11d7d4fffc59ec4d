#!/bin/sh
# Tagging benchmark (issue #5): training and prediction sentences/s of `seqlm tag` beside the
# PyTorch 1.13 reference (../shared/bench/torch_tasks.py tag), run in the same go on the same
# data, settings and threads: embedding 100, BiLSTM 200 per direction, dropout 0.5, softmax,
# Adam 1e-3, batch 32, min count 2. Prints a Markdown table.
# usage: bench/tag_bench.sh [path/to/seqlm] [shared-dir]
#   TASK=brown|conll (default both), SENTS=N train sentences (default 4000; 0 = all),
#   EPOCHS=N (default 1), THREADS=N (default 1)
set -eu
SEQLM=${1:-build/seqlm}
SHARED=${2:-$(dirname "$0")/../../shared}
DATA=$SHARED/data
THREADS=${THREADS:-1}
SENTS=${SENTS:-4000}
EPOCHS=${EPOCHS:-1}
TASKS=${TASK:-brown conll}
TORCH_BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -d "$DATA/brown" ] || [ ! -d "$DATA/conll2003" ]; then
    echo "SKIP: $DATA/brown or conll2003 not found (the benchmark needs ../shared/data)"
    exit 0
fi
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && [ -f "$SHARED/bench/torch_tasks.py" ] && have_torch=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# first N sentences of a tagging file (N = 0: all); -DOCSTART- lines dropped
cut_sents() {
    awk -v n="$2" '$1=="-DOCSTART-"{next} NF==0{if(open){s++; print ""; open=0}; if(n>0&&s>=n)exit; next} {print; open=1}' "$1"
}

echo "| task | sentences | seqlm train sent/s | torch train sent/s | ratio | seqlm predict sent/s | torch predict sent/s | ratio |"
echo "|---|---|---|---|---|---|---|---|"
for task in $TASKS; do
    mkdir -p "$WORK/$task"
    for split in train valid test; do
        if [ $task = brown ]; then src=$DATA/brown/brown-pos.$split.tsv dst=$WORK/$task/brown-pos.$split.tsv
        else src=$DATA/conll2003/$split.txt dst=$WORK/$task/$split.txt; fi
        n=$SENTS
        [ $split = train ] || n=$((SENTS / 4))
        cut_sents "$src" "$n" >"$dst"
    done
    if [ $task = brown ]; then tr=$WORK/$task/brown-pos.train.tsv te=$WORK/$task/brown-pos.test.tsv
    else tr=$WORK/$task/train.txt te=$WORK/$task/test.txt; fi
    nsent=$(awk 'NF==0{n++} END{print n}' "$tr")
    "$SEQLM" tag train --train "$tr" -o "$WORK/$task.st" --embedding 100 --hidden 200 \
        --dropout 0.5 --batch 32 --min-count 2 --lr 0.001 --clip 0 --epochs "$EPOCHS" \
        --threads "$THREADS" --log "$WORK/$task.log" -q --metric accuracy
    ours_train=$(tail -n 1 "$WORK/$task.log" | sed 's/.*"sent_per_s":\([0-9.e+]*\).*/\1/')
    "$SEQLM" tag predict -m "$WORK/$task.st" --batch 256 --threads "$THREADS" "$te" \
        2>"$WORK/$task.pred" >/dev/null
    ours_pred=$(sed -n 's/^seqlm: tagged .*: \([0-9]*\) sentences\/s$/\1/p' "$WORK/$task.pred")
    torch_train=- torch_pred=-
    if [ $have_torch = 1 ]; then
        LD_LIBRARY_PATH=$TORCH_BLAS /usr/bin/python3 "$SHARED/bench/torch_tasks.py" tag --task $task \
            --data "$WORK/$task" --epochs "$EPOCHS" --threads "$THREADS" >"$WORK/$task.torch" 2>&1 || true
        torch_train=$(sed -n 's/.*train throughput: .* = \([0-9]*\) sent\/s.*/\1/p' "$WORK/$task.torch")
        torch_pred=$(sed -n 's/^best test: .* = \([0-9]*\) sent\/s.*/\1/p' "$WORK/$task.torch")
    fi
    ratio() { [ -n "$2" ] && [ "$2" != - ] && echo "$1 $2" | awk '{printf "%.2f", $1 / $2}' || echo -; }
    printf "| %s | %s | %.0f | %s | %s | %s | %s | %s |\n" "$task" "$nsent" "$ours_train" \
        "${torch_train:--}" "$(ratio "$ours_train" "$torch_train")" "$ours_pred" "${torch_pred:--}" \
        "$(ratio "$ours_pred" "$torch_pred")"
done
echo
echo "threads $THREADS, epochs $EPOCHS; prediction: the tagging loop alone on both sides (not loading"
echo "the model or the data), test batches of 256 in length order"
