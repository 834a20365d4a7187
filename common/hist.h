/* hist.h -- latency histogram with bounded relative error, fixed memory.
 *
 * Log-linear buckets (as HdrHistogram): values 0..63 exactly, then 32
 * sub-buckets per power of two, so any recorded value is reported within
 * 1/32 (~3%) of its true value. Covers 0 .. 2^40 (units are the caller's;
 * the project records microseconds or nanoseconds). A histogram is a plain
 * struct: no allocation, safe to copy, merge by adding.
 */
#ifndef QAC_HIST_H
#define QAC_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_BUCKETS ((40 - HIST_SUB_BITS + 1) * (1 << HIST_SUB_BITS) + (1 << (HIST_SUB_BITS + 1)))

typedef struct hist {
    uint64_t count, sum, max, min;
    uint32_t b[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
void hist_add(hist *h, uint64_t v);
void hist_merge(hist *dst, const hist *src);
/* The value at quantile q (0..1): the upper edge of the bucket holding it,
 * clamped to the maximum seen. 0 for an empty histogram. */
uint64_t hist_quantile(const hist *h, double q);
double hist_mean(const hist *h);

#endif
