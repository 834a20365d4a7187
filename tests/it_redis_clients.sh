#!/usr/bin/env bash
# it_redis_clients.sh -- qac through Redis client libraries, written the way
# their documentation shows:
#   1. redis-py (Debian's python3-redis, run by /usr/bin/python3): a client
#      and a connection pool with db=0 and client_name (SELECT 0 and CLIENT
#      SETNAME on every new connection), ping, echo, client_id/getname/setname,
#      info()['redis_version'], qac's own commands through execute_command,
#      a pipeline, and errors raised as ResponseError;
#   2. redis-cli -3 (HELLO 3 at connect: RESP3) and HELLO with AUTH on a server
#      with requirepass (redis-cli --user default -a ... -3).
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN or redis-cli); a part whose client
# is missing prints SKIP.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-cli
make_tmp it_redis_clients

printf 'new york\t100\nnew york times\t80\nnetflix\t90\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || fail "qac build"
port=$(free_port)
fail_log=$tmp/log
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port 0 --log-level warn || fail "server did not start"

# --- 1. redis-py ----------------------------------------------------------------------
if /usr/bin/python3 -c 'import redis' 2>/dev/null; then
    cat >"$tmp/redis_py.py" <<'PY'
import sys, redis
port = int(sys.argv[1])
def want(got, exp, what):
    if got != exp: sys.exit("%s: got %r, want %r" % (what, got, exp))
r = redis.Redis(host="127.0.0.1", port=port, db=0, client_name="shop-frontend", decode_responses=True)
want(r.ping(), True, "ping")
want(r.echo("hello"), "hello", "echo")
want(r.client_getname(), "shop-frontend", "client_name set on connect")
cid = r.client_id()
if not isinstance(cid, int) or cid < 1: sys.exit("client_id %r" % cid)
want(r.client_setname("renamed"), True, "client_setname")
want(r.client_getname(), "renamed", "client_getname")
info = r.info()
want(info["redis_version"], "7.2.0", "info redis_version")
want(info["redis_mode"], "standalone", "info redis_mode")
if info.get("keys") != 3: sys.exit("info keys %r" % info.get("keys"))
want(r.execute_command("COMPLETE", "new", "LIMIT", "2"), ["new york", "new york times"], "COMPLETE")
want(r.execute_command("ADD", "New Orleans", 95), "OK", "ADD")
want(r.execute_command("COMPLETE", "new o"), ["New Orleans"], "COMPLETE after ADD")
p = r.pipeline(transaction=False)
p.execute_command("COMPLETE", "ne", "LIMIT", "1").echo("x").client_id()
want(p.execute(), [["new york"], "x", cid], "pipeline")
try:
    r.execute_command("COMPLETE", "new", "FUZZY", "9")
    sys.exit("COMPLETE FUZZY 9 did not raise")
except redis.ResponseError as e:
    want(str(e), "ARGS FUZZY wants 0, 1, 2 or AUTO", "error text")
try:
    r.execute_command("SELECT", "1")
    sys.exit("SELECT 1 did not raise")
except redis.ResponseError:
    pass
# a pool: every new connection runs SELECT 0 and CLIENT SETNAME
pool = redis.ConnectionPool(host="127.0.0.1", port=port, db=0, client_name="pooled", decode_responses=True)
a, b = redis.Redis(connection_pool=pool), redis.Redis(connection_pool=pool)
ca, cb = pool.get_connection("PING"), pool.get_connection("PING")
ca.send_command("CLIENT", "GETNAME"); cb.send_command("CLIENT", "ID")
want(ca.read_response(), "pooled", "pooled connection named")
if cb.read_response() == cid: sys.exit("two connections, one id")
pool.release(ca); pool.release(cb)
print("ping, echo, client_name on connect (pool too), client_id/setname/getname, info, COMPLETE/ADD, pipeline, errors")
PY
    if out=$(/usr/bin/python3 "$tmp/redis_py.py" "$port" 2>&1); then ok "redis-py: $out"; else bad "redis-py: $out"; fi
else
    echo "SKIP: redis-py: python3-redis is not installed for /usr/bin/python3 (apt-get install python3-redis)"
fi

# --- 2. redis-cli -3: RESP3 ---------------------------------------------------------------
check "redis-cli -3 HELLO" "$(redis-cli -3 -p "$port" HELLO 3 | tr '\n' '|' | cut -d'|' -f1-3)" \
    "server qac|version 0.1.0|proto 3"
# the bytes: a map, then RESP3's null
resp3=$(printf '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n*1\r\n$4\r\nQUIT\r\n' |
    nc -q1 127.0.0.1 "$port" | tr -d '\r' | tr '\n' '|')
case $resp3 in '%7|$6|server|$3|qac|'*'|_|+OK|') ok "RESP3 bytes: map and null";; *) bad "RESP3 bytes: $resp3";; esac
check "redis-cli -3 COMPLETE" "$(redis-cli -3 -p "$port" COMPLETE new LIMIT 2 | tr '\n' '|')" "new york|New Orleans|"
check "redis-cli -3 CLIENT INFO" "$(redis-cli -3 -p "$port" CLIENT INFO | grep -o 'resp=3')" "resp=3"
check "HELLO 4" "$(redis-cli -p "$port" HELLO 4)" "NOPROTO unsupported protocol version"
qac_stop

# HELLO ... AUTH on a server with requirepass: redis-cli --user default -a PW -3 sends it at connect
port=$(free_port)
QAC_REQUIREPASS=pw-it-redis qac_start "$port" "$tmp/log2" -i "$tmp/idx" --http-port 0 --log-level warn ||
    fail "server with requirepass did not start"
check "requirepass: HELLO 3 without AUTH" "$(redis-cli -p "$port" HELLO 3 2>&1 | cut -c1-40)" \
    "NOAUTH HELLO must be called with the cli"
check "requirepass: HELLO 3 AUTH" \
    "$(redis-cli --no-auth-warning --user default -a pw-it-redis -3 -p "$port" STATS | grep -c '^keys:3')" "1"
check "requirepass: HELLO 3 AUTH wrong" \
    "$(redis-cli --no-auth-warning --user default -a wrong -3 -p "$port" PING 2>&1 | grep -c WRONGPASS)" "1"
qac_stop
[ "$fails" -eq 0 ]
