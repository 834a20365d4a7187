#include "common/hist.h"

#include <string.h>

#define SUB (1u << HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v) {
    if (v < 2 * SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS + 1 */
    unsigned shift = msb - HIST_SUB_BITS;
    unsigned idx = 2 * SUB + (shift - 1) * SUB + (unsigned)((v >> shift) - SUB);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Largest value that falls into bucket i. */
static uint64_t bucket_top(unsigned i) {
    if (i < 2 * SUB) return i;
    unsigned shift = (i - 2 * SUB) / SUB + 1;
    uint64_t base = (uint64_t)(SUB + (i - 2 * SUB) % SUB) << shift;
    return base + ((uint64_t)1 << shift) - 1;
}

void hist_init(hist *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_add(hist *h, uint64_t v) {
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

void hist_merge(hist *dst, const hist *src) {
    for (unsigned i = 0; i < HIST_BUCKETS; i++) dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max) dst->max = src->max;
    if (src->min < dst->min) dst->min = src->min;
}

uint64_t hist_quantile(const hist *h, double q) {
    if (h->count == 0) return 0;
    if (q <= 0) return h->min;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t top = bucket_top(i);
            if (i == HIST_BUCKETS - 1 || top > h->max) return h->max; /* last bucket is open-ended */
            return top;
        }
    }
    return h->max;
}

double hist_mean(const hist *h) { return h->count ? (double)h->sum / (double)h->count : 0.0; }
