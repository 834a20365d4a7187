#!/usr/bin/env python3
"""tests/bench/jermp_infix.py -- the helper of tests/bench/jermp_infix.sh.

  jermp_infix.py filter QUERIES OUT            queries jermp can take -> OUT
  jermp_infix.py table DIR ROUNDS [TAG]        the side-by-side table
  jermp_infix.py check DIR SAMPLE              answers: brute force and agreement

filter: jermp splits a query on spaces, treats every term but the last as a
complete term and the last as a prefix; a query is kept when it is 1..64
terms joined by single spaces (no leading, trailing or double space) in at
most 120 bytes (MAX_NUM_CHARS_PER_QUERY is 128). Prints queries_kept and
queries_dropped (with why).

table: DIR/q.kept (the kept queries), DIR/qacTAGR.times and DIR/jermpTAGR.times
(R = 1..ROUNDS, TAG default empty; `words<TAB>best_ns<TAB>query`, each query's fastest of 3
passes), DIR/qac.answers and DIR/jermp.answers (results per query). Per
typed-word count (1..4, all) over the kept queries: each engine's median,
p99 (nearest rank) and mean of the per-query best times in each round, the
table giving the median of the rounds' figures.

check: DIR/corpus.tsv (the filtered corpus, in docid order = count desc,
then bytes), DIR/q.kept, DIR/qac.answers, DIR/jermp.answers. A brute force
over the corpus of BOTH semantics for SAMPLE queries (every 20000/SAMPLE-th):
  jermp (conjunctive_topk, autocomplete.hpp / autocomplete_common.hpp):
    every complete term found in its dictionary must be a term of the key
    (terms it does not know are ignored; repeats count once), and SOME term
    of the key must start with the last term (it may be one a complete term
    matched too); results by docid only (count desc, bytes).
  qac (trie_words.h): every complete word equals a word of the key, the last
    is a prefix of a word, each typed word a DIFFERENT word of the key;
    class 0 (the key starts with the typed text) first, then the rest; each
    by score desc, bytes.
and how many of each engine's answers equal its brute force (content and
order), and of the queries where the two semantics' top-10 sets differ, how
many differ only by qac's class-0-first order (the rest: its different-words
rule); then over ALL kept queries, how many queries get the same top-10 set
(and the same list) from both engines.
"""
import sys


def read_lines(path):
    with open(path, 'rb') as f:
        return [l.rstrip(b'\n') for l in f]


def cmd_filter(src, out):
    kept, why = 0, {}
    with open(src, 'rb') as f, open(out, 'wb') as g:
        for q in f:
            q = q.rstrip(b'\n')
            terms = q.split(b' ')
            r = None
            if not q:
                r = 'empty'
            elif b'' in terms:
                r = 'leading/trailing/double space'
            elif len(terms) > 64:
                r = 'over 64 terms'
            elif len(q) > 120:
                r = 'over 120 bytes'
            if r:
                why[r] = why.get(r, 0) + 1
                continue
            g.write(q + b'\n')
            kept += 1
    print('queries_kept %d count' % kept)
    print('queries_dropped %d count%s' % (sum(why.values()),
          ''.join(' (%s: %d)' % kv for kv in sorted(why.items()))))


def nearest(v, p):
    return v[min(len(v) - 1, int(len(v) * p))]


def stats(path, kept):
    """per class: (median, p99, mean) of the best ns of the kept queries"""
    by = {c: [] for c in ('all', '1w', '2w', '3w', '4w')}
    with open(path, 'rb') as f:
        for line in f:
            w, ns, q = line.rstrip(b'\n').split(b'\t', 2)
            if q not in kept:
                continue
            ns = int(ns)
            by['all'].append(ns)
            n = len(q.split(b' '))
            if 1 <= n <= 4:
                by['%dw' % n].append(ns)
    out = {}
    for c, v in by.items():
        if v:
            v.sort()
            out[c] = (len(v), v[len(v) // 2], nearest(v, 0.99), sum(v) / len(v))
    return out


def med(xs):
    xs = sorted(xs)
    return xs[(len(xs) - 1) // 2]


def results_per_class(path, queries):
    by = {}
    for q, a in zip(queries, read_lines(path)):
        n = len(q.split(b' '))
        for c in ('all', '%dw' % n):
            s = by.setdefault(c, [0, 0])
            s[0] += 1
            s[1] += len(a.split(b'\t')) if a else 0
    return {c: s[1] / s[0] for c, s in by.items()}


def cmd_table(d, rounds, tag=''):
    queries = read_lines(d + '/q.kept')
    kept = set(queries)
    rs = {e: [stats('%s/%s%s%d.times' % (d, e, tag, r), kept) for r in range(1, rounds + 1)]
          for e in ('qac', 'jermp')}
    res = {e: results_per_class('%s/%s.answers' % (d, e), queries) for e in ('qac', 'jermp')}
    for r in range(rounds):
        print('round %d: qac all median %d ns, jermp all median %d ns' %
              (r + 1, rs['qac'][r]['all'][1], rs['jermp'][r]['all'][1]))
    print()
    print('typed words anywhere, top 10, each query\'s fastest of 3 passes; median of %d rounds (us)'
          % rounds)
    print('%-5s %6s | %8s %8s %8s %6s | %8s %8s %8s %6s | %s' % (
        'words', 'n', 'qac_med', 'qac_p99', 'qac_mean', 'res/q',
        'jrm_med', 'jrm_p99', 'jrm_mean', 'res/q', 'jermp/qac median'))
    for c in ('1w', '2w', '3w', '4w', 'all'):
        if c not in rs['qac'][0]:
            continue
        row = {}
        for e in ('qac', 'jermp'):
            row[e] = [med([x[c][i] for x in rs[e]]) / 1e3 for i in (1, 2, 3)]
        print('%-5s %6d | %8.2f %8.2f %8.2f %6.2f | %8.2f %8.2f %8.2f %6.2f | %.2f' % (
            c, rs['qac'][0][c][0], *row['qac'], res['qac'].get(c, 0),
            *row['jermp'], res['jermp'].get(c, 0), row['jermp'][0] / row['qac'][0]))


def qac_match(kw, complete, last):
    """a matching of typed words to DIFFERENT key words (backtracking)"""
    used = [False] * len(kw)

    def go(i):
        if i == len(complete):
            for j, w in enumerate(kw):
                if not used[j] and w.startswith(last):
                    return True
            return False
        for j, w in enumerate(kw):
            if not used[j] and w == complete[i]:
                used[j] = True
                if go(i + 1):
                    return True
                used[j] = False
        return False
    return go(0)


def cmd_check(d, sample):
    queries = read_lines(d + '/q.kept')
    qa = read_lines(d + '/qac.answers')
    ja = read_lines(d + '/jermp.answers')
    assert len(qa) == len(queries) == len(ja), (len(qa), len(queries), len(ja))
    step = max(1, len(queries) // sample)
    picked = list(range(0, len(queries), step))[:sample]
    st = {}
    by_term, by_prefix = {}, {}
    for i in picked:
        ts = queries[i].split(b' ')
        s = {'complete': ts[:-1], 'cset': set(ts[:-1]), 'last': ts[-1], 'text': queries[i],
             'j': [], 'c0': [], 'c1': [], 'j0': [], 'j1': []}
        st[i] = s
        if ts[:-1]:
            by_term.setdefault(ts[0], []).append(i)
        else:
            by_prefix.setdefault(ts[-1], []).append(i)
    with open(d + '/corpus.tsv', 'rb') as f:
        for line in f:
            key = line[:line.rindex(b'\t')]
            kw = key.split(b' ')
            cand = set()
            for w in set(kw):
                for i in by_term.get(w, ()):
                    cand.add(i)
            if by_prefix:
                for w in kw:
                    for l in range(1, len(w) + 1):
                        for i in by_prefix.get(w[:l], ()):
                            cand.add(i)
            for i in cand:
                s = st[i]
                kset = set(kw)
                if not s['cset'] <= kset or not any(w.startswith(s['last']) for w in kw):
                    continue
                if len(s['j']) < 10:
                    s['j'].append(key)
                c0 = key.startswith(s['text'])
                jl = s['j0'] if c0 else s['j1']
                if len(jl) < 10:
                    jl.append(key)
                if qac_match(kw, s['complete'], s['last']):
                    if c0:
                        if len(s['c0']) < 10:
                            s['c0'].append(key)
                    elif len(s['c1']) < 10:
                        s['c1'].append(key)
    ok_j = ok_q = same_brute = only_order = 0
    bad = []
    for i, s in st.items():
        bj = s['j']
        bq = (s['c0'] + s['c1'])[:10]
        gj = ja[i].split(b'\t') if ja[i] else []
        gq = qa[i].split(b'\t') if qa[i] else []
        ok_j += gj == bj
        ok_q += gq == bq
        same_brute += set(bj) == set(bq)
        if set(bj) != set(bq):
            only_order += set((s['j0'] + s['j1'])[:10]) == set(bq)
        if gj != bj or gq != bq:
            bad.append((s['text'], gj == bj, gq == bq))
    n = len(st)
    print('check_sample %d queries (every %d-th kept query)' % (n, step))
    print('check_jermp_equals_brute %d of %d (its answers = a brute force of its semantics, content and order)'
          % (ok_j, n))
    print('check_qac_equals_brute %d of %d (qac\'s answers = a brute force of its semantics)' % (ok_q, n))
    print('check_brute_same_set %d of %d (the two semantics\' brute-force top-10 sets agree)' % (same_brute, n))
    print('check_differ_by_order %d of %d (where the sets differ: the same set once jermp\'s matches put class 0 '
          'first, so only the order differs)' % (only_order, n - same_brute))
    print('check_differ_by_words %d of %d (the rest: qac\'s different-words rule changes the matches)'
          % (n - same_brute - only_order, n - same_brute))
    for t, j, q in bad[:5]:
        print('  differs from brute force: %r jermp_ok=%s qac_ok=%s' % (t.decode(errors='replace'), j, q))
    by = {}
    for q, a, b in zip(queries, qa, ja):
        n = len(q.split(b' '))
        for c in ('all', '%dw' % n):
            s = by.setdefault(c, [0, 0, 0])
            s[0] += 1
            sa = a.split(b'\t') if a else []
            sb = b.split(b'\t') if b else []
            s[1] += set(sa) == set(sb)
            s[2] += sa == sb
    for c in ('1w', '2w', '3w', '4w', 'all'):
        if c in by:
            s = by[c]
            print('agree_%s same top-10 set %d of %d (%.1f%%), same list %d' %
                  (c, s[1], s[0], 100.0 * s[1] / s[0], s[2]))


def main():
    a = sys.argv
    if len(a) == 4 and a[1] == 'filter':
        cmd_filter(a[2], a[3])
    elif len(a) in (4, 5) and a[1] == 'table':
        cmd_table(a[2], int(a[3]), a[4] if len(a) == 5 else '')
    elif len(a) == 4 and a[1] == 'check':
        cmd_check(a[2], int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
