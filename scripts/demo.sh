#!/bin/sh
# The demo on Tiny Shakespeare (shipped in data/): n-gram models and a character-level LSTM -
# training, perplexity, sampling.
# usage: scripts/demo.sh [path/to/seqlm]
set -eu
SEQLM=${1:-build/seqlm}
DATA=$(dirname "$0")/../data/tinyshakespeare.txt
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
head -n 36000 "$DATA" > "$WORK/train.txt"
tail -n 4000 "$DATA" > "$WORK/valid.txt"
echo "== Tiny Shakespeare: 36,000 lines to train on, 4,000 held out =="
echo
echo "-- word-level trigram models, perplexity on the held-out lines --"
for s in mkn kn wb katz add; do
    "$SEQLM" ngram train --order 3 --smoothing "$s" -q -o "$WORK/w3-$s.arpa" "$WORK/train.txt"
    printf '%-5s ' "$s"
    "$SEQLM" ngram eval -m "$WORK/w3-$s.arpa" "$WORK/valid.txt" | head -n 1
done
echo
echo "-- five sentences from the word-level 4-gram (modified Kneser-Ney), seed 7 --"
"$SEQLM" ngram train --order 4 -o "$WORK/w4.bin" "$WORK/train.txt"
"$SEQLM" ngram sample -m "$WORK/w4.bin" --count 5 --seed 7
echo
echo "-- a character-level 8-gram: perplexity per character, then five lines --"
"$SEQLM" ngram train --order 8 --unit char -o "$WORK/c8.bin" "$WORK/train.txt"
"$SEQLM" ngram eval -m "$WORK/c8.bin" "$WORK/valid.txt"
"$SEQLM" ngram sample -m "$WORK/c8.bin" --count 5 --seed 7 --temperature 0.8
echo
echo "-- a character-level LSTM (1x256), two epochs (about a minute), with the progress line --"
"$SEQLM" train --train "$WORK/train.txt" --valid "$WORK/valid.txt" --unit char --arch lstm \
    --layers 1 --hidden 256 --embedding 32 --batch 32 --bptt 64 --optimizer adam --lr 0.003 \
    --clip 5 --epochs 2 --seed 1 --checkpoint none -o "$WORK/lstm.safetensors"
echo
echo "-- its perplexity per character and bits per character on the held-out lines --"
"$SEQLM" eval -m "$WORK/lstm.safetensors" "$WORK/valid.txt"
echo
echo "-- 400 characters from it, continuing 'ROMEO:' at temperature 0.8 --"
"$SEQLM" sample -m "$WORK/lstm.safetensors" --prime "ROMEO:" --length 400 --temperature 0.8 --seed 7
