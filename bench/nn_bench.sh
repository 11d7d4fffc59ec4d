#!/bin/sh
# Neural-core micro-benchmark (issue #3): one training step (forward + backward + clipping + SGD)
# of a 2-layer LSTM LM with a 10,000-word softmax (PTB's vocabulary), B=20, T=35, beside PyTorch
# 1.13 (../shared/bench/torch_lm.py on PTB) run in the same go with the same threads.
# usage: bench/nn_bench.sh [path/to/seqlm_bench_step] [shared-dir]
set -eu
STEP=${1:-build/seqlm_bench_step}
SHARED=${2:-$(dirname "$0")/../../shared}
THREADS=${THREADS:-2}
STEPS=${STEPS:-30}
TORCH_BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

printf '## one training step, 2-layer LSTM, V=10,000, batch 20, bptt 35, %s threads\n\n' "$THREADS"
echo "| model | seqlm ms/step | seqlm tokens/s | seqlm GFLOP/s | PyTorch tokens/s | ratio |"
echo "|---|---|---|---|---|---|"
for H in 200 650; do
    "$STEP" --cell lstm --layers 2 --emb "$H" --hidden "$H" --vocab 10000 --batch 20 --bptt 35 \
        --steps "$STEPS" --warmup 5 --threads "$THREADS" >"$WORK/ours.json"
    torch_tps=-
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null &&
        [ -f "$SHARED/bench/torch_lm.py" ]; then
        LD_LIBRARY_PATH=$TORCH_BLAS /usr/bin/python3 "$SHARED/bench/torch_lm.py" --data "$SHARED/data/ptb" \
            --model LSTM --nlayers 2 --emsize "$H" --nhid "$H" --batch 20 --bptt 35 \
            --max-steps "$STEPS" --warmup 5 --threads "$THREADS" >"$WORK/torch.log" 2>&1 || true
        torch_tps=$(sed -n 's/.*train throughput: .* = \([0-9]*\) tok\/s.*/\1/p' "$WORK/torch.log")
        [ -n "$torch_tps" ] || torch_tps=-
    fi
    /usr/bin/python3 - "$WORK/ours.json" "$torch_tps" "$H" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); t = sys.argv[2]; H = sys.argv[3]
ratio = f"{o['tokens_per_s'] / float(t):.2f}x" if t != "-" else "-"
print(f"| LSTM 2x{H} | {o['ms_per_step']:.1f} | {o['tokens_per_s']:.0f} | {o['gflops']:.1f} | {t} | {ratio} |")
PY
done
echo
echo "OpenBLAS SGEMM on this machine: about 205 GFLOP/s (issue #3); the goal is 85% of it."
