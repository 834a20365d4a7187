# tests/bench/lucene_peer.bash -- sourced by the peer scripts (fuzzy_peers.sh, infix_peers.sh): makes
# ../shared/tools/peers/lucene's harness runnable against Debian's Lucene 8 jars (liblucene8-java,
# `apt-get download` into DATA/lucene, the one fetch; never installed) and a JDK that must already be
# there. Not a .sh: tests/bench/run.sh runs every *.sh.
#
#   lucene_setup SHARED DATA TMP    -> 0 with lucene_cp (the classpath: harness classes and jars) set;
#                                      1 after a "SKIP: Lucene: why" line
#   lucene_run ARGS...              -> java -Xmx6g ... peers.lucene.LuceneSuggestBench ARGS (-D options
#                                      go in LUCENE_OPTS, an array)
lucene_setup() {
    local shared=$1 data=$2 tmp=$3
    local src=$shared/tools/peers/lucene/src/main/java/peers/lucene/LuceneSuggestBench.java
    local ldir=$data/lucene jars
    jars=$ldir/x/usr/share/java
    if [ ! -f "$src" ]; then
        echo "SKIP: Lucene: $src not found"; return 1
    fi
    if ! command -v javac >/dev/null || ! command -v java >/dev/null; then
        echo "SKIP: Lucene: no javac/java (a JDK: apt-get install default-jdk-headless)"; return 1
    fi
    if ! ls "$jars"/lucene-suggest-*.jar >/dev/null 2>&1; then
        echo "== Lucene: apt-get download liblucene8-java (into $ldir)"
        mkdir -p "$ldir"
        if ! (cd "$ldir" && apt-get download liblucene8-java >"$ldir/download.log" 2>&1 &&
              dpkg-deb -x liblucene8-java_*.deb x); then
            echo "SKIP: Lucene: apt-get download liblucene8-java failed ($(tail -1 "$ldir/download.log" 2>/dev/null))"
            return 1
        fi
    fi
    local j cp=
    for j in core analyzers-common suggest; do
        cp="$cp:$(ls "$jars"/lucene-"$j"-[0-9]*.jar 2>/dev/null | head -1)"
    done
    cp=${cp#:}
    if [ ! -f "$ldir/classes/peers/lucene/LuceneSuggestBench.class" ] ||
       [ "$src" -nt "$ldir/classes/peers/lucene/LuceneSuggestBench.class" ]; then
        javac -nowarn -d "$ldir/classes" -cp "$cp" "$src" 2>"$tmp/javac.log" ||
            { echo "SKIP: Lucene: javac failed: $(head -3 "$tmp/javac.log")"; return 1; }
    fi
    lucene_cp="$ldir/classes:$cp"
}

lucene_run() {
    java -Xmx6g "${LUCENE_OPTS[@]}" -cp "$lucene_cp" peers.lucene.LuceneSuggestBench "$@"
}
