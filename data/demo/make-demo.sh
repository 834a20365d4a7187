#!/usr/bin/env bash
# make-demo.sh [SHARED_DATA_DIR] -- regenerate the demo data in data/demo/.
#
# Inputs (read in place, default ../shared/data relative to the repository):
#   trec/05.efficiency_topics   TREC 2005 Terabyte efficiency topics, one query a line
#   excite/excite-small.log     Excite 1997 sample: user<TAB>YYMMDDHHMMSS<TAB>query
# Outputs:
#   trec05.txt    the TREC topics unchanged (format `lines`)
#   excite97.tsv  the Excite sample in the AOL format (format `aol`): header
#                 AnonID, Query, QueryTime, ItemRank, ClickURL; QueryTime is
#                 19YY-MM-DD HH:MM:SS; ItemRank and ClickURL empty. Rows are kept
#                 as they are, empty queries included (qac build skips them).
# Deterministic: running it twice gives identical files (see README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../../../shared/data}
trec=$src/trec/05.efficiency_topics
excite=$src/excite/excite-small.log
for f in "$trec" "$excite"; do
    [ -r "$f" ] || { echo "make-demo.sh: cannot read $f (pass the shared data directory)" >&2; exit 1; }
done

cp "$trec" "$here/trec05.txt.tmp"
mv "$here/trec05.txt.tmp" "$here/trec05.txt"

LC_ALL=C awk -F'\t' '
BEGIN { OFS = "\t"; print "AnonID", "Query", "QueryTime", "ItemRank", "ClickURL" }
{
    t = $2
    if (NF != 3 || t !~ /^[0-9]+$/ || length(t) != 12) { bad++; next }
    ts = sprintf("19%s-%s-%s %s:%s:%s", substr(t,1,2), substr(t,3,2), substr(t,5,2),
                 substr(t,7,2), substr(t,9,2), substr(t,11,2))
    print $1, $3, ts, "", ""
}
END { if (bad) print "make-demo.sh: skipped " bad " malformed Excite rows" > "/dev/stderr" }
' "$excite" > "$here/excite97.tsv.tmp"
mv "$here/excite97.tsv.tmp" "$here/excite97.tsv"
wc -l "$here/trec05.txt" "$here/excite97.tsv"
