/* text/norm.h -- text normalization: what makes "Café  Paris" and "cafe paris" one key.
 *
 * Module text/ (libtext.a): depends on common/ and utf8proc only. Its users are
 * data/ (building, evaluating, replaying) and engine/ (every request); the
 * trie never normalizes -- it is given keys already in one of the forms below.
 *
 * Key form (norm_key): Unicode NFKC, case folding, combining marks stripped
 * (accents: "é" -> "e"), every run of white space (Unicode White_Space, and
 * control characters are rejected) collapsed to one ASCII space, leading and
 * trailing space removed. Built on utf8proc.
 *
 * Prefix form (norm_prefix): the same, except that one trailing space is kept
 * when the input ends in white space ("new " must match "new york" and not
 * "newark"), and an input that ends inside a multi-byte character has that
 * incomplete character dropped (a keystroke can split a character in transit).
 *
 * Evaluation form (norm_eval): exactly ../shared/EVALUATION.md's -- Unicode
 * case folding and white-space collapsing only (no NFKC, no accent stripping).
 *
 * All functions write into a caller-supplied buffer and never allocate on the
 * hot path beyond utf8proc's own work. Return the output length (>= 0), or:
 */
#ifndef QAC_TEXT_NORM_H
#define QAC_TEXT_NORM_H

#include <stddef.h>

#define NORM_EUTF8 (-1)    /* input is not valid UTF-8 */
#define NORM_ETOOLONG (-2) /* output would exceed cap */
#define NORM_ECONTROL (-3) /* input holds a control character (other than white space) */
#define NORM_ENOMEM (-4)

/* Normalization can lengthen text (NFKC of some ligatures, case folding of
 * "ß" -> "ss"); a buffer of NORM_MAX_GROWTH * len bytes is always enough. */
#define NORM_MAX_GROWTH 18

const char *norm_strerror(int err);
int norm_key(const char *in, size_t len, char *out, size_t cap);
int norm_prefix(const char *in, size_t len, char *out, size_t cap);
int norm_eval(const char *in, size_t len, char *out, size_t cap);

/* Key forms. An index records (in its snapshot tag) which form its keys are
 * in, and every lookup normalizes prefixes and queries the same way:
 *   NORM_FORM_MATCH (0, the default): norm_key / norm_prefix, for serving --
 *     accents stripped so "cafe" finds "Café".
 *   NORM_FORM_EVAL (1): norm_eval and its prefix variant, for indexes whose
 *     counts must equal EVALUATION.md's exactly (`qac build --keys eval`). */
#define NORM_FORM_MATCH 0
#define NORM_FORM_EVAL 1
const char *norm_form_name(int form); /* "match", "eval", or "unknown" */
int norm_form_parse(const char *name); /* the form, or -1 */
/* norm_key / norm_prefix in the given form (an unknown form acts as MATCH). */
int norm_key_as(int form, const char *in, size_t len, char *out, size_t cap);
int norm_prefix_as(int form, const char *in, size_t len, char *out, size_t cap);

/* For highlighting: the length in bytes of the shortest prefix of `display`
 * whose norm_prefix() form starts with the normalized prefix np[0..nplen).
 * Returns that length, or -1 if display does not match. */
int norm_match_len(const char *display, size_t displen, const char *np, size_t nplen);

/* Display form: white space collapsed and trimmed only (case, accents and
 * Unicode forms kept). Controls are rejected as in the other forms. Used for
 * the spelling shown to users ("  New   York " -> "New York"). */
int norm_display(const char *in, size_t len, char *out, size_t cap);

/* 1 if [s, s+len) (UTF-8) holds a character that every form rejects with
 * NORM_ECONTROL (C0 other than white space, DEL, C1 other than NEL), else 0.
 * Byte scan: cheap, does not validate UTF-8. */
int norm_has_control(const char *s, size_t len);

#endif
