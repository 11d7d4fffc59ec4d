#!/usr/bin/env bash
# cli_elmo.sh - `seqlm elmo train` and `seqlm elmo embed` end to end on the shipped Tiny
# Shakespeare (data/tinyshakespeare.txt, its first lines).
#
# usage: bash tests/cli_elmo.sh /abs/path/to/seqlm [shared-data-dir]
#
# A tiny biLM trains, reports both directions' validation perplexity and is written; the same
# seed gives a byte-identical ELMo file; --log holds both directions; embed writes the documented
# safetensors layout (checked with python3), the same bytes twice, the same numbers with any
# --batch; --format tsv, --average and --mix agree with the layers; bad input (a language model
# instead of an ELMo model, missing files, an empty line, a sentence marker) exits 1 naming the
# problem, bad flags exit 2. Each check prints PASS or FAIL; the last line is "N passed, M failed".
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3
SHAKES=$(cd "$(dirname "$0")/.." && pwd)/data/tinyshakespeare.txt
if [ ! -f "$SHAKES" ]; then
    echo "SKIP: $SHAKES is missing"
    exit 77
fi
cli_tmpdir cli-elmo

head -n 3000 "$SHAKES" >train.txt
sed -n '3001,3400p' "$SHAKES" >valid.txt
# sentences to embed: non-empty lines
sed -n '3401,3500p' "$SHAKES" | grep -v '^[[:space:]]*$' | head -n 40 >sents.txt
SMALL=(--layers 2 --hidden 16 --batch 8 --bptt 12 --epochs 1 --threads 1 --min-count 2 --seed 5)

# --- training -------------------------------------------------------------------------------
run "$SEQLM" elmo train --train train.txt --valid valid.txt -o e1.safetensors "${SMALL[@]}" \
    --log log.jsonl --log-interval 0.01
check_cmd "elmo train writes a model" test "$rc" -eq 0 -a -s e1.safetensors
check_cmd "elmo train reports both directions' validation perplexity" \
    grep -Eq "valid ppl forward [0-9.]+, backward [0-9.]+" "$T/stderr"
check_cmd "no temporary files are left" test ! -e e1.safetensors.forward.tmp -a \
    ! -e e1.safetensors.backward.tmp -a ! -e log.jsonl.forward.tmp
check_cmd "--log: JSON lines of both directions" python3 -c '
import json
rows = [json.loads(l) for l in open("log.jsonl")]
for d in ("forward", "backward"):
    mine = [r for r in rows if r["direction"] == d]
    assert mine[0]["event"] == "start" and mine[-1]["event"] == "end", d
    assert sum(r["event"] == "epoch" for r in mine) == 1, d
'
check_cmd "the file: forward./backward. tensors, seqlm.kind elmo" python3 -c '
import json, struct
b = open("e1.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
md = h.pop("__metadata__")
assert md["seqlm.kind"] == "elmo", md["seqlm.kind"]
cfg = json.loads(md["seqlm.elmo.config"])
assert cfg["arch"] == "lstm" and cfg["hidden"] == 16 and cfg["embedding"] == 16 and cfg["layers"] == 2
assert float(md["seqlm.elmo.forward.valid_ppl"]) > 1 and float(md["seqlm.elmo.backward.valid_ppl"]) > 1
for d in ("forward", "backward"):
    for t in ("encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "decoder.weight", "decoder.bias"):
        assert d + "." + t in h, d + "." + t
assert all(k.startswith(("forward.", "backward.")) for k in h)
'
run "$SEQLM" elmo train --train train.txt --valid valid.txt -o e2.safetensors "${SMALL[@]}" -q
check_cmd "the same seed gives the same ELMo file, byte for byte" cmp -s e1.safetensors e2.safetensors
run "$SEQLM" elmo train --train train.txt -o e3.safetensors "${SMALL[@]}" --max-steps 5 -q
check_cmd "without --valid: the last models are kept" test "$rc" -eq 0 -a -s e3.safetensors
run "$SEQLM" elmo train --train train.txt -o e4.safetensors "${SMALL[@]}" --max-steps 1 --lr 0.3 \
    --optimizer adagrad
check_cmd "the shared options: --lr before --optimizer is kept" \
    grep -q "; adagrad lr 0.3, clip" "$T/stderr"

# --- embedding ------------------------------------------------------------------------------
run "$SEQLM" elmo embed -m e1.safetensors -o L1.safetensors sents.txt
check "elmo embed writes a file" "$rc"
run "$SEQLM" elmo embed -m e1.safetensors -o L2.safetensors -q sents.txt
check_cmd "embedding twice gives the same bytes" cmp -s L1.safetensors L2.safetensors
run "$SEQLM" elmo embed -m e1.safetensors -o L3.safetensors -q --batch 3 sents.txt
runq L.tsv "$SEQLM" elmo embed -m e1.safetensors --format tsv -q sents.txt
run "$SEQLM" elmo embed -m e1.safetensors -o A.safetensors -q --average sents.txt
run "$SEQLM" elmo embed -m e1.safetensors -o M.safetensors -q --mix 0.5,0.25,1:2 sents.txt
cat sents.txt | "$SEQLM" elmo embed -m e1.safetensors -o S.safetensors -q - 2>"$T/stderr"
check_cmd "standard input gives the same file" cmp -s L1.safetensors S.safetensors
check_cmd "layout, --batch, tsv, --average, --mix agree" python3 -c '
import json, struct, array
def read(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    md = h.pop("__metadata__")
    out = {}
    for k, v in h.items():
        a, z = v["data_offsets"]
        x = array.array("f"); x.frombytes(b[8 + n + a:8 + n + z])
        out[k] = (v["shape"], x)
    return md, out
md, L = read("L1.safetensors")
sents = [l.split() for l in open("sents.txt")]
assert md["seqlm.kind"] == "elmo-embeddings" and md["seqlm.elmo.mix"] == "layers"
assert int(md["seqlm.elmo.sentences"]) == len(sents) == len(L)
K, D = int(md["seqlm.elmo.layers"]), int(md["seqlm.elmo.dim"])
assert K == 3 and D == 32
for i, s in enumerate(sents):
    assert L["sentence.%d" % i][0] == [K, len(s), D]
_, L3 = read("L3.safetensors")
worst = max(abs(a - b) for k in L for a, b in zip(L[k][1], L3[k][1]))
assert worst < 1e-5, worst
rows = [l.rstrip("\n").split("\t") for l in open("L.tsv")]
assert len(rows) == K * sum(len(s) for s in sents)
for r in rows[:200]:
    i, t, tok, k = int(r[0]), int(r[1]), r[2], int(r[3])
    assert tok == sents[i][t]
    v = [float(x) for x in r[4].split()]
    shape, x = L["sentence.%d" % i]
    n = shape[1]
    ref = x[(k * n + t) * D:(k * n + t + 1) * D]
    assert all(abs(a - b) <= 1e-6 * max(1, abs(b)) for a, b in zip(v, ref)), (i, t, k)
for f, w, g in (("A.safetensors", [1 / 3] * 3, 1.0), ("M.safetensors", [0.5, 0.25, 1], 2.0)):
    mmd, M = read(f)
    for i, s in enumerate(sents):
        shape, x = M["sentence.%d" % i]
        n = len(s)
        assert shape == [n, D], shape
        _, l = L["sentence.%d" % i]
        for j in range(0, n * D, 7):
            ref = g * sum(w[k] * l[k * n * D + j] for k in range(K))
            assert abs(x[j] - ref) < 1e-5, (f, i, j, x[j], ref)
assert mmd["seqlm.elmo.mix"] == "0.5,0.25,1:2", mmd["seqlm.elmo.mix"]
'

# --- bad input and bad usage ----------------------------------------------------------------
run "$SEQLM" train --train train.txt -o lm.safetensors --layers 1 --hidden 8 --epochs 1 \
    --max-steps 3 --checkpoint none -q
expect_error "a language model is not an ELMo model (exit 1)" 1 \
    "lm.safetensors: not an ELMo model" -- \
    "$SEQLM" elmo embed -m lm.safetensors -o x.safetensors sents.txt
expect_error "a text file is not a model (exit 1)" 1 "train.txt: not a safetensors file" -- \
    "$SEQLM" elmo embed -m train.txt -o x.safetensors sents.txt
expect_error "missing model (exit 1)" 1 "nothere.safetensors: cannot open" -- \
    "$SEQLM" elmo embed -m nothere.safetensors -o x.safetensors sents.txt
expect_error "missing text (exit 1)" 1 "nothere.txt" -- \
    "$SEQLM" elmo embed -m e1.safetensors -o x.safetensors nothere.txt
printf 'To be\n\nor not\n' >blank.txt
expect_error "an empty line names its line (exit 1)" 1 "blank.txt: line 2: empty sentence" -- \
    "$SEQLM" elmo embed -m e1.safetensors -o x.safetensors blank.txt
check_cmd "nothing written after an error" test ! -e x.safetensors
printf 'To be </s> or\n' >marker.txt
expect_error "a sentence marker in the text (exit 1)" 1 \
    "marker.txt: line 1: the sentence markers" -- \
    "$SEQLM" elmo embed -m e1.safetensors --format tsv marker.txt
printf 'caf\xc3 au lait\n' >bad-utf8.txt
expect_error "invalid UTF-8 (exit 1)" 1 "bad-utf8.txt: line 1" -- \
    "$SEQLM" elmo embed -m e1.safetensors --format tsv bad-utf8.txt
expect_error "missing training text (exit 1)" 1 "nothere.txt" -- \
    "$SEQLM" elmo train --train nothere.txt -o y.safetensors "${SMALL[@]}"
expect_error "--embedding must equal --hidden (exit 2)" 2 "must equal --hidden" -- \
    "$SEQLM" elmo train --train train.txt -o y.safetensors --hidden 16 --embedding 8
expect_error "missing -o (exit 2)" 2 "missing -o" -- "$SEQLM" elmo train --train train.txt
expect_error "--hidden 0 (exit 2)" 2 "--hidden must be an integer from 1 to 1048576, not '0'" -- \
    "$SEQLM" elmo train --train train.txt -o y.safetensors --hidden 0
expect_error "embed --batch beyond 65536 (exit 2)" 2 \
    "--batch must be an integer from 1 to 65536" -- \
    "$SEQLM" elmo embed -m e1.safetensors -o x.safetensors --batch 70000 sents.txt
expect_error "embed --threads 0 (exit 2)" 2 \
    "--threads must be an integer from 1 to 4096, not '0'" -- \
    "$SEQLM" elmo embed -m e1.safetensors -o x.safetensors --threads 0 sents.txt
expect_error "--mix needs one weight per layer (exit 2)" 2 "--mix needs 3" -- \
    "$SEQLM" elmo embed -m e1.safetensors -o x.safetensors --mix 1,2 sents.txt
expect_error "--average with --mix (exit 2)" 2 "cannot be combined" -- \
    "$SEQLM" elmo embed -m e1.safetensors -o x.safetensors --average --mix 1,1,1 sents.txt
expect_error "safetensors output needs -o (exit 2)" 2 "missing -o" -- \
    "$SEQLM" elmo embed -m e1.safetensors sents.txt
expect_error "unknown elmo command (exit 2)" 2 "unknown elmo command" -- "$SEQLM" elmo fly
run "$SEQLM" elmo train --help
check "elmo train --help" "$rc"
run "$SEQLM" elmo embed --help
check "elmo embed --help" "$rc"

cli_finish
