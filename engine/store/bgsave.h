/* bgsave.h -- background snapshots: a forked child writes the trie.
 *
 * bgsave_fork() forks; the child sees a copy-on-write image of the whole
 * process as it was at the fork (Redis BGSAVE), writes it with trie_save()
 * (PATH.tmp, fsync, rename over PATH, fsync the directory) and _exit()s.
 * The parent keeps serving and calls bgsave_reap() when SIGCHLD arrives
 * (or from a timer) to learn the outcome. How this fits with the journal
 * generations, and why a crash at any moment loses nothing acknowledged, is
 * written at the top of bgsave.c.
 *
 * Errors: 0 / -1 with a one-line reason in err.
 * Ownership: the trie is only read, by the child, in its own address space.
 */
#ifndef QAC_BGSAVE_H
#define QAC_BGSAVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "trie/trie.h"

/* Forks the writer child. On success *pid is the child's pid and *fork_us
 * how long fork() itself took (the only time the parent stops). also (when
 * not NULL) runs in the child after the trie is on disk and writes what else
 * belongs to the same image (the named dictionaries: engine/dict.h); it
 * returns 0 or -1 with errno, and the child fails with it. */
int bgsave_fork(const trie *t, const char *path, int (*also)(void *ud), void *ud, pid_t *pid, uint64_t *fork_us,
                char *err, size_t errlen);

/* Non-blocking check of the child: returns 0 while it runs, 1 when it has
 * exited (then *ok is 1 on success, else 0 and why says what failed), -1 when
 * waitpid fails (why set). */
int bgsave_reap(pid_t pid, int *ok, char *why, size_t cap);

#endif
