/* fuzz_exec_misc.h -- op_misc of the stateful command fuzzer (tests/fuzz/fuzz_exec.c, included once
 * there, after the request builders and the reply checks it uses): the commands that change nothing the
 * model tracks -- STATS/INFO, PING, HELP, CONFIG GET, COMMAND, QUIT, a wrong AUTH, the connection
 * commands Redis clients send (HELLO, CLIENT, ECHO, SELECT), unknown words and wrong arities -- each
 * checked for its command kind, its outcome and a well-formed reply, then a probe of the model. */
#ifndef QAC_FUZZ_EXEC_MISC_H
#define QAC_FUZZ_EXEC_MISC_H

static void op_misc(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    const str *pats = misc_pats, *helps = misc_helps; /* fuzz_exec_tables.h */
    unsigned sub = next(in) % 15;
    req q = {0};
    int want = RP_ANY, must_fail = 0, cmd_expect = -1;
    switch (sub) {
    case 0: req_adds(&q, cmd_word("STATS", fl & 3)); cmd_expect = CMD_STATS; break;
    case 1: req_adds(&q, "INFO"); if (fl & 1) req_adds(&q, "all"); cmd_expect = CMD_STATS; break;
    case 2: req_adds(&q, "PING"); cmd_expect = CMD_PING; break;
    case 3: req_adds(&q, "PING"); req_adds(&q, "hello there"); cmd_expect = CMD_PING; break;
    case 4: req_adds(&q, "HELP"); cmd_expect = CMD_HELP; break;
    case 5: {
        str h = helps[next(in) % ARRAY_LEN(misc_helps)];
        req_adds(&q, "HELP");
        req_addv(&q, h);
        must_fail = h.n == 0 || h.s[0] == 'n';
        cmd_expect = CMD_HELP;
        break;
    }
    case 6: req_adds(&q, "CONFIG"); req_adds(&q, "GET"); req_addv(&q, pats[next(in) % ARRAY_LEN(misc_pats)]); cmd_expect = CMD_CONFIG; break;
    case 7: req_adds(&q, "COMMAND"); if (fl & 1) req_adds(&q, "COUNT"); cmd_expect = CMD_COMMAND; break;
    case 8: req_adds(&q, "QUIT"); cmd_expect = CMD_QUIT; want = RP_OK; break;
    case 9: req_adds(&q, "AUTH"); req_adds(&q, "secret"); must_fail = 1; cmd_expect = CMD_AUTH; break;
    case 10: req_addv(&q, pick_raw(in, 0)); break; /* an unknown (or any) command word */
    case 11: req_adds(&q, "ADD"); req_adds(&q, "a"); must_fail = 1; cmd_expect = CMD_ADD; break;
    case 12: req_adds(&q, "GET"); req_adds(&q, "a"); req_adds(&q, "b"); must_fail = 1; cmd_expect = CMD_GET; break;
    case 13: { /* the connection commands, by their words; RESP3 after HELLO 3 changes no reply the model reads */
        unsigned w = next(in) % ARRAY_LEN(misc_conn);
        char buf[40], *sp = NULL;
        strcpy(buf, misc_conn[w]);
        for (char *t = strtok_r(buf, " ", &sp); t; t = strtok_r(NULL, " ", &sp)) req_adds(&q, t);
        must_fail = w == 3 || w == 8 || w == 11 || w == 14;
        break;
    }
    default: req_adds(&q, "CONFIG"); req_adds(&q, "SET"); req_adds(&q, "x"); must_fail = 1; cmd_expect = CMD_CONFIG; break;
    }
    /* case 10 may name a real command: then only its reply's shape is checked,
     * and a change it made would break the model -- so only let through words
     * that are no command at all */
    if (sub == 10) {
        const char *const *known = misc_known;
        for (size_t i = 0; i < ARRAY_LEN(misc_known); i++)
            if (q.a[0].len == strlen(known[i]) && !strncasecmp(q.a[0].p, known[i], q.a[0].len)) {
                req_free(&q);
                return;
            }
        must_fail = 1;
        cmd_expect = CMD_UNKNOWN;
    }
    int flags;
    int cmd = exec(&q, kind, &flags);
    req_free(&q);
    if (cmd_expect >= 0 && cmd != cmd_expect) fuzz_fail("misc %u ran as command %d, expected %d", sub, cmd, cmd_expect);
    if ((flags & ENG_CLOSE) != (sub == 8 ? ENG_CLOSE : 0)) fuzz_fail("ENG_CLOSE %s", sub == 8 ? "missing" : "set");
    reply r;
    read_reply(kind, want, 0, &r);
    if (must_fail) expect_outcome(0, &r, "misc");
    else expect_outcome(1, &r, "misc");
    probe(pick_prefix(in, 0), 10, NULL, NULL, kind);
}

#endif
