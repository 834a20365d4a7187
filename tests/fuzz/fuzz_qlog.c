/* fuzz_qlog.c -- libFuzzer harness for query-log line parsing (data/qlog.h).
 *
 * Input: byte 0 picks the format (low 2 bits: auto, aol, counts, lines) and
 * strict mode (bit 2); the rest is the file, written to a memfd and read
 * through qlog_open("/proc/self/fd/N") / qlog_next to the end, as the build,
 * eval and replay tools do. Checks per record: the query is non-empty, at
 * most QLOG_MAX_QUERY bytes, valid UTF-8, free of control characters; the
 * count is finite and >= 0; lines increase; counts/lines records carry
 * QLOG_NO_TIME and an empty user. At the end: records returned equal
 * stats.records, stats.bytes equals the file size (when read to the end),
 * and a strict reader stops with QLOG_EBAD only when a line was bad.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "data/qlog.h"
#include "text/norm.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const qlog_format fmts[4] = {QLOG_AUTO, QLOG_AOL, QLOG_COUNTS, QLOG_LINES};
    qlog_format fmt = fmts[data[0] & 3];
    int flags = data[0] & 4 ? QLOG_STRICT : 0;
    char path[64], err[256];
    int fd = fuzz_memfd(data + 1, size - 1, path);
    qlog *r = qlog_open(path, fmt, flags, err, sizeof err);
    if (!r) fuzz_fail("qlog_open failed on a readable memfd: %s", err);
    qlog_format got = qlog_get_format(r);
    fuzz_assert(got == QLOG_AOL || got == QLOG_COUNTS || got == QLOG_LINES);
    if (fmt != QLOG_AUTO) fuzz_assert(got == fmt);
    qlog_rec rec;
    uint64_t nrec = 0, prev_line = 0;
    int rc;
    while ((rc = qlog_next(r, &rec)) == 1) {
        nrec++;
        fuzz_assert(rec.querylen > 0 && rec.querylen <= QLOG_MAX_QUERY);
        fuzz_assert(qutf8_valid(rec.query, rec.querylen));
        fuzz_assert(!norm_has_control(rec.query, rec.querylen));
        fuzz_assert(isfinite(rec.count) && rec.count >= 0);
        fuzz_assert(rec.line > prev_line);
        prev_line = rec.line;
        if (got == QLOG_AOL) {
            fuzz_assert(rec.userlen > 0 && rec.time != QLOG_NO_TIME);
            fuzz_assert(!norm_has_control(rec.user, rec.userlen));
        } else {
            fuzz_assert(rec.userlen == 0 && rec.time == QLOG_NO_TIME);
        }
    }
    const qlog_stats *st = qlog_get_stats(r);
    fuzz_assert(st->records == nrec);
    if (rc == 0) {
        fuzz_assert(st->bytes == size - 1);
    } else {
        const char *msg = qlog_error(r);
        fuzz_assert(msg && *msg);
        if (rc == QLOG_EBAD) fuzz_assert(flags == QLOG_STRICT && qlog_bad_total(st) > 0);
        else fuzz_fail("qlog_next returned %d on a memfd: %s", rc, msg);
    }
    if (!flags) fuzz_assert(rc == 0);
    qlog_close(r);
    close(fd);
    return 0;
}
