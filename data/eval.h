/* eval.h -- `qac eval`: offline ranking-quality evaluation under the one
 * protocol of ../shared/EVALUATION.md (see eval.c for the readings chosen
 * where the protocol is ambiguous).
 *
 *   qac eval -i INDEX [--split TIME] [--json FILE]
 *            [--systems mpc,personal,heuristic] [--limit N] LOG...
 *
 * Exit status: 0 ok, 1 runtime error (unreadable index or log), 2 usage.
 */
#ifndef QAC_DATA_EVAL_H
#define QAC_DATA_EVAL_H

int eval_main(int argc, char **argv);

#endif
