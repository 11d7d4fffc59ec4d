#!/usr/bin/env bash
# cli_gradflow.sh - `seqlm gradflow` and `seqlm train --diag` end to end on small text made here.
#
# usage: bash tests/cli_gradflow.sh /abs/path/to/seqlm [shared-data-dir]
#
# gradflow: fresh --arch models and a trained --model give a table of T rows with one column per
# model, layer and state (cell states for LSTM), byte-identical for the same seed; --json holds
# every statistic; --normalize starts every curve at 1; --plot writes an SVG (skipped without
# gnuplot); bad flags exit 2, unusable input (a window model, a text too short, a missing file,
# a file that is not a model) exits 1 with the reason. train --diag: the log's interval lines
# carry "diag" (gradient norm, clipping, update ratios per tensor, gate saturation), the model is
# byte-identical to one trained without --diag, --resume takes --diag, and seqlm plot draws it.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3
cli_tmpdir cli-gradflow

python3 - <<'EOF'
import random
r = random.Random(2)
subj = ["the cat", "a dog", "the old man", "my sister", "the bird", "our teacher"]
verb = ["sees", "likes", "chases", "finds", "watches", "paints"]
obj = ["the ball", "a red apple", "the small house", "the river", "a green tree", "the moon"]
open("text.txt", "w").write("".join("%s %s %s\n" % (r.choice(subj), r.choice(verb), r.choice(obj))
                                    for _ in range(300)))
open("short.txt", "w").write("the cat sees the moon\n")
EOF
SMALL=(--layers 2 --hidden 12 --embedding 8 --threads 1 --windows 12 --batch 5 -T 15 --warmup 10)

# --- fresh models: the table ------------------------------------------------------------------
run "$SEQLM" gradflow --data text.txt --arch rnn-tanh --arch lstm --untrained --arch gru "${SMALL[@]}"
cp "$T/stdout" table1.txt
check_cmd "three fresh models: exit 0, a table" test "$rc" -eq 0 -a -s table1.txt
check_cmd "the table: a header, then k = 0..14 with 1 + 8 columns" python3 -c '
rows = [l.split() for l in open("table1.txt") if not l.startswith("#")]
head, body = rows[0], rows[1:]
assert head == ["k", "rnn-tanh.h1", "rnn-tanh.h2", "lstm.h1", "lstm.c1", "lstm.h2", "lstm.c2",
                "gru.h1", "gru.h2"], head
assert [int(r[0]) for r in body] == list(range(15)), [r[0] for r in body]
for r in body:
    assert len(r) == 9 and all(float(x) > 0 for x in r[1:]), r
# an untrained tanh RNN of 12 units forgets: the top layer has lost orders of magnitude at k = 14
assert float(body[14][2]) < 1e-2 * float(body[0][2]), (body[0][2], body[14][2])
'
run "$SEQLM" gradflow --data text.txt --arch rnn-tanh --arch lstm --arch gru "${SMALL[@]}"
check_cmd "the same seed: byte-identical table" cmp -s "$T/stdout" table1.txt
"$SEQLM" gradflow --data text.txt --arch lstm "${SMALL[@]}" >seed1.txt 2>err.txt
"$SEQLM" gradflow --data text.txt --arch lstm "${SMALL[@]}" --seed 2 >seed2.txt 2>err.txt
check_cmd "another --seed: another table" test -s seed2.txt -a "$(cmp -s seed1.txt seed2.txt; echo $?)" = 1

run "$SEQLM" gradflow --data text.txt --arch lstm "${SMALL[@]}" --normalize --stat geo
cp "$T/stdout" norm.txt
check_cmd "--normalize --stat geo: every curve starts at 1" python3 -c '
rows = [l.split() for l in open("norm.txt") if not l.startswith("#")]
assert rows[1][0] == "0" and all(abs(float(x) - 1) < 1e-9 for x in rows[1][1:]), rows[1]
assert "geometric" in open("norm.txt").readline()
'
run "$SEQLM" gradflow --data text.txt --arch lstm "${SMALL[@]}" --json
cp "$T/stdout" flow.json
check_cmd "--json: every statistic, per layer and state" python3 -c '
import json
j = json.load(open("flow.json"))
assert j["length"] == 15 and j["windows"] == 12 and j["warmup"] == 10, j
m = j["models"][0]
assert m["label"] == "lstm" and m["arch"] == "lstm" and m["trained"] is False and m["layers"] == 2
assert [(c["layer"], c["state"]) for c in m["curves"]] == [(1, "h"), (1, "c"), (2, "h"), (2, "c")]
for c in m["curves"]:
    assert len(c["mean"]) == len(c["geomean"]) == len(c["ratio"]) == 15
    assert abs(c["ratio"][0] - 1) < 1e-9 and all(v > 0 for v in c["mean"])
    assert all(g <= a * (1 + 1e-6) for g, a in zip(c["geomean"], c["mean"]))  # AM >= GM
'
run "$SEQLM" gradflow --data text.txt --arch gru "${SMALL[@]}" --warmup 0
check_cmd "--warmup 0: from the zero state" grep -q "zero state" "$T/stdout"

# --- a trained model -------------------------------------------------------------------------
"$SEQLM" train --train text.txt -o rnn.safetensors --arch rnn-tanh --layers 1 --hidden 12 \
    --embedding 8 --batch 4 --bptt 10 --max-steps 20 --threads 1 --checkpoint none -q 2>err.txt
run "$SEQLM" gradflow --data text.txt -m rnn.safetensors --windows 6 -T 10 --threads 1
check_cmd "--model: a column labelled by the file name" \
    test "$rc" -eq 0 -a "$(grep -v '^#' "$T/stdout" | head -1 | awk '{print $2}')" = rnn.h1

# --- the picture -------------------------------------------------------------------------------
if command -v gnuplot >/dev/null 2>&1; then
    run "$SEQLM" gradflow --data text.txt --arch rnn-tanh --arch lstm "${SMALL[@]}" --plot flow.svg
    check_cmd "--plot: an SVG" test "$rc" -eq 0 -a -s flow.svg
    check_cmd "--plot: one curve per model, layer and state" grep -q "lstm c2" flow.svg
else
    echo "SKIP: --plot checks need gnuplot"
fi

# --- errors ----------------------------------------------------------------------------------
"$SEQLM" train --train text.txt -o win.safetensors --arch window --hidden 8 --embedding 4 \
    --batch 4 --bptt 5 --max-steps 2 --threads 1 --checkpoint none -q 2>err.txt
expect_error "a window model (exit 1)" 1 "no recurrent state" -- \
    "$SEQLM" gradflow --data text.txt -m win.safetensors
expect_error "a text too short (exit 1)" 1 "too few" -- \
    "$SEQLM" gradflow --data short.txt --arch lstm "${SMALL[@]}"
expect_error "a missing --data file (exit 1)" 1 "nothere.txt" -- \
    "$SEQLM" gradflow --data nothere.txt --arch lstm
expect_error "a model that is not one (exit 1)" 1 "text.txt" -- \
    "$SEQLM" gradflow --data text.txt -m text.txt
expect_error "no --data (exit 2)" 2 "missing --data" -- "$SEQLM" gradflow --arch lstm
expect_error "no model (exit 2)" 2 "no model" -- "$SEQLM" gradflow --data text.txt
expect_error "--untrained without --arch (exit 2)" 2 "needs --arch" -- \
    "$SEQLM" gradflow --data text.txt --untrained -m rnn.safetensors
expect_error "--arch window (exit 2)" 2 "no recurrent state" -- \
    "$SEQLM" gradflow --data text.txt --arch window
expect_error "--hidden with a trained model (exit 2)" 2 "for --arch" -- \
    "$SEQLM" gradflow --data text.txt -m rnn.safetensors --hidden 5
expect_error "--length 0 (exit 2)" 2 "--length" -- \
    "$SEQLM" gradflow --data text.txt --arch lstm --length 0
expect_error "--stat bad (exit 2)" 2 "--stat" -- \
    "$SEQLM" gradflow --data text.txt --arch lstm --stat median
expect_error "--plot x.pdf (exit 2)" 2 ".png or .svg" -- \
    "$SEQLM" gradflow --data text.txt --arch lstm --plot x.pdf

# --- train --diag ----------------------------------------------------------------------------
TR=(--train text.txt --arch lstm --layers 2 --hidden 12 --embedding 8 --batch 4 --bptt 10
    --max-steps 40 --threads 1 --log-interval 0.000001 --clip 0.05 -q)
"$SEQLM" train "${TR[@]}" -o plain.safetensors --checkpoint none 2>err.txt
expect_ok "--diag: trains" \
    "$SEQLM" train "${TR[@]}" -o diag.safetensors --checkpoint none --diag --log diag.jsonl
check_cmd "--diag changes nothing: byte-identical model" cmp -s plain.safetensors diag.safetensors
check_cmd "--diag: the interval lines carry the diagnostics" python3 -c '
import json
rows = [json.loads(l) for l in open("diag.jsonl")]
iv = [r for r in rows if r["event"] == "interval"]
assert len(iv) >= 30, len(iv)
assert all("diag" not in r for r in rows if r["event"] != "interval")
steps = 0
for r in iv:
    d = r["diag"]
    steps += d["steps"]
    assert d["grad_norm_max"] >= r["grad_norm"] * (1 - 1e-9), (d, r["grad_norm"])
    assert 0 <= d["clipped"] <= 1
    assert set(d["saturation"]) == {"l%d.%s" % (l, g) for l in (0, 1) for g in "ifgo"}, d
    assert all(0 <= v <= 1 for v in d["saturation"].values())
    assert "rnn.weight_hh_l1" in d["update_ratio"] and d["update_ratio"]["rnn.weight_hh_l1"] > 0
assert steps == iv[-1]["step"], (steps, iv[-1]["step"])
# --clip 0.05 on a fresh model: most updates are clipped at first
assert iv[0]["diag"]["clipped"] > 0.5, iv[0]["diag"]
'
if command -v gnuplot >/dev/null 2>&1; then
    run "$SEQLM" plot diag.jsonl -o diag.png
    check_cmd "seqlm plot: a --diag log draws its diagnostics" \
        test "$rc" -eq 0 -a -s diag.png -a -n "$(grep diagnostics "$T/stderr")"
fi
# the window model has no gates: an empty saturation object, and a plot that says so
"$SEQLM" train --train text.txt -o wd.safetensors --arch window --hidden 8 --embedding 4 \
    --batch 4 --bptt 5 --max-steps 5 --threads 1 --checkpoint none --diag --log wd.jsonl \
    --log-interval 0.000001 -q 2>err.txt
check_cmd "--diag on a window model: no gates, every tensor's ratio" python3 -c '
import json
iv = [json.loads(l) for l in open("wd.jsonl") if "\"interval\"" in l]
assert iv and all(r["diag"]["saturation"] == {} for r in iv), iv[:1]
assert set(iv[0]["diag"]["update_ratio"]) == {"embedding.weight", "hidden.weight", "hidden.bias",
                                              "output.weight", "output.bias"}, iv[0]
'
if command -v gnuplot >/dev/null 2>&1; then
    run "$SEQLM" plot wd.jsonl -o wd.svg
    check_cmd "seqlm plot: a window model's --diag log" test "$rc" -eq 0 -a -s wd.svg
fi
"$SEQLM" train "${TR[@]}" --max-steps 20 -o r.safetensors --checkpoint r.ckpt 2>err.txt
run "$SEQLM" train --resume r.ckpt --max-steps 40 --diag --log resumed.jsonl \
    --log-interval 0.000001 -q
check_cmd "--resume takes --diag" test "$rc" -eq 0 -a -n "$(grep '"diag"' resumed.jsonl)"
check_cmd "--resume --diag: still byte-identical" cmp -s plain.safetensors r.safetensors

cli_finish
