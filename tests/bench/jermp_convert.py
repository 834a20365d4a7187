#!/usr/bin/env python3
"""tests/bench/jermp_convert.py CORPUS.tsv OUTDIR [PREFIXES.txt]

qac's corpus (`query<TAB>count`) to jermp/autocomplete's input files, for
tests/bench/jermp.sh (prefix top-10) and tests/bench/jermp_infix.sh
(conjunctive top-10). Writes in OUTDIR:
  - corpus.tsv: the kept lines, by count desc then bytes (the copy BOTH
    engines index). jermp indexes space-separated terms; a query is kept only
    if it is its terms joined by single spaces, has <= 64 terms and <= 120
    bytes (its MAX_NUM_CHARS_PER_QUERY is 128, MAX_NUM_TERMS_PER_QUERY 64);
  - c, c.dict, c.mapped, c.mapped.stats, c.inverted, c.forward: the formats
    of its test_data/*.py; docid = rank in corpus.tsv (0 = most popular),
    which is jermp's "ids sorted by score";
  - with PREFIXES: prefixes.txt, those jermp can take (no leading space, no
    double space, <= 120 bytes).
Prints `name value unit` lines: corpus_kept, corpus_dropped, terms, levels
(and prefixes_kept, prefixes_dropped).
"""
import sys
corpus, out = sys.argv[1], sys.argv[2]
prefixes = sys.argv[3] if len(sys.argv) > 3 else None
MAX_BYTES, MAX_TERMS = 120, 64
rows, dropped = [], 0
with open(corpus, 'rb') as f:
    for line in f:
        line = line.rstrip(b'\n')
        q, sep, c = line.rpartition(b'\t')
        if not sep or not q:
            dropped += 1; continue
        try:
            c = int(c)
        except ValueError:
            dropped += 1; continue
        terms = q.split(b' ')
        if (b'' in terms or len(terms) > MAX_TERMS or len(q) > MAX_BYTES
                or any(ch in q for ch in b'\r\v\f\x00')):
            dropped += 1; continue
        rows.append((q, c, terms))
rows.sort(key=lambda r: (-r[1], r[0]))             # docid = rank by count
with open(out + '/corpus.tsv', 'wb') as f:
    for q, c, _ in rows:
        f.write(q + b'\t' + str(c).encode() + b'\n')
vocab = sorted({t for _, _, ts in rows for t in ts})
tid = {t: i + 1 for i, t in enumerate(vocab)}     # 0 = terminator
with open(out + '/c.dict', 'wb') as f:
    f.write(b'\n'.join(vocab) + b'\n')
mapped = [(tuple(tid[t] for t in ts), d) for d, (_, _, ts) in enumerate(rows)]
lex = sorted(mapped)                               # term-id (= lexicographic) order
max_len, nodes, prev = 0, {}, ()
with open(out + '/c.mapped', 'w') as f, open(out + '/c', 'wb') as g:
    for ids, d in lex:
        f.write(str(d) + ' ' + ' '.join(map(str, ids)) + ' 0\n')
        g.write(str(d).encode() + b' ' + b' '.join(vocab[i - 1] for i in ids) + b'\n')
        max_len = max(max_len, sum(len(vocab[i - 1]) for i in ids))
        q = ids + (0,)
        l = 0
        while l < len(q) and l < len(prev) and q[l] == prev[l]:
            l += 1
        for lv in range(l, len(q)):
            nodes[lv] = nodes.get(lv, 0) + 1
        prev = q
n = len(rows)
with open(out + '/c.mapped.stats', 'w') as f:
    f.write('%d\n%d\n%d\n%d\n%d\n' % (len(vocab), max_len, n, n, len(nodes)))
    for lv in sorted(nodes):
        f.write('%d\n' % nodes[lv])
inv = [[] for _ in range(len(vocab) + 1)]
with open(out + '/c.forward', 'w') as f:
    for d, (_, _, ts) in enumerate(rows):
        ids = [tid[t] for t in ts]
        for i in set(ids):
            inv[i].append(d)
        f.write(str(len(ids)) + ' ' + ' '.join(map(str, ids)) + '\n')
with open(out + '/c.inverted', 'w') as f:
    for i in range(1, len(vocab) + 1):
        f.write(str(len(inv[i])) + ' ' + ' '.join(map(str, inv[i])) + '\n')
print('corpus_kept %d count\ncorpus_dropped %d count\nterms %d count\nlevels %d count'
      % (n, dropped, len(vocab), len(nodes)))
if prefixes:
    kept = pdrop = 0
    with open(prefixes, 'rb') as f, open(out + '/prefixes.txt', 'wb') as g:
        for p in f:
            p = p.rstrip(b'\n')
            if not p or p.startswith(b' ') or b'  ' in p or len(p) > MAX_BYTES:
                pdrop += 1; continue
            g.write(p + b'\n'); kept += 1
    print('prefixes_kept %d count\nprefixes_dropped %d count' % (kept, pdrop))
