/* replay_report.c -- the reports of `qac replay`: a text summary (stdout),
 * a JSON document (--json, for scripts and tests/it_replay.sh) and one
 * self-contained HTML page with inline SVG charts (--html): the latency
 * histogram (log2 buckets with the percentiles marked) and MRR@10 per prefix
 * tag. All three read the finished (or partial) rp_run and nothing else; a
 * partial run says so in each. Latency quantiles come from the run's
 * histogram (max is exact); quality figures from ep_quality (evalproto.c).
 * With --typos, replay_typos.c writes its part of each (the typo'd
 * requests are outside the main latency figures; throughput counts them).
 */
#include "data/replay_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"

static double elapsed_s(const rp_run *r) {
    return r->t_last > r->t_first ? (double)(r->t_last - r->t_first) / 1e9 : 0.0;
}
static double throughput(const rp_run *r) { /* every measured request, typo'd ones included */
    double s = elapsed_s(r);
    uint64_t n = r->measured_requests + r->ty.lat[0].count + r->ty.lat[1].count;
    return s > 0 ? (double)n / s : 0.0;
}
static const double qs[5] = {0.5, 0.9, 0.99, 0.999, 1.0};
static const char *const qnames[5] = {"p50", "p90", "p99", "p999", "max"};
static uint64_t lat_q(const rp_run *r, int i) { return i == 4 ? r->lat.max : hist_quantile(&r->lat, qs[i]); }

void rp_report_summary(const rp_run *r, FILE *f) {
    fprintf(f, "qac replay: %s:%s, %u connection%s, %s", r->host, r->port, r->nconn, r->nconn == 1 ? "" : "s",
            r->rate > 0 ? "open loop" : r->speed > 0 ? "open loop (log timing)" : "closed loop");
    if (r->rate > 0) fprintf(f, " at %.0f req/s", r->rate);
    if (r->speed > 0) fprintf(f, " at %gx", r->speed);
    fprintf(f, ", prefixes %s%s", r->all ? "all" : "eval", r->accept ? "" : ", no accept");
    if (r->fuzzy || r->infix)
        fprintf(f, ", COMPLETE with%s%s%s", r->fuzzy ? " FUZZY " : "", r->fuzzy ? r->fuzzy : "", r->infix ? " INFIX" : "");
    fprintf(f, "\n");
    fprintf(f, "events     %llu measured, %llu accept-only; requests %llu (%llu COMPLETE, %llu ACCEPT)\n",
            (unsigned long long)r->events_measured, (unsigned long long)r->events_unmeasured,
            (unsigned long long)r->requests, (unsigned long long)r->completes, (unsigned long long)r->accepts);
    fprintf(f, "latency us");
    for (int i = 0; i < 5; i++) fprintf(f, " %s %llu", qnames[i], (unsigned long long)lat_q(r, i));
    fprintf(f, " (mean %.1f, %llu measured requests)\n", hist_mean(&r->lat), (unsigned long long)r->measured_requests);
    fprintf(f, "throughput %.0f req/s over %.2f s\n", throughput(r), elapsed_s(r));
    fprintf(f, "errors     timeouts %llu, disconnects %llu, protocol %llu", (unsigned long long)r->timeouts,
            (unsigned long long)r->disconnects, (unsigned long long)r->protocol_errors);
    for (size_t i = 0; i < ARRAY_LEN(r->errs) && r->errs[i].n; i++)
        fprintf(f, ", ERR %s %llu", r->errs[i].code, (unsigned long long)r->errs[i].n);
    if (r->errs_other) fprintf(f, ", other ERR %llu", (unsigned long long)r->errs_other);
    for (size_t i = 0; i < ARRAY_LEN(r->errs) && r->errs[i].n; i++)
        if (!strcmp(r->errs[i].code, "RATE"))
            fprintf(f, "\n           ERR RATE: the server refused ACCEPTs over its accept rate (a replay faster than "
                       "real time is a flood to it); serve with --accept-user-rate 0 --accept-conn-rate 0 to replay "
                       "at speed");
    fprintf(f, "\nMRR@10    ");
    for (int t = 0; t < EP_NTAGS; t++) fprintf(f, " %s %.4f", ep_tag_names[t], ep_mrr(&r->q, t));
    fprintf(f, "  (%llu rand prefixes)\n", (unsigned long long)r->q.n[EP_TAG_RAND]);
    fprintf(f, "SR on rand  @1 %.4f  @3 %.4f  @10 %.4f\n", ep_sr(&r->q, 0), ep_sr(&r->q, 1), ep_sr(&r->q, 2));
    fprintf(f, "keystrokes saved %.4f (%llu of %llu, target picked when in the top %u)\n", rp_keys_share(&r->keys),
            (unsigned long long)r->keys.saved, (unsigned long long)r->keys.typed, r->k);
    if (r->typos >= 0) rp_typos_summary(r, f);
    if (r->fatal) fprintf(f, "PARTIAL: the run ended early: %s\n", r->fatal);
}

/* --json: built in one buffer with common/json.h and written at once. */
int rp_report_json(const rp_run *r, const char *path) {
    static const char *const err_keys[] = {"timeout", "disconnect", "protocol"};
    static const char *const keys_keys[] = {"typed", "saved", "k"};
    static const char *const count_keys[] = {"requests", "measured_requests", "events", "events_accept_only"};
    static const char *const skip_keys[] = {"query_too_long", "user_too_long"};
    static const char *const shape_keys[] = {"connections", "pipeline"};
    uint64_t lat[5];
    for (int i = 0; i < 5; i++) lat[i] = lat_q(r, i);
    const uint64_t errs[] = {r->timeouts, r->disconnects, r->protocol_errors};
    const uint64_t keys[] = {r->keys.typed, r->keys.saved, r->k};
    const uint64_t counts[] = {r->requests, r->measured_requests, r->events_measured, r->events_unmeasured};
    const uint64_t skipped[] = {r->skip_long_query, r->skip_long_user};
    const uint64_t shape[] = {r->nconn, r->pipeline};
    const char *prefixes = r->all ? "all" : "eval";
    qbuf b;
    qbuf_init(&b);
    int rc = qbuf_puts(&b, "{\"latency_us\": {");
    rc |= ep_json_counts(&b, ", ", qnames, lat, 5);
    rc |= qbuf_puts(&b, ", \"mean\": ");
    rc |= json_fixed(&b, hist_mean(&r->lat), 3);
    rc |= qbuf_puts(&b, "},\n\"throughput_rps\": ");
    rc |= json_fixed(&b, throughput(r), 3);
    rc |= qbuf_puts(&b, ",\n\"seconds\": ");
    rc |= json_fixed(&b, elapsed_s(r), 6);
    rc |= qbuf_puts(&b, ",\n\"errors\": {");
    rc |= ep_json_counts(&b, ", ", err_keys, errs, ARRAY_LEN(errs));
    for (size_t i = 0; i < ARRAY_LEN(r->errs) && r->errs[i].n; i++) {
        char code[sizeof r->errs[i].code]; /* the server's code as a key: letters, digits and '_' */
        size_t n = 0;
        for (const char *p = r->errs[i].code; *p; p++)
            if (isalnum((unsigned char)*p) || *p == '_') code[n++] = *p;
        code[n] = 0;
        rc |= ep_json_key(&b, ", ", code);
        rc |= qbuf_putu64(&b, r->errs[i].n);
    }
    rc |= qbuf_puts(&b, ", \"other\": ");
    rc |= qbuf_putu64(&b, r->errs_other);
    rc |= qbuf_puts(&b, "},\n\"mrr\": ");
    rc |= ep_json_mrr(&b, &r->q);
    rc |= qbuf_puts(&b, ",\n\"prefixes\": {");
    rc |= ep_json_counts(&b, ", ", ep_tag_names, r->q.n, EP_NTAGS);
    rc |= qbuf_puts(&b, "},\n\"sr\": ");
    rc |= ep_json_sr(&b, &r->q);
    rc |= qbuf_puts(&b, ",\n\"keystrokes_saved\": ");
    rc |= json_fixed(&b, rp_keys_share(&r->keys), EP_JSON_DECIMALS);
    rc |= qbuf_puts(&b, ",\n\"keystrokes\": {");
    rc |= ep_json_counts(&b, ", ", keys_keys, keys, ARRAY_LEN(keys));
    rc |= qbuf_puts(&b, "},\n");
    rc |= ep_json_counts(&b, ",\n", count_keys, counts, ARRAY_LEN(counts));
    rc |= qbuf_puts(&b, ",\n\"skipped\": {");
    rc |= ep_json_counts(&b, ", ", skip_keys, skipped, ARRAY_LEN(skipped));
    rc |= qbuf_puts(&b, "},\n");
    rc |= rp_typos_json(&b, r);
    rc |= qbuf_puts(&b, r->fatal ? ",\n\"complete\": false,\n\"error\": " : ",\n\"complete\": true,\n\"error\": null");
    if (r->fatal) rc |= json_str(&b, r->fatal, strlen(r->fatal));
    rc |= qbuf_puts(&b, ",\n\"shape\": {");
    rc |= ep_json_counts(&b, ", ", shape_keys, shape, ARRAY_LEN(shape));
    rc |= qbuf_puts(&b, ", \"rate\": ");
    rc |= json_double(&b, r->rate);
    rc |= qbuf_puts(&b, ", \"speed\": ");
    rc |= json_double(&b, r->speed);
    rc |= qbuf_puts(&b, ", \"prefixes\": ");
    rc |= json_str(&b, prefixes, strlen(prefixes));
    rc |= qbuf_puts(&b, r->accept ? ", \"accept\": true" : ", \"accept\": false");
    rc |= qbuf_puts(&b, ", \"fuzzy\": ");
    rc |= r->fuzzy ? json_str(&b, r->fuzzy, strlen(r->fuzzy)) : qbuf_puts(&b, "null");
    rc |= qbuf_puts(&b, r->infix ? ", \"infix\": true}\n}\n" : ", \"infix\": false}\n}\n");
    if (rc) fprintf(stderr, "qac replay: out of memory\n");
    else rc = ep_write_file("qac replay", path, b.data, b.len);
    qbuf_free(&b);
    return rc ? -1 : 0;
}

static void html_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* One self-contained page: figures, a latency histogram (log2 buckets, with
 * the percentiles marked), and MRR@10 per prefix tag, as inline SVG. */
int rp_report_html(const rp_run *r, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "qac replay: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>qac replay report</title>\n"
               "<style>body{font:14px sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
               "td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}th{text-align:left}"
               ".warn{color:#b00;font-weight:bold}svg text{font:11px sans-serif}</style></head><body>\n");
    fprintf(f, "<h1>qac replay</h1>\n<p>Server %s:%s, %u connection(s), %s, prefixes %s%s%s%s%s%s.</p>\n", r->host,
            r->port, r->nconn, r->rate > 0 ? "open loop" : r->speed > 0 ? "open loop (log timing)" : "closed loop",
            r->all ? "all" : "eval", r->accept ? "" : ", no ACCEPT", r->fuzzy || r->infix ? ", COMPLETE with" : "",
            r->fuzzy ? " FUZZY " : "", r->fuzzy ? r->fuzzy : "", r->infix ? " INFIX" : ""); /* fixed words only */
    if (r->fatal) {
        fprintf(f, "<p class=\"warn\">Partial report: the run ended early: ");
        html_escape(f, r->fatal);
        fprintf(f, "</p>\n");
    }
    fprintf(f, "<table><tr><th>events measured</th><td>%llu</td></tr><tr><th>requests</th><td>%llu</td></tr>"
               "<tr><th>throughput</th><td>%.0f req/s</td></tr>",
            (unsigned long long)r->events_measured, (unsigned long long)r->requests, throughput(r));
    for (int i = 0; i < 5; i++)
        fprintf(f, "<tr><th>latency %s</th><td>%llu &micro;s</td></tr>", qnames[i], (unsigned long long)lat_q(r, i));
    fprintf(f, "<tr><th>errors</th><td>%llu timeouts, %llu disconnects, %llu protocol",
            (unsigned long long)r->timeouts, (unsigned long long)r->disconnects, (unsigned long long)r->protocol_errors);
    for (size_t i = 0; i < ARRAY_LEN(r->errs) && r->errs[i].n; i++) {
        fprintf(f, ", ERR ");
        html_escape(f, r->errs[i].code);
        fprintf(f, " %llu", (unsigned long long)r->errs[i].n);
    }
    fprintf(f, "</td></tr><tr><th>SR@1 / @3 / @10 (rand)</th><td>%.4f / %.4f / %.4f</td></tr>"
               "<tr><th>keystrokes saved (top %u)</th><td>%.4f</td></tr></table>\n",
            ep_sr(&r->q, 0), ep_sr(&r->q, 1), ep_sr(&r->q, 2), r->k, rp_keys_share(&r->keys));

    /* latency histogram */
    int lo = 0, hi = 0;
    uint64_t top = 0;
    for (int b = 0; b < REPLAY_LAT_BINS; b++)
        if (r->lat_bins[b]) {
            if (!top) lo = b;
            hi = b;
            if (r->lat_bins[b] > top) top = r->lat_bins[b];
        }
    if (!top) top = 1;
    int nb = hi - lo + 1, W = 640, H = 220, L = 60, B = 40, T = 20;
    double bw = (double)(W - L - 10) / nb;
    fprintf(f, "<h2>Latency distribution</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H + B + T);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", L, T + H, W - 10, T + H);
    fprintf(f, "<text x=\"5\" y=\"%d\">requests</text><text x=\"5\" y=\"%d\">%llu</text>\n", T + H / 2, T + 10,
            (unsigned long long)top);
    for (int b = lo; b <= hi; b++) {
        double h = (double)r->lat_bins[b] * H / (double)top, x = L + (b - lo) * bw;
        uint64_t from = b ? 1ull << (b - 1) : 0;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4a7fb5\"><title>%llu..%llu us: %llu</title></rect>\n",
                x + 1, T + H - h, bw - 2, h, (unsigned long long)from, (unsigned long long)(b ? (1ull << b) - 1 : 0),
                (unsigned long long)r->lat_bins[b]);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%llu</text>\n", x + bw / 2, T + H + 14,
                (unsigned long long)from);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">latency, &micro;s (log2 buckets, lower edge)</text>\n",
            (L + W) / 2, T + H + 32);
    for (int i = 0; i < 5; i++) { /* percentile markers */
        uint64_t v = lat_q(r, i);
        int b = 0;
        for (uint64_t u = v; u && b < REPLAY_LAT_BINS - 1; u >>= 1) b++;
        if (b < lo || b > hi) continue;
        double frac = b ? ((double)v - (double)(1ull << (b - 1))) / (double)(1ull << (b - 1)) : 0.5;
        double x = L + (b - lo) * bw + bw * (frac < 0 ? 0 : frac > 1 ? 1 : frac);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c33\" stroke-dasharray=\"3,2\"/>"
                   "<text x=\"%.1f\" y=\"%d\" fill=\"#c33\">%s</text>\n",
                x, T, x, T + H, x + 2, T + 10 + 12 * i, qnames[i]);
    }
    fprintf(f, "</svg>\n");

    /* MRR bars */
    fprintf(f, "<h2>MRR@10 by prefix</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H + B + T);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", L, T + H, W - 10, T + H);
    for (int g = 0; g <= 4; g++)
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.2f</text><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n",
                L - 5, T + H - g * H / 4 + 4, g * 0.25, L, T + H - g * H / 4, W - 10, T + H - g * H / 4);
    double cw = (double)(W - L - 10) / EP_NTAGS;
    for (int t = 0; t < EP_NTAGS; t++) {
        double v = ep_mrr(&r->q, t), h = v * H, x = L + t * cw;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4f</text>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s (%llu)</text>\n",
                x + 8, T + H - h, cw - 16, h, t == EP_TAG_RAND ? "#d98c2b" : "#4a7fb5", x + cw / 2, T + H - h - 4, v,
                x + cw / 2, T + H + 14, ep_tag_names[t], (unsigned long long)r->q.n[t]);
    }
    fprintf(f, "</svg>\n");
    if (r->typos >= 0) rp_typos_html(r, f);
    fprintf(f, "<p>Quality follows ../shared/EVALUATION.md, computed from the server's answers; "
               "keystrokes saved: for a query of n code points first shown in the top %u after j typed, n - j; "
               "summed over events and divided by the sum of n.</p>\n</body></html>\n", r->k);
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "qac replay: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

