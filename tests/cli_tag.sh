#!/usr/bin/env bash
# cli_tag.sh - `seqlm tag train|eval|predict` end to end on tests/data/tag_tiny.conll (a small
# synthetic NER file, CoNLL columns, IOB2 tags).
#
# usage: bash tests/cli_tag.sh /abs/path/to/seqlm [shared-data-dir]
#
# Checks: training with chars + CRF writes a model and a JSON lines log; the same seed gives a
# byte-identical model and identical eval/predict output in a second run; eval prints
# conlleval's layout and --json its keys; predict appends one column and keeps the sentence
# breaks; TOKEN<TAB>TAG input works (softmax); bad input gives "seqlm: error:" lines naming
# file:line with exit 1 (inconsistent columns, missing tag column, a model of another kind),
# bad usage exit 2; unknown gold tags at eval time are counted with one warning naming
# file:line. Each check prints PASS or FAIL; the exit status is non-zero on any failure.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 cmp
DATAF=$(cd "$(dirname "$0")" && pwd)/data/tag_tiny.conll
cli_tmpdir cli-tag

# expect_error NAME WANT_RC NEEDLE -- CMD...
expect_error() {
    local name=$1 want=$2 needle=$3
    shift 4
    run "$@"
    if [ "$rc" -ne "$want" ]; then
        fail "$name" "exit status $rc, expected $want"
    elif ! grep -q "^seqlm: error: .*$needle" "$T/stderr"; then
        fail "$name" "stderr lacks '$needle'"
    else
        pass "$name"
    fi
}

TRAIN=(tag train --train "$DATAF" --valid "$DATAF" --crf --char-dim 4 --char-hidden 4
       --embedding 8 --hidden 8 --epochs 3 --min-count 1 --seed 3 --threads 1 -q)

run "$SEQLM" "${TRAIN[@]}" -o a.st --log a.log
check "train (chars, CRF) writes a model" $(( rc == 0 && $(test -s a.st; echo $?) == 0 ? 0 : 1 ))
check_cmd "the log has start, epoch and end events" \
    python3 -c 'import json,sys; ev=[json.loads(l)["event"] for l in open("a.log")]; sys.exit(0 if ev[0]=="start" and ev.count("epoch")==3 and ev[-1]=="end" else 1)'
run "$SEQLM" "${TRAIN[@]}" -o b.st
check_cmd "same seed, same model bytes" cmp -s a.st b.st

run "$SEQLM" tag eval -m a.st "$DATAF"
cp "$T/stdout" eval1.txt
check "eval runs" "$rc"
check_cmd "eval: conlleval's layout" grep -Eq '^processed [0-9]+ tokens with [0-9]+ phrases; found: [0-9]+ phrases; correct: [0-9]+\.$' eval1.txt
check_cmd "eval: per-type lines" grep -Eq '^ +PER: precision: +[0-9.]+%; recall: +[0-9.]+%; FB1: +[0-9.]+ +[0-9]+$' eval1.txt
run "$SEQLM" tag eval -m b.st "$DATAF"
check_cmd "eval output identical across runs" cmp -s eval1.txt "$T/stdout"
run "$SEQLM" tag eval -m a.st --json "$DATAF"
check_cmd "eval --json keys" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if {"accuracy","overall","types"} <= set(j) and "f1" in j["overall"] else 1)' "$T/stdout"

run "$SEQLM" tag predict -m a.st "$DATAF"
cp "$T/stdout" pred1.txt
check "predict runs" "$rc"
check_cmd "predict: one more column, same sentence breaks" python3 -c '
import sys
src=[l.split() for l in open(sys.argv[1]) if not l.startswith("-DOCSTART-")]
out=[l.split() for l in open(sys.argv[2])]
while src and not src[0]: src.pop(0)
ok = len([s for s in src if s]) == len([o for o in out if o]) and all(len(o) == 5 for o in out if o)
sys.exit(0 if ok and sum(1 for o in out if not o) >= 40 else 1)' "$DATAF" pred1.txt
run "$SEQLM" tag predict -m b.st "$DATAF" -o pred2.txt
check_cmd "predict -o identical to stdout and across runs" cmp -s pred1.txt pred2.txt

# TOKEN<TAB>TAG, softmax
awk 'NF==0{print ""; next} $1!="-DOCSTART-"{print $1 "\t" $4}' "$DATAF" > tiny.tsv
run "$SEQLM" tag train --train tiny.tsv -o c.st --embedding 8 --hidden 8 --epochs 2 --min-count 1 -q --threads 1
check "train on TOKEN<TAB>TAG (softmax)" "$rc"
cut -f1 tiny.tsv > tokens.txt
run "$SEQLM" tag predict -m c.st tokens.txt
check_cmd "predict on bare tokens: TOKEN<TAB>TAG lines" python3 -c 'import sys; sys.exit(0 if all(len(l.rstrip("\n").split("\t"))==2 for l in open(sys.argv[1]) if l.strip()) else 1)' "$T/stdout"

# unknown gold tags: counted, one warning with file:line
sed 's/ B-LOC$/ B-GPE/' "$DATAF" > unk.conll
run "$SEQLM" tag eval -m a.st unk.conll
check_cmd "unknown gold tag: warning names file:line" grep -q "^seqlm: warning: unk.conll:[0-9]*: tag 'B-GPE' was not seen in training" "$T/stderr"
check "unknown gold tag: eval still succeeds" "$rc"

# bad input
printf 'a X B-PER\nb O\n' > ragged.conll
expect_error "inconsistent columns" 1 "ragged.conll: line 2: expected 3 columns (as line 1), found 2" -- \
    "$SEQLM" tag train --train ragged.conll -o x.st -q
printf 'a\nb\n' > notags.txt
expect_error "missing tag column" 1 "notags.txt: line 1: expected a token and a tag" -- \
    "$SEQLM" tag eval -m a.st notags.txt
expect_error "--column beyond the columns" 1 "no tag column 9" -- \
    "$SEQLM" tag train --train "$DATAF" --column 9 -o x.st -q
python3 -c '
import json,struct
h=json.dumps({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"seqlm.config":"{\"arch\":\"lstm\"}"}}).encode()
open("lm.st","wb").write(struct.pack("<Q",len(h))+h+b"\0\0\0\0")'
expect_error "a language model is not a tagger" 1 "lm.st: a seqlm language model, not a tagger" -- \
    "$SEQLM" tag eval -m lm.st "$DATAF"
expect_error "missing model file" 1 "nothere.st" -- "$SEQLM" tag predict -m nothere.st "$DATAF"
expect_error "unknown subcommand" 2 "unknown subcommand" -- "$SEQLM" tag frobnicate
expect_error "bad --metric" 2 "--metric must be accuracy or f1" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --metric bleu
printf 'a\tnn\n\nb\tvb\n' > pos.tsv
expect_error "--metric f1 on POS tags" 2 "needs BIO tags" -- \
    "$SEQLM" tag train --train pos.tsv -o x.st --metric f1 -q
expect_error "missing -o" 2 "missing -o MODEL" -- "$SEQLM" tag train --train "$DATAF"

cli_finish
