#!/usr/bin/env bash
# cli_elmo_tasks.sh - `seqlm classify` and `seqlm tag` with --elmo end to end: a tiny word-level
# biLM is trained here (seqlm elmo train) on the text of tests/data/tag_tiny.conll and
# tests/data/classify_tiny.tsv, then tiny task models with it.
#
# usage: bash tests/cli_elmo_tasks.sh /abs/path/to/seqlm [shared-data-dir]
#
# Checks, for classify (train, eval, predict, cv) and tag (train, eval, predict): training with
# --elmo writes a model whose metadata holds the ELMo file's absolute path and fingerprint and
# the mix's tensors; the same seed gives byte-identical models and outputs; eval and predict
# reload the ELMo model by themselves; a moved ELMo file is an error naming it (exit 1) until
# --elmo gives its new place; another ELMo file is a fingerprint error naming both files;
# --elmo for a model trained without it, a char-level biLM for the word tagger and a file that
# is not an ELMo model are errors. Each check prints PASS or FAIL; the last line is
# "N passed, M failed".
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 cmp
TDIR=$(cd "$(dirname "$0")" && pwd)/data
cli_tmpdir cli-elmo-tasks

# --- a tiny biLM --------------------------------------------------------------------------------
awk 'NF == 0 { if (line != "") print line; line = ""; next }
     $1 != "-DOCSTART-" { line = line (line == "" ? "" : " ") $1 }
     END { if (line != "") print line }' "$TDIR/tag_tiny.conll" >text.txt
cut -f2- "$TDIR/classify_tiny.tsv" >>text.txt
BILM=(--layers 1 --hidden 8 --batch 4 --bptt 8 --epochs 1 --min-count 1 --threads 1)
run "$SEQLM" elmo train --train text.txt -o elmo.st "${BILM[@]}" --seed 1
check "a tiny biLM is trained" "$rc"
run "$SEQLM" elmo train --train text.txt -o other.st "${BILM[@]}" --seed 2
run "$SEQLM" elmo train --train text.txt -o char.st "${BILM[@]}" --seed 1 --unit char
ELMO_ABS=$T/elmo.st

# --- tag ----------------------------------------------------------------------------------------
TAG=(tag train --train "$TDIR/tag_tiny.conll" --valid "$TDIR/tag_tiny.conll" --crf --char-dim 4
     --char-hidden 4 --embedding 8 --hidden 8 --epochs 2 --min-count 1 --seed 3 --threads 1 -q)
run "$SEQLM" "${TAG[@]}" --elmo elmo.st -o t1.st
check "tag train --elmo writes a model" "$rc"
check_cmd "the tagger records the ELMo file's absolute path" \
    test "$(st_meta t1.st seqlm.elmo.path)" = "$ELMO_ABS"
check_cmd "the tagger records the ELMo file's fingerprint" \
    test "$(st_meta t1.st seqlm.elmo.fingerprint | wc -c)" -eq 17
tensors=$(st_tensors t1.st)
grep -qx elmo_mix.scalar_parameters <<<"$tensors" && grep -qx elmo_mix.gamma <<<"$tensors"
check "the tagger holds the mix (elmo_mix.scalar_parameters, elmo_mix.gamma)" $?
run "$SEQLM" "${TAG[@]}" --elmo "$ELMO_ABS" -o t2.st
check_cmd "tag train --elmo: the same seed gives the same bytes" cmp -s t1.st t2.st
runq ev1.txt "$SEQLM" tag eval -m t1.st "$TDIR/tag_tiny.conll"
check "tag eval reloads the ELMo model by itself" "$rc"
runq pr1.txt "$SEQLM" tag predict -m t1.st "$TDIR/tag_tiny.conll" --threads 1
runq pr2.txt "$SEQLM" tag predict -m t2.st "$TDIR/tag_tiny.conll" --threads 1
check_cmd "tag predict with ELMo: the same output twice" cmp -s pr1.txt pr2.txt
run "$SEQLM" "${TAG[@]}" -o plain.st
expect_error "tag eval: another ELMo file is a fingerprint error naming both" 1 \
    "t1.st" "$ELMO_ABS" "other.st" "fingerprint" -- \
    "$SEQLM" tag eval -m t1.st --elmo other.st "$TDIR/tag_tiny.conll"
expect_error "tag eval: --elmo for a model trained without it" 1 "without ELMo" -- \
    "$SEQLM" tag eval -m plain.st --elmo elmo.st "$TDIR/tag_tiny.conll"
expect_error "tag train: a char-level biLM cannot read words" 1 "unit char" -- \
    "$SEQLM" "${TAG[@]}" --elmo char.st -o bad.st
check_cmd "tag train with a bad --elmo leaves no model" test ! -e bad.st
expect_error "tag train: --elmo of a tagger file" 1 "not an ELMo model" -- \
    "$SEQLM" "${TAG[@]}" --elmo plain.st -o bad.st

# --- classify -------------------------------------------------------------------------------------
CLS=(classify train "$TDIR/classify_tiny.tsv" --heldout 0.2 --embedding 8 --hidden 8 --epochs 2
     --min-count 1 --seed 4 --threads 1 -q)
run "$SEQLM" "${CLS[@]}" --elmo elmo.st -o c1.st
check "classify train --elmo writes a model" "$rc"
check_cmd "the classifier records the ELMo file's absolute path" \
    test "$(st_meta c1.st seqlm.elmo.path)" = "$ELMO_ABS"
run "$SEQLM" "${CLS[@]}" --elmo elmo.st -o c2.st
check_cmd "classify train --elmo: the same seed gives the same bytes" cmp -s c1.st c2.st
runq cev1.txt "$SEQLM" classify eval -m c1.st "$TDIR/classify_tiny.tsv" --threads 1
check "classify eval reloads the ELMo model by itself" "$rc"
cut -f2- "$TDIR/classify_tiny.tsv" >texts.txt
runq cpr1.txt "$SEQLM" classify predict -m c1.st texts.txt --threads 1
runq cpr2.txt "$SEQLM" classify predict -m c2.st texts.txt --threads 1
check_cmd "classify predict with ELMo: the same output twice" cmp -s cpr1.txt cpr2.txt
CV=(classify cv "$TDIR/classify_tiny.tsv" --folds 3 --embedding 8 --hidden 8 --epochs 1
    --min-count 1 --seed 4 --threads 1 -q --elmo elmo.st)
runq cv1.txt "$SEQLM" "${CV[@]}"
check "classify cv --elmo" "$rc"
runq cv2.txt "$SEQLM" "${CV[@]}"
check_cmd "classify cv --elmo: the same output twice" \
    cmp -s <(sed 's/[0-9]* \(train\|predict\) sent\/s//g' cv1.txt) \
    <(sed 's/[0-9]* \(train\|predict\) sent\/s//g' cv2.txt)
expect_error "classify eval: another ELMo file is a fingerprint error naming both" 1 \
    "c1.st" "$ELMO_ABS" "other.st" "fingerprint" -- \
    "$SEQLM" classify eval -m c1.st --elmo other.st "$TDIR/classify_tiny.tsv"
expect_error "classify train: a word-level biLM for --unit char" 1 "unit word" -- \
    "$SEQLM" "${CLS[@]}" --unit char --elmo elmo.st -o bad.st

# --- the ELMo file moves ------------------------------------------------------------------------------
mkdir moved && mv elmo.st moved/
expect_error "tag eval: a missing ELMo file is an error naming it" 1 \
    "t1.st" "$ELMO_ABS" "--elmo" -- "$SEQLM" tag eval -m t1.st "$TDIR/tag_tiny.conll"
expect_error "classify predict: a missing ELMo file is an error naming it" 1 \
    "c1.st" "$ELMO_ABS" "--elmo" -- "$SEQLM" classify predict -m c1.st texts.txt
runq ev2.txt "$SEQLM" tag eval -m t1.st --elmo moved/elmo.st "$TDIR/tag_tiny.conll"
check_cmd "tag eval --elmo NEWPATH: the same report" cmp -s ev1.txt ev2.txt
runq cpr3.txt "$SEQLM" classify predict -m c1.st --elmo moved/elmo.st texts.txt --threads 1
check_cmd "classify predict --elmo NEWPATH: the same output" cmp -s cpr1.txt cpr3.txt

cli_finish
