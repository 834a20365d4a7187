/* json.h -- qac's JSON writer, shared by the server and the offline tools,
 * and a strict parser for flat objects (request bodies of POST /v1/accept).
 *
 * One writer so that strings are escaped and numbers formatted the same way
 * in every document built with it: the server's completion reply, HTTP error
 * bodies and /v1/accept reply (engine/), and the report files of `qac eval
 * --json` and `qac replay --json` (data/). It lives in common/ because both
 * sides use it; it depends on common/util.h (qbuf, qutf8_valid) only.
 *
 * Writers append to a qbuf and return 0, or -1 on allocation failure (the
 * qbuf may then hold a partial value; reset it). They never use printf for
 * integers (qbuf_putu64) so the completion path stays cheap; json_fixed, for
 * reports, does.
 *
 * The flat parser accepts exactly one object whose values are strings,
 * numbers, true, false or null; nesting ({ or [ as a value) is rejected, as
 * are trailing commas, bad escapes, lone surrogates, control characters in
 * strings, invalid UTF-8 anywhere, leading zeros, trailing garbage, and
 * more than JSON_MAX_FIELDS fields. Duplicate keys are REJECTED (a body
 * that says two things about one field is a client bug, and rejecting is
 * the only choice that cannot be misread). Strings are decoded (escapes,
 * \uXXXX with surrogate pairs, to UTF-8); numbers, true, false and null are
 * returned as their source text.
 */
#ifndef QAC_JSON_H
#define QAC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Appends s as a JSON string with its quotes: escapes ", \ and control
 * characters (\n, \r, \t, \b, \f by name, others as \u00XX); other bytes pass
 * through (input assumed valid UTF-8). */
int json_str(qbuf *b, const char *s, size_t len);
/* Appends v so that it reads back exactly (strtod gives v again), with 15,
 * 16 or 17 significant digits, the fewest that work: integers up to 2^53 as
 * integers (no ".0"), 1e-6 <= |v| < 1e15 in plain decimal ("1523.5",
 * "0.000123"), others as %g ("1e+300"); NaN and infinities as null. */
int json_double(qbuf *b, double v);

/* Like json_double, but for 1e-6 <= |v| < 1e15 a value that needs all 17
 * digits to read back is written rounded to 15 significant digits instead
 * (within 5e-15 relative); values that read back with 15 or 16 digits are
 * exact, as with json_double. Cheap (no printf in that range): used for
 * scores on the completion path. */
int json_double15(qbuf *b, double v);

/* Appends v with exactly `decimals` digits after the point, as printf's
 * "%.*f" writes it ("0.7644077680" for 10; "-0.000" for -0.0 and 3), for
 * figures a report gives to a fixed precision; NaN and infinities as null.
 * decimals is clamped to 0..JSON_FIXED_MAX_DECIMALS. */
#define JSON_FIXED_MAX_DECIMALS 20
int json_fixed(qbuf *b, double v, int decimals);

typedef struct json_suggestion {
    const char *text; /* valid UTF-8 */
    size_t textlen;
    double score;
    uint32_t match_start, match_end; /* byte offsets in text: the matched part */
    int has_edits;                   /* 1: write "edits" (a request that allowed typos) */
    unsigned edits;
    int has_words;                   /* 1: write "words" (an INFIX request) */
    unsigned nwords;                 /* the matched words' byte ranges in text, in typed order */
    const uint32_t *word_start, *word_end;
    int generated;                   /* 1: write "generated":true (made by the ranker, ranking/gen.h) */
} json_suggestion;

/* Appends {"prefix":"..","suggestions":[{"text":"..","score":..,"match":[s,e]},..],"took_us":..}
 * (each suggestion with "edits":n after "match" when has_edits, then
 * "words":[[s,e],..] when has_words, then "generated":true when generated; "truncated":true before "took_us" when
 * truncated: a typo search stopped at its work limit) with scores written by
 * json_double15. */
int json_write_suggestions(qbuf *b, const char *prefix, size_t plen, const json_suggestion *s, size_t n,
                           int truncated, uint64_t took_us);

/* Appends the OpenSearch Suggestions answer (application/x-suggestions+json):
 * ["prefix",["text",..],[],[]] -- the prefix as typed, the completions, and the
 * optional descriptions and query URLs, which qac has none of (empty arrays
 * keep their positions for clients that index them). */
int json_write_opensearch(qbuf *b, const char *prefix, size_t plen, const json_suggestion *s, size_t n);

/* --- flat object parser -------------------------------------------------- */

#define JSON_MAX_FIELDS 64

typedef enum json_type { JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL } json_type;

typedef struct json_field {
    const char *key; /* decoded, NUL-terminated */
    size_t key_len;
    const char *val; /* decoded string, or the literal text of a number/true/false/null; NUL-terminated */
    size_t val_len;
    json_type type;
} json_field;

/* Parses the flat object in [src, src+len). Decoded keys and values are
 * written to *store (reset first; grows at most by len + number of fields
 * bytes) and fields[] points into it: valid until *store is next modified or
 * freed. At most max_fields fields (<= JSON_MAX_FIELDS is typical).
 * Returns the number of fields (>= 0), or -1 with *err set to a static
 * message saying what is wrong (and *err_off to the byte offset), or -2 on
 * allocation failure. err/err_off may be NULL. */
int json_parse_flat(const char *src, size_t len, qbuf *store, json_field *fields, size_t max_fields,
                    const char **err, size_t *err_off);

#endif
