/* tests/e2e/latency.js -- completion latency straight to qac vs through nginx, in the same run.
 *
 * One client, one keep-alive connection per target, requests one at a time (a typist's pattern, not a
 * throughput test), targets interleaved request by request so that both see the same machine state.
 * Prefixes: every 1..8-character prefix of the top queries for 'a'..'z' (from `qac complete`), in a fixed
 * pseudo-random order. Targets:
 *   direct        GET qac:/v1/complete?q=..&user=..     (qac's HTTP port)
 *   nginx         the same through nginx (user= set: the cache is bypassed; limit_req, proxy, gzip off)
 *   nginx-cached  through nginx without user/session, cycling over 50 hot prefixes: nginx's 1 s cache
 *                 answers the repeats (a miss per prefix per second)
 * Environment: QAC_E2E_URL (nginx, with a rate limit high enough not to interfere), QAC_E2E_DIRECT,
 * QAC_BIN + QAC_E2E_INDEX, QAC_E2E_BENCH_N (requests per target, default 500). Prints p50/p90/p99/max. */
'use strict';
const http = require('http');
const { env, expectedLists, request, quantile, check } = require('./lib');

const BASE = env('QAC_E2E_URL').replace(/\/$/, '');
const DIRECT = env('QAC_E2E_DIRECT').replace(/\/$/, '');
const N = Number(env('QAC_E2E_BENCH_N', '500'));
const WARMUP = 50;

async function main() {
    const letters = [...'abcdefghijklmnopqrstuvwxyz'];
    const tops = expectedLists(letters, 20).flat();
    const set = new Set();
    for (const t of tops) for (let l = 1; l <= Math.min(8, t.length); l++) set.add(t.slice(0, l));
    const prefixes = [...set];
    check(prefixes.length >= 50, `benchmark prefixes from the index (${prefixes.length})`);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let i = prefixes.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [prefixes[i], prefixes[j]] = [prefixes[j], prefixes[i]]; }

    const targets = [
        { name: 'direct', url: (p) => `${DIRECT}/v1/complete?` + new URLSearchParams({ q: p, k: '10', user: 'bench' }) },
        { name: 'nginx', url: (p) => `${BASE}/v1/complete?` + new URLSearchParams({ q: p, k: '10', user: 'bench' }) },
        { name: 'nginx-cached', hot: true, url: (p) => `${BASE}/v1/complete?` + new URLSearchParams({ q: p, k: '10' }) },
    ];
    for (const t of targets) { t.agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); t.ms = []; t.took = []; t.hits = 0; }
    for (let i = 0; i < WARMUP + N; i++) {
        for (const t of targets) {
            const p = prefixes[i % (t.hot ? 50 : prefixes.length)];
            const r = await request(t.url(p), { agent: t.agent });
            if (r.status !== 200) throw new Error(`${t.name}: HTTP ${r.status} for ${JSON.stringify(p)}: ${r.body.slice(0, 200)}`);
            if (i < WARMUP) continue;
            t.ms.push(r.ms);
            t.took.push(JSON.parse(r.body).took_us);
            if (r.headers['x-cache-status'] === 'HIT') t.hits++;
        }
    }
    console.log(`# latency of GET /v1/complete (k=10), ${N} requests per target after ${WARMUP} warm-up, ` +
        `${prefixes.length} prefixes, one keep-alive connection each, sequential, interleaved:`);
    console.log(`# machine: ${require('os').cpus().length} CPUs, load average ${require('os').loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log('# target          p50 ms   p90 ms   p99 ms   max ms   server took_us p50/p99   cache hits');
    for (const t of targets) {
        t.agent.destroy();
        const s = t.ms.slice().sort((a, b) => a - b);
        const k = t.took.filter(Number.isFinite).sort((a, b) => a - b);
        const f = (x) => x.toFixed(3).padStart(8);
        console.log(`# ${t.name.padEnd(14)} ${f(quantile(s, 0.5))} ${f(quantile(s, 0.9))} ${f(quantile(s, 0.99))} ` +
            `${f(s[s.length - 1])}   ${String(quantile(k, 0.5)).padStart(6)} / ${String(quantile(k, 0.99)).padEnd(6)}` +
            `        ${t.name === 'nginx-cached' ? t.hits : '-'}`);
    }
}

main().catch((e) => {
    console.log(`not ok - ${e.message}`);
    process.exitCode = 1;
});
