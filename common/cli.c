/* cli.c -- option tables over getopt_long (see cli.h).
 *
 * cli_init turns the table into getopt_long's two forms: the short option
 * string (":" first, so a missing value returns ':' instead of '?'; "x:" for
 * each short option with a value; "h") and the struct option array (each
 * named row, then "help"). cli_getopt calls getopt_long once and then does
 * what getopt_long does not: it refuses abbreviated long names, names the
 * option in every error message, and prints the usage for --help.
 *
 * Which argv element was the option: glibc advances optind past the option
 * and, for "--name VALUE", past the value (optarg is then argv[optind - 1]
 * itself), so the option as written is argv[optind - 1], or argv[optind - 2]
 * when the value was separate. On errors glibc sets optopt: 0 for an unknown
 * or ambiguous long name, the row's id for a long option missing its value or
 * given one it does not take, the character for an unknown short option (only
 * then may optind still point inside a cluster such as -zy, so the message is
 * built from optopt, not from argv).
 */
#include "common/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void bad_table(const char *cmd, const char *why) {
    fprintf(stderr, "qac %s: option table: %s\n", cmd, why);
    abort();
}

void cli_init(cli *c, const char *cmd, void (*usage)(FILE *f), const cli_opt *opts, size_t nopts, int argc,
              char **argv) {
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->usage = usage;
    c->argc = argc;
    c->argv = argv;
    c->opts = opts;
    c->nopts = nopts;
    if (nopts > CLI_MAX_OPTS) bad_table(cmd, "more than CLI_MAX_OPTS rows");
    size_t ns = 0, nl = 0;
    c->shorts[ns++] = ':';
    for (size_t i = 0; i < nopts; i++) {
        const cli_opt *o = &opts[i];
        if (o->id == 'h') bad_table(cmd, "'h' is --help's");
        if (o->id < 0 || (o->id >= 128 && o->id < 256) || (o->id >= 256 && !o->name))
            bad_table(cmd, "ids are short option letters below 128 or long-only ids from 256");
        if (o->id < 128) {
            c->shorts[ns++] = (char)o->id;
            if (o->value) c->shorts[ns++] = ':';
        }
        if (o->name) c->longs[nl++] = (struct option){o->name, o->value ? required_argument : no_argument, NULL, o->id};
    }
    c->shorts[ns++] = 'h';
    c->shorts[ns] = 0;
    c->longs[nl++] = (struct option){"help", no_argument, NULL, 'h'};
    c->longs[nl] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: 0 starts a new scan (and resets its permutation state) */
    opterr = 0; /* the messages are ours */
}

int cli_error(const cli *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qac %s: ", c->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; see 'qac %s --help'\n", c->cmd);
    va_end(ap);
    return 2;
}

/* The long name of option id, or NULL. */
static const char *long_name(const cli *c, int id) {
    if (id == 'h') return "help";
    for (size_t i = 0; i < c->nopts; i++)
        if (c->opts[i].id == id) return c->opts[i].name;
    return NULL;
}

/* 1 if w ("--NAME" or "--NAME=VALUE") spells name in full. */
static int full_name(const char *w, const char *name) {
    size_t n = strlen(name);
    return !strncmp(w, "--", 2) && !strncmp(w + 2, name, n) && (w[2 + n] == 0 || w[2 + n] == '=');
}

static int unknown(cli *c, const char *w) {
    c->status = cli_error(c, "unknown option '%s'", w);
    return CLI_EXIT;
}

/* getopt_long returned ':' (value missing) or '?' (unknown option, or a value given to a flag). */
static int syntax_error(cli *c, int r) {
    const char *w = c->argv[optind - 1], *name = optopt ? long_name(c, optopt) : NULL;
    int is_flag = 0;
    for (size_t i = 0; i < c->nopts; i++)
        if (c->opts[i].id == optopt) is_flag = !c->opts[i].value;
    if (optopt == 'h') is_flag = 1;
    if (r == ':' || (optopt && is_flag)) { /* a known option, short or long, misused */
        if (!strncmp(w, "--", 2)) {
            if (!name || !full_name(w, name)) return unknown(c, w);
            snprintf(c->optbuf, sizeof c->optbuf, "--%s", name);
        } else {
            snprintf(c->optbuf, sizeof c->optbuf, "-%c", optopt);
        }
        c->status = r == ':' ? cli_error(c, "%s needs a value", c->optbuf)
                             : cli_error(c, "%s takes no value", c->optbuf);
        return CLI_EXIT;
    }
    if (optopt) { /* an unknown short option, maybe inside a cluster */
        snprintf(c->optbuf, sizeof c->optbuf, "-%c", optopt);
        w = c->optbuf;
    }
    return unknown(c, w);
}

int cli_getopt(cli *c) {
    c->val = c->opt = NULL;
    int li = -1;
    int r = getopt_long(c->argc, c->argv, c->shorts, c->longs, &li);
    if (r == -1) {
        c->ind = optind;
        return CLI_END;
    }
    if (r == ':' || r == '?') return syntax_error(c, r);
    if (li >= 0) { /* a long option: written in full? */
        const char *w = c->argv[optind - 1];
        if (optarg == w) w = c->argv[optind - 2];
        if (!full_name(w, c->longs[li].name)) return unknown(c, w); /* an abbreviation */
        snprintf(c->optbuf, sizeof c->optbuf, "--%s", c->longs[li].name);
    } else {
        snprintf(c->optbuf, sizeof c->optbuf, "-%c", r);
    }
    c->opt = c->optbuf;
    if (r == 'h') {
        c->usage(stdout);
        c->status = 0;
        return CLI_EXIT;
    }
    c->val = optarg;
    return r;
}
