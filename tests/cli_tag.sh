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
# file:line; --encoding on train/eval/predict (tests/data/tag_cp1252.conll, tag_euckr.conll)
# and its errors (undefined byte: file, line, byte; unknown or UTF-16 encoding: usage);
# --zero-digits, --unk-replace, --lr-decay, --max-time, --max-word-chars and their usage errors;
# the shared training options' defaults and messages. Each check prints PASS or FAIL; the exit
# status is non-zero on any failure.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 cmp
DATAF=$(cd "$(dirname "$0")" && pwd)/data/tag_tiny.conll
CP=$(dirname "$DATAF")/tag_cp1252.conll
KR=$(dirname "$DATAF")/tag_euckr.conll
cli_tmpdir cli-tag

TRAIN=(tag train --train "$DATAF" --valid "$DATAF" --crf --char-dim 4 --char-hidden 4
       --embedding 8 --hidden 8 --epochs 3 --min-count 1 --seed 3 --threads 1 -q)

run "$SEQLM" "${TRAIN[@]}" -o a.st --log a.log
check_cmd "train (chars, CRF) writes a model" test "$rc" -eq 0 -a -s a.st
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

# --encoding (train, eval, predict): CP1252 and EUC-KR files converted on read
SMALL=(--embedding 8 --hidden 8 --char-dim 4 --char-hidden 4 --epochs 2 --min-count 1 -q --threads 1)
run "$SEQLM" tag train --train "$CP" --encoding CP1252 -o cp.st "${SMALL[@]}"
check "train --encoding CP1252" "$rc"
run "$SEQLM" tag eval -m cp.st --encoding cp1252 "$CP"
check_cmd "eval --encoding CP1252: 10 tokens" grep -q "^processed 10 tokens" "$T/stdout"
run "$SEQLM" tag predict -m cp.st --encoding CP1252 "$CP"
check_cmd "predict --encoding CP1252 writes UTF-8" python3 -c '
import sys
out=open(sys.argv[1],encoding="utf-8").read().split("\n")
sys.exit(0 if out[0].startswith("Le O ") and out[1].startswith("café B-LOC ") and "€ O " in out[5] else 1)' "$T/stdout"
expect_error "CP1252 read as UTF-8: file, line, byte and a hint" 1 \
    "tag_cp1252.conll: line 4, byte 22: invalid UTF-8" "--encoding" -- \
    "$SEQLM" tag eval -m cp.st "$CP"
run "$SEQLM" tag train --train "$KR" --valid "$KR" --encoding EUC-KR -o kr.st "${SMALL[@]}" --crf
check "train --encoding EUC-KR (CRF, chars)" "$rc"
run "$SEQLM" tag predict -m kr.st --encoding EUC-KR "$KR"
check_cmd "predict --encoding EUC-KR writes UTF-8 Hangul" grep -q "^서울 B-LOC " "$T/stdout"
printf 'ok O\nab\x81z O\n' > undef.conll
expect_error "a byte undefined in CP1252: file, line and byte" 1 "undef.conll: line 2, byte 7" -- \
    "$SEQLM" tag train --train undef.conll --encoding CP1252 -o x.st -q
expect_error "unknown --encoding is a usage error" 2 "unknown encoding 'NO-SUCH-CODE'" -- \
    "$SEQLM" tag eval -m cp.st --encoding NO-SUCH-CODE "$CP"
expect_error "UTF-16 is refused" 2 "not ASCII-compatible" -- \
    "$SEQLM" tag predict -m cp.st --encoding UTF-16 "$CP"

# --zero-digits, --unk-replace, --lr-decay, --max-time
printf 'In O\n1999 O\nIBM B-ORG\nwon O\n\nIn O\n2001 O\nSony B-ORG\nlost O\n' > digits.conll
run "$SEQLM" tag train --train digits.conll -o zd.st "${SMALL[@]}" --zero-digits --unk-replace 0.5 \
    --lr-decay 0.05
check "train --zero-digits --unk-replace 0.5 --lr-decay 0.05" "$rc"
printf 'In\n1999\n\nIn\n7345\n' > d1.txt
run "$SEQLM" tag predict -m zd.st d1.txt
check_cmd "--zero-digits: an unseen number is tagged as a seen one" python3 -c '
import sys
l=[x.split() for x in open(sys.argv[1]) if x.strip()]
sys.exit(0 if l[1][1] == l[3][1] else 1)' "$T/stdout"
run "$SEQLM" tag train --train "$DATAF" --valid "$DATAF" -o mt.st --embedding 8 --hidden 8 \
    --epochs 100000 --patience 0 --batch 1 --max-time 0.3 --threads 1 --log mt.log -q
check_cmd "--max-time stops early, the model written" python3 -c '
import json,sys
ev=[json.loads(l) for l in open("mt.log")]
ep=[e for e in ev if e["event"]=="epoch"]
sys.exit(0 if 1 <= len(ep) < 100000 and ev[-1]["event"]=="end" else 1)'
check_cmd "--max-time: the model file exists" test -s mt.st
expect_error "--unk-replace beyond 1" 2 "--unk-replace must be a probability" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --unk-replace 1.5
expect_error "--max-time 0" 2 "--max-time must be a number of seconds > 0" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --max-time 0
expect_error "--lr-decay negative" 2 "--lr-decay must be a number >= 0" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --lr-decay -1

# --max-word-chars: recorded in the model (its config JSON), used by eval; its usage errors
run "$SEQLM" tag train --train "$DATAF" -o mw.st "${SMALL[@]}" --max-word-chars 6
check "train --char-dim 4 --max-word-chars 6" "$rc"
check_cmd "the model records max_word_chars 6" python3 -c '
import json, sys
c = json.loads(sys.argv[1])
sys.exit(0 if c["max_word_chars"] == 6 and c["char_dim"] == 4 else 1)' "$(st_meta mw.st seqlm.tagger)"
run "$SEQLM" tag train --train "$DATAF" -o mw24.st "${SMALL[@]}"
check_cmd "words longer than 6 characters read differently: other weights than the default's" \
    python3 -c 'import struct, sys
w = [b[8 + struct.unpack("<Q", b[:8])[0]:] for b in (open(p, "rb").read() for p in sys.argv[1:])]
sys.exit(w[0] == w[1])' mw.st mw24.st
run "$SEQLM" tag eval -m mw.st "$DATAF"
check "eval of a --max-word-chars 6 model" "$rc"
expect_error "--max-word-chars 1" 2 "--max-word-chars must be an integer from 2 to 4096, not '1'" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --char-dim 4 --max-word-chars 1
expect_error "--max-word-chars 4097" 2 "--max-word-chars must be an integer from 2 to 4096" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --char-dim 4 --max-word-chars 4097
expect_error "--max-word-chars without --char-dim" 2 \
    "--max-word-chars is for the character BiLSTM of --char-dim N" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --max-word-chars 8
expect_error "--char-hidden without --char-dim" 2 \
    "--char-hidden sizes the character BiLSTM of --char-dim N" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --char-hidden 8
expect_error "--max-word-chars with eval" 2 "unknown option '--max-word-chars'" -- \
    "$SEQLM" tag eval -m mw.st --max-word-chars 8 "$DATAF"

# the shared training options: tag's defaults (adam; sgd at its own rate), their messages
run "$SEQLM" tag train --train "$DATAF" -o os.st --embedding 8 --hidden 8 --epochs 1 --min-count 1 \
    --threads 1 --lr 0.05 --optimizer sgd
check_cmd "--lr before --optimizer is kept" grep -q "; sgd lr 0.05, batch" "$T/stderr"
run "$SEQLM" tag train --train "$DATAF" -o os.st --embedding 8 --hidden 8 --epochs 1 --min-count 1 \
    --threads 1 --optimizer sgd
check_cmd "--optimizer sgd: sgd's own default rate" grep -q "; sgd lr 0.1, batch" "$T/stderr"
expect_error "--epochs 0" 2 "--epochs must be an integer >= 1, not '0'" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --epochs 0
expect_error "--batch beyond its range" 2 "--batch must be an integer from 1 to 65536" -- \
    "$SEQLM" tag eval -m os.st --batch 70000 "$DATAF"
expect_error "a long option without its value" 2 "option '--lr' needs a value" -- \
    "$SEQLM" tag train --train "$DATAF" -o x.st --lr

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
