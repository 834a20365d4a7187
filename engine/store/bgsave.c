/* bgsave.c -- background snapshots by fork (see bgsave.h).
 *
 * THE SEQUENCE (driven by server.c)
 *   1. write the journal batch to generation G (so G holds every change
 *      applied so far), 2. fork: the child's image holds exactly the state
 *   after the last record of G, 3. the parent opens generation G+1 and sends
 *   every later change there; G's descriptor is fdatasync'ed (with the next
 *   group sync) and closed, 4. the child writes INDEX.tmp, fsyncs it, renames
 *   it over INDEX, fsyncs the directory, writes INDEX.words (the word index,
 *   engine/infix.h) and INDEX.dicts the same way (the named dictionaries,
 *   engine/dict.h; same image), exits 0, 5. the parent removes every
 *   generation < G+1. A failed child (exit != 0, killed) changes nothing on
 *   disk but INDEX.tmp: the old snapshot, G and G+1 still replay.
 *
 * CRASH CONSISTENCY: at every moment a crash leaves a state that loads with
 * nothing acknowledged lost.
 *   Loading = the snapshot at INDEX, then every journal generation present,
 *   in order. Journal records are absolute (SET key display score / DEL key),
 *   so replaying a record over a state that already contains it is a no-op,
 *   and replaying a sequence of generations over a snapshot that already
 *   contains a prefix of them yields the state after the last record.
 *   Claim: at every moment, (a) INDEX holds the state after some record r of
 *   some generation still on disk, or after the last record of a generation
 *   whose records are all older than every generation on disk, and (b) every
 *   acknowledged change is a record in a generation on disk (a change is
 *   acknowledged only after its record is written, and for --fsync always
 *   after the fdatasync; a new generation file and its directory entry are
 *   fsynced before any record goes into it).
 *   - Before step 5, no generation was removed: INDEX is the previous
 *     snapshot (covered by generations <= G, all present) or, once the rename
 *     of step 4 happened, the image of step 2, which is the state after G's
 *     last record. Either way replaying G..G+1 over it gives every change.
 *   - The rename is atomic: INDEX is the old file or the new one, never a
 *     mix; a torn INDEX.tmp is never read.
 *   - Step 5 starts only after the child exited 0, i.e. after the rename and
 *     the directory fsync: the generations removed are all contained in the
 *     new INDEX. Removing them in any order (or a crash half way) leaves
 *     G+1 and maybe some older ones; those overlap what INDEX holds, which
 *     the idempotent records make harmless.
 *   - INDEX.words is a separate file, not a section of INDEX, so the trie
 *     snapshot's format and its readers stay as they are and an old INDEX
 *     still loads. It is written after INDEX's rename and names the image
 *     it indexes (INDEX's header checksum and key count): a crash between
 *     the two renames leaves a new INDEX with the previous INDEX.words,
 *     which the next start refuses as another snapshot's and rebuilds; a
 *     torn INDEX.words.tmp is never read; a write failure leaves the old
 *     file (refused the same way). It is derived from INDEX alone, so the
 *     replay argument above does not depend on it: at worst a start builds
 *     the index instead of loading it, never uses a wrong one.
 *   - A crash while writing to G+1 leaves at most a torn last record, cut at
 *     load; it was never acknowledged.
 *   - The child dies with the parent (PR_SET_PDEATHSIG), so an orphan from
 *     a killed server can never rename an old image over a newer snapshot
 *     written after the restart.
 *   Not covered: --fsync everysec / no acknowledge before the fdatasync, so
 *   a power loss (not a process crash) loses up to ~1 s / the kernel's
 *   writeback window; see README "Durability".
 *
 * The child only calls trie_save and _exit: no libuv, no logging through
 * the loop, no atexit handlers. It resets the signals libuv forwards to the
 * parent's loop, so a SIGTERM sent to the process group does not reach the
 * parent twice.
 */
#include "engine/store/bgsave.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

int bgsave_fork(const trie *t, const char *path, int (*also)(void *ud), void *ud, pid_t *pid, uint64_t *fork_us,
                char *err, size_t errlen) {
    pid_t parent = getpid();
    uint64_t t0 = qtime_us();
    pid_t p = fork();
    if (p < 0) {
        snprintf(err, errlen, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (p == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(254);
        int rc = trie_save(t, path);
        if (rc == 0 && also && also(ud) < 0) _exit(errno > 0 && errno < 253 ? errno : 253);
        if (rc == 0) _exit(0);
        int e = rc == TRIE_ENOMEM ? ENOMEM : errno;
        _exit(e > 0 && e < 254 ? e : 253);
    }
    *fork_us = qtime_us() - t0;
    *pid = p;
    return 0;
}

int bgsave_reap(pid_t pid, int *ok, char *why, size_t cap) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == 0) return 0;
    if (r < 0) {
        snprintf(why, cap, "waitpid: %s", strerror(errno));
        *ok = 0;
        return -1;
    }
    *ok = 0;
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == 0) *ok = 1, snprintf(why, cap, "ok");
        else if (code == 254) snprintf(why, cap, "the parent changed before the child started");
        else if (code == 253) snprintf(why, cap, "snapshot write failed");
        else snprintf(why, cap, "snapshot write failed: %s", strerror(code));
    } else if (WIFSIGNALED(st)) {
        snprintf(why, cap, "the snapshot child was killed by signal %d", WTERMSIG(st));
    } else {
        snprintf(why, cap, "the snapshot child stopped");
    }
    return 1;
}
