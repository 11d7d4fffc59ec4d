#!/usr/bin/env bash
# cli_eval.sh - `seqlm eval` end to end: neural models (the PyTorch-written golden models of
# tests/golden/make_golden_lmeval.py), n-gram models, and their interpolation.
#
# usage: bash tests/cli_eval.sh /abs/path/to/seqlm [shared-data-dir]
#
# Checks: the golden LSTM's perplexity at batch 1 matches PyTorch's; an ARPA evaluated by
# `seqlm eval` gives `seqlm ngram eval`'s log10 total times ln 10 and its token count;
# --per-token prints one line per token, and its log-probabilities sum to -nll; --json has the
# documented keys; --mix --weight 1 is the neural model alone, --weight 0 the n-gram model
# alone; --tune prints a weight in [0, 1]; bad input gives the documented errors (exit 1 for
# files, 2 for usage, one "seqlm: error:" line naming the file). Each check prints PASS or
# FAIL; the last line is "N passed, M failed"; the exit status is non-zero on any failure.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3
if [ ! -f "$GOLDEN/lmeval_lstm.safetensors" ]; then
    echo "SKIP: $GOLDEN/lmeval_lstm.safetensors is missing (tests/golden/make_golden_lmeval.py)"
    exit 77
fi

cli_tmpdir cli-eval

# --- helpers -------------------------------------------------------------------------------

# close A B [REL]: |a - b| <= REL * max(1, |b|) (default 1e-5).
close() {
    python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); r=float(sys.argv[3]); sys.exit(0 if abs(a-b) <= r*max(1.0,abs(b)) else 1)' \
        "$1" "$2" "${3:-1e-5}" 2>/dev/null
}

LSTM=$GOLDEN/lmeval_lstm.safetensors
TEXT=$GOLDEN/lmeval_text.txt

# An n-gram model of the same unit trained on other text (so that mixing matters).
cat >train.txt <<'EOF'
the cat sat on the mat
the dog sat on the log
a cat and a dog ran
the mat was on the log
a dog saw the cat
the cat saw a dog on the mat
EOF
expect_ok "ngram train (the n-gram model for the checks)" \
    "$SEQLM" ngram train -q --order 3 -o kn3.arpa train.txt

# --- neural model -------------------------------------------------------------------------

want_nll=$(st_meta "$LSTM" golden.nll.b1)
runq nn.json "$SEQLM" eval -m "$LSTM" --batch 1 --bptt 4 --json "$TEXT"
nll=$(json_field nn.json nll)
close "$nll" "$want_nll"
check "golden LSTM, batch 1: nll $nll = PyTorch's $want_nll" $? "$(cat nn.json)"
[ "$(json_field nn.json tokens)" = 34 ] && [ "$(json_field nn.json oov)" = 6 ]
check "golden LSTM: 34 tokens, 6 OOVs" $? "$(cat nn.json)"

runq nn.txt "$SEQLM" eval -m "$LSTM" --batch 1 --bptt 4 "$TEXT"
keys=$(cut -f1 nn.txt | tr '\n' ' ')
[ "$keys" = "perplexity tokens nll bpc oov " ] && close "$(grep '^nll' nn.txt | cut -f2)" "$want_nll"
check "plain output: perplexity, tokens, nll, bpc, oov lines" $? "keys: $keys"

runq nn3.json "$SEQLM" eval -m "$LSTM" --batch 3 --bptt 2 --threads 1 --json "$TEXT"
[ "$(json_field nn3.json tokens)" = 34 ]
check "batch 3 predicts every token once" $? "$(cat nn3.json)"

python3 - nn.json <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"perplexity", "tokens", "nll", "bpc", "oov"}, d
assert abs(d["perplexity"] - math.exp(d["nll"] / d["tokens"])) < 1e-4 * d["perplexity"]
assert abs(d["bpc"] - d["nll"] / d["tokens"] / math.log(2)) < 1e-5
EOF
check "--json keys and their relations" $? "$(cat nn.json)"

# --precision bf16: close to fp32 where this binary and CPU can (AVX512_BF16), refused with exit 1
# naming it elsewhere
runq nn10.json "$SEQLM" eval -m "$LSTM" --json "$TEXT"
fp=$(json_field nn10.json nll)
runq bf.json "$SEQLM" eval -m "$LSTM" --precision bf16 --json "$TEXT"
if [ "$rc" -eq 0 ]; then
    bf=$(json_field bf.json nll)
    [ -n "$fp" ] && close "$bf" "$fp" 1e-2 && [ "$bf" != "$fp" ]
    check "--precision bf16: nll $bf within 1% of fp32's $fp" $?
else
    expect_error "--precision bf16 without AVX512_BF16: exit 1" 1 AVX512_BF16
fi
runq fp.json "$SEQLM" eval -m "$LSTM" --precision fp32 --json "$TEXT"
st=$rc
[ "$st" -eq 0 ] && [ -n "$fp" ] && [ "$(json_field fp.json nll)" = "$fp" ]
check "--precision fp32 is the default" $?

runq tok.txt "$SEQLM" eval -m "$LSTM" --per-token --bptt 4 --json "$TEXT"
python3 - tok.txt <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.loads(lines[-1])
toks = [l.split("\t") for l in lines[:-1]]
assert len(toks) == d["tokens"], (len(toks), d["tokens"])
assert all(len(t) == 2 for t in toks)
assert toks[0][0] == "the" and toks[-1][0] == "</s>"
assert sum(t[0] == "</s>" for t in toks) == 4
assert abs(-sum(float(t[1]) for t in toks) - d["nll"]) < 1e-4, d
EOF
check "--per-token: a line per token, log-probabilities sum to -nll" $?

last_cmd="seqlm eval -m LSTM --per-token --bptt 4 - < TEXT"
"$SEQLM" eval -m "$LSTM" --per-token --bptt 4 - <"$TEXT" >stdin.txt 2>"$T/stderr"
rc=$?
[ "$rc" = 0 ] && [ "$(grep -c "$(printf '\t')" stdin.txt)" = 39 ] && grep -q '^<unk>' stdin.txt &&
    close "$(grep '^nll' stdin.txt | cut -f2)" "$want_nll"
check "--per-token from standard input (OOVs shown as <unk>)" $?

# --- n-gram model -------------------------------------------------------------------------

runq ng.json "$SEQLM" eval -m kn3.arpa --json "$TEXT"
runq ngk.json "$SEQLM" ngram eval -m kn3.arpa --json "$TEXT"
python3 - ng.json ngk.json <<'EOF'
import json, math, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["tokens"] == b["tokens"] and a["oov"] == b["oov"], (a, b)
assert abs(a["nll"] + b["log10_prob"] * math.log(10)) < 1e-5 * max(1, a["nll"]), (a, b)
assert abs(a["perplexity"] - b["perplexity"]) < 1e-4 * b["perplexity"], (a, b)
EOF
check "ARPA via seqlm eval = ngram eval's log10 total x ln 10, same tokens" $? \
    "$(cat ng.json)" "$(cat ngk.json)"

gzip -c kn3.arpa >kn3.arpa.gz && "$SEQLM" ngram convert kn3.arpa kn3.bin 2>/dev/null
runq ngz.json "$SEQLM" eval -m kn3.arpa.gz --json "$TEXT" &&
    runq ngb.json "$SEQLM" eval -m kn3.bin --json "$TEXT" &&
    close "$(json_field ngz.json nll)" "$(json_field ng.json nll)" &&
    close "$(json_field ngb.json nll)" "$(json_field ng.json nll)"
check "ARPA.gz and binary n-gram models give the same figures" $?

runq ngtok.txt "$SEQLM" eval -m kn3.arpa --per-token --json "$TEXT"
[ "$(($(wc -l <ngtok.txt) - 1))" = "$(json_field ng.json tokens)" ]
check "n-gram --per-token: a line per token" $?

# --- interpolation -----------------------------------------------------------------------

runq mix1.json "$SEQLM" eval -m "$LSTM" --mix kn3.arpa --weight 1 --json "$TEXT" &&
    close "$(json_field mix1.json nll)" "$(json_field nn.json nll)" 1e-6
check "--mix --weight 1 = the neural model alone" $? "$(cat mix1.json)"
runq mix0.json "$SEQLM" eval -m "$LSTM" --mix kn3.arpa --weight 0 --json "$TEXT" &&
    close "$(json_field mix0.json nll)" "$(json_field ng.json nll)" 1e-6
check "--mix --weight 0 = the n-gram model alone" $? "$(cat mix0.json)"
runq mixh.json "$SEQLM" eval -m "$LSTM" --mix kn3.arpa --weight 0.5 --json "$TEXT"
python3 - mixh.json mix1.json mix0.json <<'EOF'
import json, sys
h, a, b = (json.load(open(p)) for p in sys.argv[1:])
assert h["weight"] == 0.5 and h["tokens"] == a["tokens"]
assert h["nll"] < max(a["nll"], b["nll"]), (h, a, b)  # the mixture beats the worse model
EOF
check "--mix --weight 0.5: between, reports the weight" $? "$(cat mixh.json)"
runq tune.txt "$SEQLM" eval -m "$LSTM" --mix kn3.arpa --tune "$TEXT" "$TEXT"
w=$(grep '^weight' tune.txt | cut -f2)
[ "$rc" = 0 ] && python3 -c 'import sys; w=float(sys.argv[1]); sys.exit(0 if 0 <= w <= 1 else 1)' "$w" &&
    grep -q "neural weight" "$T/stderr"
check "--tune prints a weight in [0, 1] ($w)" $? "$(cat tune.txt)"
# Tuned on the text itself, the weight maximises its likelihood: no fixed weight does better.
tuned=$(grep '^nll' tune.txt | cut -f2)
python3 -c 'import sys; t=float(sys.argv[1]); sys.exit(0 if all(t <= float(x) + 1e-6 for x in sys.argv[2:]) else 1)' \
    "$tuned" "$(json_field mix0.json nll)" "$(json_field mix1.json nll)" "$(json_field mixh.json nll)"
check "--tune on the text itself beats weights 0, 0.5 and 1" $? "tuned nll $tuned"

# --- errors -------------------------------------------------------------------------------

printf 'the cat \xff sat\n' >bad.txt
printf 'this is not a model\n' >garbled.safetensors
head -c 100 "$LSTM" >truncated.safetensors
expect_error "missing model: exit 1 naming it" 1 nosuch.safetensors -- \
    "$SEQLM" eval -m nosuch.safetensors "$TEXT"
expect_error "garbled model: exit 1 naming it" 1 garbled.safetensors -- \
    "$SEQLM" eval -m garbled.safetensors "$TEXT"
expect_error "truncated safetensors model: exit 1 naming it" 1 truncated.safetensors -- \
    "$SEQLM" eval -m truncated.safetensors "$TEXT"
expect_error "a safetensors file that is no language model: exit 1" 1 "not a seqlm language model" -- \
    "$SEQLM" eval -m "$GOLDEN/layers_linear.safetensors" "$TEXT"
expect_error "unknown flag: exit 2" 2 frobnicate -- "$SEQLM" eval -m "$LSTM" --frobnicate "$TEXT"
expect_error "missing -m: exit 2" 2 "MODEL" -- "$SEQLM" eval "$TEXT"
expect_error "missing TEXT: exit 2" 2 "TEXT" -- "$SEQLM" eval -m "$LSTM"
expect_error "--batch 0: exit 2" 2 batch -- "$SEQLM" eval -m "$LSTM" --batch 0 "$TEXT"
expect_error "--weight 2: exit 2" 2 weight -- "$SEQLM" eval -m "$LSTM" --mix kn3.arpa --weight 2 "$TEXT"
expect_error "--mix without --weight or --tune: exit 2" 2 tune -- "$SEQLM" eval -m "$LSTM" --mix kn3.arpa "$TEXT"
expect_error "--weight without --mix: exit 2" 2 mix -- "$SEQLM" eval -m "$LSTM" --weight 0.5 "$TEXT"
expect_error "--precision fp16: exit 2" 2 "fp32 or bf16" -- "$SEQLM" eval -m "$LSTM" --precision fp16 "$TEXT"
expect_error "--precision with an n-gram model: exit 2" 2 "neural models" -- \
    "$SEQLM" eval -m kn3.arpa --precision bf16 "$TEXT"
runq /dev/null "$SEQLM" train --train train.txt --arch window --context 2 --hidden 8 --embedding 4 \
    --batch 2 --bptt 4 --max-steps 2 --checkpoint none -q -o win.safetensors
expect_error "--precision bf16 with a window model: exit 2" 2 "window model" -- \
    "$SEQLM" eval -m win.safetensors --precision bf16 "$TEXT"
expect_error "--per-token with --batch 3: exit 2" 2 batch -- "$SEQLM" eval -m "$LSTM" --per-token --batch 3 "$TEXT"
expect_error "invalid UTF-8 in the text: exit 1 naming file and line" 1 "bad.txt: line 1" -- \
    "$SEQLM" eval -m "$LSTM" bad.txt
expect_error "invalid UTF-8, n-gram model: exit 1" 1 "bad.txt: line 1" -- \
    "$SEQLM" eval -m kn3.arpa bad.txt
expect_error "missing text: exit 1" 1 nosuch.txt -- "$SEQLM" eval -m "$LSTM" nosuch.txt
expect_error "missing --mix model: exit 1" 1 nosuch.arpa -- \
    "$SEQLM" eval -m "$LSTM" --mix nosuch.arpa --weight 0.5 "$TEXT"
printf 'the cat </s> sat\n' >marker.txt
expect_error "a literal </s> in the text: exit 1 naming the line" 1 "marker.txt: line 1" -- \
    "$SEQLM" eval -m "$LSTM" marker.txt
runq help.txt "$SEQLM" eval --help
[ "$rc" = 0 ] && grep -q -- "--mix" help.txt
check "--help" $?

cli_finish
