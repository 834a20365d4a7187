/* cli.h -- the command line of qac's offline subcommands (build, complete,
 * embed, train, load, eval, replay): one option table per command, parsed by
 * glibc's getopt_long, so every command accepts the same syntax and says the
 * same things about a bad one.
 *
 * A command lists its options (cli_opt: the id cli_getopt returns, the long
 * name, whether it takes a value) and loops:
 *
 *     static const cli_opt options[] = {{'o', "output", CLI_VALUE}, {O_QUIET, "quiet", CLI_FLAG}};
 *     cli c;
 *     cli_init(&c, "build", usage, options, ARRAY_LEN(options), argc, argv);
 *     int o;
 *     while ((o = cli_getopt(&c)) >= 0) switch (o) { case 'o': out = c.val; break; ... }
 *     if (o == CLI_EXIT) return c.status;
 *     ... operands are argv[c.ind .. argc) ...
 *
 * Syntax: --name VALUE and --name=VALUE; -x VALUE and -xVALUE; flags take no
 * value (--quiet=1 is an error). -h / --help anywhere prints the usage to
 * stdout (exit 0). Options and operands mix in any order (getopt_long
 * permutes argv: the operands end up, in their order, in argv[c.ind..]); "--"
 * ends the options; "-" is an operand. Long names are written in full:
 * getopt_long's unique-prefix abbreviations (--out for --output) are refused,
 * as `qac serve`'s settings table refuses them, so a new option can never
 * change what an existing command line means.
 *
 * Usage errors: one line on stderr, "qac CMD: WHAT; see 'qac CMD --help'",
 * exit status 2. cli_getopt reports the syntax errors itself (unknown option
 * 'X', X needs a value, X takes no value) and returns CLI_EXIT with c.status
 * 2; the command reports a bad value or a missing option with cli_error, which
 * returns 2. The usage text stays with each command (one printf with its
 * limits and defaults, checked by the compiler).
 *
 * getopt_long keeps its state in globals: one cli at a time, not thread-safe
 * (each subcommand parses once, at start).
 */
#ifndef QAC_CLI_H
#define QAC_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_MAX_OPTS 32 /* rows per table, --help not counted */

enum { CLI_FLAG = 0, CLI_VALUE = 1 };

typedef struct cli_opt {
    int id;           /* what cli_getopt returns; an id below 128 is also the short option -id;
                       * long-only options use ids from 256; 'h' is --help's */
    const char *name; /* long name without "--", or NULL for a short option only */
    int value;        /* CLI_VALUE: takes a value (c.val); CLI_FLAG: takes none */
} cli_opt;

/* cli_getopt's results besides an option id (ids are >= 0). */
enum { CLI_END = -1, CLI_EXIT = -2 };

typedef struct cli {
    const char *cmd;        /* "build": messages read "qac build: ..." */
    void (*usage)(FILE *f); /* the command's usage text */
    int argc;
    char **argv;            /* permuted in place */
    const char *val;        /* after an option with a value: the value (points into argv) */
    const char *opt;        /* after an option: its name as "--name" or "-x", for messages */
    int ind;                /* after CLI_END: the operands are argv[ind..argc) */
    int status;             /* after CLI_EXIT: the exit status (0 after --help, 2 after an error) */
    /* private */
    const cli_opt *opts;
    size_t nopts;
    char optbuf[48];
    char shorts[3 * CLI_MAX_OPTS + 4];
    struct option longs[CLI_MAX_OPTS + 2];
} cli;

/* Prepares c to walk argv[1..argc) (argv[0] is the subcommand's name). opts
 * must outlive c. A malformed table (too many rows, 'h' used, a long-only id
 * below 256) is a programming error: it aborts. */
void cli_init(cli *c, const char *cmd, void (*usage)(FILE *f), const cli_opt *opts, size_t nopts, int argc,
              char **argv);
/* The next option's id (c.opt and, for CLI_VALUE options, c.val set);
 * CLI_END when only operands remain (c.ind set); CLI_EXIT after --help (usage
 * printed, c.status 0) or a syntax error (message printed, c.status 2). */
int cli_getopt(cli *c);
/* Prints "qac CMD: <fmt ...>; see 'qac CMD --help'" to stderr; returns 2. */
int cli_error(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
