/* infix.c -- COMPLETE ... INFIX and the word index's upkeep (see infix.h for
 * what it does, when the index is built and what happens when it cannot
 * follow a change). cmd.c calls the hooks right after each trie change and
 * eng_complete_search sends INFIX requests here.
 */
#include "engine/infix.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "engine/cmd.h"
#include "text/norm.h"
#include "trie/trie_fuzzy.h"

int eng_words_build(eng *e) {
    eng_words_free(e);
    if (!e->cfg || !e->cfg->infix_index) return 0;
    uint64_t t0 = qtime_us();
    int rc = trie_words_build(e->t, &e->words);
    if (rc < 0) {
        e->stats.infix_index_errors++;
        LOG_E("infix.build_failed", "error=%s msg=\"COMPLETE ... INFIX is refused until RELOAD or the next start\"",
              trie_words_strerror(rc));
        e->words = NULL;
        e->words_dropped = 1;
        return -1;
    }
    e->words_dropped = 0;
    e->stats.words = e->words;
    e->stats.infix_index_loaded = 0;
    trie_words_mem m;
    trie_words_memory(e->words, &m);
    LOG_I("infix.built", "words=%llu postings=%llu mb=%.1f ms=%llu msg=\"the word index for INFIX (infix-index no saves it)\"",
          (unsigned long long)m.words, (unsigned long long)m.postings, (double)m.bytes / 1e6,
          (unsigned long long)((qtime_us() - t0) / 1000));
    return 0;
}

trie_words *eng_words_load(const char *index, int enabled, const trie *t) {
    if (!enabled) return NULL;
    char path[4096], err[300];
    uint64_t t0 = qtime_us();
    trie_words *w = NULL;
    if (trie_words_path(path, sizeof path, index) < 0) return NULL;
    if (access(path, F_OK) != 0) {
        LOG_I("infix.not_saved", "path=%s msg=\"no saved word index beside the snapshot (older snapshot, or "
              "infix-index was off): building it\"", path);
        return NULL;
    }
    int rc = trie_words_load_beside(index, t, &w, err, sizeof err);
    if (rc != TRIE_OK) {
        LOG_W("infix.load_failed", "path=%s error=\"%s\" msg=\"the saved word index is not used: building it "
              "from the snapshot\"", path, err);
        return NULL;
    }
    trie_words_mem m;
    trie_words_memory(w, &m);
    LOG_I("infix.loaded", "path=%s words=%llu postings=%llu mb=%.1f ms=%llu", path, (unsigned long long)m.words,
          (unsigned long long)m.postings, (double)m.bytes / 1e6, (unsigned long long)((qtime_us() - t0) / 1000));
    return w;
}

int eng_words_replay(void *ud, trie *t, const jrn_rec *r) {
    trie_words **w = ud;
    const char *what = "score change";
    int wrc = 0;
    if (r->op == JRN_OP_SET) {
        uint64_t before = trie_count(t);
        uint32_t id;
        int rc = trie_set(t, r->key, r->klen, r->disp, r->dlen, r->score, &id);
        if (rc < 0 || !*w) return rc;
        if (trie_count(t) > before) wrc = trie_words_add(*w, id, r->key, r->klen, r->score), what = "add";
        else wrc = trie_words_score(*w, t, id, r->key, r->klen, r->score);
    } else {
        trie_hit h;
        int had = *w && trie_get(t, r->key, r->klen, &h);
        int rc = trie_del(t, r->key, r->klen);
        if (rc < 0 || !had) return rc;
        wrc = trie_words_del(*w, h.id, r->key, r->klen), what = "delete";
    }
    if (wrc < 0) { /* the loaded index cannot follow: built after the replay instead */
        LOG_W("infix.replay_failed", "op=%s key=%.*s error=%s msg=\"the loaded word index is dropped: building it\"",
              what, (int)r->klen, r->key, trie_words_strerror(wrc));
        trie_words_free(*w);
        *w = NULL;
    }
    return 0;
}

int eng_words_start(eng *e, trie_words *loaded) {
    if (!loaded) return eng_words_build(e);
    eng_words_free(e);
    e->words = loaded;
    e->words_dropped = 0;
    e->stats.words = loaded;
    e->stats.infix_index_loaded = 1;
    return 0;
}

int eng_words_save(const eng *e, const char *snapshot) {
    char path[4096];
    uint64_t id, cnt;
    if (trie_words_path(path, sizeof path, snapshot) < 0) return errno = ENAMETOOLONG, -1;
    if (!e->words) { /* none to save: a stale one would be refused anyway (another image); removed */
        if (unlink(path) != 0 && errno != ENOENT) return -1;
        return 0;
    }
    if (trie_snapshot_id(snapshot, &id, &cnt) != TRIE_OK) return errno = errno ? errno : EIO, -1;
    int rc = trie_words_save(e->words, path, id, cnt);
    if (rc == TRIE_ENOMEM) errno = ENOMEM;
    return rc ? -1 : 0;
}

int eng_words_missing(const eng *e) { return e->cfg && e->cfg->infix_index && !e->words && e->words_dropped; }

int eng_words_reload(eng *e, const char *why) {
    if (!eng_words_missing(e)) return 0;
    LOG_I("infix.rebuild", "by=%s msg=\"the word index was dropped: rebuilding it (the loop waits)\"", why);
    return eng_words_build(e) < 0 ? -1 : 1;
}

void eng_words_free(eng *e) {
    trie_words_free(e->words);
    e->words = NULL;
    e->stats.words = NULL;
}

/* The index could not follow a change: dropped (never left inexact). */
static void words_failed(eng *e, const char *what, int rc) {
    e->stats.infix_index_errors++;
    LOG_E("infix.dropped", "op=%s key=%.*s error=%s msg=\"the word index is dropped; COMPLETE ... INFIX is refused "
          "until RELOAD or the next start\"",
          what, (int)e->normlen, e->norm, trie_words_strerror(rc));
    eng_words_free(e);
    e->words_dropped = 1;
}

void eng_words_after_set(eng *e, uint64_t count_before) {
    if (!e->words) return;
    trie_hit h;
    if (!trie_get(e->t, e->norm, e->normlen, &h)) return; /* cannot happen: it was just set */
    int created = trie_count(e->t) > count_before;
    int rc = created ? trie_words_add(e->words, h.id, e->norm, e->normlen, h.score)
                     : trie_words_score(e->words, e->t, h.id, e->norm, e->normlen, h.score);
    if (rc < 0) words_failed(e, created ? "add" : "score change", rc);
}

uint32_t eng_words_before_del(eng *e) {
    trie_hit h;
    if (!e->words || !trie_get(e->t, e->norm, e->normlen, &h)) return UINT32_MAX;
    return h.id;
}

void eng_words_after_del(eng *e, uint32_t id) {
    if (!e->words || id == UINT32_MAX) return;
    int rc = trie_words_del(e->words, id, e->norm, e->normlen);
    if (rc < 0) words_failed(e, "delete", rc);
}

void eng_words_limit(eng *e) {
    /* per request: every index starts at the default (a build, a load, a
     * RELOAD's rebuild), and this one line covers all the ways one is
     * adopted; a compare when nothing changed */
    if (e->words && e->cfg && trie_words_max_scan(e->words) != e->cfg->infix_max_scan)
        trie_words_set_max_scan(e->words, (uint32_t)e->cfg->infix_max_scan); /* (in range: config checks it) */
}

int eng_complete_infix(eng *e, unsigned k, const eng_ctx *ctx, const char **msg) {
    e->stats.complete_infix++;
    if (!e->words) {
        *msg = e->cfg && e->cfg->infix_index ? "INFIX needs the word index, which was dropped after an error "
                                               "(see the server log; RELOAD or the next start rebuilds it)"
                                             : "INFIX needs the word index: this server runs with infix-index no";
        return ENG_ERR(ERR_ARGS);
    }
    e->infix_used = 1;
    if (e->normlen > TRIE_WORDS_MAX_TEXT) return 0; /* longer than any key: nothing, as without INFIX */
    eng_words_limit(e);
    unsigned d = eng_fuzzy_edits(e, ctx), dw = eng_fuzzy_word_edits(e, ctx);
    trie_words_edits ed = {d, dw, e->cfg->fuzzy_first_any ? TRIE_FUZZY_FIRST_ANY : 0, e->cfg->fuzzy_max_work};
    trie_words_edits_info in;
    /* the exact word matches, then (edits allowed, fewer than k) the typo
     * completions of the whole text and the last word's edits, merged */
    int n = trie_words_topk_edits(e->words, e->t, e->norm, e->normlen, &ed, k, e->whits, e->wmatch, e->fhits,
                                  e->wfhits, &in);
    e->stats.complete_infix_truncated += (uint64_t)(in.truncated + in.word_truncated);
    if (n < 0) {
        *msg = n == TRIE_WORDS_ETOOMANY ? "INFIX takes at most 16 words (TRIE_WORDS_MAX_TYPED)"
                                        : trie_words_strerror(n);
        return ENG_ERR(n == TRIE_ENOMEM ? ERR_NOMEM : n == TRIE_WORDS_ETOOLONG ? ERR_TOOLONG : ERR_ARGS);
    }
    if (in.searched) e->stats.complete_fuzzy++;
    if (in.fuzzy_cut) {
        e->fuzzy_cut = in.fuzzy_cut;
        e->stats.complete_fuzzy_truncated++;
    }
    return n;
}

int eng_word_ranges(const char *key, const char *disp, size_t displen, const trie_words_range *rg, int nr,
                    uint32_t *s, uint32_t *e_, int cap) {
    int n = 0;
    for (int j = 0; j < nr && n < cap; j++) {
        /* display bytes: the shortest display prefix that normalizes to the
         * key's bytes before the word, and to those through its end */
        uint32_t off = rg[j].off, end = off + rg[j].len;
        int a = off ? norm_match_len(disp, displen, key, off) : 0;
        int b = norm_match_len(disp, displen, key, end);
        if (a < 0 || b < 0) continue;
        /* a word's start: past the space the prefix before it ends with */
        while ((size_t)a < displen && disp[a] == ' ') a++;
        if (b < a) b = a;
        s[n] = (uint32_t)a;
        e_[n++] = (uint32_t)b;
    }
    return n;
}

int eng_infix_ranges(const eng *e, int i, uint32_t *s, uint32_t *e_, int cap) {
    const trie_words_hit *w = &e->whits[i];
    return eng_word_ranges(trie_hit_key(&w->hit), trie_hit_display(&w->hit), w->hit.displen, w->range, w->nranges, s,
                           e_, cap);
}

int eng_hit_highlight(const eng *e, int i, uint32_t *match_end, uint32_t *s, uint32_t *e_, int cap) {
    const trie_hit *h = eng_hit(e, i);
    /* with edits, the display's part that normalizes to the key's matched bytes */
    const char *np = e->fuzzy_used || (e->infix_used && e->whits[i].cls == 2) ? trie_hit_key(h) : e->norm;
    size_t ml = eng_hit_matchlen(e, i);
    int m = ml ? norm_match_len(trie_hit_display(h), h->displen, np, ml) : 0;
    *match_end = m > 0 ? (uint32_t)m : 0;
    return e->infix_used ? eng_infix_ranges(e, i, s, e_, cap) : -1;
}

int eng_cand_highlight(const eng *e, const char *key, size_t klen, unsigned edits, int other_words, const char *disp,
                       size_t dl, const char *np, size_t nplen, int infix, uint32_t *match_end, uint32_t *s,
                       uint32_t *e_, int cap) {
    size_t ml = nplen;
    const char *mp = np;
    if (edits) { /* the key's shortest prefix within the edits of the typed one */
        unsigned fl = e->cfg && e->cfg->fuzzy_first_any ? TRIE_FUZZY_FIRST_ANY : 0;
        if (trie_fuzzy_dist(np, nplen, key, klen, edits, fl, &ml) > edits) ml = 0;
        mp = key;
    }
    int m = ml && !other_words ? norm_match_len(disp, dl, mp, ml) : 0;
    *match_end = m > 0 ? (uint32_t)m : 0;
    if (!infix) return -1;
    trie_words_range rg[TRIE_WORDS_MAX_TYPED];
    unsigned fl = e->cfg && e->cfg->fuzzy_first_any ? TRIE_FUZZY_FIRST_ANY : 0;
    /* with edits: on the last word (an infix match) the ranges found again
     * with them; a typo match of the whole text has none */
    int nr = !edits ? trie_words_match(np, nplen, key, klen, rg)
             : other_words ? trie_words_match_fuzzy(np, nplen, key, klen, edits, fl, rg, NULL)
                           : 0;
    return nr > 0 ? eng_word_ranges(key, disp, dl, rg, nr, s, e_, cap) : 0;
}
