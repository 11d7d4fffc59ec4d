#!/usr/bin/env bash
# cli_sample.sh - `seqlm sample` end to end, for neural and n-gram models.
#
# usage: bash tests/cli_sample.sh /abs/path/to/seqlm [shared-data-dir]
#
# Neural models: the tiny random-weight models in tests/golden/lm_tiny_{word,char}.safetensors
# (written by `SEQLM_WRITE_GOLDEN=1 tests/test_generate`). Checks: a fixed seed gives byte-identical
# output and another seed different output; --count gives that many lines (word) or blank-line
# separated blocks (char); words come from the vocabulary; --greedy is repeatable and equals
# --top-k 1; --beam and --prime work; --length caps the words; the output is valid UTF-8.
# n-gram models: a tiny ARPA and binary trained here with `seqlm ngram train`; `seqlm sample`
# gives the same bytes as `seqlm ngram sample` for the same seed; options n-gram models lack are
# usage errors. Bad flags exit 2, bad model files 1, with one "seqlm: error:" line.
# Each check prints PASS or FAIL (or SKIP); the last line is "N passed, M failed" and the exit
# status is non-zero when anything failed.
set -u

. "$(dirname "$0")/clilib.sh" || exit 1
cli_require python3
WORD=$GOLDEN/lm_tiny_word.safetensors
CHAR=$GOLDEN/lm_tiny_char.safetensors

cli_tmpdir cli-sample

# Every failing command's stderr is the one error line (and warnings) only.
CLI_ERROR_ALONE=1

# --- neural models -------------------------------------------------------------------------

if [ ! -f "$WORD" ] || [ ! -f "$CHAR" ]; then
    echo "FAIL: $WORD or $CHAR is missing (SEQLM_WRITE_GOLDEN=1 tests/test_generate writes them)"
    nfail=$((nfail + 1))
else
    runq a.txt "$SEQLM" sample -m "$WORD" --count 5 --seed 3
    runq b.txt "$SEQLM" sample -m "$WORD" --count 5 --seed 3
    [ $rc -eq 0 ] && cmp -s a.txt b.txt
    check "word model: two runs with --seed 3 are byte-identical" $?
    [ "$(wc -l <a.txt)" -eq 5 ]
    check "word model: --count 5 gives 5 lines" $? "got $(wc -l <a.txt) lines"
    runq c.txt "$SEQLM" sample -m "$WORD" --count 5 --seed 4
    ! cmp -s a.txt c.txt
    check "word model: another seed, other text" $?
    # Every word is in the model's vocabulary (the test's word list).
    python3 - a.txt <<'EOF'
import sys
vocab = set("the cat sat on a mat dog ran to house big small red blue and it was very happy .".split())
bad = [w for line in open(sys.argv[1]) for w in line.split() if w not in vocab]
sys.exit(1 if bad else 0)
EOF
    check "word model: only vocabulary words, never <unk> or <s>" $?

    runq g1.txt "$SEQLM" sample -m "$WORD" --greedy --count 3
    runq g2.txt "$SEQLM" sample -m "$WORD" --greedy --count 3 --seed 99
    cmp -s g1.txt g2.txt && [ "$(sort -u g1.txt | wc -l)" -eq 1 ] && [ "$(wc -l <g1.txt)" -eq 3 ]
    check "--greedy: identical lines whatever the seed" $?
    runq k1.txt "$SEQLM" sample -m "$WORD" --top-k 1 --count 3 --seed 5
    cmp -s g1.txt k1.txt
    check "--top-k 1 equals --greedy" $?
    runq p1.txt "$SEQLM" sample -m "$WORD" --top-p 0.000001 --count 3 --seed 6
    cmp -s g1.txt p1.txt
    check "--top-p 1e-6 equals --greedy" $?
    runq t1.txt "$SEQLM" sample -m "$WORD" --top-k 5 --top-p 0.9 --temperature 0.7 --count 4 --seed 2
    runq t2.txt "$SEQLM" sample -m "$WORD" --top-k 5 --top-p 0.9 --temperature 0.7 --count 4 --seed 2
    [ $rc -eq 0 ] && cmp -s t1.txt t2.txt && [ "$(wc -l <t1.txt)" -eq 4 ]
    check "--top-k, --top-p, --temperature together: reproducible" $?

    runq beam.txt "$SEQLM" sample -m "$WORD" --beam 4 --length-penalty 0.7 --length 12
    [ $rc -eq 0 ] && [ "$(wc -l <beam.txt)" -eq 1 ] && [ "$(wc -w <beam.txt)" -le 12 ]
    check "--beam 4: one line of at most --length words" $? "output: $(head -c 200 beam.txt)"
    runq b1.txt "$SEQLM" sample -m "$WORD" --beam 1
    cmp -s b1.txt <(head -n 1 g1.txt)
    check "--beam 1 equals --greedy" $?

    runq len.txt "$SEQLM" sample -m "$WORD" --count 20 --length 3 --seed 8
    [ $rc -eq 0 ] && awk 'NF > 3 { bad = 1 } END { exit bad }' len.txt && [ "$(wc -l <len.txt)" -eq 20 ]
    check "--length 3: at most 3 words per line" $?

    runq pr.txt "$SEQLM" sample -m "$WORD" --prime "the big dog" --greedy
    runq pr2.txt "$SEQLM" sample -m "$WORD" --greedy
    [ $rc -eq 0 ] && grep -q '^the big dog' pr.txt && ! cmp -s <(sed 's/^the big dog *//' pr.txt) pr2.txt
    check "--prime: printed first, changes the continuation" $? "output: $(head -c 200 pr.txt)"

    runq ch1.txt "$SEQLM" sample -m "$CHAR" --count 3 --length 40 --seed 11
    runq ch2.txt "$SEQLM" sample -m "$CHAR" --count 3 --length 40 --seed 11
    cmp -s ch1.txt ch2.txt
    check "char model: same seed, same bytes" $?
    # Three blocks, each ended by a blank line.
    python3 - ch1.txt <<'EOF'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = text.split("\n\n")
sys.exit(0 if text.endswith("\n\n") and len(blocks) == 4 and blocks[-1] == "" else 1)
EOF
    check "char model: --count 3 gives 3 blocks separated by blank lines" $?
    valid_utf8 ch1.txt
    check "char model: valid UTF-8" $?
    runq chg.txt "$SEQLM" sample -m "$CHAR" --greedy --prime "the " --length 20
    [ $rc -eq 0 ] && head -n 1 chg.txt | grep -q '^the '
    check "char model: --greedy --prime" $?
    runq thr.txt "$SEQLM" sample -m "$CHAR" --count 3 --length 40 --seed 11 --threads 1
    cmp -s ch1.txt thr.txt
    check "--threads 1 gives the same bytes" $?
fi

# --- n-gram models -------------------------------------------------------------------------

cat >train.txt <<'EOF'
the cat sat on the mat .
the dog ran to the house .
a big dog sat on a small mat .
the red cat and the blue dog were very happy .
it was a big house and it was red .
the small cat ran to the big dog .
EOF
if runq /dev/null "$SEQLM" ngram train --order 3 -q -o tiny.arpa train.txt &&
    runq /dev/null "$SEQLM" ngram convert tiny.arpa tiny.bin; then
    pass "n-gram: trained tiny.arpa and tiny.bin"
    for m in tiny.arpa tiny.bin; do
        runq n1.txt "$SEQLM" sample -m $m --count 6 --seed 9
        runq n2.txt "$SEQLM" ngram sample -m $m --count 6 --seed 9
        [ $rc -eq 0 ] && [ "$(wc -l <n1.txt)" -eq 6 ] && cmp -s n1.txt n2.txt
        check "n-gram $m: 'sample' equals 'ngram sample' for the same seed" $?
    done
    runq n3.txt "$SEQLM" sample -m tiny.arpa --count 6 --seed 9 --temperature 0.5
    runq n4.txt "$SEQLM" sample -m tiny.arpa --count 6 --seed 9 --temperature 0.5
    [ $rc -eq 0 ] && cmp -s n3.txt n4.txt
    check "n-gram: --temperature, reproducible" $?
    for opt in "--top-k 3" "--top-p 0.5" "--beam 2" "--greedy" "--prime the"; do
        # shellcheck disable=SC2086
        expect_error "n-gram: $opt is a usage error" 2 "not supported for n-gram models" -- \
            "$SEQLM" sample -m tiny.arpa $opt
    done
    if runq /dev/null "$SEQLM" ngram train --order 4 --unit char -q -o char.arpa train.txt; then
        runq nc.txt "$SEQLM" sample -m char.arpa --count 3 --seed 1
        python3 -c 'import sys; t = open(sys.argv[1], encoding="utf-8").read(); sys.exit(0 if t.count("\n\n") == 3 and t.endswith("\n\n") else 1)' nc.txt
        check "n-gram char model: 3 blocks separated by blank lines" $?
    else
        fail "n-gram: training a char model"
    fi
else
    fail "n-gram: training tiny.arpa"
fi

# --- errors --------------------------------------------------------------------------------

M=${WORD}
expect_error "unknown flag: usage error" 2 -- "$SEQLM" sample -m "$M" --frobnicate
expect_error "missing -m: usage error" 2 -- "$SEQLM" sample --count 2
expect_error "--temperature 0: usage error" 2 -- "$SEQLM" sample -m "$M" --temperature 0
expect_error "--temperature -1: usage error" 2 -- "$SEQLM" sample -m "$M" --temperature -1
expect_error "--top-p 0: usage error" 2 -- "$SEQLM" sample -m "$M" --top-p 0
expect_error "--top-p 1.5: usage error" 2 -- "$SEQLM" sample -m "$M" --top-p 1.5
expect_error "--top-k -1: usage error" 2 -- "$SEQLM" sample -m "$M" --top-k -1
expect_error "--beam with --greedy: usage error" 2 -- "$SEQLM" sample -m "$M" --beam 2 --greedy
expect_error "--beam 0: usage error" 2 -- "$SEQLM" sample -m "$M" --beam 0
expect_error "--length 0: usage error" 2 -- "$SEQLM" sample -m "$M" --length 0
expect_error "--count x: usage error" 2 -- "$SEQLM" sample -m "$M" --count x
expect_error "an extra argument: usage error" 2 -- "$SEQLM" sample -m "$M" extra
expect_error "nonexistent model: input error" 1 nonexistent.safetensors -- \
    "$SEQLM" sample -m nonexistent.safetensors
printf 'this is not a model\n' >garbage.bin
expect_error "garbage model: input error" 1 -- "$SEQLM" sample -m garbage.bin
# A safetensors file that is not a language model.
if [ -f "$GOLDEN/layers_linear.safetensors" ]; then
    expect_error "a safetensors file without seqlm.config: input error" 1 -- \
        "$SEQLM" sample -m "$GOLDEN/layers_linear.safetensors"
fi
# A truncated model file.
if [ -f "$WORD" ]; then
    head -c 2000 "$WORD" >trunc.safetensors
    expect_error "truncated model: input error" 1 -- "$SEQLM" sample -m trunc.safetensors
fi
runq help.txt "$SEQLM" sample --help
[ $rc -eq 0 ] && grep -q 'usage: seqlm sample' help.txt
check "--help: usage on stdout, exit 0" $?

cli_finish
