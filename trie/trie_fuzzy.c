/* trie_fuzzy.c -- typo-tolerant top-k: the keys within maxd (<= 2) edits of
 * a typed prefix, exact ones first (contract: trie_fuzzy.h).
 *
 * FILES: this one (the walk of phase 2, its pruning, phase 1 and the
 * top-k); trie_fuzzy_probe.h (a child's tests before the walk enters it:
 * the filter words, fz_det's continuations of a spent path, the probes
 * and plans with their records and memos; included here only, so one
 * translation unit as before: the same machine code); trie_fuzzy_internal.h
 * (the pattern, the banded DP step and the path state, inline for the
 * walk); trie_fuzzy_dp.c (the pattern split, trie_fuzzy_dist);
 * trie_fuzzy_list.c (the class lists and phase 3).
 *
 * WHAT AND WHY
 * ------------
 * Every key has one EDIT CLASS c = min over its character-boundary prefixes
 * K[0..j) of OSA(P, K[0..j)), and the answer is the exact top-k by (class,
 * score desc, key). Search engines that do fuzzy suggestion (Lucene's
 * FuzzySuggester, Typesense) expand a few candidate prefixes and rank the
 * union, which loses completions and mixes classes; here every key of every
 * class is considered, in three phases, none of which caps what is found:
 *
 *   1. class 0 = the keys that start with P: trie_topk's ids (its caches
 *      answer short and heavy prefixes). If that fills k, done: a fuzzy
 *      answer never costs more than an exact one when exact results suffice.
 *   2. for c = 1..maxd, until k results: one depth-first walk over trie
 *      POSITIONS (bytes, also inside edges) with budget c, then trie_topk's
 *      best-first walk over what it recorded (phase 3). The walk carries
 *      the OSA DP row of the path's key prefix against P. The trie
 *      is bytewise and a character may span nodes: bytes are collected into
 *      a pending character and the DP advances only when it is complete.
 *      Along the path it keeps best = min D(j) over the boundaries passed
 *      (D(j) = the DP cell of all of P against K[0..j)) and bestlen, the
 *      byte length where best was first reached. At each boundary, with
 *      rowmin = the minimum of the row:
 *        - rowmin >= best: no deeper prefix can go below best (OSA row
 *          minima never decrease with j: every cell of row j is >= some cell
 *          of row j-1, a transposition's too, since d(i-1,j-1) <=
 *          d(i-2,j-2)+1), so EVERY key below has class best and matchlen
 *          bestlen: the subtree is one CUT. If best > c it is dead.
 *        - best < c: every key below has a class < c, already reported by
 *          an earlier class's walk: dead for this one.
 *        - rowmin > c: dead (nothing below gets back to c).
 *        - rowmin = c and row j-1 is all >= c too (so no transposition can
 *          come back to c either): the budget is SPENT. A key below has
 *          class c exactly when it continues with P[i..m) for a cell i of
 *          value c; each such continuation is followed PATRICIA-style
 *          (first bytes and depths, then one check against the best key of
 *          the subtree reached, which spells its path) and is one cut with
 *          matchlen its end. A continuation that extends a shorter one lies
 *          inside the shorter one's cut and is skipped.
 *        - else go on; a key that ends on the way (a node's term, a leaf's
 *          end) has class best.
 *      A key's class is thus decided at exactly one place (the first cut on
 *      its path, or its end), so nested matches (a deeper position with a
 *      smaller distance under a shallower match) are counted once, at their
 *      minimum: the walk only stops where nothing below can improve.
 *      Cuts and single keys of class c go to list c, which keeps only its
 *      best k - got entries by their best key (best(N) for a cut): each
 *      entry yields at least one key, so an entry ranked below k - got
 *      others can never be reached. Class 0 cuts are skipped (phase 1 has
 *      them).
 *      FIRST BYTES: a step's row depends on the key character only through
 *      its equality with the band's pattern characters and the
 *      transposition test, so at a node every child whose first byte is a
 *      one-byte character outside that set (at most 2 * (2*maxd+1) bytes)
 *      has one outcome, computed once per node; when it is death, those
 *      children are skipped on their byte alone, with no DP step.
      PROBES: a child that survives its first byte is judged before its
      ref, node or key is read, with the prefix filter (trie_pfx.c: which
      strings of <= 8 bytes start some key). With the budget spent below
      it, a key must go on with P[i..m) for a cell of value c; else, when
      any untyped next character dies, with one of the band's typed ones:
      if none of those strings starts a key the child is skipped unseen
      (fz_probe). The DP sees a key character only through its equality
      with typed ones, so all children whose byte is typed nowhere in P
      share one list of strings, made once per node (fz_plan), and are
      judged by look-ups only, prefetched together. A false positive costs
      what the walk cost before; there are no false negatives (trie_pfx.c).
      The children whose byte is typed are probed one by one (fz_probe),
      and each probe's first look-up was a miss of its own (perf at 10M:
      ~27 % of the typo benchmark's time on that one load); a PROBE
      PREFETCH pass at node entry runs fz_probe for them in a mode that
      only prefetches (fz_probe_prefetch; its DP steps are not counted as
      work), so those misses overlap. At 10M keys, two A/B rounds: FUZZY 2
      on 8+ characters 0.86-0.88 of main's median, FUZZY 1 / 2 / AUTO
      within the noise (docs/TYPOS.md). The pass runs only when the
      filter has FZ_PASS_MIN_FILTER_WORDS words or more (2 MB, the L2
      of this machine's cores): with a smaller one the filter words are
      in cache, there are no misses to overlap, and what the pass adds is
      pure cost (each typed child's first byte stepped twice, and every
      probe run to its last look-up, as the pass answers "no" to all);
      without it the walk's fz_probe runs as before the pass existed:
      same answers, same units. AOL dev index (82k keys, 0.1 MB filter), 2
      pairs: FUZZY 2 on 8+ characters 0.77-0.84 of the median with the
      pass, FUZZY 1 0.82-0.88, AUTO 0.80-0.85; 1M keys (0.5 MB filter),
      2 pairs: 0.84-0.85, 0.85-0.92, 0.87-0.89; 10M (8.4 MB then, 4.2 MB
      folded now: trie_pfx.c) keeps it:
      without it 1.13-1.26 of the median there.
      At 10M keys this more than halved FUZZY 1 (docs/TYPOS.md).
      PROBE RECORDS: the prefetch pass records each probe's look-ups
      (their hashes, in order, with the work units spent up to each), so
      the real probe of that child reads the filter words only, without
      repeating its DP steps; same answer, same units (see fz_prec). 10M
      A/B: FUZZY 2 on 8+ characters 0.67-0.81 of the median before it.
      PROBE MEMO (at fz_memo_find): the pass's probes were a third of
      the walk's time with every line in cache (perf, BENCH_FUZZY_WARM,
      FUZZY 2 on 8+ characters at 10M), nearly all DP steps; but a
      probe's steps depend on the DP state after the child's byte, not on
      the path, and 82 % of the pass's probes are of a state probed
      earlier in the same walk (43 % at the same node). So the pass keeps
      each state's look-ups as strings after the path and makes a later
      child's record from them and its own path: no DP step, the same
      record (same answers, same units; test_probe_memo). Warm: 90 -> 70
      µs at the median; cold, 3 pairs against main: 0.86 of the median
      (pairs 0.82-0.92), FUZZY 2 0.90, AUTO 0.93, FUZZY 1 0.98. The
      node's PLAN is made the same way once per state (PLAN MEMO, at
      fz_plan_make; it needs no pass, so small tries use it too): 3
      pairs against the probe memo alone, 0.97 of the median on 8+
      characters, FUZZY 2 0.92, AUTO 0.95; AOL dev, 2 pairs against
      main: 8+ characters 0.95, the rest within the noise. Without a
      pass (a filter that fits the caches: 1M keys, AOL dev) the walk's
      own probes fill the memo (fz_probe_rec: a new state's probe runs
      as the pass runs it, then its record is read): 3 pairs against
      the two memos above, 1M keys: FUZZY 2 on 8+ characters 0.87 of the
      median, FUZZY 2 0.89, AUTO 0.87, FUZZY 1 0.95; AOL dev: 0.94, 0.95,
      1.00, 1.00; 10M within the noise (0.97-1.03). Only at maxd 2
      (FZ_MEMO_MIN_EDITS): FUZZY 1's probes are short, and AOL dev's
      FUZZY 1 was 1.05 of main's median with the memos (3 runs, 5.50
      against 5.25 µs), 1.02 without them. All of it, 10M, 4 pairs
      against main: FUZZY 2 on 8+ characters 0.87 of the median (126 ->
      110 µs; warm 82 -> 57), FUZZY 2 0.89, AUTO 0.86, FUZZY 1 1.02
      (docs/TYPOS.md). Tried and not
      kept: keeping fz_hint's plan and record verdicts (and the plan
      prefetch's hashes) for the walk to reuse instead of reading the
      filter words again: 1.05-1.10 of the warm median, even keeping the
      plan's dead verdicts alone (a bitmap a frame); a memo of 512
      states and 4096 strings instead of 256 and 2048 (3 runs, FUZZY 2
      on 8+ characters 1.00-1.04 of the median); 32 probe records a
      node with the memo (3 pairs: 0.98, within the noise).
      SIBLING PREFETCH (at fz_hint): the children that survive all that
      still cost a chain of dependent misses each (node, best key's id
      record, its text, then the child block); once a node's first
      survivor is found, the later ones are guessed from the same
      first-byte, plan and record tests (pure reads) and their chains are
      prefetched in stages, so they overlap. The arrays those misses land
      in are on 2 MB pages (trie_huge.c), so they miss the TLB less. Not
      at maxd 1 (FZ_HINT_MIN_EDITS): the guesses' plan checks wait for
      all of a node's filter words, which costs FUZZY 1 more than the
      overlap gains.
      CHILD BLOCK PREFETCH: a child reached over a one-byte edge (no key
      to decode: most nodes the walk enters at 10M) has its child block
      prefetched as soon as its node is read, so that miss overlaps the
      making of its frame (fz_generic, the plan's DP steps) instead of
      following it; the decoding path already sent it with the key. 10M,
      6 pairs: FUZZY 2 on 8+ characters 0.86-0.98 of main's median
      (0.95), AUTO 0.95, FUZZY 1 1.00; AOL dev, 8 pairs: 0.96-0.98.
      Prefetching the refs line of the block as well was slower (3 pairs
      at 10M: FUZZY 2 on 8+ characters 1.10-1.17): the walk is bound by
      how many misses are in flight, and a useless one takes a slot.
      With both (and the maxd 1 gate), 10M, 6 pairs against main: FUZZY
      1 0.90-1.02 of the median (0.93), FUZZY 2 0.88-0.98 (0.93), on 8+
      characters 0.91-0.98 (0.93), AUTO 0.91-1.02 (0.94).
      Where the rest of the time goes at 10M (perf, per kind with
      bench_trie's BENCH_FUZZY_KIND, and counts over the 20,000 typo'd
      prefixes of all four kinds): 67.5M children looked at, 16.7M die on
      the first byte, 16.8M of 19.9M plan checks and 16.5M of 29.4M probes
      kill theirs, 9.1M frames are entered and only 4.2M edges decoded;
      the samples sit on the plan's filter words (the first check of a
      frame waits for the words just prefetched, and fz_hint's checks
      wait for all of them: ~11 % of FUZZY 1, ~8 % of FUZZY 2 on 8+), on
      the child's node, its best id record and key text. Tried, within
      the noise and not kept: a third SIBLING PREFETCH stage (the next
      guessed child's key text), prefetching the nodes of a frame's first
      8 first-byte survivors before their verdicts, a 1024-word plan
      prefetch cap, fz_hint without plan checks, and no fz_hint at all;
      later (FUZZY 2 on 8+ characters unless said): filter words
      prefetched to L2 only (prefetcht1: 1.00 of the median), 32 probe
      records a node instead of 16 (1.02), and at maxd 1 a guess from
      the probe records alone, which wait for no word (FUZZY 1 1.10-1.13).
      Counts there: 0.4 % of the prefetched words go unread (a probe or
      plan that says maybe early), 3.5 % of the children past their
      plan meet a full list (d->thr), 39 % of the frames entered have no
      surviving child, 35 % of the survivors are a frame's first. With
      every line in cache (bench_trie BENCH_FUZZY_WARM=1: each call run
      once before it is timed), 10M: FUZZY 1 4.6 µs against 15 cold, on
      8+ characters 87 against 150: misses are most of FUZZY 1, but on
      8+ characters the work itself (5,439 units at the median, ~16 ns
      each) is above the 50 µs target (docs/TYPOS.md).
      Where those units go (per node depth of the child looked at): 90 %
      at nodes of depth < 8, half of all in probes (35.5M of 73.1M, 6.1
      units a probe); depths 8-11 take 6 %. A filter of deeper prefixes
      does not pay (trie_pfx.c, TRIED AND NOT KEPT (3)).
      Tried for FUZZY 1 and not kept: INTERLEAVED LANES (AMAC), the
      budget-1 walk as 4 depth-first walks run in turns, each turn
      ending on a prefetch of the line its next turn reads (a child's
      node or id record, its key text, its child block, its frame's
      filter words), a survivor handed to an idle lane with the path's
      rows so lanes own disjoint subtrees (same answers; units changed
      only by where d->thr bites). 10M, 6 pairs: 1.09-1.17 of main's
      median (1.15), p99 0.86-0.98 (0.95); warm 5.1 against 4.7 µs. It
      found parallelism (2.6 lanes busy a turn, 18 hand-offs and 34
      rounds a call) but one lane alone, staged the same way, was
      already 1.05-1.10 of the median, and 4 lanes 1.10-1.23 in the
      same sitting (2 or 8 lanes: no better; handing off only below
      depth 8: no better). This VM has no cache counters to say why; a
      median call (~370 units, 16 frames) may be too small to fill the
      lanes, and each frame's filter-word burst already uses the miss
      slots.
      Where FUZZY 1's cold time goes (branch fz14; 10M, p20k.txt,
      rdtsc around the phases, mean of a call ~16 µs): class 0 (phase
      1) 1.9-2.2 µs, the walk 11-12.6, the list walk (phase 3) 2.2-2.5.
      Counts a walk (17k walks): 16.8 frames, 25 % with no survivor;
      28 survivors (18.4 one-byte edges, 15 of which open a frame and
      3.4 are spent at once, fz_det; 6.5 longer edges; 3.2 leaves); a
      longer edge is stepped 1.0 byte on average before it dies (47 %),
      is spent (41 %) or opens a frame (11 %), so most key decodes (node,
      id record, text: three misses) buy one byte; 7.3 fz_det calls,
      4.1 descents of 2 levels (a child block and a node each) and 1.3
      decodes; phase 3: 1.5 entries, 10 descent steps, 14 pushes, 4.9
      keys. Tried and not kept: NEXT SURVIVOR PREFETCH, at each survivor
      the next child that passes the walk's unit-free tests (first
      byte, plan; a typed one unless its probe record says dead) has
      its node prefetched, then its id record and child block when the
      survivor opens its frame: re-testing the skipped children (as
      fz_hint does) was 1.04-1.09 of the median (5 pairs; warm median
      5.6-5.7 against 5.2 µs); keeping the run it killed so that the
      walk skips it untested, 1.00-1.10 (3 pairs; warm 5.4-5.5 against
      5.1-5.2), p99 0.89-1.00 in both. EXACT FILTER, class 0 answered 0
      at once when the prefix filter knows no key starting with P's
      first 8 bytes (43 % of the calls; same answers and units; the
      differential tests failed on a deliberately wrong string): phase
      1 fell by ~0.45 µs but the walk rose as much (5 pairs: 0.92-1.04
      of the median, 1.00): phase 1's descent along P loads the nodes
      the walk reads next, so its misses are not waste but the walk's,
      paid earlier. Phase 3's descent
      prefetching a node's first two children and its term's record
      together: its time unchanged (3 runs each, rdtsc). DEFERRED
      DESCENTS: fz_det takes 1.8 µs of the walk's 11.5 (rdtsc), nearly
      all its descents' misses, and nothing the walk does next depends
      on a descent but through d->thr (-inf while the list is short of
      its cap) and the work limit; so the descents were queued (4 at
      most, only while the list plus every pending one stays short of
      its cap, all run out before a record that could fill it and
      before the limit could be passed) and advanced one load at each
      later survivor, each load prefetching the next: same answers and
      units, 98 % of the descents queued, 72 % of those ended by the
      advances; 3 pairs 1.04-1.06 of the median (p99 0.94-0.96), warm
      within the noise. Every overlap tried at maxd 1 so far moves p99
      a little down and the median a little up.
      SECOND EDGE BYTE (branch fz15): so the node keeps its edge's
      second byte (e2, in spare bits of its depth word: struct tnode,
      trie_internal.h; no memory added), and a longer edge is stepped
      from it; the best key is decoded (fz_edge_more) only when the walk
      needs a third byte, or fz_det a continuation that matches the
      bytes at hand and goes on past them. Counts (10M, p20k.txt, a -D
      counter, since removed): FUZZY 1 walks meet 110,392 longer edges,
      83,818 (75.9 %) now cost no decode (49.2k die on the second byte,
      28.4k are spent with no continuation reading past it, 5.6k are
      two-byte edges that open a frame); FUZZY 2 on 8+ characters
      1,045,173, 648,628 (62.1 %) without a decode. Of FUZZY 1's saved
      decodes only 16 % were of a frame's first child (whose best key is
      its parent's, maybe in cache): ~3.5 a call were two misses each.
      The unit counted for such an edge stays (w.work, "a longer edge"),
      so answers and units are those of main. 10M, bench_trie
      --fuzzy-only against main, 16 alternating pairs (20 for 8+
      characters) in five sittings, load 1.5-3.8: FUZZY 1 1.00 of the
      median (pairs 0.90-1.12, 8 of 16 below 1), p99 0.90 (15 of 16
      below 1); FUZZY 2 on 8+ characters 0.97 (0.86-1.02, 17 of 20
      below 1), p99 0.91-0.97; FUZZY 2 0.97 (p99 0.92), AUTO 0.97-0.98
      (p99 0.90-0.94); exact (--load-only, 13 pairs) top10 median 1.02,
      clean_exact 1.00, typo_exact 0.96: within the noise. AOL dev
      (filter and nodes in cache), 3 pairs: within the noise. So the misses it removes were mostly not on FUZZY 1's
      critical path; likely (this VM has no cache counters to say) as
      after a decode the walk usually moves on (the edge dies), so the
      branch predictor ran on into the next child's loads while the
      decode's were in flight. Kept for 8+ characters and the p99s, at
      no memory. Tried with it and not
      kept: prefetching the best key's id record at a 3+ byte edge (3
      pairs: FUZZY 1 1.02 of main's median against 0.98 without it, 8+
      1.00 against 0.98), and fz_hint_next prefetching that record
      only for 3+ byte edges (4 pairs, 8+ only: 1.01 against 0.96).
      Tried for FUZZY 1 and not kept (branch fz16; same answers and
      units; 10M, rdtsc medians: phase 1 ~1.3 us, the walk ~8 us, phase 3
      ~170 cycles at the median call, ~5,000 on average -- so no phase-3
      change moves the median): batching phase 3's key texts (its mean
      5,300 -> 4,950 cycles; FUZZY 1 median 1.00 over 9 rounds); P-PATH
      PREFETCH, the frames along P made at walk start with all their
      filter words sent at once and then reused by the walk (1.00; made
      twice instead of reused, the walk +25-35 %); EARLY FRAME, a
      survivor's frame and plan made while its node is in flight (1.05);
      SIBLINGS SIDE BY SIDE, the builder giving a node's children
      consecutive records and adjacent child blocks with a 4-line
      prefetch of them at frame entry (FUZZY 1 alone 0.95-0.97, p99
      0.82-0.93, but bench_trie --fuzzy-only 1.00 over 5 pairs and the
      exact path 1.03-1.07: post-order keeps each small subtree together,
      which trie_topk below a typed prefix reads). What was left: a
      node's record inside its child block (one miss instead of two at
      each of the ~25 node-then-block steps of a median walk), thought a
      refactor of every reader of nodes[] and kids[] that must keep
      post-order's grouping (it is not: below).
      ITS CEILING, measured first (branch fz17; 10M, p20k.txt, FUZZY 1
      alone): a scratch bench_trie ran every call once untimed to record
      the node indices the walk and fz_det read (28.6 a call; 41.0 with
      phase 3's), then timed each call after loading those records (so
      they cost nothing), on even calls in one process and odd ones in a
      second, so each call is timed once with and once without: 0.90-0.91
      of the median (3 rounds; p99 0.78-0.81), with phase 3's 0.89; the
      records and the first and bytes lines of their child blocks 0.82;
      FUZZY 2 on 8+ characters, records only, 0.93-0.94. The same pairing
      (a switch in the walk, per call, +-0.5 %) found nothing in loading
      the records EARLIER: those of a frame's first 8 or 32 first-byte
      survivors prefetched at frame entry, which is when records kept in
      the parent's block would arrive (1.00, 3 rounds each), a survivor's
      record prefetched before its probe is read (1.00, 15 rounds), the
      plan's prefetch cap 16 or 128 words instead of 64 (1.00): the gain
      is in FEWER LINES, so records in the parent's block would pay only
      where they share its lines. THE LAYOUT ITSELF, measured as a copy
      (scratch bench only): one array where node r's 16-byte record is
      at units 4r..4r+3 and its child block right after (kids = 4r + 4;
      the next record on the next 16-byte boundary), nodes in nodes[]
      order (root first, then post-order), refs renumbered; with nodes
      and kids both pointing into it EVERY READER RUNS UNCHANGED (the
      same answers and units, all kinds). Paired per call against the
      trie as loaded (5 rounds; a fresh copy in today's layout, the
      control: 1.00): FUZZY 1 0.93 of the median (0.92-0.94; p99 0.89),
      FUZZY 2 0.94, on 8+ characters 0.945, AUTO 0.94, and the exact
      top-10 on the typo'd prefixes 0.76 (p99 0.86), on 8+ characters
      0.73, on the clean ones 0.86 (--load-only, 2 rounds); 1M keys:
      FUZZY 1 0.955, exact 0.87; AOL dev: within the noise. 187.7 MB for
      the copy against 162.4 for nodes[] and kids[] (the padding to 16
      bytes). So the change is not a refactor of the readers but of the
      pools: OWN BLOCKS, first (branch fz17, not merged) built by
      trie_load and undone by a loaded trie's first insert or delete.
      Against main,
      10 alternating pairs of bench_trie --fuzzy-only: FUZZY 1 0.94 of the
      median (pairs 0.88-1.02; ~11.6 against 12.3 µs), p99 0.86, FUZZY 2
      0.92, on 8+ characters 0.93, AUTO 0.93, exact 0.76 (bench_complete
      0.89); RSS 501.7 -> 524.8 MB. Not merged: +23 MB puts the word
      index's 10M RSS over its 730 MB target, the first insert or delete
      after a load undid it in a 0.4-0.6 s pass on the loop (a learning
      server kept only the stall), the load +0.5 s. Then IN THE POOLS
      (branch own18; trie_internal.h): node references are unit offsets
      into one pool, a node's record right in front of its own block,
      a node that gains or loses a child moves to a chunk of the new
      size (its parent's slot rewritten), the builder lays it out in
      post-order; no padding, and the record lost its block offset (12
      bytes): RSS 502.5 -> 479.4 MB at 10M, the same answers and units,
      6 rounds (load ~5): FUZZY 1 0.90 of main's median, FUZZY 2 on 8+
      characters 0.86, exact 0.67, COMPLETE 0.88 (docs/TYPOS.md).
      Also not kept: LINE-ALIGNED CHILD BLOCKS, the builder moving a
      block of <= 16 units that would cross a 64-byte line to the next
      one (its refs and first bytes then one line): 4 pairs 0.98-1.07 of
      main's median (1.03), kids 79.9 -> 89.4 MB.
      PLAN HASHES (branch fz19, at fz_plan_prefetch): fz_plan_check's
      filter word load waited for a hash the frame's prefetch had
      computed already; the prefetch keeps them (pl->h: the o-th generic
      child's n look-ups at o * n; past FZ_PREFETCH_MAX hashed as before)
      and the check reads them: the same look-ups, answers and units,
      FUZZY 1 0.983-0.992 of the median paired per call; the stall moved
      to the survivor's node record. Figures, and what was tried with it
      and not kept (survivors' chunks prefetched at frame entry, fz_hint
      and the PLAN MEMO at maxd 1): docs/TYPOS.md, "PLAN HASHES".
 *   3. trie_topk's best-first walk with list c as its initial frontier
 *      (entries: a key, a whole subtree, or a run of siblings), until k
 *      results. Each entry carries its matchlen to the keys it yields. If
 *      the results are still short of k, the walk for class c + 1 follows.
 *
 * The DP row is BANDED: cell (i, j) with |i - j| > maxd is > maxd, so a row
 * is 2*maxd+1 cells (i = j - maxd .. j + maxd), values capped at maxd + 1
 * (min-plus with a cap keeps every value <= maxd exact). One character costs
 * one step of ~20 SSE2 byte-vector operations for the whole row (fz_row: the
 * cells are bytes of one register; r[t-1] + 1 is a prefix-min scan of two
 * shifts, as an insertion run longer than maxd + 1 cells costs > maxd;
 * cells outside 0 <= i <= m are masked once, after the scan; every cell
 * is checked against a full OSA matrix by test_row_cells)
 * whatever P's length. The walk does not even run that step: the band's
 * states (row and transposition term) are few, 12 at maxd 1 and 124 at
 * maxd 2, so a step is a table look-up (THE ROW AUTOMATON in
 * trie_fuzzy_internal.h, fz_astep): the 2*maxd+3 bits "which typed
 * characters of the window equal the key character" (one SSE2 compare
 * and a movemask) index the state's row of a 16 KB table, made once per
 * process; the next state's cells are stored as fz_row stores them, so
 * every reader of rows is unchanged. AOL dev index, 3 pairs against
 * fz_row: FUZZY 2 on 8+ characters 0.91-0.95 of the median, FUZZY 1
 * within the noise (perf: fz_byte 31 -> 22 % of the samples; the rest of
 * the walk is its loop, the key decodes' misses, probes and plans). At
 * 10M keys the walk waits on memory and the step's cost is within the
 * noise (docs/TYPOS.md). The common step (a one-byte character at a
 * boundary, a one-byte P, no cell past m) takes a short path in fz_byte
 * (fz_byte_any is the rest; test_byte_paths runs both in
 * lockstep): AOL dev, 4 pairs, 0.95 of the median for FUZZY 1, 0.96 on
 * 8+ characters, p99 0.93-0.95; at 10M within the noise (all kinds, 4
 * pairs: 0.89-1.15 of the median; each kind alone, 6 pairs: FUZZY 1
 * 0.98, on 8+ characters 0.99). trie_fuzzy_dist, the tests' reference, keeps
 * fz_row. The
 * first-character rule is an exact
 * byte match of P's first character, then the DP of P[1..] against K[1..]
 * (an alignment that keeps position 0 is a match there followed by any
 * alignment of the rests).
 *
 * COST
 * ----
 * Walk c visits the trie positions whose row minimum is at most c and
 * whose path's best is at least c, up to the point where the budget is
 * spent (the usual trie-automaton frontier, cut short), plus a decode of the
 * best key of each child whose first character and probe keep it alive
 * and whose edge is needed past its second byte (edges are not stored but
 * for that byte: SECOND EDGE BYTE) and one descent and one decode per
 * continuation of a spent path; a child the probe kills costs 1-5 filter look-ups. Phase 3 is trie_topk's walk: O(k * (depth + log k)) per class.
 * Walk c does not record classes below c (complete) and never explores for
 * classes above c: walk 1 is the 1-edit search, and when class 1 fills the
 * answer (the usual case for a typo'd prefix whose answer fills at all)
 * the 2-edit region is never entered. Once list c is full, a child whose best score is below its
 * worst entry (strictly: ties are kept) is skipped with all its later
 * siblings, which are sorted after it; the walk is depth-first in child
 * order (best subtree first), so that bound bites only after the list
 * fills. Most typo'd benchmark prefixes have fewer than k matches within
 * maxd edits in all, so the walks must be exhaustive there and the cost is
 * the size of the frontier; a best-first order over positions (a heap by
 * best score per class) was tried and measured slower than these walks on
 * both kinds of prefixes (its heap costs more than the score bound saves
 * once the walks are per class; branch fuzzy-bf-experiment). Figures:
 * bench_trie --load-only (its fuzzy section).
 *
 * LIMITS AND MEMORY
 * -----------------
 * No allocation: the DP rows, the path's characters and the walk's node
 * stack are bounded by the longest key (TRIE_MAX_KEY bytes, so at most that
 * many characters and MAX_PATH nodes on a path); the lists by TRIE_MAX_K.
 * ~135 KB of stack (27 KB of it the probe records, PROBE RECORDS; 26 KB
 * the PROBE MEMO, 5 KB the PLAN MEMO). No scratch limit can be hit. A typed prefix of more than
 * TRIE_MAX_KEY + maxd characters is beyond maxd of every key prefix: it
 * matches nothing (after phase 1, which also finds nothing). Invalid UTF-8:
 * see the character rule in trie_fuzzy.h.
 *
 * WORK LIMIT (trie_fuzzy.h; the probe prefetch pass counts nothing). The
 * walks count work units in w.work (a child
 * looked at in fz_dfs_run, a byte fed in fz_byte, a key decoded or a
 * longer edge entered (decoded or not: SECOND EDGE BYTE), a node
 * descended in fz_det, a filter look-up but a plan's: those are prefetched,
 * <= FZ_PLAN_MAX a child) and fz_dfs_run returns between two children
 * once max_work is reached, with d.cut set; what the list of the walk's class
 * holds is read out as usual (phase 3), and no further class is walked.
 * The default, TRIE_FUZZY_MAX_WORK = 20000, comes from bench_trie
 * --fuzzy-only BENCH_FUZZY_MAX_WORK=0 (no limit) on the synthetic corpora,
 * one typo in each benchmark prefix of 4+ characters, top 10: at 1M keys
 * FUZZY 2 needs a median of 4,436 units, p99 16,766, p99.9 18,563, max
 * 20,504; at 10M 3,102 / 13,060 / 18,313 / 21,516 (FUZZY 1: max ~3,300),
 * so the default cuts next to none of them (docs/TYPOS.md, "Work limit":
 * the share cut); the heaviest inputs found by hand (FIRST_ANY, k = 100,
 * e.g. "aeiou": 32,840 units, 3.4 ms) are cut to ~20000. A unit costs ~50-200 ns (most are
 * cache misses; 80-200 ns per unit of wall time on the calls of 10,000+
 * units, measured under load 4-7 on 2 cores), so the limit holds a request
 * to 1-4 ms there, instead of an unbounded tail; at 10M keys it cut 20 of
 * 100,000 typo'd benchmark prefixes at FUZZY 2 (those needing 20,000+).
 */
#include "trie/trie_fuzzy_internal.h"

#include <math.h>
#include <string.h>

#include "trie/trie_fuzzy_probe.h"

/* PROBE MEMO's switch and counters (trie_fuzzy_internal.h) */
uint32_t trie__fz_memo = 1;
uint32_t trie__fz_plan_hashes = 1; /* PLAN HASHES (trie_fuzzy_probe.h) */
uint32_t trie__fz_memo_count = 0;
uint64_t trie__fz_memo_hits = 0;

/* ------------------------------------------------------------- the DFS */

typedef struct fz_frame {
    uint32_t node;
    uint16_t i; /* next child slot */
    fz_st st;   /* state at the node's position */
    uint8_t gdead, nsp, sp[2 * FZ_W]; /* fz_generic: generic first bytes die */
    uint8_t hinted;                   /* fz_hint ran (SIBLING PREFETCH) */
    uint16_t gord;                    /* generic children met so far (fz_plan_check's o) */
    uint64_t spm[4];                  /* sp[0, nsp) as a set */
    uint64_t hm[4];                   /* the children fz_hint prefetched, by slot */
} fz_frame;

/* Sets up frame F at node `node` in state s (rows current). */
static void fz_frame_init(fz_walk *w, fz_frame *F, uint32_t node, const fz_st *s, size_t pos) {
    fz_st g;
    F->node = node;
    F->i = 0;
    F->hinted = 0;
    F->gord = 0;
    F->st = *s;
    F->gdead = fz_generic(w, s, pos, F->sp, &F->nsp, &g) == FZ_DEAD;
    memset(F->spm, 0, sizeof F->spm);
    for (unsigned x = 0; x < F->nsp; x++) F->spm[F->sp[x] >> 6] |= 1ull << (F->sp[x] & 63);
}

#define FZ_PROBE_PREFETCH_MAX 16 /* typed children whose probes are prefetched per node */

typedef struct fz_dfs {
    fz_walk w;
    fz_frame fr[MAX_PATH];
    fz_plan plan[PF_MAXLEN]; /* of frame fr[i] (depth >= i: none deeper) */
    fz_prec prec[PF_MAXLEN][FZ_PROBE_PREFETCH_MAX]; /* frame fr[i]'s probe records, by slot */
    int usememo;  /* trie__fz_memo, maxd 2 and the row automaton (whose states key the memo) */
    uint8_t nprec[PF_MAXLEN], pcur[PF_MAXLEN];        /* how many; the next one to match */
    fz_list *cls[TRIE_FUZZY_MAX_EDITS + 1]; /* [1..maxd] */
    unsigned cap;
    double thr; /* a subtree whose best score is below this adds nothing */
    unsigned lo; /* the walk's class (its budget, w.beff, too) */
    uint64_t max_work; /* stop the walk once w.work passes this (0: never) */
    int cut;           /* 1: the walk stopped at max_work */
    int hint;          /* SIBLING PREFETCH on: the trie is big (FZ_HINT_MIN_NODES) */
    int pass;          /* PROBE PREFETCH on: the filter is big (FZ_PASS_MIN_FILTER_WORDS) */
    /* last, so that the fields above stay near each other (maxd 1 leaves
     * these untouched) */
    fz_memo memo;   /* the probes by DP state (PROBE MEMO) */
    fz_pmemo pmemo; /* the plans by DP state (PLAN MEMO) */
} fz_dfs;

/* Records a key or subtree of class s->best when that is the walk's class
 * (d->lo; lower classes are complete, higher ones are dead at this budget).
 * Once the list is full, a subtree whose best score is below its worst
 * entry can only be rejected by it (d->thr). */
static inline void fz_record(fz_dfs *d, uint32_t r, const fz_st *s) {
    if (s->best != d->lo) return;
    fz_list *l = d->cls[d->lo];
    trie__fz_push_ref(l, r, s->bestlen, d->cap);
    d->thr = l->n >= d->cap ? l->e[0].s : -HUGE_VAL;
}

static void fz_dfs_sink(void *ctx, uint32_t x, unsigned c, size_t ml) {
    fz_st s;
    memset(&s, 0, sizeof s);
    s.best = (uint8_t)c;
    s.bestlen = (uint16_t)ml;
    fz_record(ctx, x, &s);
}

/* The memo's slot for the state st after child byte c at byte position
 * pos (PROBE MEMO), its key in *key: a slot that holds that state (key[]
 * set), a free one (key[] 0: the caller probes, then fz_memo_put), or -1
 * (the memo is full: probe, keep nothing). */
static int fz_memo_find(const fz_walk *w, const fz_memo *M, const fz_st *st, size_t pos, uint8_t c,
                        uint64_t *key) {
    const fz_pat *z = w->z;
    const unsigned j = st->j, B = z->B;
    /* which of c[q], q = j - B .. j + B, equal c (fz_generic's kp): c8 is
     * 0xC0 outside c[0, m), and j - B >= -1 (FZ_CPAD) */
    unsigned km = fz_eqbits1(z, c, (int)j - (int)B, 2 * B + 1);
    uint64_t k = 1ull << 63 | (uint64_t)pos << 48 | (uint64_t)st->best << 40 | (uint64_t)km << 32 |
                 (uint64_t)w->sid[j - 1] << 24 | (uint64_t)w->sid[j] << 16 | j;
    *key = k;
    unsigned h = (unsigned)(pf_hash_word(k, 8) & (FZ_MEMO_SLOTS - 1));
    while (M->key[h] && M->key[h] != k) h = (h + 1) & (FZ_MEMO_SLOTS - 1);
    if (M->key[h]) return (int)h;
    return M->used < FZ_MEMO_SLOTS / 4 * 3 ? (int)h : -1;
}

/* Keeps probe record r (its strings in mr, made at byte position pos) in
 * the free slot h under key; not when the words are full. */
static void fz_memo_put(fz_memo *M, int h, uint64_t key, const fz_prec *r, const fz_mrec *mr, size_t pos) {
    if (M->words + r->n > FZ_MEMO_WORDS) return;
    const unsigned sh = 8 * (unsigned)pos, a = M->words; /* pos < PF_MAXLEN: the strings start with the path */
    for (unsigned k = 0; k < r->n; k++) {
        M->u[a + k] = mr->v[k] >> sh;
        M->len[a + k] = mr->len[k];
        M->units[a + k] = r->at[k];
    }
    M->words += r->n;
    M->key[h] = key;
    M->at[h] = (uint16_t)a;
    M->n[h] = (uint8_t)r->n;
    M->ok[h] = r->ok;
    M->yes[h] = r->yes;
    M->end[h] = r->end;
    M->used++;
}

/* Fills record r from memo slot h for the child whose path is path[0,
 * pos): its strings' hashes (their words prefetched), the units up to
 * each, the verdict past them. */
static void fz_memo_rec(const trie *t, const fz_walk *w, const fz_memo *M, int h, size_t pos, fz_prec *r) {
    uint64_t pv = fz_pathw(w, pos);
    const unsigned sh = 8 * (unsigned)pos, a = M->at[h];
    r->n = M->n[h];
    for (unsigned k = 0; k < r->n; k++) {
        uint64_t x = pf_hash_word(pv | M->u[a + k] << sh, M->len[a + k]);
        __builtin_prefetch(&t->pf[x >> 12 & t->pfmask]);
        r->h[k] = x;
        r->at[k] = M->units[a + k];
    }
    r->ok = M->ok[h];
    r->yes = M->yes[h];
    r->end = M->end[h];
}

/* fz_probe for state s at pos run as the prefetch pass runs it, into
 * record r (PROBE RECORDS): every look-up answers "no" and is recorded
 * with the units spent up to it, and its string goes to mr when not NULL
 * (PROBE MEMO). w->work and w->pref are as they were after it. */
static void fz_probe_record(const trie *t, fz_walk *w, const fz_st *s, size_t pos, unsigned lo, fz_prec *r,
                            fz_mrec *mr) {
    const uint64_t work = w->work;
    const uint8_t pref = w->pref;
    r->n = 0;
    r->ok = 1;
    w->pref = 1;
    w->rec = r;
    w->mrec = mr;
    w->rbase = work;
    r->yes = (uint8_t)fz_probe(t, w, s, pos, lo, FZ_PROBE_DEPTH, 1);
    r->end = (uint16_t)(w->work - work);
    w->work = work;
    w->pref = pref;
    w->rec = NULL;
    w->mrec = NULL;
}

/* The PROBE PREFETCH of a node (state f at byte pos, frame F made): for its
 * first children whose byte is typed in P (those fz_probe judges one by
 * one), fz_probe runs once in prefetch mode, so the words the real call
 * reads later are on their way together instead of one miss after the
 * other. Work units are not counted; rows above f->j are overwritten.
 * Only with a filter too big for the caches (d->pass: PROBES says why). */
#define FZ_PASS_MIN_FILTER_WORDS (1u << 18) /* 2 MB of filter words, this machine's L2 */
uint32_t trie__fz_pass_min_words = FZ_PASS_MIN_FILTER_WORDS; /* tests set 0: the pass on small tries too */
static void fz_probe_prefetch(const trie *t, fz_dfs *d, int sp, const tnode *nd, size_t pos, unsigned lo) {
    fz_walk *w = &d->w;
    const fz_frame *F = &d->fr[sp];
    d->nprec[sp] = d->pcur[sp] = 0;
    if (!d->pass || !t->pf || !w->z->onebyte || F->st.pre || F->st.have || pos + 1 >= PF_MAXLEN) return;
    const uint8_t *kb = kid_bytes(t, nd);
    uint64_t work = w->work;
    unsigned done = 0;
    w->pref = 1;
    for (unsigned i = 0; i < nd->nkids && done < FZ_PROBE_PREFETCH_MAX; i++) {
        uint8_t c = kb[i];
        if (fz_plan_applies(w->z, c) || (F->gdead && fz_is_generic(&F->st, F->spm, c))) continue;
        fz_st st = F->st;
        if (fz_byte(w, &st, c, pos) != FZ_GO || st.best < lo) continue;
        fz_prec *r = &d->prec[sp][done++];
        r->slot = (uint16_t)i;
        int slot = -1;
        uint64_t key = 0;
        if (d->usememo && !st.have) { /* PROBE MEMO: st.j >= 1, c is ch[st.j - 1] */
            fz_memo *M = &d->memo;
            slot = fz_memo_find(w, M, &st, pos + 1, c, &key);
            if (slot >= 0 && M->key[slot]) {
                fz_memo_rec(t, w, M, slot, pos + 1, r);
                M->hits++;
                continue;
            }
        }
        fz_mrec mr;
        fz_probe_record(t, w, &st, pos + 1, lo, r, slot >= 0 ? &mr : NULL);
        if (slot >= 0) fz_memo_put(&d->memo, slot, key, r, &mr, pos + 1);
    }
    d->nprec[sp] = (uint8_t)done;
    w->pref = 0;
    w->rec = NULL;
    w->work = work;
}

/* fz_probe's answer and units from a whole record r. */
static inline int fz_rec_eval(const trie *t, fz_walk *w, const fz_prec *r) {
    for (unsigned k = 0; k < r->n; k++) {
        uint64_t h = r->h[k], m = pf_bits(h);
        if ((t->pf[(h >> 12) & t->pfmask] & m) == m) {
            w->work += r->at[k];
            return 1;
        }
    }
    w->work += r->end;
    return r->yes;
}

/* fz_probe for child `slot` of frame sp (state s after its byte, at pos):
 * from the child's record when the prefetch pass made one (PROBE
 * RECORDS), else from the PROBE MEMO when it holds the child's state,
 * else by running it. Without a pass (a filter that fits the caches) the
 * memo is filled here: on a state not seen yet, fz_probe runs as the pass
 * runs it (every look-up answered "no", the strings kept), then its
 * record is read, so the later children in that state skip its DP
 * steps. */
static int fz_probe_rec(const trie *t, fz_dfs *d, int sp, unsigned slot, const fz_st *s, size_t pos) {
    fz_walk *w = &d->w;
    if (sp < (int)PF_MAXLEN) {
        uint8_t *c = &d->pcur[sp];
        while (*c < d->nprec[sp] && d->prec[sp][*c].slot < slot) (*c)++;
        const fz_prec *r = &d->prec[sp][*c];
        if (*c < d->nprec[sp] && r->slot == slot && r->ok) return fz_rec_eval(t, w, r);
    }
    if (d->usememo && t->pf && w->z->onebyte && !s->pre && !s->have && s->j >= 1 && s->best != d->lo &&
        pos < PF_MAXLEN) {
        fz_memo *M = &d->memo;
        uint64_t key;
        int h = fz_memo_find(w, M, s, pos, w->path[pos - 1], &key); /* the child's byte */
        if (h >= 0) {
            fz_prec r;
            if (M->key[h]) {
                fz_memo_rec(t, w, M, h, pos, &r);
                M->hits++;
            } else {
                fz_mrec mr;
                fz_probe_record(t, w, s, pos, d->lo, &r, &mr);
                fz_memo_put(M, h, key, &r, &mr, pos);
            }
            if (r.ok) return fz_rec_eval(t, w, &r);
        }
    }
    return fz_probe(t, w, s, pos, d->lo, FZ_PROBE_DEPTH, 1);
}

/* SIBLING PREFETCH. A child that survives its first byte, the plan and
 * its probe costs a chain of dependent misses (its node, then its best
 * key's id record, then the key's text; then its child block when the walk
 * enters it), and the walk used to run the chains of a node's children one
 * after the other. At the first survivor of a frame, fz_hint guesses the
 * later survivors from what is already at hand (first bytes, the plan and
 * the probe records, whose filter words have arrived by then; no DP step,
 * no work unit) and prefetches their nodes (leaves: id records) together;
 * at each later survivor fz_hint_next prefetches the next guessed one's
 * second link (a node's best id record and child block, a leaf's text),
 * whose first link has arrived by then. Only loads move earlier: the
 * walk's order, answers and work units are unchanged. A wrong guess costs
 * one useless prefetch. The guess is not free (it reads the plan and the
 * probe records a second time), so it runs only on a trie whose nodes are
 * too many to stay in the caches: on the AOL dev index (233k keys, 131k
 * nodes, 2 MB) it made the typo walk slower (a server's profile: fz_* +15-26 %
 * of samples, FUZZY AUTO p50 x1.13-1.15), at 1M keys and up faster. */
#define FZ_HINT_MAX 16 /* children prefetched per frame */
#define FZ_HINT_MIN_NODES (1u << 18) /* live nodes (16 B each) from which the walk prefetches siblings */
uint32_t trie__fz_hint_min_nodes = FZ_HINT_MIN_NODES; /* tests set 0: the guesses on small tries too */
/* Nor at maxd 1 (only tests change trie__fz_hint_min_edits): fz_hint's
 * plan checks wait for all of the node's filter words (perf at 10M: ~11 %
 * of FUZZY 1's time in those checks), which costs FUZZY 1 more than the
 * overlap gains (10M, 3 rounds: FUZZY 1 0.87-0.92 of the median without
 * it; off for every budget, FUZZY 2 on 8+ characters was 1.05-1.15 of the
 * median with it, so FUZZY 2's walks keep it). */
#define FZ_HINT_MIN_EDITS 2
uint32_t trie__fz_hint_min_edits = FZ_HINT_MIN_EDITS; /* tests set 1: the guesses at maxd 1 too */

/* 1 when one of a probe record's look-ups hits (the probe says maybe). */
static inline int fz_rec_hit(const trie *t, const fz_prec *r) {
    for (unsigned k = 0; k < r->n; k++) {
        uint64_t h = r->h[k], m = pf_bits(h);
        if ((t->pf[(h >> 12) & t->pfmask] & m) == m) return 1;
    }
    return 0;
}

static void fz_hint(const trie *t, fz_dfs *d, int sp, const tnode *nd, unsigned from) {
    fz_frame *F = &d->fr[sp];
    const uint8_t *kb = kid_bytes(t, nd);
    const uint32_t *kr = kid_refs(t, nd);
    size_t pos = nd->depth;
    unsigned c = 0, n = 0, o = F->gord; /* the walk has met the generic children before `from` */
    F->hinted = 1;
    memset(F->hm, 0, sizeof F->hm);
    for (unsigned i = from; i < nd->nkids && n < FZ_HINT_MAX; i++) {
        uint8_t c0 = kb[i];
        if (F->gdead && fz_is_generic(&F->st, F->spm, c0)) continue;
        if (sp < (int)PF_MAXLEN) {
            if (fz_plan_applies(d->w.z, c0)) {
                if (!fz_plan_check(t, &d->w, &d->plan[sp], pos, c0, o++)) continue;
            } else {
                while (c < d->nprec[sp] && d->prec[sp][c].slot < i) c++;
                const fz_prec *r = &d->prec[sp][c];
                if (c < d->nprec[sp] && r->slot == i && r->ok && !r->yes && !fz_rec_hit(t, r)) continue;
            }
        }
        uint32_t r = kr[i];
        if (r & LEAF) __builtin_prefetch(&t->refs[r & ~LEAF]);
        else __builtin_prefetch(NODE(t, r));
        F->hm[i >> 6] |= 1ull << (i & 63);
        n++;
    }
}

static void fz_hint_next(const trie *t, const fz_frame *F, const tnode *nd, unsigned slot) {
    for (unsigned i = slot + 1; i < nd->nkids; i++) {
        if (!(F->hm[i >> 6] >> (i & 63) & 1)) continue;
        uint32_t r = kid_refs(t, nd)[i];
        if (r & LEAF) {
            __builtin_prefetch(t->arena + t->refs[r & ~LEAF].off);
        } else {
            const tnode *cn = NODE(t, r);
            __builtin_prefetch(&t->refs[cn->best]);
            if (cn->nkids) __builtin_prefetch(kid_refs(t, cn));
        }
        return;
    }
}

static void fz_dfs_run(const trie *t, fz_dfs *d) {
    fz_walk *w = &d->w;
    char kb[TRIE_MAX_KEY + TC_SYM_MAX];
    int sp = 0;
    fz_st s0;
    memset(&s0, 0, sizeof s0);
    if (w->z->elen) s0.pre = 1;
    else fz_start(w, &s0, 0);
    if (d->usememo) { /* PROBE MEMO, PLAN MEMO: per walk (its class) */
        memset(d->memo.key, 0, sizeof d->memo.key);
        d->memo.used = d->memo.words = 0;
        memset(d->pmemo.key, 0, sizeof d->pmemo.key);
        d->pmemo.used = 0;
    }
    fz_frame_init(w, &d->fr[0], 0, &s0, 0);
    fz_pmemo *pm = d->usememo ? &d->pmemo : NULL;
    fz_plan_make(t, w, pm, &d->memo.hits, &d->plan[0], &s0, 0, d->lo);
    fz_plan_prefetch(t, w, &d->plan[0], NODE(t, 0), 0);
    fz_probe_prefetch(t, d, 0, NODE(t, 0), 0, d->lo);
    while (sp >= 0) {
        fz_frame *F = &d->fr[sp];
        const tnode *nd = NODE(t, F->node);
        if (F->i >= nd->nkids) {
            sp--;
            continue;
        }
        if (d->max_work && w->work >= d->max_work) { /* the work limit: what is recorded stays */
            d->cut = 1;
            return;
        }
        w->work++; /* one child looked at */
        unsigned slot = F->i++;
        /* judged on its first byte (and the filter) before its ref is read */
        uint8_t c0 = kid_bytes(t, nd)[slot];
        if (F->gdead && fz_is_generic(&F->st, F->spm, c0)) continue;
        fz_st s = F->st;
        size_t pos = nd->depth;
        /* a generic child: the node's plan judges it before any DP step */
        int gen = sp < (int)PF_MAXLEN && fz_plan_applies(w->z, c0);
        if (gen && !fz_plan_check(t, w, &d->plan[sp], pos, c0, F->gord++)) continue; /* dead below, unseen */
        uint32_t r = kid_refs(t, nd)[slot];
        /* children are sorted by their best key: all later ones are worse */
        if (d->thr > -HUGE_VAL && t->refs[ref_best(t, r)].score < d->thr) {
            F->i = nd->nkids;
            continue;
        }
        int res = fz_byte(w, &s, c0, pos);
        pos++;
        if (res == FZ_DEAD || (!s.pre && s.best < d->lo)) continue;
        if (res == FZ_CUT) {
            fz_record(d, r, &s);
            continue;
        }
        if (!gen && !fz_probe_rec(t, d, sp, slot, &s, pos)) {
            continue; /* dead below, unseen */
        }
        if (d->hint) { /* SIBLING PREFETCH */
            if (!F->hinted) fz_hint(t, d, sp, nd, slot + 1);
            else fz_hint_next(t, F, nd, slot);
        }
        /* the rest of the edge: bytes of the child's best key */
        size_t end, have;
        if (r & LEAF) {
            /* most leaves die or are cut a few characters in: decode
             * a little first (want + TC_SYM_MAX - 1 <= sizeof kb) */
            kview v = kv(t, r & ~LEAF);
            size_t want = pos + 24 < TRIE_MAX_KEY ? pos + 24 : TRIE_MAX_KEY;
            w->work++; /* one key decoded */
            have = tc_decode_prefix(&t->tc, v.code, v.ck, kb, want);
            if (have != TC_BAD && have >= want) have = tc_decode(&t->tc, v.code, v.ck, kb, TRIE_MAX_KEY);
            end = have;
        } else if ((end = NODE(t, r)->depth) > pos) {
            /* SECOND EDGE BYTE: the node holds it; the best key is decoded
             * (fz_edge_more) only when a later byte is needed */
            const tnode *cn = NODE(t, r); /* its child block, if entered: on its way */
            if (cn->nkids) __builtin_prefetch(kid_bytes(t, cn));
            w->work++; /* one longer edge (its key decoded when needed) */
            kb[pos] = (char)cn->e2;
            have = pos + 1;
        } else {
            have = end; /* a one-byte edge: nothing more to read */
            const tnode *cn = NODE(t, r); /* CHILD BLOCK PREFETCH: on its way while its frame is made */
            if (cn->nkids) __builtin_prefetch(kid_bytes(t, cn));
        }
        if (have == TC_BAD) continue; /* cannot happen: the arena holds valid codes */
        int det = 0;
        while (res == FZ_GO && !(det = fz_spent(w, &s, w->beff)) && pos < end) {
            if (pos >= have && (have = fz_edge_more(t, r, kb, end)) == TC_BAD) break;
            res = fz_byte(w, &s, (uint8_t)kb[pos], pos);
            pos++;
            if (!s.pre && s.best < d->lo) res = FZ_DEAD; /* only keys of complete classes below */
        }
        if (have == TC_BAD) continue; /* cannot happen, as above */
        if (det) { /* the rest is exact continuations */
            fz_det(t, w, w->beff, &s, r, pos, kb, &have, end, fz_dfs_sink, d);
            continue;
        }
        if (res == FZ_DEAD) continue;
        if (res == FZ_CUT || (r & LEAF)) { /* a cut, or a leaf key's end: its class is best */
            fz_record(d, r, &s);
            continue;
        }
        /* a node reached alive: its term ends here with class best */
        const tnode *cn = NODE(t, r);
        if (cn->term != NONE) fz_record(d, LEAF | cn->term, &s);
        if (cn->nkids == 0) continue;
        sp++;
        fz_frame_init(w, &d->fr[sp], r, &s, cn->depth);
        if (sp < (int)PF_MAXLEN) {
            fz_plan_make(t, w, pm, &d->memo.hits, &d->plan[sp], &s, cn->depth, d->lo);
            fz_plan_prefetch(t, w, &d->plan[sp], cn, cn->depth);
            fz_probe_prefetch(t, d, sp, cn, cn->depth, d->lo);
        }
    }
}

/* ------------------------------------------------------------- top-k */

/* Class 0: trie_topk's ids (its caches first). */
static int fz_exact(const trie *t, const char *p, size_t plen, unsigned k, uint32_t *ids) {
    const centry *e = NULL;
    if (k <= TRIE_CACHE_K)
        e = plen <= TRIE_CACHE_DEPTH ? &t->cache[cache_slot(p, plen)] : heavy_find(t, p, plen);
    if (!e) return trie__topk_walk(t, p, plen, k, ids);
    unsigned n = e->n < k ? e->n : k;
    memcpy(ids, e->id, n * sizeof *ids);
    return (int)n;
}

/* Classes 1..maxd: one DFS and one list walk per class; the first class
 * whose walk the work limit stops is the last one (info->cut). */
static void fz_dfs_topk(const trie *t, const fz_pat *z, const char *prefix, unsigned k, uint64_t max_work,
                        trie_fuzzy_hit *out, unsigned *got, trie_fuzzy_info *info) {
    fz_dfs d;
    fz_list lists[TRIE_FUZZY_MAX_EDITS];
    d.w.z = z;
    d.w.p = prefix;
    d.w.work = 0;
    d.w.pref = 0;
    d.w.rec = NULL;
    d.w.mrec = NULL;
    d.memo.hits = 0;
    d.max_work = max_work;
    d.cut = 0;
    d.hint = t->nlive >= trie__fz_hint_min_nodes && z->B >= trie__fz_hint_min_edits;
    d.pass = t->pf && (uint64_t)t->pfmask + 1 >= trie__fz_pass_min_words;
    d.usememo = trie__fz_memo && z->au != NULL && z->B >= FZ_MEMO_MIN_EDITS;
    d.cap = k - *got;
    for (unsigned c = 1; c <= z->B; c++) {
        lists[c - 1].t = t;
        lists[c - 1].n = lists[c - 1].tused = 0;
        d.cls[c] = &lists[c - 1];
    }
    /* one walk per class: class c's walk prunes at c edits, and class 1
     * often fills the answer alone; a later walk skips what is complete */
    for (unsigned c = 1; c <= z->B && *got < k; c++) {
        d.lo = c;
        d.w.beff = c;
        d.cap = k - *got;
        d.thr = -HUGE_VAL;
        fz_dfs_run(t, &d);
        trie__fz_walk_class(d.cls[c], c, k, out, got);
        if (d.cut) {
            info->cut = (uint8_t)c;
            break;
        }
    }
    info->work = d.w.work;
    if (trie__fz_memo_count && d.memo.hits) __atomic_fetch_add(&trie__fz_memo_hits, d.memo.hits, __ATOMIC_RELAXED);
}

int trie_fuzzy_topk(const trie *t, const char *prefix, size_t plen, unsigned maxd, unsigned flags,
                    unsigned k, trie_fuzzy_hit *out) {
    return trie_fuzzy_topk_bounded(t, prefix, plen, maxd, flags, k, 0, out, NULL);
}

int trie_fuzzy_topk_bounded(const trie *t, const char *prefix, size_t plen, unsigned maxd, unsigned flags,
                            unsigned k, uint64_t max_work, trie_fuzzy_hit *out, trie_fuzzy_info *info) {
    trie_fuzzy_info dummy;
    if (!info) info = &dummy;
    info->work = 0;
    info->cut = 0;
    if (!t || !out || k == 0 || k > TRIE_MAX_K || maxd > TRIE_FUZZY_MAX_EDITS ||
        (flags & ~TRIE_FUZZY_FIRST_ANY) || (plen && !prefix))
        return TRIE_EINVAL;
    fz_pat z;
    int toolong = 0;
    if (maxd > 0) {
        toolong = trie__fz_pat_init(&z, prefix, plen, maxd, flags);
        if (!toolong) plen = z.plen;
    }
    uint32_t ids[TRIE_MAX_K];
    unsigned got = (unsigned)fz_exact(t, prefix, plen, k, ids);
    for (unsigned i = 0; i < got; i++) {
        if (i + 1 < got) __builtin_prefetch(&t->refs[ids[i + 1]]);
        trie__fz_emit(t, ids[i], 0, (uint16_t)plen, &out[i]);
    }
    /* everything is class 0 for an empty P, and so is every key starting
     * with P's first character when P is only that under the first rule */
    if (maxd == 0 || got == k || toolong || plen == 0 || z.m == 0 || NODE(t, 0)->best == NONE)
        return (int)got;
    fz_dfs_topk(t, &z, prefix, k, max_work, out, &got, info);
    return (int)got;
}
