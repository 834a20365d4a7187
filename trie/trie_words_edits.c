/* trie_words_edits.c -- COMPLETE ... INFIX with edits allowed, as one
 * answer (trie_words_topk_edits; the contract is in trie_words.h): the exact
 * word matches (trie_words_topk), then, when they are fewer than k, the
 * typo-tolerant completions of the whole text (trie_fuzzy_topk_bounded) and
 * the keys whose LAST typed word stands for another word with edits
 * (trie_words_fuzzy_topk), merged by (edits, the text's own completions
 * first, score, key), each key once in its best place. The server
 * (engine/infix.c) and the offline tool (`qac complete --infix --fuzzy`)
 * both answer through it, so they cannot disagree on what INFIX FUZZY
 * lists or in which order. (The ranker gathers the same three searches
 * itself, as candidates with their classes: ranking/request.c.)
 *
 * The last word's search is the costlier one (a walk of the word
 * dictionary, then posting lists), so it runs only as far as it can
 * change the answer: not at all when the typo completions of one edit
 * fill it, for one edit only when those of at most two do (a cut typo
 * search skips nothing).
 *
 * Why that order within an edit count: a key that the typed text, with its
 * typo, is a prefix of is what the user was typing from the start; a key
 * that merely holds a word like the last typed one elsewhere comes after it,
 * as ordinary completions come before the other word matches without edits.
 * Merged by (edits, score) instead, the AOL dev replay as the web page asks
 * lost typo'd-prefix MRR 0.7026 -> 0.6872 (README, "Words anywhere").
 */
#include "trie/trie_words.h"

#include <string.h>

size_t trie_words_last_word(const char *text, size_t len, size_t *start) {
    size_t end = len, st;
    while (end && text[end - 1] == ' ') end--;
    for (st = end; st && text[st - 1] != ' ';) st--;
    *start = st;
    return end - st;
}

/* whether out[0..n) already lists key id */
static int listed(const trie_words_hit *out, int n, uint32_t id) {
    for (int x = 0; x < n; x++)
        if (out[x].hit.id == id) return 1;
    return 0;
}

int trie_words_topk_edits(const trie_words *w, const trie *t, const char *text, size_t len,
                          const trie_words_edits *ed, unsigned k, trie_words_hit *out, uint16_t *matchlen,
                          trie_fuzzy_hit *fscratch, trie_words_hit *wscratch, trie_words_edits_info *info) {
    memset(info, 0, sizeof *info);
    int n = trie_words_topk(w, t, text, len, k, out, &info->truncated);
    if (n < 0) return n;
    for (int i = 0; i < n; i++) matchlen[i] = out[i].cls == 0 ? (uint16_t)len : 0;
    if ((ed->maxd == 0 && ed->word_maxd == 0) || (unsigned)n == k) return n;
    info->searched = 1;
    int nf = 0, nw = 0;
    if (ed->maxd) {
        trie_fuzzy_info fi; /* bounded as every typo search */
        nf = trie_fuzzy_topk_bounded(t, text, len, ed->maxd, ed->flags, k, ed->max_work, fscratch, &fi);
        if (nf < 0) nf = 0; /* (only bad arguments, which the exact search has refused) */
        else info->fuzzy_cut = fi.cut;
    }
    unsigned wd = ed->word_maxd;
    if (wd && !info->fuzzy_cut) {
        /* the typo completions may fill the answer alone: with need = k - n
         * of them (each key once, class 0 left out) of one edit, no match
         * with edits on the last word can enter (one edit at least, and
         * after them); with need of at most two edits, only one-edit ones
         * can (before the two-edit completions): a cheaper search, or none */
        unsigned need = k - (unsigned)n, c1 = 0, c2 = 0;
        for (int x = 0; x < nf && c2 < need; x++) {
            if (fscratch[x].edits == 0 || listed(out, n, fscratch[x].hit.id)) continue;
            c1 += fscratch[x].edits == 1;
            c2++;
        }
        if (c1 >= need) wd = 0;
        else if (c2 >= need && wd > 1) wd = 1;
    }
    if (wd) {
        nw = trie_words_fuzzy_topk(w, t, text, len, wd, ed->flags, k - (unsigned)n, wscratch, &info->word_truncated);
        if (nw < 0) return nw;
    }
    int i = 0, j = 0;
    while ((unsigned)n < k) {
        /* the next of each list not listed yet; the typo search's class 0
         * (keys the text starts) are the word search's class 0, all listed
         * when it found fewer than k -- but for a text with no word, which
         * has no INFIX answer, with edits or without */
        while (i < nf && (fscratch[i].edits == 0 || listed(out, n, fscratch[i].hit.id))) i++;
        while (j < nw && listed(out, n, wscratch[j].hit.id)) j++;
        if (j == nw && info->word_truncated) break; /* the limit cut the word search: nothing after its last is certain */
        if (i == nf && j == nw) break;
        if (j == nw || (i < nf && fscratch[i].edits <= wscratch[j].edits)) {
            /* fewer edits first; with as many, the typo'd text's completions
             * (they matched no words: no ranges) */
            out[n].hit = fscratch[i].hit;
            out[n].cls = 2;
            out[n].edits = fscratch[i].edits;
            out[n].nranges = 0;
            matchlen[n] = fscratch[i].matchlen;
            i++;
        } else { /* the typed words elsewhere: their ranges, no prefix matched */
            out[n] = wscratch[j++];
            matchlen[n] = 0;
        }
        n++;
    }
    return n;
}
