#!/usr/bin/env python3
"""mkseed_exec.py -- writes the seed corpus of fuzz_exec (tests/fuzz/corpus/exec/).

The bytecode is fuzz_exec.c's (see its header comment): a header byte (ranker
candidates 3/5/10/50 by its low 2 bits; the ACCEPT guard's tiny tables and
rate limit by the others: hdr() below), then commands: an opcode byte (low
nibble the command, bit 4 RESP, bits 5-7 flags) and the argument bytes that
command reads. Table indexes below are the ones in fuzz_exec.c.

Usage: python3 tests/fuzz/mkseed_exec.py [OUTDIR]   (default tests/fuzz/corpus/exec; without
OUTDIR it also writes the reproducers of regress() to tests/fuzz/regress/exec/)
"""
import os
import sys

ADD, INCR, DEL, GET, ACCEPT, COMPLETE, SAVE, RELOAD, BURST, MISC = range(10)
SUG = 14
FUZZY = 15
RESP = 0x10


def op(cmd, resp=False, fl=0):
    return bytes([cmd | (RESP if resp else 0) | (fl << 5)])


def bad(n, i):
    """a selector byte in 0xd0..0xf5 picking entry i of a table of n (the invalid tail)"""
    return next(b for b in range(0xd0, 0xf6) if b % n == i)


# clean_keys indexes
K = {"a": 0, "ab": 1, "abc": 2, "abd": 3, "abcd": 4, "b": 5, "ba": 6, "bab": 7, "c": 8, "ca": 9,
     "a b": 10, "a bc": 11, "ab c": 12, "zq": 13, "zq 1": 14, "x": 15}
# clean_prefixes indexes
P = {"": 0, "a": 1, "ab": 2, "abc": 3, "b": 4, "a ": 5, "c": 6, "zq": 7, "zq ": 8, "x": 9, "ab ": 10, "abcd": 11,
     "ba": 12}
# scores (good ones: index < 16)
SC = {"1": 0, "2": 1, "3": 2, "0": 3, "5": 4, "10": 5, "-1": 6, "100": 7, "0.5": 8, "2.5": 9, "-0": 10,
      "1e300": 11, "-1e300": 12, "max": 13, "1e-300": 14, "nan": bad(24, 16)}
U = {"u1": 0, "u2": 1, "u3": 2, "U1": 3, "heavy": 6, "": bad(11, 7)}  # users[7] = "" (invalid)
LIM = {"1": 0, "2": 1, "3": 2, "5": 3, "10": 4, "20": 5, "100": 6, "4": 7}


def hdr(cands=0, tiny=None, rate=None, defaults=False):
    """the header byte: cands 0..3 (3/5/10/50 candidates); guard tables: tiny =
    (pairs, actors) (4, 4) / (1, 1) / (2, 3) / (7, 8), or defaults (262144,
    65536), else (2048, 1024); rate: 3, 1 or 2 = user rate 1/s with that
    burst, "conn" = user 1/s burst 6 and connection 1/s burst 4, None = no
    rate limit"""
    h = cands
    if tiny is not None:
        h |= 4 | [(4, 4), (1, 1), (2, 3), (7, 8)].index(tiny) << 4
    elif defaults:
        h |= 3 << 4
    if rate is not None:
        h |= 8 | [3, 1, 2, "conn"].index(rate) << 6
    return bytes([h])


def key(name):
    return bytes([K[name]])


def raw(data):
    """a raw argument: selector 0xf6, a length byte, the bytes"""
    assert len(data) < 250
    return bytes([0xf6, len(data)]) + data


def odd(i):
    """odd_keys[i] (31 entries), selected by a byte in 0xa0..0xef"""
    for b in range(0xa0, 0xf0):
        if b % 31 == i:
            return bytes([b])
    raise ValueError(i)


def add(k, s="1", resp=False):
    return op(ADD, resp) + (k if isinstance(k, bytes) else key(k)) + bytes([SC[s]])


def incr(k, delta=None, resp=False):
    if delta is None:
        return op(INCR, resp) + (k if isinstance(k, bytes) else key(k))
    return op(INCR, resp, 1) + (k if isinstance(k, bytes) else key(k)) + bytes([SC[delta]])


def accept(k, user=None, sess=None, prefix=None, rank=None, resp=False, junk=0):
    ob = (user is not None) | (sess is not None) << 1 | (prefix is not None) << 2 | (rank is not None) << 3
    if junk:
        ob |= 0x10 | ((junk - 1) << 5)
    b = op(ACCEPT, resp) + (k if isinstance(k, bytes) else key(k)) + bytes([ob])
    if user is not None:
        b += bytes([U[user]])
    if sess is not None:
        b += bytes([sess])
    if prefix is not None:
        b += bytes([P[prefix]])
    if rank is not None:
        b += bytes([rank])
    return b


def complete(p, user=None, sess=None, limit=None, ws=False, resp=False, fl=0):
    ob = (user is not None) | (sess is not None) << 1 | (limit is not None) << 2 | ws << 3
    b = op(COMPLETE, resp, fl) + (p if isinstance(p, bytes) else bytes([P[p]])) + bytes([ob])
    if user is not None:
        b += bytes([U[user]])
    if sess is not None:
        b += bytes([sess])
    if limit is not None:
        b += bytes([LIM[limit]])
    return b


# op_fuzzy's table: 0 1 2 auto AUTO (good), 3 -1 x "" (bad)
FZ = {"0": 0, "1": 1, "2": 2, "auto": 3, "AUTO": 4, "3": 5, "-1": 6, "x": 7, "": 8}


def fuzzy(p, f, limit=None, twice=False, resp=False, fl=0, infix=False):
    b = op(FUZZY, resp, fl) + (p if isinstance(p, bytes) else bytes([P[p]])) + \
        bytes([FZ[f] | twice << 4 | (limit is not None) << 5 | infix << 6])
    if limit is not None:
        b += bytes([LIM[limit]])
    return b


def seeds():
    s = {}
    # every key command, both protocols
    s["basic"] = bytes([1]) + add("a", "1") + add("ab", "2") + add("abc", "3", True) + add("abd", "3") + \
        incr("ab") + incr("abc", "2", True) + complete("a", limit="3") + op(GET) + key("ab") + bytes([P["a"]]) + \
        op(DEL) + key("ab") + complete("a", ws=True, resp=True) + op(DEL, True) + key("ab") + \
        op(GET, True) + key("ab") + bytes([P["ab"]]) + add("b", "-1") + add("ba", "-1") + complete("", limit="100")
    # ACCEPT with every option, ranked COMPLETE with USER, a deleted key left in the history
    s["accept_history"] = bytes([0]) + add("abc", "10") + add("abd", "5") + add("abcd", "3") + add("a b", "2") + \
        accept("ab c", user="u1", sess=0, prefix="ab", rank=2) + accept("ab c", user="u1", resp=True) + \
        accept("abc", user="u2", prefix="a", rank=0) + accept("x", user="U1", sess=1) + \
        complete("ab", user="u1", sess=0, limit="5", ws=True, resp=True) + op(DEL) + key("ab c") + \
        complete("ab", user="u1", limit="10") + complete("a", user="u2") + accept("abd", user="u1", prefix="abc") + \
        complete("a", sess=1, limit="2")
    # SAVE (ok, then to an unwritable path), RELOAD (ok, then with the model moved away)
    s["save_reload"] = bytes([2]) + add("a", "3") + add("ab", "2.5") + add(odd(1), "5") + \
        accept("abc", user="u1", prefix="a") + op(SAVE) + bytes([P["a"]]) + op(SAVE, True, 7) + bytes([0]) + \
        op(RELOAD) + bytes([P["a"]]) + op(RELOAD, True, 7) + bytes([0]) + op(DEL) + key("a") + \
        op(SAVE, True) + bytes([P[""]]) + op(RELOAD, True) + bytes([P["ab"]])
    # the normalizer's cases: case, accents, ligatures, CJK, NBSP, NEL, controls, long keys, raw bytes
    odd_cmds = b"".join(add(odd(i), "2") for i in range(31))
    s["odd_keys"] = bytes([1]) + odd_cmds + add(bytes([0xf0]), "1") + add(bytes([0xf1]), "1") + \
        add(bytes([0xf2]), "1") + add(bytes([0xf3]), "1") + add(bytes([0xf4]), "1") + \
        incr(bytes([0xf2])) + incr(bytes([0xf3]), resp=True) + accept(odd(7), user="u3") + \
        add(raw("Na\xefve".encode("latin-1")), "1") + add(raw("Stra\u00dfe".encode()), "1e300") + \
        incr(raw("Stra\u00dfe".encode()), "1e300") + complete(bytes([0xc9]), limit="100") + \
        complete(raw(b"a\xe2\x80"), ws=True, resp=True) + complete(raw(b"stra"), user="u1")
    # errors: bad numbers, junk options, bad ids, bad limits; MISC commands
    misc = b"".join(op(MISC, sub % 2 == 1, sub % 4) + bytes([sub] + ([sub % 4] if sub in (5, 6) else []) + [P["a"]])
                    for sub in range(14) if sub != 10)
    s["errors_misc"] = bytes([3]) + add("a", "1") + add("a", "nan") + incr("a", "max") + incr("a", "max") + \
        accept("ab", user="", junk=0) + accept("ab", user="u1", junk=1) + accept("ab", sess=0, junk=2) + \
        accept("ab", rank=4) + accept("ab", rank=5) + complete("a", user="", limit="1") + \
        op(COMPLETE) + bytes([P["a"], 0x04, bad(14, 8)]) + \
        op(COMPLETE, True) + bytes([P["a"], 0x10 | (1 << 5)]) + misc + \
        op(MISC) + bytes([10]) + raw(b"FROB") + bytes([0])
    # the crash: one user's ~1,200 distinct accepts under one prefix (in-process
    # history keeps 1,000), then COMPLETE that prefix USER; then an ACCEPT with
    # PREFIX (online learning over the same heavy candidate list)
    s["heavy_history"] = bytes([3]) + add("zq", "5") + add("zq 1", "3") + \
        op(BURST, False, 7) + bytes([U["heavy"], 0, 0xff, 0]) + \
        complete("zq", user="heavy", limit="10", ws=True, resp=True) + \
        complete("zq ", user="heavy", limit="100") + accept(key("zq 1"), user="heavy", prefix="zq") + \
        complete("zq", limit="5")
    # the same, small: a burst of 40 under "ab" with few candidates (history-only ones
    # outside the trie's top 3), deletes, and re-adds
    s["burst_small"] = bytes([0]) + add("abc", "1") + op(BURST, True, 0) + bytes([U["u2"], 1, 32, 0]) + \
        op(DEL) + odd(0) + op(DEL) + raw(b"ab 0003") + complete("ab", user="u2", limit="100", ws=True) + \
        add(raw(b"AB 0003"), "100") + complete("ab", user="u2", limit="4") + complete("ab", limit="4", resp=True)
    # the ACCEPT guard, its default tables: a repeat by the same actor (USER, or the
    # anonymous "a:") answers the unchanged score; a repeat of a DELeted key puts
    # it back with score 1; two users accepting with PREFIX teach the model
    # (learn-users 2), one user's fourth taught query is over learn-max 3
    s["guard_repeats"] = hdr(1, defaults=True) + add("abc", "10") + accept("abc", user="u1") + accept("abc", user="u1", resp=True) + \
        accept("abc", user="u2") + accept("abc") + accept("abc", resp=True) + accept("abc", user="U1") + \
        op(DEL) + key("abc") + accept("abc", user="u1") + accept("abc", user="u3") + accept("abc") + \
        b"".join(accept(k, user=u, prefix="a") for k in ("abd", "abcd", "a b", "a bc", "ab c")
                 for u in ("u1", "u2")) + complete("a", user="u1", limit="10", ws=True)
    # tiny tables: pairs 4 rotate early (a pair two rotations old counts again),
    # 4 actor slots for 6 actors (evictions); then pairs 1 (every new pair rotates)
    rot = add("a", "5") + b"".join(accept(k, user=u) for u in ("u1", "u2", "u3") for k in ("a", "ab", "abc")) + \
        accept("a", user="u1") + accept("a", user="U1") + accept("a") + accept("a", user="heavy") + \
        accept("a", user="u1") + op(BURST) + bytes([U["u2"], 1, 9, 0]) + accept("a", user="u2") + \
        complete("a", limit="5")
    s["guard_rotate"] = hdr(2, tiny=(4, 4)) + rot
    s["guard_rotate_1"] = hdr(0, tiny=(1, 1)) + rot
    # the rate: burst 3 at 1/s; an actor's 4th and 5th ACCEPT within the input
    # get ERR RATE and change nothing (repeats spend tokens too); a burst of 20
    # by one user: 3 counted, 17 refused
    s["guard_rate"] = hdr(0, rate=3) + add("ab", "2") + accept("ab", user="u1") + accept("ab", user="u1") + \
        accept("abc", user="u1", resp=True) + accept("abd", user="u1") + accept("ab", user="u1", resp=True) + \
        accept("ab", user="u2") + accept("ab") + accept("ab") + accept("abc") + accept("abd", resp=True) + \
        op(BURST, True) + bytes([U["u3"], 1, 19, 0]) + complete("ab", user="u3", limit="10", ws=True)
    # burst 1 with 4 actor slots and 6 actors: after evictions a refusal is not
    # certain (a fresh bucket), the model follows the reply
    s["guard_rate_evict"] = hdr(3, tiny=(4, 4), rate=1) + \
        b"".join(accept("ab", user=u) + accept("abc", user=u) for u in ("u1", "u2", "u3", "U1", "heavy")) + \
        accept("ab") + accept("abc") + accept("ab", user="u1") + accept("abd", user="u1")
    # the connection's bucket (burst 4 for all actors): u1's 4 ACCEPTs empty it;
    # then u2, the anonymous actor, u1 twice and u3 get ERR RATE "this
    # connection" (none of them comes back: guard.c spends an actor's token on a
    # connection refusal, see regress/exec/guard-conn-refusal-spends-actor-token)
    s["guard_conn_rate"] = hdr(1, rate="conn") + add("ab", "1") + \
        b"".join(accept(k, user="u1") for k in ("ab", "abc", "ab", "abd")) + accept("ab", user="u2") + \
        accept("abc", resp=True) + accept("ab", user="u1") + accept("abd", user="u1", resp=True) + \
        accept("ab", user="u3") + complete("ab", user="u1", limit="5", ws=True)
    # typos: COMPLETE ... FUZZY on keys one or two edits from the prefixes, under changes; bad values
    s["fuzzy"] = bytes([0]) + add("abc", "10") + add("abd", "5") + add("abcd", "3") + add("ab c", "2") + \
        add("ba", "5") + fuzzy("abc", "1") + fuzzy("abcd", "auto", resp=True) + fuzzy("ab", "2", limit="2") + \
        op(DEL) + key("abd") + fuzzy("abc", "1", resp=True) + incr("ab c", "100") + fuzzy("abcd", "2") + \
        fuzzy("abc", "3") + fuzzy("abc", "x", resp=True) + fuzzy("abc", "", limit="1") + \
        fuzzy("abc", "1", twice=True) + fuzzy("ba", "AUTO", fl=1)
    # words anywhere: COMPLETE ... FUZZY f INFIX under changes (the word index follows them)
    s["infix"] = bytes([0]) + add("a b", "10") + add("a bc", "5") + add("ab c", "3") + add("ba", "2") + \
        add("b", "5") + fuzzy("b", "0", infix=True) + fuzzy("c", "0", infix=True, resp=True) + \
        fuzzy("a ", "0", infix=True, limit="2") + op(DEL) + key("a bc") + fuzzy("b", "0", infix=True) + \
        incr("ab c", "100") + fuzzy("c", "1", infix=True) + fuzzy("ab ", "auto", infix=True, fl=1) + \
        add("a b", "max") + incr("a b", "max") + fuzzy("b", "0", infix=True) + fuzzy("b", "x", infix=True)
    # the last typed word with edits (INFIX + FUZZY): a later word typed with a typo finds the key, the
    # whole text's typo completions merged in (each key once, with its fewest edits), a trailing space
    # (whole-word distance), AUTO by the last word's characters, under changes
    s["infix_fuzzy"] = bytes([0]) + add(raw(b"zq abcd"), "10") + add(raw(b"ba abce x"), "5") + \
        add(raw(b"abd ba abd"), "3") + add("abcd", "2") + add("a bc", "1") + \
        fuzzy(raw(b"zq abdc"), "1", infix=True) + fuzzy(raw(b"ba abxd"), "2", infix=True, resp=True) + \
        fuzzy(raw(b"ba abdc "), "1", infix=True) + fuzzy(raw(b"abcf"), "auto", infix=True) + \
        fuzzy(raw(b"x ab"), "AUTO", infix=True) + fuzzy(raw(b"abd abx"), "1", infix=True, limit="2") + \
        incr(raw(b"ba abce x"), "100") + op(DEL) + raw(b"zq abcd") + fuzzy(raw(b"zq abdc"), "1", infix=True) + \
        fuzzy(raw(b"ba abcx"), "2", infix=True)
    # named dictionaries (fuzz_exec_sug.h: sub-op, dictionary, string index, then what the sub-op reads):
    # FT.SUGADD (a payload: flag 1), FT.SUGGET (FUZZY: flag 1, MAX: flag 2), COMPLETE ... DICT, FT.SUGLEN,
    # TYPE, and op_del's DEL of the dictionary's exact name (raw key "sug0")
    s["sug"] = bytes([0]) + op(SUG, True) + bytes([0, 0, 0, 0]) + op(SUG, True) + bytes([0, 0, 6, 1]) + \
        op(SUG, True, 1) + bytes([0, 0, 1, 2, 0]) + op(SUG, True) + bytes([5, 0, 0, 3]) + \
        op(SUG, True, 1) + bytes([5, 0, 0, 11]) + op(SUG, True, 2) + bytes([5, 0, 0, 0, 3]) + \
        op(SUG, True) + bytes([7, 0, 0, 4, 9]) + op(SUG) + bytes([4, 0, 0]) + op(SUG, True) + bytes([6, 0, 0, 1]) + \
        op(DEL) + bytes([0xf6, 4]) + b"sug0" + op(SUG, True) + bytes([4, 0, 0])
    return s


def regress():
    """tests/fuzz/regress/exec/ inputs that can be written down (the others are
    fuzzer finds kept byte for byte)"""
    r = {}
    # guard.h: a refused ACCEPT changes nothing but the buckets' refill; guard.c
    # takes the actor's token before asking the connection, so each connection
    # refusal spends one: u1's 5th and 6th ACCEPT (connection burst 4) spend
    # tokens 5 and 6 of its burst 6, and the 7th gets ERR RATE "this user"
    # instead of "this connection"
    r["guard-conn-refusal-spends-actor-token"] = hdr(0, rate="conn") + \
        b"".join(accept("ab", user="u1") for _ in range(7))
    return r


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "exec")
    os.makedirs(outdir, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")
    if len(sys.argv) <= 1:
        regdir = os.path.join(os.path.dirname(__file__), "regress", "exec")
        os.makedirs(regdir, exist_ok=True)
        for name, data in regress().items():
            with open(os.path.join(regdir, name), "wb") as f:
                f.write(data)
            print(f"regress/exec/{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
