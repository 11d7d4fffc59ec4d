#!/usr/bin/env bash
# cli_ngram.sh - `seqlm ngram ...` and `seqlm vocab` end to end on small text made here.
#
# usage: bash tests/cli_ngram.sh /abs/path/to/seqlm [shared-data-dir]
#
# Trains every smoothing to ARPA, gzipped ARPA and binary and checks the three files give the
# same perplexity; ARPA -> binary -> ARPA round trips; sampling is reproducible and draws only
# vocabulary words; --per-token / --per-sentence / --json agree; the char and byte units work
# on Korean text; a vocabulary file made by `seqlm vocab` drives training. With the shared data
# directory, the perplexity of KenLM's Brown model must match KenLM's query to 0.01%.
# Each check prints PASS or FAIL (or SKIP); the last line is "N passed, M failed" and the exit
# status is non-zero when anything failed. Bad input is cli_errors.sh's business, not this one's.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 gzip
cli_tmpdir cli-ngram
CLI_HIDE_WARNINGS=1

# --- helpers -------------------------------------------------------------------------------

# same4 A B: the two numbers agree to 4 decimals (|a-b| < 5e-5, relative for big values).
same4() {
    python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if abs(a-b) < 5e-5*max(1.0, abs(a)/1e4) else 1)' \
        "$1" "$2" 2>/dev/null
}

# --- text ----------------------------------------------------------------------------------

cat >train.txt <<'EOF'
the committee met on tuesday to discuss the budget for the coming year .
members of the committee said the budget was too small for the new school .
the mayor said he would not sign the budget unless the school was built .
a new school was built in the north of the city last year .
the children of the city walk to school in the morning .
in the morning the streets of the city are full of children .
the old school in the south of the city will be closed next year .
the mayor and the committee will meet again next week .
he said that the city could not pay for two schools .
the teachers said they would wait for the committee to decide .
it was a cold morning and the river was covered with ice .
the farmers in the valley were worried about the long winter .
a few of them had sold their cattle before the snow came .
the price of wheat rose sharply in the spring .
she told the reporters that the company would build a new plant in the south .
the new plant will employ about two hundred workers .
the workers will be trained by the company during the first year .
the governor said the state would help pay for the training .
some members of the legislature said the plan was a waste of money .
the plan was approved by a vote of twenty to twelve .
after the vote the governor thanked the members for their support .
the river rose again in the spring and the valley was flooded .
many families left their homes and moved to the city .
the city opened two schools to give them a place to sleep .
the children slept in the school and the teachers brought them food .
the mayor visited the school on friday and spoke with the families .
he promised that the city would help them build new homes .
the committee will meet next month to discuss the cost of the new homes .
it is not clear how the city will pay for the homes .
the budget for the coming year is already too small .
the teachers said the children could stay in the school until the end of the month .
by the end of the month most of the families had returned to the valley .
the river had fallen and the fields were covered with mud .
the farmers said it would take a year to clean the fields .
the state sent workers to help the farmers clean the fields .
the governor visited the valley in june and spoke with the farmers .
he said the state would pay for the new homes in the valley .
the mayor thanked the governor for the help of the state .
in the fall the farmers planted wheat again .
the price of wheat fell in the winter but the farmers were not worried .
EOF
cat >test.txt <<'EOF'
the committee said the budget for the new homes was too small .
the farmers in the valley planted corn in the spring .
the governor will visit the city next week .
the children walked to the new school in the cold morning .
a reporter asked the mayor about the price of the new plant .
the river was covered with snow and ice .
EOF
cat >ko.txt <<'EOF'
안녕하세요 반갑습니다
오늘 날씨가 정말 좋네요
저는 학교에 갑니다
학교에서 친구를 만났습니다
친구와 함께 점심을 먹었습니다
오늘 저녁에는 비가 온다고 합니다
우산을 가지고 가세요
내일은 날씨가 맑겠습니다
안녕히 가세요
다음에 또 만나요
EOF
printf '오늘은 비가 옵니다\n친구를 만나요 🙂\n' >ko-test.txt

SMOOTHINGS="mkn kn wb katz add mle"

# --- train every smoothing to three forms; eval gives the same perplexity --------------------

for s in $SMOOTHINGS; do
    ok=0
    for f in arpa arpa.gz bin; do
        run "$SEQLM" ngram train -q --order 3 --smoothing "$s" -o "m-$s.$f" train.txt
        if [ "$rc" -ne 0 ] || [ ! -s "m-$s.$f" ]; then ok=1; break; fi
    done
    check "train --smoothing $s --order 3 to .arpa, .arpa.gz and .bin" $ok
    [ $ok -eq 0 ] || continue

    # mle gives unseen events probability 0 (written -99), so its held-out perplexity is
    # astronomical: compare it on the training text instead.
    evaltext=test.txt
    [ "$s" = mle ] && evaltext=train.txt
    ppl=()
    ok=0
    for f in arpa arpa.gz bin; do
        runq "m-$s.$f.json" "$SEQLM" ngram eval -m "m-$s.$f" --json "$evaltext" || ok=1
        ppl+=("$(json_field "m-$s.$f.json" perplexity)")
    done
    if [ $ok -eq 0 ] && [ -n "${ppl[0]}" ] && same4 "${ppl[0]}" "${ppl[1]}" &&
        same4 "${ppl[0]}" "${ppl[2]}"; then
        pass "eval $s on $evaltext: the same perplexity from .arpa, .arpa.gz, .bin (${ppl[0]})"
    else
        fail "eval $s on $evaltext: the same perplexity from .arpa, .arpa.gz, .bin" \
            "perplexities: ${ppl[*]}" "$(cat "m-$s.bin.json" 2>/dev/null)"
    fi

    # A sane number: finite, > 1, lower on the training text than on held-out text.
    if [ "$s" != mle ]; then
        runq "m-$s.train.json" "$SEQLM" ngram eval -m "m-$s.bin" --json train.txt
        ptrain=$(json_field "m-$s.train.json" perplexity)
        python3 -c 'import math,sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if 1 < a < b and math.isfinite(b) else 1)' \
            "${ptrain:-nan}" "${ppl[0]:-nan}" 2>/dev/null
        check "eval $s: 1 < perplexity on training text ($ptrain) < on held-out text (${ppl[0]})" $?
    fi

    # ARPA -> binary -> ARPA: the same n-grams and values, the same perplexity.
    ok=0
    runq /dev/null "$SEQLM" ngram convert "m-$s.arpa" "rt-$s.bin" || ok=1
    [ $ok -eq 0 ] && { runq /dev/null "$SEQLM" ngram convert "rt-$s.bin" "rt-$s.arpa" || ok=1; }
    [ $ok -eq 0 ] && { runq "rt-$s.json" "$SEQLM" ngram eval -m "rt-$s.arpa" --json "$evaltext" || ok=1; }
    p2=$(json_field "rt-$s.json" perplexity)
    if [ $ok -eq 0 ] && [ -n "$p2" ] && same4 "${ppl[0]}" "$p2"; then
        pass "convert $s ARPA -> bin -> ARPA: the same perplexity ($p2)"
    else
        fail "convert $s ARPA -> bin -> ARPA: the same perplexity" "before ${ppl[0]}, after $p2"
    fi
    python3 - "m-$s.arpa" "rt-$s.arpa" >"$T/diff" 2>&1 <<'EOF'
import sys
def read(path):
    grams, n, header = {}, 0, []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("ngram "):
            header.append(line)
        elif line.startswith("\\") and line.endswith("-grams:"):
            n = int(line[1:line.index("-")])
        elif n and line and not line.startswith("\\"):
            f = line.split("\t")
            grams[f[1]] = (float(f[0]), float(f[2]) if len(f) > 2 else 0.0)
    return header, grams
(ha, a), (hb, b) = read(sys.argv[1]), read(sys.argv[2])
if ha != hb or set(a) != set(b):
    print("headers", ha, hb, "only in first:", sorted(set(a) - set(b))[:3],
          "only in second:", sorted(set(b) - set(a))[:3])
    sys.exit(1)
worst = max((abs(a[k][i] - b[k][i]), k) for k in a for i in (0, 1))
if worst[0] > 1e-6:
    print("max difference", worst)
    sys.exit(1)
EOF
    check "convert $s ARPA -> bin -> ARPA: the same n-grams and values" $? "$(cat "$T/diff")"
done

# --- determinism, other orders, other inputs ------------------------------------------------

for f in arpa bin; do
    run "$SEQLM" ngram train -q -o "again.$f" train.txt
    cmp -s "m-mkn.$f" "again.$f"
    check "training twice gives byte-identical .$f files" $?
done
run "$SEQLM" ngram train -q -o stdin.arpa - <train.txt
cmp -s m-mkn.arpa stdin.arpa
check "training from standard input ('-') gives the same ARPA file" $?
gzip -c train.txt >train.txt.gz
run "$SEQLM" ngram train -q -o gz.arpa train.txt.gz
cmp -s m-mkn.arpa gz.arpa
check "training from a gzipped corpus gives the same ARPA file" $?

for order in 1 2 5; do
    ok=0
    runq /dev/null "$SEQLM" ngram train -q --order "$order" -o "o$order.bin" train.txt || ok=1
    [ $ok -eq 0 ] && { runq "o$order.json" "$SEQLM" ngram eval -m "o$order.bin" --json test.txt || ok=1; }
    p=$(json_field "o$order.json" perplexity)
    python3 -c 'import math,sys; p=float(sys.argv[1]); sys.exit(0 if math.isfinite(p) and p > 1 else 1)' \
        "${p:-nan}" 2>/dev/null || ok=1
    check "--order $order trains and evaluates (perplexity $p)" $ok
done
expect_ok "--smoothing add --delta 0.1 trains" \
    "$SEQLM" ngram train -q --smoothing add --delta 0.1 -o add01.arpa train.txt
run "$SEQLM" ngram train -q --prune 0,1 -o pruned.arpa train.txt
ok=$rc
n3full=$(sed -n 's/^ngram 3=//p' m-mkn.arpa)
n3pruned=$(sed -n 's/^ngram 3=//p' pruned.arpa)
[ -n "$n3pruned" ] && [ "$n3pruned" -lt "$n3full" ] || ok=1
check "--prune 0,1 trains a smaller model ($n3pruned 3-grams, $n3full unpruned)" $ok

# --- eval output forms ----------------------------------------------------------------------

runq eval.json "$SEQLM" ngram eval -m m-mkn.arpa --json test.txt
python3 - eval.json >"$T/diff" 2>&1 <<'EOF'
import json, math, sys
d = json.loads(open(sys.argv[1]).read())
keys = ["perplexity", "perplexity_excl_oov", "oov", "tokens", "log10_prob"]
missing = [k for k in keys if k not in d]
if missing:
    sys.exit("missing keys: %s" % missing)
if not all(isinstance(d[k], (int, float)) for k in keys):
    sys.exit("non-numeric values: %s" % d)
if not isinstance(d["oov"], int) or not isinstance(d["tokens"], int):
    sys.exit("oov and tokens should be integers")
want = 10 ** (-d["log10_prob"] / d["tokens"])
if abs(want - d["perplexity"]) > 1e-4 * want:
    sys.exit("perplexity %g is not 10^(-log10_prob/tokens) = %g" % (d["perplexity"], want))
EOF
check "eval --json: valid JSON with perplexity, perplexity_excl_oov, oov, tokens, log10_prob" $? \
    "$(cat "$T/diff")" "$(cat eval.json)"
tokens=$(json_field eval.json tokens)
oov=$(json_field eval.json oov)
nlines=$(wc -l <test.txt)
nwords=$(wc -w <test.txt)
[ "$tokens" = $((nwords + nlines)) ]
check "eval --json: tokens ($tokens) = words + one </s> per line ($((nwords + nlines)))" $?
python3 -c 'import sys; sys.exit(0 if int(sys.argv[1]) > 0 else 1)' "${oov:-0}" 2>/dev/null
check "eval --json: the held-out text's unseen words are counted as OOVs ($oov)" $?

runq eval.txt "$SEQLM" ngram eval -m m-mkn.arpa test.txt
plain=$(sed -n 's/^Perplexity including OOVs:\t//p' eval.txt)
[ -n "$plain" ] && same4 "$plain" "$(json_field eval.json perplexity)"
check "eval plain output: the same perplexity as --json ($plain)" $?

# The per-token and per-sentence lines may be followed by the plain summary (as KenLM's query
# does): body FILE keeps what comes before it.
body() { sed '/^Perplexity including OOVs:/,$d' "$1"; }
runq pertoken-all.txt "$SEQLM" ngram eval -m m-mkn.arpa --per-token test.txt
body pertoken-all.txt >pertoken.txt
nonblank=$(grep -c . pertoken.txt)
blank=$(grep -c '^$' pertoken.txt)
[ "$rc" -eq 0 ] && [ "$nonblank" = "$tokens" ] && [ "$blank" = "$nlines" ]
check "eval --per-token: $nonblank token lines (tokens $tokens) and $blank blank separators ($nlines sentences)" $?
python3 - pertoken.txt eval.json >"$T/diff" 2>&1 <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l]
total = json.load(open(sys.argv[2]))["log10_prob"]
s = 0.0
for l in lines:
    f = l.split("\t")
    if len(f) != 3 or not f[2].isdigit():
        sys.exit("malformed line %r" % l)
    s += float(f[1])
if abs(s - total) > 1e-3:
    sys.exit("sum of per-token log10 p %g != log10_prob %g" % (s, total))
if sum(1 for l in lines if l.split("\t")[0] == "</s>") != 6:
    sys.exit("expected 6 </s> lines")
EOF
check "eval --per-token: TOKEN<TAB>LOG10P<TAB>ORDER lines summing to log10_prob" $? "$(cat "$T/diff")"

runq persent-all.txt "$SEQLM" ngram eval -m m-mkn.arpa --per-sentence test.txt
body persent-all.txt >persent.txt
python3 - persent.txt eval.json "$nlines" >"$T/diff" 2>&1 <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l]
d = json.load(open(sys.argv[2]))
if len(lines) != int(sys.argv[3]):
    sys.exit("%d lines, expected %s" % (len(lines), sys.argv[3]))
f = [l.split("\t") for l in lines]
if any(len(x) != 4 for x in f):
    sys.exit("expected LINE<TAB>LOG10PROB<TAB>TOKENS<TAB>OOVS")
if [int(x[0]) for x in f] != list(range(1, len(f) + 1)):
    sys.exit("line numbers are not 1..n")
if abs(sum(float(x[1]) for x in f) - d["log10_prob"]) > 1e-3:
    sys.exit("log10 probabilities do not sum to log10_prob")
if sum(int(x[2]) for x in f) != d["tokens"] or sum(int(x[3]) for x in f) != d["oov"]:
    sys.exit("token or OOV counts do not add up")
EOF
check "eval --per-sentence: one line per sentence, adding up to the --json totals" $? "$(cat "$T/diff")"

# --- sampling -------------------------------------------------------------------------------

# words.txt: the model's vocabulary (its unigrams) without the special tokens.
vocab_of() {
    python3 - "$1" <<'EOF'
import gzip, sys
p = sys.argv[1]
f = gzip.open(p, "rt", encoding="utf-8") if p.endswith(".gz") else open(p, encoding="utf-8")
n = 0
for line in f:
    line = line.rstrip("\n")
    if line.startswith("\\"):
        n = 1 if line == "\\1-grams:" else 0
    elif n and line:
        w = line.split("\t")[1]
        if w not in ("<s>", "</s>", "<unk>"):
            print(w)
EOF
}
# only_vocab SAMPLES WORDS: every word of every line of SAMPLES is in WORDS.
only_vocab() {
    python3 - "$1" "$2" <<'EOF'
import sys
words = set(open(sys.argv[2], encoding="utf-8").read().split("\n")) - {""}
bad = [w for l in open(sys.argv[1], encoding="utf-8") for w in l.split() if w not in words]
if bad:
    sys.exit("not in the vocabulary: %s" % bad[:5])
EOF
}

vocab_of m-mkn.arpa >words.txt
runq s5a.txt "$SEQLM" ngram sample -m m-mkn.arpa --seed 5 --count 20
runq s5b.txt "$SEQLM" ngram sample -m m-mkn.arpa --seed 5 --count 20
cmp -s s5a.txt s5b.txt && [ "$(wc -l <s5a.txt)" -eq 20 ]
check "sample --seed 5 --count 20 twice: byte-identical, 20 lines" $? "$(head -n 3 s5a.txt)"
runq s6.txt "$SEQLM" ngram sample -m m-mkn.arpa --seed 6 --count 20
! cmp -s s5a.txt s6.txt
check "sample --seed 6 differs from --seed 5" $?
runq s5gz.txt "$SEQLM" ngram sample -m m-mkn.arpa.gz --seed 5 --count 20
cmp -s s5a.txt s5gz.txt
check "sample from .arpa.gz: the same sentences as from .arpa" $? "$(diff s5a.txt s5gz.txt | head -n 4)"
runq s5bin.txt "$SEQLM" ngram sample -m rt-mkn.bin --seed 5 --count 20
cmp -s s5a.txt s5bin.txt
check "sample from the ARPA's binary conversion: the same sentences as from .arpa" $? \
    "$(diff s5a.txt s5bin.txt | head -n 4)"
for s in $SMOOTHINGS; do
    [ -s "m-$s.bin" ] || continue
    runq "samp-$s.txt" "$SEQLM" ngram sample -m "m-$s.bin" --seed 5 --count 20
    ok=$rc
    [ "$(wc -l <"samp-$s.txt")" -eq 20 ] || ok=1
    msg=$(only_vocab "samp-$s.txt" words.txt 2>&1) || ok=1
    check "sample $s: 20 lines of vocabulary words only" $ok "$msg" "$(head -n 2 "samp-$s.txt")"
done
runq t05.txt "$SEQLM" ngram sample -m m-mkn.bin --seed 5 --count 20 --temperature 0.5
ok=$rc
msg=$(only_vocab t05.txt words.txt 2>&1) || ok=1
check "sample --temperature 0.5: vocabulary words only" $ok "$msg"
runq maxlen.txt "$SEQLM" ngram sample -m m-mkn.bin --seed 5 --count 50 --max-length 3
python3 -c 'import sys; sys.exit(0 if all(len(l.split()) <= 3 for l in open(sys.argv[1])) else 1)' maxlen.txt
check "sample --max-length 3: no line longer than 3 words" $? "$(head -n 3 maxlen.txt)"
runq count0.txt "$SEQLM" ngram sample -m m-mkn.bin --count 0
[ "$rc" -eq 0 ] && [ ! -s count0.txt ]
check "sample --count 0: no output" $?

# --- units: char and byte on Korean text ----------------------------------------------------

# expect_tokens JSON TEXT UNIT: tokens = code points (char) or bytes (byte) + one </s> per line.
expect_tokens() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
lines = open(sys.argv[2], "rb").read().decode("utf-8").split("\n")[:-1]
want = sum(len(l) if sys.argv[3] == "char" else len(l.encode()) for l in lines) + len(lines)
if d["tokens"] != want:
    sys.exit("tokens %d, expected %d" % (d["tokens"], want))
EOF
}

for unit in char byte; do
    expect_ok "--unit $unit: trains on Korean text" \
        "$SEQLM" ngram train -q --order 4 --unit "$unit" -o "ko-$unit.arpa" ko.txt
    runq "ko-$unit.json" "$SEQLM" ngram eval -m "ko-$unit.arpa" --json ko.txt
    ok=$rc
    msg=$(expect_tokens "ko-$unit.json" ko.txt "$unit" 2>&1) || ok=1
    [ "$(json_field "ko-$unit.json" oov)" = 0 ] || ok=1
    check "--unit $unit: eval on the training text: one token per $unit (+ </s>), no OOV" $ok \
        "$msg" "$(cat "ko-$unit.json")"
    runq "ko-$unit-test.json" "$SEQLM" ngram eval -m "ko-$unit.arpa" --json ko-test.txt
    check "--unit $unit: eval on held-out Korean text ($(json_field "ko-$unit-test.json" perplexity))" $rc
    run "$SEQLM" ngram convert "ko-$unit.arpa" "ko-$unit.bin"
    runq "ko-$unit-bin.json" "$SEQLM" ngram eval -m "ko-$unit.bin" --json ko-test.txt
    a=$(json_field "ko-$unit-test.json" perplexity)
    b=$(json_field "ko-$unit-bin.json" perplexity)
    [ -n "$a" ] && [ -n "$b" ] && same4 "$a" "$b"
    check "--unit $unit: the binary form gives the same perplexity ($a, $b)" $?
    runq "ko-$unit-samp.txt" "$SEQLM" ngram sample -m "ko-$unit.bin" --seed 3 --count 20
    ok=$rc
    valid_utf8 "ko-$unit-samp.txt" || ok=1
    [ "$(wc -l <"ko-$unit-samp.txt")" -eq 20 ] || ok=1
    check "--unit $unit: sample gives 20 lines of valid UTF-8" $ok "$(head -n 2 "ko-$unit-samp.txt")"
done
# A char model only produces characters of its training text.
python3 - ko-char-samp.txt ko.txt >"$T/diff" 2>&1 <<'EOF'
import sys
seen = set(open(sys.argv[2], encoding="utf-8").read())
bad = set(open(sys.argv[1], encoding="utf-8").read()) - seen
if bad:
    sys.exit("characters not in the training text: %r" % sorted(bad))
EOF
check "--unit char: sampled characters all occur in the training text" $? "$(cat "$T/diff")"
run "$SEQLM" ngram train -q --unit char -o en-char.bin train.txt
ok=$rc
runq en-char-samp.txt "$SEQLM" ngram sample -m en-char.bin --seed 3 --count 10
[ "$rc" -eq 0 ] && [ -s en-char-samp.txt ] || ok=1
check "--unit char on English: trains and samples" $ok

# --- vocabulary files -----------------------------------------------------------------------

expect_ok "vocab --min-count 2: writes a vocabulary" "$SEQLM" vocab --min-count 2 -o v2.txt train.txt
python3 - v2.txt train.txt >"$T/diff" 2>&1 <<'EOF'
import collections, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
if [r[0] for r in rows[:3]] != ["<unk>", "<s>", "</s>"]:
    sys.exit("the first three entries are not <unk> <s> </s>: %s" % rows[:3])
counts = collections.Counter(open(sys.argv[2], encoding="utf-8").read().split())
want = {w for w, c in counts.items() if c >= 2}
got = {r[0] for r in rows[3:]}
if got != want:
    sys.exit("tokens differ: missing %s, extra %s" % (sorted(want - got)[:5], sorted(got - want)[:5]))
if any(int(r[1]) != counts[r[0]] for r in rows[3:]):
    sys.exit("counts differ")
c = [int(r[1]) for r in rows[3:]]
if c != sorted(c, reverse=True):
    sys.exit("not sorted by descending count")
EOF
check "vocab --min-count 2: <unk> <s> </s>, then exactly the tokens seen twice, by count" $? \
    "$(cat "$T/diff")"
expect_ok "ngram train --vocab (from seqlm vocab) trains" \
    "$SEQLM" ngram train -q --vocab v2.txt -o mv.arpa train.txt
vocab_of mv.arpa | sort >mv-words.txt
tail -n +4 v2.txt | cut -f1 | sort >v2-words.txt
cmp -s mv-words.txt v2-words.txt
check "ngram train --vocab: the model's unigrams are the vocabulary's tokens" $? \
    "$(diff mv-words.txt v2-words.txt | head -n 4)"
runq mv.json "$SEQLM" ngram eval -m mv.arpa --json train.txt
singletons=$(tr -s ' ' '\n' <train.txt | sort | uniq -c | awk '$1 == 1' | wc -l)
mvoov=$(json_field mv.json oov)
[ "$rc" -eq 0 ] && [ "$mvoov" = "$singletons" ]
check "ngram train --vocab: eval on the training text counts the $singletons singletons as OOV ($mvoov)" $?
run "$SEQLM" vocab --unit char -o vchar.txt ko.txt
ok=$rc
run "$SEQLM" ngram train -q --unit char --vocab vchar.txt -o mvchar.bin ko.txt
[ "$rc" -eq 0 ] || ok=1
check "vocab --unit char, then ngram train --unit char --vocab" $ok

# --- KenLM's Brown model (shared data) ------------------------------------------------------

arpa=${DATA:+$DATA/arpa/brown-valid.o3.arpa.gz}
text=${DATA:+$DATA/brown/brown.test.txt}
if [ -n "$DATA" ] && [ -f "$arpa" ] && [ -f "$text" ]; then
    # within 0.01% of KenLM's query; the counts exactly
    brown_check() { # brown_check NAME JSON
        python3 - "$2" >"$T/diff" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print("perplexity %.5f  excl. OOV %.5f  OOV %d  tokens %d" % (
    d["perplexity"], d["perplexity_excl_oov"], d["oov"], d["tokens"]))
bad = []
for k, want in (("perplexity", 280.64446), ("perplexity_excl_oov", 167.85866)):
    if abs(d[k] - want) > 1e-4 * want:
        bad.append("%s %.5f, KenLM %.5f" % (k, d[k], want))
for k, want in (("oov", 11932), ("tokens", 171297)):
    if d[k] != want:
        bad.append("%s %d, KenLM %d" % (k, d[k], want))
if bad:
    print("; ".join(bad))
    sys.exit(1)
EOF
        local st=$?
        check "$1: $(head -n 1 "$T/diff")" $st "$(tail -n +2 "$T/diff")"
    }
    runq brown.json "$SEQLM" ngram eval -m "$arpa" --json "$text"
    brown_check "KenLM's brown-valid.o3.arpa.gz on brown.test.txt matches KenLM's query" brown.json
    run "$SEQLM" ngram convert "$arpa" brown.bin
    check "convert KenLM's brown-valid.o3.arpa.gz to binary" $rc
    runq brown-bin.json "$SEQLM" ngram eval -m brown.bin --json "$text"
    brown_check "the same model in binary form matches KenLM's query" brown-bin.json
else
    echo "SKIP: KenLM's Brown model check (needs \$DATA/arpa/brown-valid.o3.arpa.gz and \$DATA/brown/brown.test.txt; DATA='$DATA')"
fi

cli_finish
