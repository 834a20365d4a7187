/* trie_words.c -- the word index: conjunctive "words anywhere" top-k over a
 * trie's keys, exact under live changes. Contract and semantics: trie_words.h.
 *
 * DESIGN
 * ------
 * Dictionary: a second trie (trie.h) whose keys are the distinct words of
 * the indexed keys; its key id is the word id (wid), and its score is an
 * UPPER BOUND of the scores of the keys holding the word. Its exact
 * best-first order is what enumerates "all words starting with p, best
 * bound first" for a one-word prefix query (a cursor over its nodes with an
 * unbounded frontier, below: the reason this file reads trie_internal.h).
 *
 * Postings: per word, the RANKS of the keys holding it (each key once per
 * distinct word), ascending: ranks are handed out by score at build
 * (highest first) and in arrival order afterwards, so a list is sorted
 * and, at build, by score. rr[rank].id gives the key id, NONE once the key
 * is deleted (rr: a record a rank, its key's id and signature, below). A list is stored in blocks of 16 ranks (trie_words_post.c):
 * the block's first rank whole (bbase, searched by bisection), the other 15
 * as gaps less one, bit-packed at the block's widest (a width byte a block,
 * bw; every block but the last is full, so its bytes follow from its width
 * and only each group of 16 blocks keeps its start, goff): 10M synthetic
 * keys, 54.5M postings: ~1.6 B a posting with the heads instead of 4 (2.1
 * as varint gaps with a 4-byte offset a block, before version 4 of the
 * file). A block is the unit of every read (decoded into 16 integers, by
 * the cursors on their first step past its head; a gap is one unaligned
 * 8-byte load: 8 bytes of pad after a list's gaps, TW_PK_PAD), and it
 * is the tree's leaf block, so a block's bound and its ranks go together.
 * The price of gaps (docs/INFIX.md, four A/B pairs at 10M against 4-byte ranks):
 * 3-4 word queries 6-30 % slower, the seeks into long lists reading gaps
 * instead of one load each; 1M no slower. Packed, they read faster than
 * the varints did (a load, a shift and a mask a gap, no branch on the
 * bytes: 10M, CPU per query -9 %).
 * Over each list sits a 16-ary tree of bounds:
 * level 0 entry i bounds positions
 * [16i, 16i + 16), level l entry i bounds 16^(l+1) ids; the single root is
 * the word's bound (kept in the dictionary trie). Bounds are 2-byte codes of
 * an order-preserving float-rounded-UP encoding (bcode: bfloat16-like, ~0.4%
 * coarse), so a bound is always >= what it covers; code 0 means "empty".
 *
 *   word "york" -> tw_word { p -> [bbase][goff][bw][level0 codes][level1..][gap bytes][pad] }
 *                   n used, live (non-tombstone), gn gap bytes, last rank, top = root code
 *
 * Per key id: kb[id] (2 B), the bound every tree path of the key is known
 * to cover (0: the id has no rank), and its rank's hint (2 B: rank >>
 * rshift; tw_rank finds the rank in that window of 256 ranks, one read of
 * 2 KB of rank records, where a 4-byte rank[id] cost 40 MB at 10M keys): only live
 * changes and the checks look a rank up; a search passes on the ranks it
 * examines. A score change to s < bval(kb[id]) (any
 * decrease; a rise within the headroom) touches nothing: O(1). A rise to
 * it or past it sets kb[id] = code(s + |s|/16 + 1) (headroom: INCR-heavy keys pay once
 * per ~6% growth, not per INCR) and raises, for each word of the key, the
 * tree path above the key's position (binary search by rank) and the word's
 * bound: O(words * (log n + depth)). Bounds never drop on decreases or
 * deletes (they stay upper bounds); build re-tightens them. An add's bound
 * has the same headroom (strictly above its score).
 *
 * Ties: build hands out ranks by bound code, highest first, then in KEY
 * order (the ids fed to the counting sort in key order), so a key whose
 * score equals its bound exactly (tw_exact: bval(kb) == score; every small
 * integer score is) is still at the rank and score of the build -- adds
 * and raises set a bound strictly above the score, drops leave it above --
 * and two tw_exact keys of equal score rank in key order. The search
 * decides a tie with the worst kept match by rank: when that match is
 * tw_exact, an entry whose bound EQUALS its score and whose ranks are all
 * after its rank holds nothing that can enter (a key there at that very
 * score is tw_exact too: its key is after). The heap orders equal bounds by
 * first rank, so the first such entry ends the search. Without it, a
 * corpus where most keys share a score (10M synthetic: 97 % count 1) had
 * every tie of the worst kept score expanded and decoded: whole lists of
 * common words for 2-word queries (units of work per 2-word query: mean
 * 2410 -> 752, truncated 171 -> 0 of 5263; bench_words, 10M).
 * Add: new rank (largest), append to each word's list (one gap, the last
 * block packed again when the gap is wider than its others, or a new
 * block head; grow x1.5, list re-laid and tree rebuilt on growth: amortized
 * O(1)), raise the path. Delete: rr[rank].id =
 * NONE turns the key's entry in every list into a tombstone at once (the
 * lists stay sorted; each word's live count drops); a list that is over
 * three quarters tombstones is compacted (into a fresh allocation: skipped
 * when there is no memory, tombstones are correct); a word with no live key leaves
 * the dictionary. Ids are reused by the trie after a delete, ranks never
 * (until a build): an old list never names the new key.
 *
 * Candidate check: a rank found in the lists is checked on its key's own
 * text in the main trie: rr[rank] -> key id -> refs[id] (its score) ->
 * the arena (tc-coded bytes), decoded, split on spaces, the greedy
 * matching of trie_words.h on the bytes (the prefix tried first: the
 * usual failure of a key that holds the complete words). Its score is read
 * first, so a key that cannot enter the best m is never decoded. Before
 * that, per rank, four bytes (sig): each word of the key sets one of 16
 * bits of the low half, a hash of its first two bytes, and one of 16 of
 * the high half, a hash of its first three (tw_sig, trie_words_internal.h);
 * a typed complete word has both its bits in every key holding it, a typed
 * prefix of 2 bytes or more its low bit, of 3 or more its high one too, so
 * a rank lacking a typed word's bit is dropped before refs and the key
 * are read (one miss). It is set at build and add and never changes (a
 * deleted rank's stays; its id is NONE). Halves of 16 bits instead of 8
 * (version 6 of the file; +20 MB at 10M keys, total RSS 705.5 -> 725.5 MB,
 * the target 730): a key of ~5 words sets ~28 % of a half instead of ~49
 * %, so a candidate lacking a typed word of 3+ bytes passes ~8 % of the
 * time instead of ~24 %; keys decoded over bench_words' 20,000 queries
 * 0.96M -> 0.55M, 10M, saved index, each query's fastest of 3 passes, 3
 * pairs (load 1.2-1.9, medians of the pairs): median 21.0 -> 19.9 us, p99
 * 504 -> 474 us, p99.9 949 -> 898 us, 2 / 3 / 4 words 18.7 / 50.1 / 48.4
 * -> 17.9 / 47.6 / 47.0 us, CPU per query 65.1 -> 61.1 us, answers equal
 * (per query, 1M and 10M). The high byte (version 5 of the file;
 * 10 MB at 10M keys): the tail is 3-4 word queries whose complete words
 * are common ("of application val": 13,000 ranks of "application"
 * checked), where most candidates holding the complete words fail the
 * prefix; decodes over bench_words' 20,000 queries 1.40M -> 0.96M ("of
 * application val" 2863 -> 1720), 3 pairs (load 2.0-2.6, medians of the
 * pairs): median 22.6 -> 20.8 us, p99 535 -> 472 us, p99.9 1025 -> 892
 * us, CPU per query 68.5 -> 61.8 us, answers equal; with the index built
 * in the process instead of loaded, 3 pairs: median 22.6 -> 21.9 us, p99
 * 549 -> 512 us, p99.9 1076 -> 968 us (docs/INFIX.md). (A complete word's
 * list left to this check at TW_ISECT_SKEW 32 or 16 instead of 64, now
 * that the check drops more: no faster, one run each.)
 * This replaced a forward index (jermp/autocomplete's conjunctive layout,
 * made mutable: per rank the key's word codes as varints, 99 MB at 10M
 * keys, their groups of 16 ranks 15 MB, and per word code its id, length
 * and 8-byte head), which checked a rank without a decode. 10M keys,
 * bench_words' 20,000 queries (each query's fastest of 3 passes), 3 pairs
 * alternating, load 1.3-2.2, medians of the pairs: the index 321.0 ->
 * 214.8 MB, the answers' checksum equal. The key check alone (no
 * signature) was slower: p99 554 -> 613 us, 3 / 4 words 54.0 / 52.3 ->
 * 56.2 / 53.8 us, CPU per query 70.0 -> 74.7 us (a decode and split for
 * each candidate the prefix fails: 13,000 of them for "of application
 * val"). With the signature: median 22.8 -> 20.8 us, p99 528 -> 523 us,
 * 1 / 2 / 3 / 4 words 4.2 / 20.6 / 52.0 / 50.3 -> 3.7 / 17.9 / 49.6 /
 * 47.8 us, CPU per query 68.1 -> 64.9 us.
 * The signature and the key id are one 8-byte record a rank (rr,
 * tw_rrec; branch infix13: two arrays of 4 bytes before, the key id read
 * in a second dependent miss after the signature passed), so the check's
 * stages are three, not four: the record, the score, the bytes. Same
 * bytes (index 217.4 MB at 10M), though bench_words' total RSS after a
 * load went 725.2 -> 727.2 MB (after the build 725.6 -> 727.4; one run
 * each, twice for this code; not explained: alone, one 80 MB allocation
 * and two of 40 MB add the same RSS). The build sorts the ids straight
 * into the records; the saved file is unchanged (its ids, then its
 * signatures: load pairs them). Profiled first (10M, qd's 20,000
 * queries, the saved index): a 2-word query at the median
 * (1,107 of 9-18 us) checks 2 blocks (median; mean 3.2), 32 ranks, 16
 * passing the signature, 16 decoded; class 0 (trie_topk) ~0.2 us; perf
 * on those queries repeated: the check 17 % of the samples (a fifth of
 * them on the key ids' loads), the cursors ~22 %, the pass 9 %, tw_match
 * 9 %, tc_decode 7 %: no single lever. 10 pairs alternating (load
 * 2.3-3.7, each query's fastest of 3 passes, medians of the runs): median
 * 14.8 -> 14.1 us (0.95; the pairs' ratios 0.81-1.04, 8 of 10 under 1),
 * 2 words 14.2 -> 13.3 us (0.94; their summed time lower in 9 pairs of
 * 10, median ratio 0.95), p99 299 -> 280 us (0.94), 2-word p99 255 -> 227
 * us (0.89), CPU per query 38.5 -> 37.0 us (0.96); answers equal per
 * query (1M and 10M). Tried with it and not kept: the record of each rank
 * in every list prefetched by the pass when it buffers the rank for the
 * check (3 runs: no better); a candidate tied with the worst kept match
 * (both tw_exact, a later rank: the tie rule) dropped before its decode
 * (2-word decodes, median 14 -> 10 a query, answers equal; 4 pairs, the
 * queries that decode less no faster than the others: those keys' bytes
 * came with the others'). After it, cold (rdtsc, qd's answer pass, the
 * 2-word queries of 9-18 us): class 0 13 % of their cycles (trie_topk's
 * walk down the main trie, ~2.2 us, mostly finding nothing), dictionary
 * look-ups 6 %, the source chosen 8 %, the one pass 38 % (the prefix's
 * cursors: 421 of 1,116), the best-first search 31 % (695; the check 54 %
 * of their time, the heap 8 %); docs/INFIX.md.
 * The records are on 2 MB pages (trie_words__rr_alloc: trie__huge_alloc
 * at build and load, as the trie's big arrays are, trie_huge.c; a growth
 * by qrealloc may leave them, only slower; QAC_NO_HUGE_PAGES=1 none): the
 * check's and the one pass's random misses into 80 MB (10M keys) each
 * paid a TLB walk on 4 KB pages. 5 pairs alternating against class 0's
 * skip alone (qd, 10M, the saved index, load 0.7-1.4): median 13.6 ->
 * 12.5 us (0.92; every pair 0.88-0.94), 2 words 0.93, p99 0.93, CPU per
 * query 0.93; answers equal per query; total RSS after a load (bench_words,
 * 5 pairs) 727.0-727.2 -> 727.0-727.3 MB (the last 2 MB page at most).
 *
 * Top-k: class 0 is trie_topk(canonical text) on the main trie (every key
 * that the text is a prefix of matches), skipped when the main trie's
 * prefix filter (trie_pfx.c: no false negatives, kept under live changes,
 * absent only without memory) knows no key starting with the text's first
 * min(len, 8) bytes. CLASS 0: at 10M keys that is 32 % of qd's 2-word
 * queries and 41 % of the 3-4 word ones (the rest start like some key for
 * 8 bytes), whose walk, warm, took ~1.5 us (median) to find nothing; the
 * typo search's same filter gave nothing because its walk re-read the
 * nodes next (trie_fuzzy.c, EXACT FILTER), here nothing does. 8 pairs
 * alternating (qd, 10M, the saved index, load 2.0-2.2): median 13.4 ->
 * 12.6 us (0.93; 7 pairs of 8 at 0.91-0.97), 2 words 0.94, p99 0.98, CPU
 * per query 0.97 (each query's fastest over all 8 runs: 0.99 of the
 * 2-word time); 4 more pairs, the branch first: 0.95, 2 words 0.96, CPU
 * 0.97; answers equal per query (docs/INFIX.md).
 * CLASS 0 LATE: with TW_C0_LATE_WORDS (3) typed words or more and the
 * filter saying maybe, class 1 is searched FIRST, for all k: a key of
 * class 0 holds every typed word (the text is its prefix), so a search
 * that kept fewer than k and was not cut, which prunes nothing (no worst
 * kept) and so examines every key holding the typed words, met every key
 * of class 0 too (examine sees and passes over them: S->saw0); when it met
 * none, class 0 is empty and the search is the answer, no trie_topk. Else
 * trie_topk runs as before; when it finds n0 > 0 keys, class 1's best k -
 * n0 are the first k - n0 the search kept (the best k - n0 of a set are
 * the first of its best k), so there is never a second search (work:
 * one search and one trie_topk, as before). The answers are those of
 * class 0 first, but for a search cut by the work limit that class 0
 * would have cut less (it sought k, not k - n0): its hits are still the
 * best (a correct prefix), none in qd's 20,000 at 1M or 10M. At 10M, 3-4
 * word queries have a non-empty class 0 in 262 of 9,737 (2-word: 2,152 of
 * 5,263), and most have fewer than k matches. In one process over the
 * same index, passes alternating ABBA (12 passes, each query's fastest
 * per side; an A/A run puts the sides within 1 %): 4-word median 26.30
 * -> 24.35 us and 25.06 -> 23.22 us (0.93, both orders), 3 words 0.98 /
 * 0.99, overall median 0.94 / 0.95, p99 and 2 words unchanged, answers
 * equal. From two words it is slower (2-word median 13.65 -> 22.35 us):
 * a 2-word text's class 0 is often not empty, and the search then sought
 * k matches where k - n0 would do; nor does it pay there when a search
 * that meets a key of class 0 stops at once (the work it did thrown away,
 * class 0 then class 1 as before): 2-word median 15.8 -> 24.4 and 14.7 ->
 * 23.0 us (a class 0 of k keys, answered by trie_topk alone before, now
 * pays a search until it meets one of them). The A/B in separate
 * processes: docs/INFIX.md.
 * Tried with it and not kept (branch infix17, the same in-process A/B):
 * class 1's hits filled from the key bytes the check decoded (kept in
 * tw_res) instead of decoded again by fill_hit: no faster (sum of the
 * queries' times 1.00, the sides' bias included); the arena line 31 bytes
 * past a candidate's start prefetched with its first (a coded chunk that
 * crosses a line): sum 0.98, median 0.98, within twice the A/A spread;
 * each prefix cursor's first gaps prefetched in uni_init (separate
 * processes, one pair): the cursors' queries no faster than the others.
 * (The key decodes are not where the median's time goes: tc_decode is
 * ~8 % of the 2-word median band's samples, perf, warm.)
 * Class 1 is one best-first search over a max-heap of bound entries:
 * STREAM (the next dictionary word with the last typed word as prefix,
 * value = its bound), WORD (a word's whole
 * list), NODE (a tree entry). A popped entry pushes its children; a leaf
 * block's ranks are examined on the spot (the candidate check above): a
 * key whose score can still enter the best m is decoded and matched on
 * its bytes, class 0 keys (the text is their prefix) are skipped, and a
 * match is kept (ties order by key bytes); the worst kept prunes the heap. The search ends when no
 * bound left reaches the worst kept (an equal bound may hide a tie with a
 * smaller key: it is expanded), so the kept matches are exactly the best.
 * Sources: a one-word query without a trailing space streams every word
 * with that prefix (a key with two such words is met twice: dropped by id).
 * Otherwise the list of the rarest complete typed word drives, unless the
 * last (prefix) word has at most TW_PFX_DRIVE dictionary words whose lists
 * together are shorter: then those lists drive (the same dedup). With two
 * or more distinct complete words there is no heap: the lists are
 * intersected in one pass in rank order (leapfrog: the shortest list
 * drives, each of its ranks galloped in the other lists over their block
 * heads, the block found decoded whole (once) and the rank found in it by
 * counting its ranks below, the cursors only moving forward; a rank
 * missing from a list sends the driver on to that list's next rank). The driver's blocks and tree entries whose bound is
 * beaten by the worst kept match are passed whole (16^level blocks at a
 * time), so once the best m are kept the rest of a long list costs a few
 * steps a level. Only the ranks in every list are checked (the candidate
 * check, 16 at a time, prefetched). So is one complete word (or more)
 * with the prefix when the prefix has at most TW_UNION_WORDS dictionary
 * words whose lists hold at most TW_UNION_MAX entries and at most
 * TW_UNION_RATIO times the rarest complete word's: those lists are merged
 * (radix sort) into one sorted array of ranks, intersected like a list
 * (driving when shortest). Before that: when the prefix has at most
 * TW_PCUR_WORDS (128; 64 with two or more distinct complete words, whose
 * lists filter already) dictionary words whose lists hold at most
 * TW_PCUR_RATIO (4) times the rarest complete word's entries, and none of
 * them is a complete typed word (its whole list would be in the union),
 * those lists are read as one without merging them: a cursor each, in a
 * min-heap on their current ranks, only the cursors behind the rank sought
 * moving (a work unit each), so the pass reads them only as far as it
 * goes. With two or more complete words only when the prefix's lists are
 * the shortest (driving); else the candidate check tests the prefix of
 * the few ranks in every complete list. Before, one complete word with
 * such a prefix checked every posting of the rarer side on the forward
 * index this file had then (~3 cache misses each), best first. In rank order a key raised
 * live since the build comes last, where the best-first search found it
 * by its bound: with one complete word the pass stops at TW_ISECT_HANDOFF
 * (3/4) of the work limit and puts the rest of that word's list on the
 * heap as tree entries (keys already kept are dropped when met again), so
 * the search goes on by bound with the work left. A complete word's list
 * over TW_ISECT_SKEW (64) times the driving one's is not sought at all: a
 * seek there gallops over blocks far apart, a cache miss a step (log of
 * the ratio steps), where the candidate check, which tests every typed
 * word anyway, costs a few misses started 16 at a time (10M, on the
 * forward index then: "new yorkers create", lists of 66 and 268,322, 60 ->
 * 21 us; 16x was slower). Two complete words' lists within TW_ISECT_BLOCK
 * (8) times each other's length, no prefix list sought, are compared a
 * block pair at a time while fewer than k matches are kept (isect_blocks,
 * trie_words_isect.c: a block wholly below the other list's, or holding
 * none of the shorter list's next ranks, passed on its heads; two that
 * overlap decoded whole and compared 16 x 16, SSE2), then the leapfrog
 * goes on (it passes beaten blocks). When the next complete list is over
 * TW_ISECT_SIGF (8) times the shortest's, or every longer one is left to
 * the check (TW_ISECT_SKEW), no prefix list sought, the shortest's ranks
 * are first tested on their signatures (every typed word's bits), a block
 * at a time with the next block's 16 misses started ahead, and only those
 * that pass seek the longer lists (isect_sigf: a seek there decoded a
 * block of the long list for each rank; a unit a block and one a rank that
 * passes), while fewer than k matches are kept. The check prefetches each stage for the 16 ranks
 * at once: signatures, key ids, scores, then the bytes and bound of each
 * candidate that may enter. Exact: every rank is in a beaten block, absent
 * from a list every match is in, or checked. The pass counts a work unit
 * a step (block pairs: a pair, a third list's cursor moved, a rank in
 * every list) and stops at the index's limit (max_scan), leaving one heap entry that
 * bounds every rank it did not reach (the largest bound of the driver's
 * blocks left): as for the heap, the answer is exact when that bound is
 * beaten, else truncated to the matches it cannot beat. Most 3-4 word
 * queries have fewer than k matches, so the best-first search would
 * expand the whole list anyway, paying a heap entry per block and a check
 * for every posting; with two common words (lists of 10,000+) it ran to
 * the work limit (on the forward index then) where the leapfrog reaches
 * few ranks (10M keys, bench_words' queries: truncated 272 -> 34 of
 * 20,000; docs/INFIX.md).
 *
 * Tried and not kept (10M keys, bench_words' queries, a saved index, each
 * query's fastest of 3 passes, 3 pairs alternating, load 2.3-3.0): a
 * cursor's gaps found on its first step instead of on entering its block
 * (a seek that gallops on never reads them), and the prefix's cursors'
 * first heads prefetched together: median 22.6 -> 23.3 us, CPU per query
 * 69 -> 73 us (the branch in the step loop; the gaps' miss was overlapped
 * with the gallop's anyway).
 * Tried and not kept, after the 4-byte signatures (10M, the saved index,
 * each query's fastest of 3 passes, variant and this code alternating in
 * separate processes, load 1.5-1.9; branch infix9, its scratch holds the
 * patch): exact rank bitmaps of the commonest words (at most 16, each
 * with a rank in 64 or more, 1.25 MB each at 10M, made from the lists at
 * build and load, a bit set by each add, dropped with their word), a
 * complete word's list with one tested by a bit instead of a seek:
 * median 20.4 / 20.5 us against 20.0 / 20.0, 4 words 49.6 / 48.5 against
 * 47.7 / 47.6, p99 482 / 465 against 474 / 481, answers equal -- a list
 * that is not skewed is sought a short way, mostly in a block already
 * read, while a bit test is a miss; with the skewed lists (TW_ISECT_SKEW)
 * kept in the pass too, tested by their bits: median 21.1-21.4 us, 3 / 4
 * words 49.8-50.8 / 51.2-52.9 us (a serial miss a driver rank, where the
 * candidate check starts the signatures' misses 16 at a time). And the
 * signature tested on each rank of the driver before the other lists are
 * sought (the prefix's ranks driving, or every driver): median 20.4 /
 * 20.4 and 21.9 / 22.3 us against 19.4 / 19.0 (two runs each), CPU per
 * query 65-67 and 81-85 us against 59, the work units of the skipped
 * ranks sending 63 and 196 more queries to the work limit (the answers
 * truncated, so changed). The best-first search starting the signatures'
 * misses of the next leaf block on the heap under the current block's
 * check: 3 pairs, median 19.9 / 20.5 / 19.4 us without, 19.8 / 19.8 /
 * 20.5 with (noise) -- kept later in another form (branch tail19, after
 * the record of signature and key id): the next leaf block's records and
 * then its scores started, from a search's third leaf block on
 * (TW_LOOKAHEAD, trie_words_query.c, expand); the median does not move,
 * the 2-word tail does (its best-first searches over a common word's
 * list whose signatures pass most ranks: docs/INFIX.md). TW_PCUR_RATIO 1, 2 or 8, TW_PCUR_WORDS 64,
 * TW_ISECT_SKEW 16 or 32, TW_PFX_DRIVE 256 or 512 with the 4-byte
 * signatures: none better than the noise (one or two runs each;
 * TW_PCUR_RATIO 1 sends 2-word p99 from ~340 to ~470 us; the skews and
 * TW_PFX_DRIVE truncate 2-7 more queries, so change answers).
 * The tail (branch infix10; 10M, the saved index, the slowest 200 of
 * bench_words' 20,000 queries, each's fastest of 3 passes, counted per
 * query): 189 of them take the one-pass intersection, 156 of those with
 * the prefix left to the candidate check, only 14 with a list skewed
 * (TW_ISECT_SKEW); the driving list holds ~45,000 ranks, and the pass
 * makes ~11,800 steps, ~9,700 seeks in the second list (~370 in a
 * third), ~58,000 gaps read, ~5,200 blocks entered, and only ~1,300
 * ranks in every list reach the check; most have fewer than k matches, so
 * no bound is beaten. The seeks (cur_seek) were ~60 % of their query time
 * and trie_words__check_ranks ~13 %: the leapfrog of two lists of
 * comparable length, not the signatures' misses. A cursor read its
 * block's gaps one at a time up to the rank sought (a compare and branch
 * a gap, the exit mispredicted, the reader's fields stored back each gap
 * as byte loads may alias them); it now decodes the block whole on its
 * first step past the head and counts the ranks below the one sought, as
 * they are made (counting them back from the array right after storing
 * them stalled on the stores: the slowest 200, 10 passes, 101 / 103 ->
 * 94 / 93 ms), and by a branchless count of the 16 on later steps; where
 * a block's gaps start is summed on from the block the cursor decoded
 * last when in the same group (tw_boff summed from the group's start:
 * 4 pairs, 97.9 / 93.6 / 96.1 / 99.3 -> 93.9 / 92.4 / 89.7 / 95.3 ms). 3
 * pairs (load 1.9-2.0, medians of the pairs; before the offsets): median
 * 18.9 -> 16.3 us (0.86), p99 434 -> 348 us (0.80), p99.9 839 -> 670 us,
 * 2 / 3 / 4 words 17.1 / 44.4 / 43.9 -> 14.9 / 36.7 / 35.0 us, CPU per
 * query 56.6 -> 45.9 us; with them, 3 pairs (load 1.2-1.4): median 19.1
 * -> 16.4 us (0.86), p99 450 -> 345 us (0.77), p99.9 863 -> 636 us, 2 /
 * 3 / 4 words 17.5 / 46.0 / 44.6 -> 15.4 / 36.7 / 34.5 us, CPU per query
 * 59.4 -> 46.6 us; answers equal per query (1M and 10M). After it the
 * slowest 200's query time is ~70 % the cursors (cur_seek, the decodes,
 * the pass) and ~29 % the candidate check, of which the signatures'
 * misses ~9 %: the most that signature bits stored in the postings (read
 * in sequence, ~55 MB at a byte a posting, over the 730 MB target) could
 * save without changing the pass's steps, not built. The targets
 * (median 5, p99 50 us) stay far: the pass's steps are its work units,
 * so a faster pass that took fewer or other steps would change the
 * truncated queries' answers. Tried with it and not kept
 * (the slowest 200, 10 passes, 2 runs each): block offsets (tw_boff)
 * summed over the group's 16 widths without a branch (not vectorized by
 * gcc 12 at -O2: 91 -> 99 ms), the next 64 bytes of gaps prefetched on a
 * decode (noise), cur_seek forced inline (-2 %, noise), a full block's
 * 15 gaps decoded unrolled at constant multiples of the width (85.8 /
 * 91.9 -> 94.5 / 93.8 ms).
 * The 2-word class after it (branch infix11; 10M, the saved index, the
 * 5,263 2-word queries of bench_words' 20,000, 60 passes, perf, load
 * included in the samples): trie_words__check_ranks 13.5 %, cur_seek 7.1,
 * trie_words__isect 6.9, cur_decode 4.8, tc_decode 4.5, tw_match 3.6; the
 * check's samples sit on the loads of the signatures, key ids and scores
 * (misses, prefetched 16 at a time already), and gcc 12 at -O2 already
 * vectorizes cur_step's count of the 16 (pcmpgtd, paddd), so hand SIMD
 * there has nothing to take. The 1,085 2-word queries of 11-22 us (the
 * median's band) do ~100-500 work units and decode ~16 keys; their time is
 * spread (check 6.6 %, tc_decode 3.3, cur_seek 3.2, cur_decode 3.1,
 * tw_match 2.5 of the samples): no single lever. The prefix's cursors'
 * heap (tw_uni) now keeps each cursor's rank beside its index, so a sift
 * compares in 1 KB rather than across 96-B cursors: answers equal, 6
 * pairs of the 20,000 (load ~0.9-1.0), the queries with the prefix's
 * cursors (2,802; 1,620 of 2 words) 0.884 / 0.988 / 0.967 / 1.034 /
 * 0.932 / 0.924 of the base's summed time, the others (untouched, the
 * run's noise) 0.916 / 1.012 / 0.998 / 1.074 / 0.959 / 0.943: 0.962-0.980
 * of them in every pair, ~3 %; the overall median stays ~16 us. (Those
 * 2,802 queries alone, 10 passes, caches warm: 0.908 / 1.047 / 1.062, no
 * gain once the cursors stay in cache: the gain is their misses.)
 * Block pairs (branch infix12; 10M, the saved index, qd's 20,000 queries,
 * each's fastest of 3 passes). perf first, on the base: the slowest 200,
 * the leapfrog (cur_seek 27 %, cur_decode 19, the pass 8, cur_seek_live
 * 3) 57 % of the query's samples, the check and key decodes ~36 %; the
 * 955 3-word queries of 30-50 us, 60 % and 32 %. Of the slowest 200, 68
 * have two complete lists within 8x of each other and no prefix list (26
 * of two words, 42 of three), 46 a list 8-64x the other's, 37 one
 * complete list (no intersection: the prefix left to the check). A 16 x 16
 * compare of every overlapping pair, the one ending first moved on by a
 * branch, was 8 % slower than the leapfrog on its queries (that branch a
 * coin toss, every block of both lists decoded); the move selected and B
 * galloped on its heads to A's next rank when its block holds none of
 * A's: 0.78 of the leapfrog's time at <= 2x, 0.86 at 2-8x, 1.03-1.08 at
 * 8-64x (the others' run-to-run noise divided out), so TW_ISECT_BLOCK 8
 * (16: no better). Units: a block pair instead of a driver step (8.7M ->
 * 4.7M over the 4,063 queries it takes); a unit for every rank in the
 * first two lists, rather than for those in all, sent "united south states
 * ny" (most of "united" is in "states") to the work limit. Kept, 3 pairs
 * against 19bcbd6 (load 1.5-2.1, medians of the pairs): median 16.0 ->
 * 15.2 us (0.95), p99 316 -> 304 us (0.96), p99.9 583 -> 572 us, 1 / 2 /
 * 3 / 4 words 3.3 / 14.9 / 34.7 / 33.1 -> 3.2 / 14.4 / 32.2 / 29.6 us, CPU
 * per query 41.5 -> 38.5 us (0.93); its 4,063 queries 0.80-0.81 of their
 * time in each pair (the others 0.99-1.01), the slowest 200 0.95-0.97,
 * the 3-word band 0.93-0.95. Answers equal per query but for 3 that the
 * leapfrog truncated, now complete (its answer a prefix of each, each
 * the leapfrog's own under a 100x work limit;
 * truncated 18 -> 15; 1M: all 20,000 equal); no memory. Tried and not kept (2 pairs each): the
 * compare's array form (gcc 12 kept the four masks in memory: 2-3 %
 * slower); A's ranks found in B by a count when at most 2 fall in B's
 * block, instead of the 16 x 16 compare: 1.03-1.04 of the time at <= 8x,
 * no better than the leapfrog at 8-64x; a decode without the count
 * (cur_decode out of line for the leapfrog too: its queries 2-5 % slower).
 * The targets stay far: the block-pair queries' time is now the pass 39 %
 * (the compares, the counts, the moves), cur_decode 29 % (both lists'
 * gaps, a shift by a variable and a mask a gap), the check ~20 %.
 * Tried and not kept (10M keys, bench_words' queries; the variant and this
 * code in one process over the same index, passes alternating, load 10-12):
 * inside the best-first search, filtering the driving list by the other
 * typed words' lists (a tree entry
 * whose rank range holds no rank of another complete word's list dropped
 * before the heap; a leaf block's ranks kept only when every other list
 * holds them, by galloping look-ups; the prefix's lists, when it has <= 8
 * words, as one more filter): overall median 76 us against 59, 4 words 187
 * against 141, CPU per query +30 % (bench_words) -- the look-ups in long
 * lists cost more than the forward-index reads they save, and a common
 * word's list has a rank in almost every range, so few entries drop.
 * Prefetching the word heads of the candidates that hold the complete
 * words before the prefix check: 3 and 4 words 20 % slower (medians of four
 * pairs), 2 words within the noise. (The one-pass intersection above is
 * sequential where those were not: its cursors never go back.)
 *
 * Cost: per request O((expanded entries) * log heap) plus, per examined
 * posting, its signature and key id (a miss) and, when the signature
 * passes, its score (one more), and for a key whose score may enter, its bytes (decoded);
 * bounded by max_scan work units (every posting, tombstones
 * included, every streamed word, every heap push; then *truncated: the hits
 * so far are still exactly the best). Memory per key: 2 (rank hint) + 8
 * (rr: id and sig) + 2 (kb) + ~1.6 per distinct word (gap, block heads,
 * tree) + the dictionary (~50 B per word + its trie); at 10M synthetic
 * keys (bench_words): rank hints 20 MB, kb 20, rank records 80, postings
 * 84.8 (gaps 57.5 and their pads 1.1, block heads 18.9: first ranks 14.0,
 * widths 3.6, group starts 1.3; trees 7.3), words and dictionary ~13:
 * 217.4 MB (197.4 with 2-byte signatures, 187.4 with 1-byte; 214.8 with
 * those, varint gaps
 * and a 4-byte offset a block: gaps 76, heads 28; 321.0 with the forward
 * index). Tried and not kept (10M, 3
 * pairs each, load ~2): no pad, the 8-byte load ending at the gap's last
 * byte (it may start in the heads before the gaps): 1.1 MB less, median
 * 22.8 -> 23.5 us against the pad; no pad, the gap bytes first and the
 * heads after them: median 23.1 -> 23.6 us, p99.9 +7 %. Build and load end by handing the
 * freed pages of their temporaries back (qalloc_release). The build (keys by rank, the
 * posting lists, the bound trees, the dictionary): trie_words_build.c. Saved beside the
 * trie snapshot and
 * loaded back (trie_words_snap.c): the arrays above are copied as they are
 * (word ids renumbered in byte order) and checked, and only the dictionary
 * trie is bulk-built again, so a start does not pay the build.
 *
 * Limits: < 2^32 - 1 ranks handed out between builds (adds; TRIE_EFULL past
 * it: rebuild), words <= TRIE_MAX_KEY bytes (a key's words are).
 *
 * The last word with edits (trie_words_fuzzy_topk, INFIX with FUZZY): the
 * same best-first search, one pass per edit class (1, then 2), each over a
 * set of dictionary words made explicit: a walk of the dictionary trie
 * carrying the OSA rows of the last typed word (trie_words_fuzzy.c) lists
 * every word and whole subtree of each class, none capped; with no complete
 * typed word those entries are the dictionary cursor a one-word prefix
 * uses (best bound first, a key met twice dropped by id); with complete
 * words, the class's lists are read as one (a cursor each) in the one-pass
 * intersection with the complete words' lists when the class has at most
 * TW_FZCUR_WORDS words whose entries are at most TW_FZCUR_RATIO times the
 * rarest complete word's, and either the pass cannot pass the work limit
 * (the class's lists driving: at most 2 units an entry of theirs) or the
 * shortest complete list fits the best-first search whole in the work
 * left -- the pass then hands its rest to that search as soon as it would
 * no longer fit (trie_words_isect.c), so it ends where that search would
 * (answers equal per query at 10M and 1M); else the class's words drive when their
 * lists together are shorter than the rarest complete word's
 * (<= TW_PFX_DRIVE words), else that word's list. Every candidate's
 * signature must hold a low and a high bit of the class's words (a word's
 * two, a subtree's those its path fixes) before its key is read: at 10M,
 * 98 % of the keys decoded from the rarest word's list failed the class
 * check, and with the cursors and this test a class-1 search decodes 131
 * keys, not 407, for the same answers (docs/INFIX.md). Every candidate's
 * class is decided on its key's text (the fewest
 * edits over the key words the complete words leave free), and a pass
 * keeps only keys of its class, so each key is reported once, in its
 * least class, and never when it is an exact match. The walk's units and
 * the search's share max_scan; a class cut by it ends the
 * answer there (the hits before are still exactly the best).
 */
#include "trie/trie_words.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trie/trie_words_internal.h"

/* ---------------------------------------------------------- trie look-ups */

/* Id of key in t, or NONE (find() without the path; reads internals). */
uint32_t trie_words__lookup(const trie *t, const char *key, size_t klen) {
    if (klen == 0 || klen > TRIE_MAX_KEY || !t->kids) return NONE;
    uint32_t n = 0, id;
    size_t pos = 0;
    for (;;) {
        const tnode *nd = NODE(t, n);
        if (pos == klen) {
            id = nd->term;
            break;
        }
        int s = kid_find(t, nd, (uint8_t)key[pos]);
        if (s < 0) return NONE;
        uint32_t r = kid_refs(t, nd)[s];
        if (r & LEAF) {
            id = r & ~LEAF;
            break;
        }
        if (NODE(t, r)->depth > klen) return NONE;
        pos = NODE(t, r)->depth;
        n = r;
    }
    if (id == NONE) return NONE;
    char kb[TRIE_MAX_KEY];
    if (kdecode(t, id, kb) != klen || memcmp(kb, key, klen)) return NONE;
    return id;
}

/* Splits key into words; returns how many (offsets and lengths in o, l). */
int trie_words__split(const char *key, size_t klen, uint16_t *o, uint16_t *l) {
    int n = 0;
    size_t i = 0;
    while (i < klen) {
        while (i < klen && key[i] == ' ') i++;
        if (i == klen) break;
        const char *e = memchr(key + i, ' ', klen - i);
        size_t j = e ? (size_t)(e - key) : klen;
        o[n] = (uint16_t)i;
        l[n++] = (uint16_t)(j - i);
        i = j;
    }
    return n;
}

/* Keeps the first occurrence of each distinct word; returns how many. */
int trie_words__distinct(const char *key, uint16_t *o, uint16_t *l, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < m && !dup; j++)
            dup = l[j] == l[i] && memcmp(key + o[j], key + o[i], l[i]) == 0;
        if (!dup) o[m] = o[i], l[m++] = l[i];
    }
    return m;
}

/* --------------------------------------------------------------- lifecycle */

trie_words *trie_words_new(void) {
    trie_words *w = qcalloc(1, sizeof *w);
    if (!w) return NULL;
    if (!(w->wt = trie_new())) {
        qfree(w);
        return NULL;
    }
    w->max_scan = TRIE_WORDS_MAX_SCAN;
    return w;
}

int trie_words_set_max_scan(trie_words *w, uint32_t units) {
    if (!w || units < TRIE_WORDS_SCAN_MIN || units > TRIE_WORDS_SCAN_MAX) return TRIE_EINVAL;
    w->max_scan = units;
    return TRIE_OK;
}

uint32_t trie_words_max_scan(const trie_words *w) { return w->max_scan; }

void trie_words_free(trie_words *w) {
    if (!w) return;
    for (uint32_t i = 0; i < w->wcap; i++) qfree(w->w[i].p);
    qfree(w->w);
    qfree(w->rhint);
    qfree(w->kb);
    qfree(w->rr);
    trie_free(w->wt);
    qfree(w);
}

/* A capacity grown from cap (x1.5 + 64) to at least need, at most max. */
static uint64_t tw_grown(uint64_t cap, uint64_t need, uint64_t max) {
    uint64_t nc = cap + cap / 2 + 64;
    if (nc < need) nc = need;
    return nc > max ? max : nc;
}

int trie_words__ids_reserve(trie_words *w, uint32_t id) {
    if (id < w->idcap) return TRIE_OK;
    uint64_t nc = tw_grown(w->idcap, (uint64_t)id + 1, MAX_IDS);
    uint16_t *r = qrealloc(w->rhint, nc * sizeof *r);
    if (!r) return TRIE_ENOMEM;
    w->rhint = r;
    uint16_t *b = qrealloc(w->kb, nc * sizeof *b);
    if (!b) return TRIE_ENOMEM;
    w->kb = b;
    for (uint64_t i = w->idcap; i < nc; i++) w->rhint[i] = 0, w->kb[i] = 0;
    w->idcap = (uint32_t)nc;
    return TRIE_OK;
}

size_t trie_words__rr_huge_min = HUGE_MIN_BYTES;

tw_rrec *trie_words__rr_alloc(size_t n) {
    tw_rrec *p = trie__huge_alloc(n * sizeof *p, trie_words__rr_huge_min, NULL);
    return p ? p : qmalloc(n * sizeof *p);
}

static int tw_rid_reserve(trie_words *w, uint32_t r) {
    if (r < w->ridcap) return TRIE_OK;
    uint64_t nc = (uint64_t)w->ridcap + w->ridcap / 2 + 64;
    if (nc > NONE) nc = NONE;
    tw_rrec *p = qrealloc(w->rr, nc * sizeof *p);
    if (!p) return TRIE_ENOMEM;
    w->rr = p;
    w->ridcap = (uint32_t)nc;
    uint32_t s = tw_rshift_for(nc);
    if (s != w->rshift) { /* ranks past 2^(16 + rshift): wider windows, every hint again */
        w->rshift = s;
        for (uint32_t k = 0; k < w->next_rank; k++)
            if (w->rr[k].id != NONE) w->rhint[w->rr[k].id] = (uint16_t)(k >> s);
    }
    return TRIE_OK;
}

int trie_words__words_reserve(trie_words *w, uint32_t wid) {
    if (wid < w->wcap) return TRIE_OK;
    uint64_t nc = tw_grown(w->wcap, (uint64_t)wid + 1, NONE);
    tw_word *x = qrealloc(w->w, nc * sizeof *x);
    if (!x) return TRIE_ENOMEM;
    memset(x + w->wcap, 0, (nc - w->wcap) * sizeof *x);
    w->w = x;
    w->wcap = (uint32_t)nc;
    return TRIE_OK;
}

/* Sets the dictionary bound of word (wid) to cover code c. */
static int tw_word_bound(trie_words *w, uint32_t wid, const char *word, size_t wl, uint16_t c) {
    tw_word *x = &w->w[wid];
    if (c <= x->top) return TRIE_OK;
    int rc = trie_set(w->wt, word, wl, NULL, 0, bval_fin(c), NULL);
    if (rc) return rc;
    x->top = c;
    return TRIE_OK;
}

/* ------------------------------------------------------------ live changes */

int trie_words_add(trie_words *w, uint32_t id, const char *key, size_t len, double score) {
    if (!w || !key || len == 0 || len > TRIE_MAX_KEY || id >= MAX_IDS || !isfinite(score))
        return TRIE_EINVAL;
    int rc = trie_words__ids_reserve(w, id);
    if (rc) return rc;
    if (w->kb[id]) return TRIE_EINVAL; /* has a rank */
    if (w->next_rank == NONE) return TRIE_EFULL;
    if ((rc = tw_rid_reserve(w, w->next_rank))) return rc;
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    int nw = trie_words__distinct(key, o, l, trie_words__split(key, len, o, l));
    uint16_t c = tw_headroom(score); /* above the score: never tw_exact (a rank out of key order) */
    uint32_t rk = w->next_rank++;
    w->rhint[id] = (uint16_t)(rk >> w->rshift);
    w->rr[rk].id = id;
    w->rr[rk].sig = tw_sig(key, len);
    w->kb[id] = c;
    w->keys++;
    for (int i = 0; i < nw; i++) { /* one posting per distinct word */
        const char *word = key + o[i];
        uint32_t wid = trie_words__lookup(w->wt, word, l[i]);
        if (wid == NONE) {
            if ((rc = trie_set(w->wt, word, l[i], NULL, 0, bval_fin(c), &wid))) return rc;
            if ((rc = trie_words__words_reserve(w, wid))) {
                trie_del(w->wt, word, l[i]);
                return rc;
            }
            w->w[wid] = (tw_word){.top = c};
        }
        tw_word *x = &w->w[wid];
        if ((rc = tw_post_append(w, x, rk))) return rc;
        x->live++;
        w->postings++;
        tw_raise(x, x->n - 1, c);
        if ((rc = tw_word_bound(w, wid, word, l[i], c))) return rc;
    }
    return TRIE_OK;
}

int trie_words_del(trie_words *w, uint32_t id, const char *key, size_t len) {
    if (!w || !key || len == 0 || len > TRIE_MAX_KEY) return TRIE_EINVAL;
    uint32_t r = tw_rank(w, id);
    if (r == NONE) return TRIE_ENOTFOUND;
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    int nw = trie_words__distinct(key, o, l, trie_words__split(key, len, o, l));
    for (int i = 0; i < nw; i++) {
        uint32_t wid = trie_words__lookup(w->wt, key + o[i], l[i]);
        if (wid == NONE) continue; /* not indexed (an earlier failed add) */
        tw_word *x = &w->w[wid];
        if (trie_words__find_pos(w, x, r) == NONE) continue;
        x->live--;
        w->postings--;
        if (x->live == 0) {
            w->nwords--;
            w->list_bytes -= tw_list_bytes(x->cap, x->gcap);
            qfree(x->p);
            *x = (tw_word){.p = NULL};
            trie_del(w->wt, key + o[i], l[i]); /* frees the wid; cannot fail for a present key */
        } else if (x->n >= 32 && x->live < x->n / 4) {
            w->rr[r].id = NONE; /* compact (skipped without memory: tombstones are correct) */
            tw_post_compact(w, x);
            w->rr[r].id = id;
        }
    }
    w->rr[r].id = NONE;
    w->kb[id] = 0; /* no rank */
    w->keys--;
    return TRIE_OK;
}

int trie_words_score(trie_words *w, const trie *t, uint32_t id, const char *key, size_t len,
                     double new_score) {
    if (!w || !key || len == 0 || len > TRIE_MAX_KEY || !isfinite(new_score)) return TRIE_EINVAL;
    if (id == TRIE_WORDS_ANY_ID) {
        if (!t || (id = trie_words__lookup(t, key, len)) == NONE) return TRIE_ENOTFOUND;
    }
    if (id >= w->idcap || !w->kb[id]) return TRIE_ENOTFOUND;
    /* covered (strictly: a score equal to its bound would make the key
     * tw_exact at a rank out of key order): nothing to do */
    if (new_score < bval(w->kb[id])) return TRIE_OK;
    uint32_t rk = tw_rank(w, id);
    if (rk == NONE) return TRIE_ENOTFOUND;
    uint16_t c = tw_headroom(new_score);
    w->kb[id] = c;
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    int nw = trie_words__distinct(key, o, l, trie_words__split(key, len, o, l));
    for (int i = 0; i < nw; i++) {
        uint32_t wid = trie_words__lookup(w->wt, key + o[i], l[i]);
        if (wid == NONE) continue;
        tw_word *x = &w->w[wid];
        uint32_t pos = trie_words__find_pos(w, x, rk);
        if (pos == NONE) continue;
        tw_raise(x, pos, c);
        int rc = tw_word_bound(w, wid, key + o[i], l[i], c);
        if (rc) return rc;
    }
    return TRIE_OK;
}


void trie_words_memory(const trie_words *w, trie_words_mem *m) {
    trie_mem tm;
    trie_memory(w->wt, &tm);
    uint64_t b = sizeof *w + tm.bytes_alloc + (uint64_t)w->wcap * sizeof(tw_word) +
                 (uint64_t)w->idcap * (sizeof *w->rhint + sizeof *w->kb) + (uint64_t)w->ridcap * sizeof *w->rr;
    m->words = w->nwords;
    m->postings = w->postings;
    m->bytes = b + w->list_bytes;
}
