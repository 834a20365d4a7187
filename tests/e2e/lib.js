/* tests/e2e/lib.js -- helpers shared by the end-to-end scripts (typeahead.js, proxy.js, latency.js).
 *
 * Expected completions come from `qac complete -i INDEX -k K --infix PREFIX...` (--infix: the page asks
 * with infix=1; lines `display<TAB>score`, an empty line after each prefix's list), or, when
 * QAC_E2E_MOCK_TSV is set (working on the page against mock_qac.py), from that file with the mock's rule. Checks print "ok - ..." and throw on failure. */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');

function env(name, dflt) {
    const v = process.env[name];
    if (v === undefined || v === '') {
        if (dflt === undefined) throw new Error(`environment variable ${name} is not set`);
        return dflt;
    }
    return v;
}

/* The top-k display texts for each prefix, in order: an array of arrays. */
function expectedLists(prefixes, k) {
    const mock = process.env.QAC_E2E_MOCK_TSV;
    if (mock) {
        const rows = fs.readFileSync(mock, 'utf8').split('\n').filter(Boolean).map((l) => {
            const i = l.indexOf('\t');
            return i < 0 ? [l, 1] : [l.slice(0, i), Number(l.slice(i + 1))];
        });
        rows.sort((a, b) => b[1] - a[1]);
        return prefixes.map((p) => rows.filter((r) => r[0].toLowerCase().startsWith(p.toLowerCase()))
            .slice(0, k).map((r) => r[0]));
    }
    /* --infix: the page asks with infix=1 (words anywhere) */
    const out = execFileSync(env('QAC_BIN'), ['complete', '-i', env('QAC_E2E_INDEX'), '-k', String(k), '--infix', ...prefixes],
        { encoding: 'utf8', maxBuffer: 64 << 20 });
    const lists = [];
    let cur = [];
    for (const line of out.split('\n')) {
        if (line === '') {
            lists.push(cur);
            cur = [];
            if (lists.length === prefixes.length) break;
            continue;
        }
        const tab = line.lastIndexOf('\t');
        cur.push(tab < 0 ? line : line.slice(0, tab));
    }
    if (lists.length !== prefixes.length) {
        throw new Error(`qac complete printed ${lists.length} lists for ${prefixes.length} prefixes:\n${out.slice(0, 2000)}`);
    }
    return lists;
}

/* One HTTP request over an agent; resolves {status, headers, body (string), ms}. */
function request(url, opts = {}) {
    return new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const req = http.request(url, { method: opts.method || 'GET', headers: opts.headers || {}, agent: opts.agent },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => resolve({
                    status: res.statusCode,
                    headers: res.headers,
                    raw: Buffer.concat(chunks),
                    body: Buffer.concat(chunks).toString('utf8'),
                    ms: Number(process.hrtime.bigint() - t0) / 1e6,
                }));
                res.on('error', reject);
            });
        req.on('error', reject);
        req.setTimeout(opts.timeoutMs || 5000, () => req.destroy(new Error(`timeout: ${url}`)));
        if (opts.body) req.write(opts.body);
        req.end();
    });
}

async function getJson(url, opts) {
    const r = await request(url, opts);
    let json;
    try { json = JSON.parse(r.body); } catch (e) { throw new Error(`${url}: HTTP ${r.status}, not JSON: ${r.body.slice(0, 200)}`); }
    return { ...r, json };
}

/* The ACCEPT count in GET /v1/stats: qac's flat stats count ACCEPT per front end (cmd_accept on the
 * text/RESP port, cmd_http_accept over HTTP): their sum; or commands.accept, at the top or nested a few
 * levels (e.g. under "server"). */
function acceptCount(stats) {
    const find = (o, depth) => {
        if (!o || typeof o !== 'object' || depth > 3) return undefined;
        if (typeof o.cmd_accept === 'number' || typeof o.cmd_http_accept === 'number') {
            return (o.cmd_accept || 0) + (o.cmd_http_accept || 0);
        }
        if (o.commands && typeof o.commands === 'object') {
            const c = o.commands.accept ?? o.commands.ACCEPT;
            if (typeof c === 'number') return c;
            if (c && typeof c === 'object' && typeof c.calls === 'number') return c.calls;
        }
        for (const v of Object.values(o)) {
            const r = find(v, depth + 1);
            if (r !== undefined) return r;
        }
        return undefined;
    };
    const n = find(stats, 0);
    if (n === undefined) throw new Error(`GET /v1/stats has neither cmd_accept/cmd_http_accept nor commands.accept: ${JSON.stringify(stats).slice(0, 400)}`);
    return n;
}

function quantile(sorted, q) {
    if (sorted.length === 0) return NaN;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[i];
}

function ok(msg) { console.log(`ok - ${msg}`); }
function check(cond, msg, detail) {
    if (!cond) throw new Error(`${msg}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    ok(msg);
}

module.exports = { env, expectedLists, request, getJson, acceptCount, quantile, ok, check };
