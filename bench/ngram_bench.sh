#!/bin/sh
# n-gram benchmark: estimation time and peak memory, evaluation throughput.
# usage: bench/ngram_bench.sh [path/to/seqlm] [shared-data-dir]
# Prints a Markdown table. KenLM is not installable here (not in Debian), so its figures are the
# ones measured on this machine for issue #2 and are printed for scale, marked as such.
set -eu
SEQLM=${1:-build/seqlm}
DATA=${2:-$(dirname "$0")/../../shared/data}
THREADS=${OMP_NUM_THREADS:-$(nproc)}
export OMP_NUM_THREADS=$THREADS
if [ ! -f "$DATA/brown/brown.train.txt" ]; then
    echo "SKIP: $DATA/brown not found (the benchmark needs ../shared/data)"
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# measure NAME CMD...: runs CMD once, records wall seconds and peak RSS (MiB)
measure() {
    name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
        echo "bench: '$*' failed:" >&2
        cat "$WORK/err" >&2
        exit 1
    }
    read -r secs kb <"$WORK/time"
    echo "$name $secs $((kb / 1024))" >>"$WORK/results"
}

for i in 1 2 3 4 5 6 7 8 9 10; do cat "$DATA/ptb/ptb.train.txt"; done >"$WORK/ptb10.txt"
for i in 1 2 3 4 5 6 7 8 9 10; do cat "$DATA/brown/brown.test.txt"; done >"$WORK/brown-test10.txt"

measure brown_arpa "$SEQLM" ngram train --order 5 -q -o "$WORK/brown5.arpa" "$DATA/brown/brown.train.txt"
measure brown_bin "$SEQLM" ngram train --order 5 -q -o "$WORK/brown5.bin" "$DATA/brown/brown.train.txt"
measure ptb10_arpa "$SEQLM" ngram train --order 5 -q -o "$WORK/ptb5.arpa" "$WORK/ptb10.txt"

measure eval_arpa "$SEQLM" ngram eval --json -m "$WORK/brown5.arpa" "$WORK/brown-test10.txt"
arpa_json=$(cat "$WORK/out")
measure eval_bin "$SEQLM" ngram eval --json -m "$WORK/brown5.bin" "$WORK/brown-test10.txt"
bin_json=$(cat "$WORK/out")

python3 - "$WORK/results" "$arpa_json" "$bin_json" "$THREADS" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    name, secs, mib = line.split()
    rows[name] = (float(secs), int(mib))
arpa, binj, threads = json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
ken = {"brown_arpa": (1.44, 226)}
print(f"## n-gram benchmark ({threads} threads)\n")
print("| task | seqlm s | seqlm peak MiB | KenLM s (issue #2, this machine) | KenLM MiB | time ratio KenLM/seqlm |")
print("|---|---|---|---|---|---|")
names = {"brown_arpa": "order-5 mkn, Brown train -> ARPA",
         "brown_bin": "order-5 mkn, Brown train -> binary",
         "ptb10_arpa": "order-5 mkn, PTB train x10 (9.3M tokens) -> ARPA"}
for k, label in names.items():
    s, m = rows[k]
    ks, km = ken.get(k, (None, None))
    ratio = f"{ks / s:.2f}x" if ks else "-"
    print(f"| {label} | {s:.2f} | {m} | {ks if ks else '-'} | {km if km else '-'} | {ratio} |")
print()
print("| evaluation (Brown test x10, %d tokens) | load s | eval s | tokens/s (eval) | tokens/s end to end | KenLM tokens/s |" % arpa["tokens"])
print("|---|---|---|---|---|---|")
for label, j, k, kq in (("from ARPA", arpa, "eval_arpa", "2.3M (end to end)"), ("from binary", binj, "eval_bin", "5.7M")):
    total = rows[k][0]
    print(f"| {label} | {j['load_seconds']:.3f} | {j['eval_seconds']:.3f} | {j['tokens_per_s']/1e6:.2f}M | {j['tokens']/total/1e6:.2f}M | {kq} |")
print(f"\nperplexity of Brown test x10 under the Brown order-5 model: {arpa['perplexity']:.2f} (ARPA), {binj['perplexity']:.2f} (binary)")
PY
