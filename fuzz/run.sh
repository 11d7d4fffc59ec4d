#!/bin/sh
# fuzz/run.sh - builds the libFuzzer targets (fuzz/fuzz_*.c) with clang and runs each a while.
#
# usage: sh fuzz/run.sh [TARGET...]      TARGET: text, arpa, ... (default: every fuzz/fuzz_*.c)
#
# environment:
#   FUZZ_SECONDS     seconds per target (default 180)
#   FUZZ_CC          the compiler (default clang; needs -fsanitize=fuzzer)
#   FUZZ_BUILD_ONLY  1: build and seed, do not run
#   FUZZ_OPTS        more libFuzzer flags, e.g. "-jobs=4 -workers=4" or "-max_len=1000"
#   FUZZ_LIBS        compiler flags for the libraries (default: OpenBLAS, cJSON, zlib via
#                    pkg-config, and libm)
#
# Everything goes under build-fuzz/: the binaries (each target linked with every library source
# under src/, with AddressSanitizer and UndefinedBehaviorSanitizer; OpenMP pragmas are ignored;
# the line reader reads 16 bytes at a time, so that lines span reads),
# seeds/<target>/ (remade on each run from tests/data, data/, the shared corpora beside the
# repository and small models written by build/seqlm when it exists), corpus/<target>/ (what
# the fuzzer found interesting; kept between runs, so each run starts where the last stopped)
# and artifacts/ (inputs that crashed, leaked or hung). Reproduce one with
#   build-fuzz/fuzz_text build-fuzz/artifacts/fuzz_text-crash-...
# The exit status is non-zero when a target does not build or its fuzzer finds a problem.
# This script is not a regression test: `make check` is.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build-fuzz
CC=${FUZZ_CC:-clang}
SECONDS_EACH=${FUZZ_SECONDS:-180}
SHARED=$ROOT/../shared/data
SEQLM=$ROOT/build/seqlm
cd "$ROOT" || exit 1

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz/run.sh: $CC not found (libFuzzer needs clang; set FUZZ_CC)" >&2
    exit 1
fi

targets=""
if [ $# -gt 0 ]; then
    for t in "$@"; do
        t=${t#fuzz_}
        t=${t%.c}
        if [ ! -f "fuzz/fuzz_$t.c" ]; then
            echo "fuzz/run.sh: no target fuzz/fuzz_$t.c" >&2
            exit 2
        fi
        targets="$targets fuzz/fuzz_$t.c"
    done
else
    targets=$(ls fuzz/fuzz_*.c)
fi

mkdir -p "$OUT/artifacts" "$OUT/corpus"

# --- seeds ----------------------------------------------------------------------------------

# seed_text DIR: text and vocabulary files, plain and gzipped, odd ones included.
seed_text() {
    d=$1
    printf 'the cat sat on the mat .\nthe dog sat on the log .\n' >"$d/plain.txt"
    printf 'the cat sat\r\non the mat\r\n' >"$d/crlf.txt"
    printf 'no final newline' >"$d/nonl.txt"
    printf '\n\n  \t \n' >"$d/blank.txt"
    printf '안녕하세요 반갑습니다\n오늘 날씨가 좋네요 🙂\n' >"$d/korean.txt"
    printf 'caf\351 na\357ve\n\300\200 overlong\n\355\240\200 surrogate\n' >"$d/latin1.txt"
    printf 'before\000after\n' >"$d/nul.txt"
    printf 'a <s> b </s> <unk>\n' >"$d/specials.txt"
    printf '<unk>\t0\n<s>\t0\n</s>\t2\nthe\t4\ncat\t1\n' >"$d/vocab.txt"
    printf '<unk>\t0\n<s>\t0\n</s>\t2\nthe\t4\nthe\t1\n' >"$d/vocab-dup.txt"
    printf '<unk>\t0\n<s>\t0\n</s>\t2\n<sp>\t3\n<0x0a>\t1\n' >"$d/vocab-char.txt"
    gzip -c "$d/plain.txt" >"$d/plain.txt.gz"
    gzip -c "$d/korean.txt" | head -c 40 >"$d/truncated.gz"
    head -c 3000 data/tinyshakespeare.txt >"$d/shakespeare.txt" 2>/dev/null
    for f in brown/brown.train.txt ptb/ptb.valid.txt nsmc/ratings_test.txt \
        rt-polarity/rt-polarity.pos conll2003/valid.txt; do
        [ -f "$SHARED/$f" ] && head -n 15 "$SHARED/$f" >"$d/$(basename "$f")"
    done
    if [ -x "$SEQLM" ]; then
        "$SEQLM" vocab -o "$d/vocab-word.vocab" "$d/plain.txt" 2>/dev/null
        "$SEQLM" vocab --unit char -o "$d/vocab-korean.vocab" "$d/korean.txt" 2>/dev/null
        "$SEQLM" vocab --unit byte -o "$d/vocab-byte.vocab" "$d/latin1.txt" 2>/dev/null
    fi
}

# seed_models DIR: small ARPA (plain, gzipped) and binary models, hand-written and trained.
seed_models() {
    d=$1
    cat >"$d/hand.arpa" <<'EOF'
\data\
ngram 1=5
ngram 2=3

\1-grams:
-1.0	<unk>	0
-99	<s>	-0.30103
-0.69897	</s>	0
-0.69897	the	-0.2
-0.69897	cat

\2-grams:
-0.3	<s> the
-0.2	the cat
-0.1	cat </s>

\end\
EOF
    for f in tests/data/*.arpa tests/data/*.arpa.gz; do
        [ -f "$f" ] && cp "$f" "$d/"
    done
    [ -x "$SEQLM" ] || return 0
    printf 'the cat sat on the mat .\nthe dog sat on the log .\nthe cat saw the dog .\n' \
        >"$OUT/seed-train.txt"
    printf '안녕하세요 반갑습니다\n오늘 날씨가 좋네요\n' >"$OUT/seed-korean.txt"
    for s in mkn katz wb add mle; do
        for n in 1 2 3; do
            "$SEQLM" ngram train -q --order $n --smoothing $s -o "$d/w-$s-$n.arpa" \
                "$OUT/seed-train.txt" 2>/dev/null
        done
    done
    "$SEQLM" ngram train -q --order 3 -o "$d/w.arpa.gz" "$OUT/seed-train.txt" 2>/dev/null
    "$SEQLM" ngram train -q --order 2 -o "$d/w2.bin" "$OUT/seed-train.txt" 2>/dev/null
    "$SEQLM" ngram train -q --order 3 -o "$d/w3.bin" "$OUT/seed-train.txt" 2>/dev/null
    "$SEQLM" ngram train -q --order 2 --unit char -o "$d/c.arpa" "$OUT/seed-korean.txt" 2>/dev/null
    "$SEQLM" ngram train -q --order 2 --unit byte -o "$d/b.bin" "$OUT/seed-korean.txt" 2>/dev/null
    head -n 200 data/tinyshakespeare.txt >"$OUT/seed-shakespeare.txt" 2>/dev/null &&
        "$SEQLM" ngram train -q --order 3 --prune 0,1 -o "$d/pruned.arpa" \
            "$OUT/seed-shakespeare.txt" 2>/dev/null
    return 0
}

write_arpa_dict() {
    cat >"$1" <<'EOF'
"\\data\\"
"ngram 1="
"ngram 2="
"ngram 3="
"\\1-grams:"
"\\2-grams:"
"\\3-grams:"
"\\end\\"
"<s>"
"</s>"
"<unk>"
"-99"
"\x09"
"SEQLMNG\x01"
EOF
}

# --- build and run --------------------------------------------------------------------------

SRCS=$(ls src/*/*.c)
# What the library links (CMakeLists.txt): CBLAS (OpenBLAS), cJSON, zlib, libm; found through
# pkg-config, with plain -l flags as the fallback.
deps() {
    for pair in openblas:-lopenblas libcjson:-lcjson zlib:-lz; do
        pkg=${pair%%:*}
        pkg-config --cflags --libs "$pkg" 2>/dev/null || echo "${pair#*:}"
    done
    echo -lm
}
LIBS=${FUZZ_LIBS:-$(deps | tr '\n' ' ')}
failed=""
for t in $targets; do
    name=$(basename "$t" .c)
    bin=$OUT/$name
    echo "== $name: building"
    # shellcheck disable=SC2086 # SRCS and LIBS are lists of words
    if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -std=c11 -D_POSIX_C_SOURCE=200809L -DSEQLM_READ_CHUNK=16 -Wall -Wextra -Wno-unknown-pragmas \
        -Iinclude -Isrc "$t" $SRCS $LIBS -o "$bin"; then
        echo "== $name: build FAILED"
        failed="$failed $name(build)"
        continue
    fi
    seeds=$OUT/seeds/$name
    rm -rf "$seeds"
    mkdir -p "$seeds" "$OUT/corpus/$name"
    dict=""
    case $name in
    *arpa* | *model* | *ngram*)
        seed_models "$seeds"
        write_arpa_dict "$OUT/arpa.dict"
        dict=-dict=$OUT/arpa.dict
        ;;
    *safetensors*) cp tests/golden/*.safetensors "$seeds"/ 2>/dev/null || seed_text "$seeds" ;;
    *) seed_text "$seeds" ;;
    esac
    echo "== $name: $(ls "$seeds" | wc -l) seeds, $(ls "$OUT/corpus/$name" | wc -l) corpus entries"
    [ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && continue
    echo "== $name: fuzzing for $SECONDS_EACH s"
    # shellcheck disable=SC2086 # FUZZ_OPTS and dict are lists of flags
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$name-" $dict ${FUZZ_OPTS:-} \
        "$OUT/corpus/$name" "$seeds"
    st=$?
    if [ $st -ne 0 ]; then
        echo "== $name: FOUND A PROBLEM (exit $st); inputs in $OUT/artifacts/"
        failed="$failed $name"
    else
        echo "== $name: nothing found"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz/run.sh: failed:$failed"
    exit 1
fi
echo "fuzz/run.sh: all targets ran clean"
