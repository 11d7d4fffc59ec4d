#!/usr/bin/env python3
"""Compare two ARPA files n-gram by n-gram: counts, max |difference| of log10 prob and backoff.

usage: arpa_diff.py A.arpa[.gz] B.arpa[.gz]   (exit 1 if the n-gram sets differ)
<s>'s unigram probability is ignored (KenLM writes 0, SRILM and seqlm -99)."""
import gzip, sys

def read(path):
    op = gzip.open if path.endswith('.gz') else open
    grams, n = {}, 0
    with op(path, 'rt', encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if line.startswith('\\') and line.endswith('-grams:'):
                n = int(line[1:line.index('-')]); continue
            if n == 0 or not line or line.startswith('\\'):
                continue
            parts = line.split('\t')
            bo = float(parts[2]) if len(parts) > 2 else 0.0
            grams[parts[1]] = (float(parts[0]), bo)
    return grams

a, b = read(sys.argv[1]), read(sys.argv[2])
only_a = set(a) - set(b); only_b = set(b) - set(a)
print(f"n-grams: {len(a)} vs {len(b)}; only in first {len(only_a)}, only in second {len(only_b)}")
for k in list(only_a)[:5]: print("  only first:", k)
for k in list(only_b)[:5]: print("  only second:", k)
dp = db = 0.0; worst = None
for k in set(a) & set(b):
    if k == '<s>':
        d = 0
    else:
        d = abs(a[k][0] - b[k][0])
    if d > dp: dp, worst = d, k
    db = max(db, abs(a[k][1] - b[k][1]))
print(f"max |d log10 p| = {dp:.3g} (at {worst!r}: {a.get(worst)} vs {b.get(worst)}); max |d log10 bo| = {db:.3g}")
sys.exit(1 if only_a or only_b else 0)
