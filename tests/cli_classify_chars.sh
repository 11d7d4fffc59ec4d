#!/usr/bin/env bash
# cli_classify_chars.sh - `seqlm classify` with character features (--char-dim, --char-hidden)
# end to end on the tiny tests/data/classify_tiny.tsv: train, eval and predict round trip, the
# same model file byte for byte for a fixed seed, the model file's character fields, cv,
# --max-word-chars (recorded in the model), and the usage errors (exit status 2): --char-dim
# with --unit char, on eval, --char-hidden without --char-dim, --max-word-chars out of range,
# without --char-dim and on predict.
#
# usage: bash tests/cli_classify_chars.sh /abs/path/to/seqlm [shared-data-dir]
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 cmp
TINY=$(cd "$(dirname "$0")" && pwd)/data/classify_tiny.tsv
cli_tmpdir cli-classify-chars

TRAIN=(--epochs 3 --hidden 8 --embedding 8 --batch 4 --min-count 2 --threads 1 --seed 5
    --char-dim 6 --char-hidden 5)

run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 -o c1.safetensors "$TINY"
check_cmd "train with --char-dim writes a model" test "$rc" -eq 0 -a -s c1.safetensors
check_cmd "train describes the character BiLSTM" \
    grep -q 'character BiLSTM per word: [0-9]* characters, embedding 6, 5 units' "$T/stderr"
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 -q -o c2.safetensors "$TINY"
check_cmd "same seed and threads: the same model file, byte for byte" \
    cmp -s c1.safetensors c2.safetensors
check_cmd "the model file: character config, vocabulary and tensors" python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
md = h["__metadata__"]
c = json.loads(md["seqlm.classify.config"])
chars = md["seqlm.classify.chars"].split("\n")
ok = (c["char_dim"] == 6 and c["char_hidden"] == 5 and c["max_word_chars"] == 24
      and chars[0] == "<unk>" and "f" in chars
      and h["char_embedding.weight"]["shape"] == [len(chars) - 1, 6]
      and h["char_lstm.weight_ih_l0"]["shape"] == [20, 6]
      and h["rnn.weight_ih_l0"]["shape"] == [32, 18])
sys.exit(0 if ok else 1)' c1.safetensors
runq eval.txt "$SEQLM" classify eval -m c1.safetensors "$TINY"
check "eval succeeds" "$rc"
grep -q '^sentences 30$' eval.txt && grep -q '^accuracy ' eval.txt
check "eval prints the accuracy of 30 sentences" $?
cut -f2 "$TINY" >texts.txt
echo "unseenword qwertyuiop" >>texts.txt
runq pred1.txt "$SEQLM" classify predict -m c1.safetensors texts.txt
check "predict succeeds" "$rc"
runq pred2.txt "$SEQLM" classify predict --eval-batch 7 -m c2.safetensors <texts.txt
check_cmd "predict: one line per text (unseen words too), 3 probabilities summing to 1" \
    python3 -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
ok = len(rows) == 31 and all(len(r) == 4 and r[0] in ("neg", "neu", "pos")
                             and abs(sum(map(float, r[1:])) - 1) < 1e-5 for r in rows)
sys.exit(0 if ok else 1)' pred1.txt
check_cmd "predict in other batches gives the same labels" \
    cmp -s <(cut -f1 pred1.txt) <(cut -f1 pred2.txt)
run "$SEQLM" classify cv "${TRAIN[@]}" --folds 3 --fold-limit 1 --json "$TINY"
[ "$rc" -eq 0 ] && grep -q '"mean_accuracy"' "$T/stdout"
check "cv with --char-dim" $?

# --- --max-word-chars: recorded in the model, used by eval and cv --------------------------
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --max-word-chars 24 -q -o c24.safetensors \
    "$TINY"
check_cmd "--max-word-chars 24 (the default): c1's bytes" cmp -s c1.safetensors c24.safetensors
run "$SEQLM" classify train "${TRAIN[@]}" --heldout 0.2 --max-word-chars 4 -q -o c3.safetensors \
    "$TINY"
check "train --max-word-chars 4 writes a model" "$rc"
check_cmd "the model file records max_word_chars 4" python3 -c '
import json, sys
c = json.loads(sys.argv[1])
sys.exit(0 if c["max_word_chars"] == 4 and c["char_dim"] == 6 else 1)' \
    "$(st_meta c3.safetensors seqlm.classify.config)"
check_cmd "words longer than 4 characters read differently: other weights than c1's" \
    python3 -c 'import struct, sys
w = [b[8 + struct.unpack("<Q", b[:8])[0]:] for b in (open(p, "rb").read() for p in sys.argv[1:])]
sys.exit(w[0] == w[1])' c1.safetensors c3.safetensors
runq eval3.txt "$SEQLM" classify eval -m c3.safetensors "$TINY"
check_cmd "eval of the --max-word-chars 4 model" grep -q '^sentences 30$' eval3.txt
run "$SEQLM" classify cv "${TRAIN[@]}" --max-word-chars 4 --folds 3 --fold-limit 1 --json "$TINY"
[ "$rc" -eq 0 ] && grep -q '"mean_accuracy"' "$T/stdout"
check "cv with --max-word-chars" $?

# --- usage errors ---------------------------------------------------------------------------
expect_error "--max-word-chars 1" 2 \
    "--max-word-chars must be an integer from 2 to 4096, not '1'" -- \
    "$SEQLM" classify train --char-dim 6 --max-word-chars 1 -o x.safetensors "$TINY"
expect_error "--max-word-chars 5000 (cv)" 2 \
    "--max-word-chars must be an integer from 2 to 4096" -- \
    "$SEQLM" classify cv --char-dim 6 --max-word-chars 5000 "$TINY"
expect_error "--max-word-chars without --char-dim" 2 \
    "--max-word-chars is for the character BiLSTM of --char-dim N" -- \
    "$SEQLM" classify train --max-word-chars 8 -o x.safetensors "$TINY"
expect_error "--max-word-chars with predict" 2 "--max-word-chars is for train and cv" -- \
    "$SEQLM" classify predict --max-word-chars 8 -m c1.safetensors "$TINY"
expect_error "--char-dim with --unit char is a usage error" 2 "--char-dim is for --unit word" -- \
    "$SEQLM" classify train --unit char --char-dim 6 -o x.safetensors "$TINY"
check_cmd "no model written after the usage error" test ! -e x.safetensors
expect_error "--char-dim with eval" 2 "--char-dim is for train and cv" -- \
    "$SEQLM" classify eval --char-dim 6 -m c1.safetensors "$TINY"
expect_error "--char-hidden without --char-dim" 2 "--char-hidden" "--char-dim" -- \
    "$SEQLM" classify train --char-hidden 6 -o x.safetensors "$TINY"
expect_error "a negative --char-dim" 2 "--char-dim must be an integer" -- \
    "$SEQLM" classify train --char-dim -1 -o x.safetensors "$TINY"

cli_finish
