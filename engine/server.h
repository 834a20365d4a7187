/* server.h -- the event loop of `qac serve`: listeners, connections, limits,
 * HTTP routing, signals. See server.c for the design.
 *
 * srv_run() owns the loop from start to clean shutdown: it binds the
 * listeners, serves until SIGINT/SIGTERM, answers what was already received,
 * closes every handle and returns. The trie and config are borrowed.
 */
#ifndef QAC_SERVER_H
#define QAC_SERVER_H

#include "engine/config.h"
#include "engine/store/journal.h"
#include "trie/trie.h"

/* Runs the server. Returns 0 after a clean shutdown, 1 when it could not
 * start (bind failed...: logged). j (NULL: no journal) is borrowed: every
 * change is appended to it; the caller recovered it and closes it after. */
struct dict_set;
struct trie_words;
/* dicts: the named dictionaries (engine/dict.h), borrowed; NULL: none.
 * words: the word index loaded with the snapshot (engine/infix.h
 * eng_words_load; NULL: built here when infix-index is yes), owned from
 * the call on. */
int srv_run(const srv_config *cfg, trie *t, struct dict_set *dicts, jrn *j, struct trie_words *words);

/* `qac serve` (engine/serve_cmd.c): exit 0 clean shutdown, 1 runtime error, 2 usage. */
int serve_main(int argc, char **argv);

#endif
