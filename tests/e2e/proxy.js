/* tests/e2e/proxy.js -- what deploy/nginx.conf promises, checked over HTTP (no browser):
 * the anonymous-only cache, /v1/suggest and /opensearch.xml, gzip, upstream keepalive, JSON errors (404
 * from qac passed through, 413 and 429 from nginx, 503 when no qac answers), /healthz and /metrics proxied.
 * Environment (set by tests/it_web_e2e.sh): QAC_E2E_URL (nginx, default limits), QAC_E2E_DIRECT (qac),
 * QAC_E2E_DEAD_URL (an nginx whose only upstream is a closed port), QAC_E2E_FAST_URL (an nginx in front
 * of the same qac with a rate limit too high to matter, for the keepalive count), QAC_E2E_PREFIX. */
'use strict';
const http = require('http');
const zlib = require('zlib');
const { env, request, getJson, ok, check } = require('./lib');

const BASE = env('QAC_E2E_URL').replace(/\/$/, '');
const DIRECT = env('QAC_E2E_DIRECT').replace(/\/$/, '');
const DEAD = env('QAC_E2E_DEAD_URL').replace(/\/$/, '');
const FAST = env('QAC_E2E_FAST_URL').replace(/\/$/, '');
const prefix = env('QAC_E2E_PREFIX', 'new y').split('|')[0];
const q = (params) => new URLSearchParams(params).toString();

/* Number of HTTP connections qac has accepted, from its JSON stats (http_connections_total, else
 * connections_total), or null. */
function connectionsTotal(stats) {
    for (const k of ['http_connections_total', 'connections_total']) if (typeof stats[k] === 'number') return stats[k];
    if (stats.connections && typeof stats.connections.total === 'number') return stats.connections.total;
    return null;
}

async function main() {
    /* Cache: only anonymous completions, keyed on the query string. */
    const anon = `${BASE}/v1/complete?${q({ q: prefix, k: '7' })}`;
    const a1 = await request(anon), a2 = await request(anon);
    check(a1.status === 200 && a1.headers['x-cache-status'] === 'MISS' && a2.headers['x-cache-status'] === 'HIT' &&
        a1.body === a2.body, 'an anonymous completion is cached (MISS then HIT, same body)',
    [a1.status, a1.headers['x-cache-status'], a2.headers['x-cache-status']]);
    const u1 = await request(`${BASE}/v1/complete?${q({ q: prefix, k: '7', user: 'proxy-test' })}`);
    const s1 = await request(`${BASE}/v1/complete?${q({ q: prefix, k: '7', session: 's1' })}`);
    check(u1.headers['x-cache-status'] === 'BYPASS' && s1.headers['x-cache-status'] === 'BYPASS',
        'requests with user= or session= bypass the cache', [u1.headers['x-cache-status'], s1.headers['x-cache-status']]);
    await new Promise((r) => setTimeout(r, 2100));
    const a3 = await request(anon);
    check(a3.headers['x-cache-status'] === 'EXPIRED' || a3.headers['x-cache-status'] === 'MISS',
        'a cached answer expires after the cache time', a3.headers['x-cache-status']);

    /* Browser search suggestions: /v1/suggest (OpenSearch format, cached like completions) and the
     * description document nginx writes with this request's host (a hostile Host is not echoed). */
    const sg1 = await request(`${BASE}/v1/suggest?${q({ q: prefix })}`), sg2 = await request(`${BASE}/v1/suggest?${q({ q: prefix })}`);
    const direct = (await getJson(`${DIRECT}/v1/complete?${q({ q: prefix })}`)).json.suggestions.map((x) => x.text);
    check(sg1.status === 200 && sg1.headers['content-type'] === 'application/x-suggestions+json; charset=utf-8' &&
        sg1.body === JSON.stringify([prefix, direct, [], []]) && sg2.headers['x-cache-status'] === 'HIT',
    '/v1/suggest through nginx: [typed, completions, [], []], its media type, cached', [sg1.status, sg1.headers['content-type'], sg1.body, sg2.headers['x-cache-status']]);
    const host = new URL(BASE).host;
    const os = await request(`${BASE}/opensearch.xml`);
    check(os.status === 200 && os.headers['content-type'] === 'application/opensearchdescription+xml' &&
        os.body.includes(`template="http://${host}/v1/suggest?q={searchTerms}"`) &&
        os.body.includes(`type="text/html" method="get" template="http://${host}/?q={searchTerms}"`),
    '/opensearch.xml names the suggest and search URLs on the host asked', [os.status, os.headers['content-type'], os.body]);
    const evil = await request(`${BASE}/opensearch.xml`, { headers: { Host: 'x"><script>' } });
    check(!evil.body.includes('<script>') && evil.body.includes('template="http://localhost:'),
        '/opensearch.xml does not echo a Host that is not a host name', evil.body);

    /* gzip for JSON (a long list is well over gzip_min_length). */
    const g = await request(`${BASE}/v1/complete?${q({ q: prefix.slice(0, 1), k: '100', user: 'gz' })}`,
        { headers: { 'Accept-Encoding': 'gzip' } });
    let gjson = null;
    try { gjson = JSON.parse(zlib.gunzipSync(g.raw).toString('utf8')); } catch (e) { gjson = null; }
    check(g.status === 200 && g.headers['content-encoding'] === 'gzip' && gjson && Array.isArray(gjson.suggestions),
        'JSON answers are gzipped for clients that accept it', [g.status, g.headers['content-encoding'], g.raw.length]);

    /* Upstream keepalive: 200 requests through nginx open at most a handful of connections to qac. */
    const st0 = (await getJson(`${DIRECT}/v1/stats`)).json;
    const c0 = connectionsTotal(st0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 200; i++) {
        const r = await request(`${FAST}/v1/complete?${q({ q: prefix.slice(0, 1 + (i % prefix.length)), user: 'ka' })}`, { agent });
        if (r.status !== 200) throw new Error(`request ${i} through nginx: HTTP ${r.status} ${r.body}`);
    }
    agent.destroy();
    const c1 = connectionsTotal((await getJson(`${DIRECT}/v1/stats`)).json);
    if (c0 === null || c1 === null) {
        throw new Error(`GET /v1/stats has no connection count to check upstream keepalive: ${JSON.stringify(st0).slice(0, 300)}`);
    }
    check(c1 - c0 <= 8, 'nginx reuses its connections to qac (upstream keepalive)', { before: c0, after: c1, requests: 200 });

    /* Errors keep the JSON shape. */
    const nf = await getJson(`${BASE}/v1/no-such-thing?user=x`);
    check(nf.status === 404 && nf.json.error && typeof nf.json.error.code !== 'undefined',
        'qac\'s JSON 404 passes through nginx', [nf.status, nf.body]);
    const big = await getJson(`${BASE}/v1/accept`, { method: 'POST', body: 'q=' + 'a'.repeat(70 * 1024),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    check(big.status === 413 && big.json.error && big.json.error.code === 'too_large', 'a body over 64 KiB gets a JSON 413', big.status);
    const dead = await getJson(`${DEAD}/v1/complete?q=a&user=x`);
    check(dead.status === 503 && dead.json.error && dead.json.error.code === 'unavailable',
        'with no qac reachable, nginx answers a JSON 503', [dead.status, dead.body]);

    const hz = await request(`${BASE}/healthz`);
    check(hz.status === 200, '/healthz is proxied', hz.status);
    const sts = await getJson(`${BASE}/v1/stats`);
    check(sts.status === 200 && typeof sts.json === 'object', '/v1/stats is proxied for local clients', sts.status);
    const met = await request(`${BASE}/metrics`);
    check(met.status === 200 && met.body.length > 0, '/metrics is proxied for local clients', met.status);

    /* Rate limit: a burst far over rate+burst from one client gets JSON 429s; the rest are answered. */
    const burst = await Promise.all(Array.from({ length: 400 }, (_, i) =>
        request(`${BASE}/v1/complete?${q({ q: prefix, user: 'rl', i: String(i) })}`)));
    const limited = burst.filter((r) => r.status === 429);
    const served = burst.filter((r) => r.status === 200);
    let j = null;
    try { j = limited.length ? JSON.parse(limited[0].body) : null; } catch (e) { j = null; }
    check(limited.length > 0 && served.length > 0 && limited.length + served.length === burst.length &&
        j && j.error && j.error.code === 'rate_limited' && limited[0].headers['retry-after'] === '1',
    'over the per-client rate, nginx answers 429 with a JSON error and Retry-After',
    { served: served.length, limited: limited.length, other: burst.length - served.length - limited.length });
}

main().then(() => console.log('# proxy: all checks passed'), (e) => {
    console.log(`not ok - ${e.message}`);
    process.exitCode = 1;
});
