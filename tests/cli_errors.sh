#!/usr/bin/env bash
# cli_errors.sh - the command line's contract for bad input and bad usage, end to end.
#
# usage: bash tests/cli_errors.sh /abs/path/to/seqlm [shared-data-dir]
#
# The contract: an error is ONE line on stderr starting "seqlm: error:" (warnings printed
# before it, "seqlm: warning: ...", are allowed); the exit status is 1 for bad input and 2 for
# bad usage; a failed command leaves no output file behind (neither OUT nor OUT.tmp.*) and
# does not clobber an existing OUT. Inputs that are odd but valid (no final newline, CRLF, a
# 1 MB line) must work. Each check prints PASS or FAIL; the last line is "N passed, M failed"
# and the exit status is non-zero when anything failed. Not tested here: what models contain
# (cli_ngram.sh does that).
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3 gzip
cli_tmpdir cli-errors

# --- helpers -------------------------------------------------------------------------------

# The contract: each failing command's stderr is its one error line (and warnings) only.
CLI_ERROR_ALONE=1

# --- inputs --------------------------------------------------------------------------------

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
EOF
printf 'the committee met on tuesday .\nthe school was closed .\n' >test.txt

SMALL_FLAGS=(-q --order 3)

# --- usage and help ------------------------------------------------------------------------

run "$SEQLM"
[ "$rc" -eq 2 ]
check "seqlm with no arguments: exit 2" $?
expect_error "seqlm frobnicate: exit 2" 2 frobnicate -- "$SEQLM" frobnicate
expect_error "seqlm ngram frobnicate: exit 2" 2 -- "$SEQLM" ngram frobnicate
run "$SEQLM" ngram
[ "$rc" -eq 2 ]
check "seqlm ngram with no command: exit 2" $?

for cmd in "" "ngram" "ngram train" "ngram eval" "ngram sample" "ngram convert" "vocab"; do
    # shellcheck disable=SC2086 # $cmd is split into the command words on purpose
    run "$SEQLM" $cmd --help
    [ "$rc" -eq 0 ] && grep -q '^usage: seqlm' "$T/stdout"
    check "seqlm${cmd:+ $cmd} --help: exit 0 with a usage line" $? \
        "stdout: $(head -c 200 "$T/stdout")"
done

expect_error --no-output out.arpa "train --order 0: usage error" 2 order -- \
    "$SEQLM" ngram train -q --order 0 -o out.arpa train.txt
expect_error --no-output out.arpa "train --order 100: usage error" 2 order -- \
    "$SEQLM" ngram train -q --order 100 -o out.arpa train.txt
expect_error --no-output out.arpa "train --order x: usage error" 2 order -- \
    "$SEQLM" ngram train -q --order x -o out.arpa train.txt
expect_error "train without -o: usage error" 2 -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" train.txt
expect_error --no-output out.arpa "train without TRAIN.txt: usage error" 2 -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa
expect_error --no-output out.arpa "train --delta -1: usage error" 2 delta -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --smoothing add --delta -1 -o out.arpa train.txt
expect_error --no-output out.arpa "train --delta 0: usage error (delta must be > 0)" 2 delta -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --smoothing add --delta 0 -o out.arpa train.txt
expect_error --no-output out.arpa "train unknown flag --frobnicate: usage error" 2 frobnicate -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --frobnicate -o out.arpa train.txt
expect_error --no-output out.arpa "train --smoothing foo: usage error" 2 foo -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --smoothing foo -o out.arpa train.txt
expect_error --no-output out.arpa "train --unit foo: usage error" 2 foo -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --unit foo -o out.arpa train.txt
expect_error "train --order with no value: usage error" 2 -- \
    "$SEQLM" ngram train -q -o out.arpa train.txt --order
expect_error --no-output out.arpa "train --prune 1: usage error (unigrams cannot be pruned)" 2 -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --prune 1 -o out.arpa train.txt
expect_error --no-output out.arpa "train --vocab with --min-count: usage error" 2 -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --vocab v.txt --min-count 2 -o out.arpa train.txt
expect_error "eval without -m: usage error" 2 -- "$SEQLM" ngram eval test.txt
expect_error "eval --per-sentence with --per-token: usage error" 2 -- \
    "$SEQLM" ngram eval -m nonexistent.arpa --per-sentence --per-token test.txt
expect_error "sample --temperature 0: usage error" 2 temperature -- \
    "$SEQLM" ngram sample -m nonexistent.arpa --temperature 0
expect_error "sample --count -1: usage error" 2 count -- \
    "$SEQLM" ngram sample -m nonexistent.arpa --count -1
expect_error "convert with one argument: usage error" 2 -- "$SEQLM" ngram convert train.txt
expect_error "vocab without -o: usage error" 2 -- "$SEQLM" vocab train.txt
expect_error --no-output v.txt "vocab --min-count 0: usage error" 2 min-count -- \
    "$SEQLM" vocab --min-count 0 -o v.txt train.txt

# --- bad training input --------------------------------------------------------------------

: >empty.txt
expect_error --no-output out.arpa "train on an empty file: input error" 1 empty.txt -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa empty.txt
expect_error --no-output out.arpa "train on a nonexistent file: input error naming it" 1 \
    nonexistent.txt -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa nonexistent.txt
expect_error --no-output out.arpa "train on a directory: input error" 1 -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa "$T"

# Invalid UTF-8 on line 3: the message names the file, the line and the byte offset (from the
# start of the file, counting from 0).
printf 'first line\nsecond line\nab\377cd\nfourth\n' >badutf8.txt
expect_error --no-output out.arpa "invalid UTF-8: input error naming file, line 3, byte 25" 1 \
    badutf8.txt "line 3" "byte 25" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa badutf8.txt
printf 'ok\n\300\200 overlong\n' >overlong.txt
expect_error --no-output out.arpa "overlong UTF-8 (C0 80): input error naming line 2, byte 3" 1 \
    "line 2" "byte 3" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa overlong.txt
expect_error --no-output out.arpa "invalid UTF-8 with --unit char: input error" 1 "line 3" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --unit char -o out.arpa badutf8.txt
expect_ok "invalid UTF-8 with --unit byte: trains" \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --unit byte -o out-byte.arpa badutf8.txt
expect_ok "invalid UTF-8 with --unit byte: evaluates" \
    "$SEQLM" ngram eval -m out-byte.arpa badutf8.txt
"$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o word.arpa train.txt 2>/dev/null
expect_error "invalid UTF-8 in eval text (word model): input error naming line 3" 1 \
    badutf8.txt "line 3" "byte 25" -- "$SEQLM" ngram eval -m word.arpa badutf8.txt

printf 'hello world\nab\000cd\n' >nul.txt
expect_error --no-output out.arpa "NUL byte: input error naming file, line 2, byte 14" 1 \
    nul.txt "line 2" "byte 14" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa nul.txt
expect_error --no-output out.arpa "NUL byte with --unit byte: still an input error" 1 "line 2" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --unit byte -o out.arpa nul.txt

printf 'a b c\nthe <s> is here\n' >bos.txt
expect_error --no-output out.arpa "literal <s> in training text: input error naming line 2" 1 \
    bos.txt "line 2" -- "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa bos.txt
printf 'a b c\nd e\nend </s>\n' >eos.txt
expect_error --no-output out.arpa "literal </s> in training text: input error naming line 3" 1 \
    eos.txt "line 3" -- "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa eos.txt
expect_error --no-output v.txt "literal <s> in vocab input: input error naming line 2" 1 \
    "line 2" -- "$SEQLM" vocab -o v.txt bos.txt

# A gzipped corpus cut in half: zlib reports this only softly; it must be an error.
python3 - <<'EOF'
import gzip, random
random.seed(7)
words = "the of and a to in is was he for it with as his on be at by".split()
text = "".join(" ".join(random.choice(words) for _ in range(12)) + "\n" for _ in range(3000))
data = gzip.compress(text.encode())
open("cut.txt.gz", "wb").write(data[: len(data) // 2])
EOF
expect_error --no-output out.arpa "truncated gzip training file: input error" 1 cut.txt.gz -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o out.arpa cut.txt.gz

printf '<unk>\t0\n<s>\t0\n</s>\t3\nfoo 1\n' >badvocab.txt
expect_error --no-output out.arpa "malformed --vocab file: input error naming line 4" 1 \
    badvocab.txt "line 4" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --vocab badvocab.txt -o out.arpa train.txt
expect_error --no-output out.arpa "nonexistent --vocab file: input error naming it" 1 \
    nonexistent.vocab -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" --vocab nonexistent.vocab -o out.arpa train.txt

# --- odd but valid training input ----------------------------------------------------------

# The same text without its final newline, and with CRLF line ends: the same model, byte for
# byte.
"$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o lf.arpa train.txt 2>/dev/null
head -c -1 train.txt >nonl.txt
expect_ok "no final newline: trains" \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o nonl.arpa nonl.txt
cmp -s lf.arpa nonl.arpa
check "no final newline: the same ARPA file as with it" $? "$(diff lf.arpa nonl.arpa | head -n 6)"
sed 's/$/\r/' train.txt >crlf.txt
expect_ok "CRLF line ends: trains" "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o crlf.arpa crlf.txt
cmp -s lf.arpa crlf.arpa
check "CRLF line ends: the same ARPA file as LF" $? "$(diff lf.arpa crlf.arpa | head -n 6)"
# (--json may carry timings too: compare the scores only)
scores() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(*[d.get(k) for k in ("perplexity", "perplexity_excl_oov", "oov", "tokens", "log10_prob")])' \
        "$1" 2>/dev/null
}
"$SEQLM" ngram eval -m lf.arpa --json test.txt >eval-lf.json 2>/dev/null
sed 's/$/\r/' test.txt >test-crlf.txt
run "$SEQLM" ngram eval -m lf.arpa --json test-crlf.txt
[ "$rc" -eq 0 ] && [ -n "$(scores eval-lf.json)" ] &&
    [ "$(scores eval-lf.json)" = "$(scores "$T/stdout")" ]
check "CRLF line ends in eval text: the same result as LF" $? \
    "LF:   $(cat eval-lf.json)" "CRLF: $(cat "$T/stdout")"

# A 1 MB line, twice: one 1,000,000-character token, and 200,000 words on one line.
python3 - <<'EOF'
import random
random.seed(11)
words = "the of and a to in is was he for it with as his on be at by".split()
with open("longtoken.txt", "w") as f:
    f.write("the start of it\n" + "x" * 1000000 + "\nthe end of it\n")
with open("longline.txt", "w") as f:
    f.write(" ".join(random.choice(words) for _ in range(200000)) + "\n")
    f.write("the end of it\n")
EOF
expect_ok "1,000,000-character token line: trains" \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o longtoken.arpa longtoken.txt
run "$SEQLM" ngram eval -m longtoken.arpa --json longtoken.txt
[ "$rc" -eq 0 ] && [ "$(json_field "$T/stdout" tokens)" = 12 ] &&
    [ "$(json_field "$T/stdout" oov)" = 0 ]
check "1,000,000-character token line: evaluates (12 tokens, 0 OOV)" $? \
    "stdout: $(head -c 300 "$T/stdout")"
expect_ok "1,000,000-character token line: converts to binary" \
    "$SEQLM" ngram convert longtoken.arpa longtoken.bin
expect_ok "200,000-word line: trains" \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o longline.bin longline.txt
run "$SEQLM" ngram eval -m longline.bin --json longline.txt
[ "$rc" -eq 0 ] && [ "$(json_field "$T/stdout" tokens)" = 200006 ]
check "200,000-word line: evaluates (200006 tokens)" $? "stdout: $(head -c 300 "$T/stdout")"

# --- output paths --------------------------------------------------------------------------

expect_error --no-output /nonexistent-dir/x.arpa \
    "-o /nonexistent-dir/x.arpa: input error naming the path" 1 /nonexistent-dir/x.arpa -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o /nonexistent-dir/x.arpa train.txt
expect_error --no-output /proc/x.arpa \
    "-o /proc/x.arpa (cannot create files there): input error naming the path" 1 /proc/x.arpa -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o /proc/x.arpa train.txt
expect_error --no-output "$T/train.txt/x.arpa" \
    "-o FILE/x.arpa (parent is a regular file): input error naming the path" 1 \
    "train.txt/x.arpa" -- \
    "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o "$T/train.txt/x.arpa" train.txt
expect_error --no-output /nonexistent-dir/x.bin \
    "convert to /nonexistent-dir/x.bin: input error naming the path" 1 /nonexistent-dir/x.bin -- \
    "$SEQLM" ngram convert lf.arpa /nonexistent-dir/x.bin
expect_error --no-output /nonexistent-dir/v.txt \
    "vocab -o /nonexistent-dir/v.txt: input error naming the path" 1 /nonexistent-dir/v.txt -- \
    "$SEQLM" vocab -o /nonexistent-dir/v.txt train.txt

# A write that fails half way (file size limit of 1 KiB, SIGXFSZ ignored so write() returns
# EFBIG): an error, and neither OUT nor its temporary file remains.
# size_limited CMD...: runs CMD with a 1 KiB file size limit and SIGXFSZ ignored.
size_limited() (
    trap '' XFSZ
    ulimit -f 1
    exec "$@"
)
for out in big.arpa big.arpa.gz big.bin; do
    expect_error --no-output "$out" \
        "write fails half way ($out, file size limit): input error, nothing left behind" 1 \
        "$out" -- size_limited "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o "$out" longline.txt
done

# An existing OUT is not clobbered by a failing train or convert.
for out in keep.arpa keep.bin; do
    echo "precious content" >"$out"
    run "$SEQLM" ngram train "${SMALL_FLAGS[@]}" -o "$out" badutf8.txt
    [ "$rc" -eq 1 ] && [ "$(cat "$out")" = "precious content" ] &&
        ! ls "$out".tmp.* >/dev/null 2>&1
    check "failing train does not clobber an existing $out" $? "content now: $(head -c 100 "$out")"
done
echo "precious content" >keep2.bin
python3 -c "import random; random.seed(5); open('garbled.arpa','wb').write(bytes(random.randrange(256) for _ in range(4096)))"
run "$SEQLM" ngram convert garbled.arpa keep2.bin
[ "$rc" -eq 1 ] && [ "$(cat keep2.bin)" = "precious content" ] &&
    ! ls keep2.bin.tmp.* >/dev/null 2>&1
check "failing convert does not clobber an existing OUT" $? "content now: $(head -c 100 keep2.bin)"
echo "precious content" >keep.vocab
run "$SEQLM" vocab -o keep.vocab nul.txt
[ "$rc" -eq 1 ] && [ "$(cat keep.vocab)" = "precious content" ]
check "failing vocab does not clobber an existing OUT" $? "content now: $(head -c 100 keep.vocab)"

# --- bad models and evaluation text --------------------------------------------------------

"$SEQLM" ngram convert lf.arpa lf.bin 2>/dev/null
arpa_lines=$(wc -l <lf.arpa)
head -n $((arpa_lines / 2)) lf.arpa >trunc.arpa
expect_error "truncated ARPA file: input error naming the file and a line" 1 trunc.arpa \
    line -- "$SEQLM" ngram eval -m trunc.arpa test.txt
head -c $(($(wc -c <lf.arpa) / 2)) lf.arpa >trunc2.arpa
expect_error "ARPA file cut mid-line: input error naming the file" 1 trunc2.arpa -- \
    "$SEQLM" ngram eval -m trunc2.arpa test.txt
gzip -c lf.arpa | head -c 600 >trunc.arpa.gz
expect_error "truncated gzipped ARPA file: input error naming the file" 1 trunc.arpa.gz -- \
    "$SEQLM" ngram eval -m trunc.arpa.gz test.txt
head -c $(($(wc -c <lf.bin) / 2)) lf.bin >trunc.bin
expect_error "truncated binary model: input error naming the file" 1 trunc.bin -- \
    "$SEQLM" ngram eval -m trunc.bin test.txt
expect_error "garbled ARPA (random bytes): input error naming the file" 1 garbled.arpa -- \
    "$SEQLM" ngram eval -m garbled.arpa test.txt
python3 -c "import random; random.seed(6); open('garbled2.arpa','wb').write(bytes(random.randrange(32, 127) for _ in range(4096)))"
expect_error "garbled ARPA (random printable text): input error naming the file" 1 \
    garbled2.arpa -- "$SEQLM" ngram eval -m garbled2.arpa test.txt
# A well-formed file with one line replaced by garbage: the message names that line.
awk '/^\\2-grams:/ { sec = 1; print; next } sec == 1 && n++ == 2 { print "garbage here"; next } { print }' \
    lf.arpa >garbled3.arpa
badline=$(grep -n '^garbage here$' garbled3.arpa | cut -d: -f1)
expect_error "ARPA with a garbage line: input error naming line $badline" 1 garbled3.arpa \
    "line $badline" -- "$SEQLM" ngram eval -m garbled3.arpa test.txt
sed 's/^ngram 2=\([0-9]*\)/ngram 2=9\1/' lf.arpa >badcount.arpa
expect_error "ARPA whose header count is wrong: input error naming the file" 1 badcount.arpa -- \
    "$SEQLM" ngram eval -m badcount.arpa test.txt
expect_error "binary model with a foreign header (a text file): input error" 1 -- \
    "$SEQLM" ngram eval -m train.txt test.txt
expect_error "nonexistent model: input error naming it" 1 nonexistent.arpa -- \
    "$SEQLM" ngram eval -m nonexistent.arpa test.txt
expect_error "sample from a nonexistent model: input error naming it" 1 nonexistent.arpa -- \
    "$SEQLM" ngram sample -m nonexistent.arpa
expect_error "sample from a garbled model: input error" 1 garbled.arpa -- \
    "$SEQLM" ngram sample -m garbled.arpa
expect_error --no-output conv.bin "convert a garbled model: input error, no output" 1 \
    garbled.arpa -- "$SEQLM" ngram convert garbled.arpa conv.bin
expect_error "eval on an empty text file: input error" 1 empty.txt -- \
    "$SEQLM" ngram eval -m lf.arpa empty.txt
expect_error "eval on a nonexistent text file: input error naming it" 1 nonexistent.txt -- \
    "$SEQLM" ngram eval -m lf.arpa nonexistent.txt
expect_error "eval on text with a NUL byte: input error naming line 2" 1 nul.txt "line 2" -- \
    "$SEQLM" ngram eval -m lf.arpa nul.txt

cli_finish
