#!/usr/bin/env bash
# it_server_clients.sh -- real clients against `qac serve`: redis-cli (RESP,
# WITHSCORES), a short redis-benchmark run, and curl on every HTTP endpoint
# (status codes, Content-Type, Content-Length, CORS, 404/405/413/414/431).
# Exit 0 pass, 1 fail, 77 skip (no QAC_BIN, redis-cli or curl).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_qac
need redis-cli redis-benchmark curl python3
make_tmp it_server

printf 'new york\t100\nnew york times\t80\nnetflix\t90\nnewark\t20\ncafé paris\t5\n' >"$tmp/c.tsv"
"$QAC_BIN" build -o "$tmp/idx" --format counts --quiet "$tmp/c.tsv" || { echo "FAIL qac build"; exit 1; }
port=$(free_port) hport=$(free_port)
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port "$hport" --cors-origin 'https://example.com' \
    --http-max-body 1024 --http-max-url 512 --http-max-header 1024 --log-level warn ||
    { echo "FAIL server did not start"; cat "$tmp/log"; exit 1; }

# --- RESP via redis-cli ---
check "redis-cli PING" "$(redis-cli -p "$port" PING)" "PONG"
check "redis-cli COMPLETE" "$(redis-cli -p "$port" COMPLETE new LIMIT 2 | tr '\n' '|')" "new york|new york times|"
check "redis-cli WITHSCORES" "$(redis-cli -p "$port" COMPLETE caf WITHSCORES | tr '\n' '|')" "café paris|5|"
check "redis-cli ADD" "$(redis-cli -p "$port" ADD 'New Jersey' 95)" "OK"
check "redis-cli GET" "$(redis-cli -p "$port" GET 'new jersey')" "95"
check "redis-cli INCR" "$(redis-cli -p "$port" INCR 'new jersey' 2)" "97"
check "redis-cli ACCEPT" "$(redis-cli -p "$port" ACCEPT 'new jersey' USER u1 SESSION s1 PREFIX ne RANK 1)" "98"
check "redis-cli DEL" "$(redis-cli -p "$port" DEL 'new jersey')" "1"
check "redis-cli NOTFOUND" "$(redis-cli -p "$port" GET 'new jersey')" "ERR NOTFOUND no such query"
check "redis-cli unknown" "$(redis-cli -p "$port" FROB)" "ERR UNKNOWN unknown command 'FROB'"
check "redis-cli STATS" "$(redis-cli -p "$port" STATS | grep -c '^keys:5')" "1"

# --- redis-benchmark ---
out=$(timeout 60 redis-benchmark -p "$port" -c 10 -n 2000 -q COMPLETE ne 2>&1)
case $out in *"requests per second"*) ok "redis-benchmark";; *) bad "redis-benchmark: $out";; esac

# --- HTTP via curl ---
h="http://127.0.0.1:$hport"
body=$(curl -s "$h/v1/complete?q=caf&k=3")
case $body in '{"prefix":"caf","suggestions":[{"text":"café paris","score":5,"match":[0,3]}],"took_us":'*) ok "/v1/complete body";;
    *) bad "/v1/complete body: $body";; esac
hdr=$(curl -s -D - -o "$tmp/b" "$h/v1/complete?q=new%20y&k=1" | tr -d '\r')
check "complete Content-Type" "$(grep -i '^content-type:' <<<"$hdr")" "Content-Type: application/json; charset=utf-8"
check "complete Content-Length" "$(grep -i '^content-length:' <<<"$hdr" | awk '{print $2}')" "$(stat -c %s "$tmp/b")"
check "complete CORS" "$(grep -i '^access-control-allow-origin:' <<<"$hdr")" "Access-Control-Allow-Origin: https://example.com"
check "complete k bad" "$(http_status "$h/v1/complete?q=a&k=0")" "400"
# typos: fuzzy=0|1|2|auto; each suggestion then says its edits, and match covers the display's matched part
body=$(curl -s "$h/v1/complete?q=Cafe%20pra&fuzzy=1")
case $body in '{"prefix":"Cafe pra","suggestions":[{"text":"café paris","score":5,"match":[0,8],"edits":1}],"took_us":'*)
    ok "/v1/complete fuzzy=1";; *) bad "/v1/complete fuzzy=1: $body";; esac
body=$(curl -s "$h/v1/complete?q=nwe%20yrok&fuzzy=auto&k=1")
case $body in *'"text":"new york","score":100,"match":[0,8],"edits":2}'*) ok "/v1/complete fuzzy=auto";;
    *) bad "/v1/complete fuzzy=auto: $body";; esac
check "complete fuzzy bad" "$(http_status "$h/v1/complete?q=a&fuzzy=3")" "400"
check "complete fuzzy bad body" "$(curl -s "$h/v1/complete?q=a&fuzzy=x")" \
    '{"error":{"code":"bad_fuzzy","message":"fuzzy must be 0, 1, 2 or auto"}}'
check "redis-cli FUZZY" "$(redis-cli -p "$port" COMPLETE 'nwe yo' FUZZY 1 WITHSCORES WITHEDITS | tr '\n' '|')" \
    "new york|100|1|new york times|80|1|"
check "redis-cli FUZZY 3" "$(redis-cli -p "$port" COMPLETE nwe FUZZY 3)" "ERR ARGS FUZZY wants 0, 1, 2 or AUTO"
check "complete no q" "$(http_status "$h/v1/complete")" "400"
# browsers' search suggestions (OpenSearch): [typed, [completions], [], []], its own media type
check "suggest body" "$(curl -s "$h/v1/suggest?q=New%20y")" '["New y",["new york","new york times"],[],[]]'
check "suggest k" "$(curl -s "$h/v1/suggest?q=ne&k=1")" '["ne",["new york"],[],[]]'
check "suggest none" "$(curl -s "$h/v1/suggest?q=zzz")" '["zzz",[],[],[]]'
check "suggest escapes" "$(curl -s "$h/v1/suggest?q=%22caf")" '["\"caf",[],[],[]]'
check "suggest fuzzy" "$(curl -s "$h/v1/suggest?q=nwe%20yo&fuzzy=1&k=1")" '["nwe yo",["new york"],[],[]]'
check "suggest Content-Type" "$(curl -s -o /dev/null -w '%{content_type}' "$h/v1/suggest?q=n")" \
    "application/x-suggestions+json; charset=utf-8"
check "suggest HEAD" "$(curl -s -I "$h/v1/suggest?q=n" | tr -d '\r' | grep -ci '^content-length: [1-9]')" "1"
check "suggest no q" "$(http_status "$h/v1/suggest")" "400"
check "suggest bad k" "$(curl -s "$h/v1/suggest?q=a&k=x")" '{"error":{"code":"bad_k","message":"k must be an integer 1..max-k"}}'
check "suggest POST" "$(http_status -d q=a "$h/v1/suggest")" "405"
check "accept GET" "$(curl -s "$h/v1/accept?q=zebra&user=u1&rank=2")" '{"query":"zebra","score":1}'
check "accept POST form" "$(curl -s -d 'q=zebra&session=s9' "$h/v1/accept")" '{"query":"zebra","score":2}'
# a third actor: the anonymous one above (this address) already counted zebra (engine/guard.h)
check "accept POST json" "$(curl -s -H 'Content-Type: application/json' -d '{"q":"zebra","user":"u3","rank":1}' "$h/v1/accept")" '{"query":"zebra","score":3}'
check "accept repeat by the same user" "$(curl -s -d 'q=zebra&user=u3' "$h/v1/accept")" '{"query":"zebra","score":3}'
check "stats" "$(curl -s "$h/v1/stats" | grep -o '"keys":6')" '"keys":6'
check "metrics type" "$(curl -s -o /dev/null -w '%{content_type}' "$h/metrics")" "text/plain; version=0.0.4; charset=utf-8"
check "metrics body" "$(curl -s "$h/metrics" | grep -c '^qac_keys 6$')" "1"
check "healthz" "$(curl -s "$h/healthz")" '{"status":"ok","keys":6}'
check "stats counts suggest" "$(curl -s "$h/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cmd_http_suggest"])')" "10"
check "404" "$(http_status "$h/nope")" "404"
check "405" "$(http_status -X DELETE "$h/v1/complete?q=a")" "405"
check "413" "$(http_status -d "q=$(head -c 2000 /dev/zero | tr '\0' a)" "$h/v1/accept")" "413"
check "414" "$(http_status "$h/v1/complete?q=$(head -c 1000 /dev/zero | tr '\0' a)")" "414"
check "431" "$(http_status -H "X-Big: $(head -c 1500 /dev/zero | tr '\0' a)" "$h/healthz")" "431"
check "bad utf8" "$(http_status "$h/v1/complete?q=%ff")" "400"

qac_stop
check "SIGTERM exit status" "$?" "0"

# the fuzzy setting is the default of every protocol: a request that does not say follows it
port=$(free_port) hport=$(free_port)
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port "$hport" --fuzzy auto --log-level warn ||
    { echo "FAIL server (--fuzzy auto) did not start"; cat "$tmp/log"; exit 1; }
h=http://127.0.0.1:$hport
check "--fuzzy auto: HTTP without fuzzy=" "$(curl -s "$h/v1/complete?q=nwe%20yrok&k=1" | grep -o '"edits":2')" '"edits":2'
check "--fuzzy auto: HTTP fuzzy=0" "$(curl -s "$h/v1/complete?q=nwe%20yrok&fuzzy=0" | grep -o '"suggestions":\[\]')" \
    '"suggestions":[]'
check "--fuzzy auto: RESP without FUZZY" "$(redis-cli -p "$port" COMPLETE 'nwe yrok' LIMIT 1 WITHEDITS | tr '\n' '|')" \
    "new york|2|"
qac_stop

# fuzzy-max-work: a typo search past its work units is cut and says so (one unit: the class-1 walk stops
# at once, the 2-edit "new york" is never looked for)
port=$(free_port) hport=$(free_port)
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port "$hport" --fuzzy-max-work 1 --log-level warn ||
    { echo "FAIL server (--fuzzy-max-work 1) did not start"; cat "$tmp/log"; exit 1; }
h=http://127.0.0.1:$hport
check "--fuzzy-max-work 1: HTTP truncated" \
    "$(curl -s "$h/v1/complete?q=nwe%20yrok&fuzzy=2" | grep -o '"suggestions":\[\],"truncated":true')" \
    '"suggestions":[],"truncated":true'
check "--fuzzy-max-work 1: HTTP exact, not truncated" "$(curl -s "$h/v1/complete?q=new&fuzzy=2&k=2" | grep -c truncated)" "0"
check "--fuzzy-max-work 1: RESP" "$(redis-cli -p "$port" COMPLETE 'nwe yrok' FUZZY 2 WITHEDITS | tr '\n' '|')" "|"
check "--fuzzy-max-work 1: STATS" "$(redis-cli -p "$port" STATS | tr -d '\r' | grep '^complete_fuzzy_truncated:')" \
    "complete_fuzzy_truncated:2"
# ranked (a USER): the same search, cut the same way, says so the same way
check "--fuzzy-max-work 1: ranked HTTP truncated" \
    "$(curl -s "$h/v1/complete?q=nwe%20yrok&fuzzy=2&user=u1" | grep -o '"suggestions":\[\],"truncated":true')" \
    '"suggestions":[],"truncated":true'
check "--fuzzy-max-work 1: ranked RESP" "$(redis-cli -p "$port" COMPLETE 'nwe yrok' FUZZY 2 USER u1 WITHEDITS | tr '\n' '|')" "|"
check "--fuzzy-max-work 1: ranked STATS" \
    "$(redis-cli -p "$port" STATS | tr -d '\r' | grep -E '^(complete_fuzzy_truncated|rank_requests):' | tr '\n' ' ')" \
    "complete_fuzzy_truncated:4 rank_requests:2 "
qac_stop
port=$(free_port) hport=$(free_port)
qac_start "$port" "$tmp/log" -i "$tmp/idx" --http-port "$hport" --fuzzy-max-work 0 --log-level warn ||
    { echo "FAIL server (--fuzzy-max-work 0) did not start"; cat "$tmp/log"; exit 1; }
check "--fuzzy-max-work 0: no limit" "$(redis-cli -p "$port" COMPLETE 'nwe yrok' FUZZY 2 LIMIT 1 WITHEDITS | tr '\n' '|')" \
    "new york|2|"
qac_stop
out=$("$QAC_BIN" serve -i "$tmp/idx" --fuzzy-max-work x 2>&1)
check "--fuzzy-max-work x: usage error" "$?:$(grep -c fuzzy-max-work <<<"$out")" "2:1"
[ "$fails" -eq 0 ] || { cat "$tmp/log"; exit 1; }
