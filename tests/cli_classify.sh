#!/usr/bin/env bash
# cli_classify.sh - `seqlm classify` end to end: train, eval, predict and cv on the tiny
# tests/data/classify_tiny.tsv (30 LABEL<TAB>TEXT lines, 3 labels), byte-identical output for a
# fixed seed across two runs, CP1252 input with --encoding, NSMC input with --split-by-id, and
# every bad input the issue lists: an error is one "seqlm: error:" line naming file:line, exit
# status 1 for bad input and 2 for bad usage, and no output file left behind.
#
# usage: bash tests/cli_classify.sh /abs/path/to/seqlm [shared-data-dir]
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 cmp
TINY=$(cd "$(dirname "$0")" && pwd)/data/classify_tiny.tsv
cli_tmpdir cli-classify

TRAIN=(--epochs 4 --hidden 8 --embedding 8 --batch 4 --min-count 1 --threads 1 --seed 3 -q)

# --- train, eval, predict, reproducibly -----------------------------------------------------
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --log log.jsonl -o m1.safetensors "$TINY"
check_cmd "train writes a model" test "$rc" -eq 0 -a -s m1.safetensors
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 -o m2.safetensors "$TINY"
check_cmd "same seed and threads: the same model file, byte for byte" \
    cmp -s m1.safetensors m2.safetensors
check_cmd "the log holds JSON lines with an end event" python3 -c '
import json, sys
e = [json.loads(l)["event"] for l in open(sys.argv[1])]
sys.exit(0 if e[0] == "start" and e[-1] == "end" and "epoch" in e else 1)' log.jsonl
runq eval1.txt "$SEQLM" classify eval -m m1.safetensors "$TINY"
check "eval succeeds" "$rc"
runq eval2.txt "$SEQLM" classify eval -m m2.safetensors "$TINY"
check_cmd "eval output is byte-identical across runs" cmp -s eval1.txt eval2.txt
grep -q '^accuracy ' eval1.txt && grep -q '^macro-F1 ' eval1.txt && grep -q '^neu ' eval1.txt &&
    grep -q 'confusion matrix' eval1.txt
check "eval prints accuracy, macro-F1, per-label rows and the confusion matrix" $?
runq eval.json "$SEQLM" classify eval --json -m m1.safetensors "$TINY"
check_cmd "eval --json: the same accuracy, labels in class order, a 3x3 confusion" python3 -c '
import json,sys
j=json.load(open(sys.argv[1]))
acc=[l.split()[1] for l in open(sys.argv[2]) if l.startswith("accuracy")][0]
ok = (j["labels"]==["neg","neu","pos"] and len(j["confusion"])==3 and "%.4f"%j["accuracy"]==acc
      and sum(map(sum,j["confusion"]))==30)
sys.exit(0 if ok else 1)' eval.json eval1.txt
cut -f2 "$TINY" >texts.txt
runq pred1.txt "$SEQLM" classify predict -m m1.safetensors texts.txt
check "predict succeeds" "$rc"
runq pred2.txt "$SEQLM" classify predict -m m2.safetensors <texts.txt
check_cmd "predict from stdin gives the same, byte for byte" cmp -s pred1.txt pred2.txt
check_cmd "predict: one line per text, label and 3 probabilities summing to 1" python3 -c '
import sys
rows=[l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
ok = len(rows)==30 and all(len(r)==4 and r[0] in ("neg","neu","pos")
                           and abs(sum(map(float,r[1:]))-1)<1e-4 for r in rows)
sys.exit(0 if ok else 1)' pred1.txt
runq predh.txt "$SEQLM" classify predict --header -m m1.safetensors --format tsv "$TINY"
head -1 predh.txt | grep -q $'^label\tneg\tneu\tpos$' && tail -n +2 predh.txt | cmp -s - pred1.txt
check "predict --header names the columns; --format tsv drops the labels" $?

# --- --weight-decay: applied, and kept whichever side of --optimizer it is given ----------------
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --weight-decay 0.5 -o wd.safetensors "$TINY"
check "train with --weight-decay" "$rc"
check_cmd "--weight-decay changes the model" eval '! cmp -s wd.safetensors m1.safetensors'
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --weight-decay 0 --optimizer adamw \
    -o wd0.safetensors "$TINY"
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --optimizer adamw --weight-decay 0 \
    -o wd1.safetensors "$TINY"
check_cmd "--weight-decay before or after --optimizer: the same model" \
    cmp -s wd0.safetensors wd1.safetensors
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --optimizer adamw -o wd2.safetensors "$TINY"
check_cmd "adamw's own default decay (0.01) differs from --weight-decay 0" \
    eval '! cmp -s wd2.safetensors wd1.safetensors'
expect_error "negative --weight-decay" 2 "--weight-decay must be a number >= 0" -- \
    "$SEQLM" classify train --weight-decay -1 -o x.safetensors "$TINY"
expect_error "--weight-decay with eval" 2 "--weight-decay is for train and cv" -- \
    "$SEQLM" classify eval --weight-decay 0.1 -m m1.safetensors "$TINY"

# --- the formats: rt-polarity's (label files, CP1252) and NSMC's ----------------------------
printf 'caf\xe9 good\nfun \x93film\x94\n' >pos.txt
printf 'bad caf\xe9\ndull \x85\n' >neg.txt
run "$SEQLM" classify train "${TRAIN[@]}" --encoding CP1252 --label-file pos=pos.txt \
    --label-file neg=neg.txt -o rt.safetensors
check "train on CP1252 label files" "$rc"
expect_error "CP1252 read as UTF-8: invalid UTF-8 naming file, line, byte and --encoding" 1 \
    "pos.txt: line 1, byte 3: invalid UTF-8" "--encoding" -- \
    "$SEQLM" classify train "${TRAIN[@]}" --label-file pos=pos.txt --label-file neg=neg.txt \
    -o bad.safetensors
[ ! -e bad.safetensors ] && ! ls bad.safetensors.tmp.* >/dev/null 2>&1
check "no model left after a failure" $?
printf 'ok\nab\x81z\n' >undef.txt
expect_error "a byte undefined in CP1252: file, line and byte" 1 "undef.txt: line 2, byte 5" -- \
    "$SEQLM" classify train "${TRAIN[@]}" --encoding CP1252 --label-file pos=undef.txt \
    --label-file neg=neg.txt -o bad.safetensors
expect_error "unknown --encoding is a usage error" 2 "unknown encoding 'NO-SUCH-CODE'" -- \
    "$SEQLM" classify train "${TRAIN[@]}" --encoding NO-SUCH-CODE -o bad.safetensors "$TINY"
expect_error "UTF-16 is refused (not ASCII-compatible)" 2 "not ASCII-compatible" -- \
    "$SEQLM" classify train "${TRAIN[@]}" --encoding UTF-16 -o bad.safetensors "$TINY"
{
    printf 'id\tdocument\tlabel\n'
    i=0
    while IFS=$'\t' read -r lab text; do
        i=$((i + 1))
        case $lab in pos) l=1 ;; neg) l=0 ;; *) continue ;; esac
        printf '%d\t%s\t%s\n' "$i" "$text" "$l"
    done <"$TINY"
    printf '99\t\t1\n'
} >nsmc.txt
expect_error "NSMC with an empty document: an error naming the line" 1 \
    "nsmc.txt: line 22: empty text" "--allow-empty" -- \
    "$SEQLM" classify train "${TRAIN[@]}" --split-by-id 5 -o n.safetensors nsmc.txt
run "$SEQLM" classify train "${TRAIN[@]}" --split-by-id 5 --allow-empty --unit char \
    -o n.safetensors nsmc.txt
check "NSMC, char unit, --split-by-id 5 --allow-empty: trains" "$rc"
runq neval.json "$SEQLM" classify eval --json --split-by-id 5 --allow-empty -m n.safetensors \
    nsmc.txt
want=$(awk -F'\t' 'NR > 1 && $1 % 5 == 0' nsmc.txt | wc -l)
check_cmd "NSMC eval with --split-by-id reads only the ids % 5 == 0 ($want)" \
    test "$(json_field neval.json sentences)" = "$want"
expect_error "--split-by-id on input without ids" 1 "needs NSMC input" -- \
    "$SEQLM" classify eval --split-by-id 5 -m m1.safetensors "$TINY"

# --- cross-validation ------------------------------------------------------------------------
runq cv.txt "$SEQLM" classify cv "${TRAIN[@]}" --folds 3 --fold-limit 2 "$TINY"
[ "$rc" -eq 0 ] && [ "$(grep -c '^fold [12]/3: accuracy' cv.txt)" -eq 2 ] &&
    grep -q '^mean accuracy .* over 2 of 3 folds' cv.txt
check "cv: two folds of three and a mean" $?
runq cv2.txt "$SEQLM" classify cv "${TRAIN[@]}" --folds 3 --fold-limit 2 "$TINY"
check_cmd "cv accuracies are reproducible" cmp -s <(sed 's/;.*//' cv.txt) <(sed 's/;.*//' cv2.txt)

# --- bad input -------------------------------------------------------------------------------
printf 'pos\tgood\nno tab here\n' >notab.tsv
expect_error "missing tab" 1 "notab.tsv: line 2: expected LABEL<TAB>TEXT" -- \
    "$SEQLM" classify train "${TRAIN[@]}" -o bad.safetensors notab.tsv
printf 'pos\tgood\nneg\t \n' >empty.tsv
expect_error "empty text" 1 "empty.tsv: line 2: empty text" -- \
    "$SEQLM" classify train "${TRAIN[@]}" -o bad.safetensors empty.tsv
printf 'pos\tgood\nmeh\tso so\n' >unk.tsv
expect_error "a label unknown at eval time" 1 \
    "unk.tsv: line 2: label 'meh' is not one the model knows" -- \
    "$SEQLM" classify eval -m m1.safetensors unk.tsv
printf 'pos\tgood\n' >one.tsv
expect_error "one label only" 1 "at least 2 labels" -- \
    "$SEQLM" classify train "${TRAIN[@]}" -o bad.safetensors one.tsv
head -c 3000 "$TINY" | cut -f2 >lm.txt
run "$SEQLM" train --train lm.txt --layers 1 --hidden 8 --embedding 8 --epochs 1 --checkpoint none \
    -q -o lm.safetensors
check "a language model to misuse" "$rc"
expect_error "eval on a language model" 1 "not a classifier but a seqlm language model" -- \
    "$SEQLM" classify eval -m lm.safetensors "$TINY"
expect_error "predict on a text file" 1 "not a seqlm classifier" -- \
    "$SEQLM" classify predict -m "$TINY" texts.txt
run "$SEQLM" eval -m m1.safetensors texts.txt
check "seqlm eval refuses a classifier" $(( rc == 0 ))
expect_error "missing model" 1 "missing.safetensors" -- \
    "$SEQLM" classify eval -m missing.safetensors "$TINY"
expect_error "model options with predict" 2 "--hidden is for train and cv" -- \
    "$SEQLM" classify predict -m m1.safetensors --hidden 5 texts.txt
expect_error "unknown subcommand" 2 "unknown subcommand 'fit'" -- \
    "$SEQLM" classify fit "$TINY"
expect_error "train without -o" 2 "missing -o MODEL" -- \
    "$SEQLM" classify train "$TINY"
expect_error "--label-file without =" 2 "LABEL=FILE" -- \
    "$SEQLM" classify train --label-file pos -o x.safetensors
expect_error "unknown pool" 2 "unknown --pool 'median'" -- \
    "$SEQLM" classify train --pool median -o x.safetensors "$TINY"
run "$SEQLM" classify train "${TRAIN[@]}" -o nodir/x.safetensors "$TINY"
check "an unwritable output fails early" $(( rc != 1 ))
run "$SEQLM" classify --help
check_cmd "classify --help" grep -q 'LABEL<TAB>TEXT' "$T/stdout"

cli_finish
