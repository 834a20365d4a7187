/* tests/e2e/typeahead.js -- the typeahead page in headless Chromium (Debian's /usr/bin/chromium, driven
 * by playwright-core), through nginx, against a real qac. Run by tests/it_web_e2e.sh, which sets:
 *   QAC_E2E_URL      the page through nginx (http://127.0.0.1:PORT/)
 *   QAC_E2E_DIRECT   qac's own HTTP address (http://127.0.0.1:PORT), for /v1/stats and comparisons
 *   QAC_BIN, QAC_E2E_INDEX   to compute the expected lists with `qac complete`
 *   QAC_E2E_PREFIX   the prefix to type (several candidates separated by '|': the first with 3+ answers)
 *   QAC_E2E_PROFILE  a fresh directory for Chromium's --user-data-dir
 *   QAC_E2E_ARTIFACTS where the screenshots go (typeahead.png, typeahead-360.png)
 * Order matters: the expected lists are compared before any ACCEPT, since ACCEPT raises popularity.
 * Exit 0 when every check passes; 1 with the failing check's message otherwise. */
'use strict';
const path = require('path');
const fs = require('fs');
const { chromium } = require('playwright-core');
const { env, expectedLists, getJson, acceptCount, ok, check } = require('./lib');

const BASE = env('QAC_E2E_URL');
const DIRECT = env('QAC_E2E_DIRECT');
const ARTIFACTS = env('QAC_E2E_ARTIFACTS');
const PROFILE = env('QAC_E2E_PROFILE');
const K = 10;
const origin = new URL(BASE).origin;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lower = (s) => s.toLowerCase().replace(/\s+/g, ' ');

async function optionTexts(page) {
    return page.$$eval('#qac-listbox [role=option]', (els) => els.map((e) => e.textContent));
}

/* Waits until the page shows the answer for `typed` and the list equals `expected`. */
async function waitForList(page, typed, expected, what) {
    try {
        await page.waitForFunction(([t, exp]) => {
            const st = window.qacTypeahead.state();
            const lb = document.getElementById('qac-listbox');
            const got = [...lb.querySelectorAll('[role=option]')].map((e) => e.textContent);
            return st.shownPrefix === t && JSON.stringify(got) === JSON.stringify(exp) && lb.hidden === (exp.length === 0);
        }, [typed, expected], { timeout: 5000 });
    } catch (e) {
        const got = await optionTexts(page).catch(() => '?');
        const st = await page.evaluate(() => window.qacTypeahead.state()).catch(() => '?');
        throw new Error(`${what}: the list for ${JSON.stringify(typed)} never became ${JSON.stringify(expected)};` +
            ` last seen ${JSON.stringify(got)} (state ${JSON.stringify(st)})`);
    }
}

async function typeFresh(page, text, delay) {
    await page.fill('#qac-input', '');
    await page.focus('#qac-input');
    await page.keyboard.type(text, { delay });
}

async function statsJson() { return (await getJson(`${DIRECT}/v1/stats`)).json; }
async function stats() { return acceptCount(await statsJson()); }

async function main() {
    /* Pick the prefix: the first candidate whose every keystroke prefix is answered. */
    const candidates = env('QAC_E2E_PREFIX', 'new y|how to|the |new').split('|');
    let prefix = null, steps = null, lists = null;
    for (const c of candidates) {
        const st = [...c].map((_, i) => c.slice(0, i + 1));
        const l = expectedLists(st, K);
        if (l[l.length - 1].length >= 3) { prefix = c; steps = st; lists = l; break; }
    }
    check(prefix !== null, 'the index answers one of the candidate prefixes with 3+ suggestions', candidates);
    const expected = lists[lists.length - 1];
    console.log(`# prefix ${JSON.stringify(prefix)}; qac complete: ${JSON.stringify(expected)}`);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const context = await chromium.launchPersistentContext(PROFILE, {
        executablePath: process.env.QAC_E2E_CHROMIUM || '/usr/bin/chromium',
        headless: true,
        viewport: { width: 900, height: 720 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    try {
        await run(context, prefix, steps, lists, expected);
    } finally {
        await context.close();
    }
}

/* A typo: the page asks with fuzzy=auto, so a word typed with one edit (4+ characters, the first
 * right) still shows the intended suggestion, highlighted over the part that matched. The pair is
 * the first candidate the index answers with the intended word only when typos are allowed. */
async function typoStep(page) {
    const typoCandidates = [['wether', 'weather'], ['weathr', 'weather'], ['nwes', 'news'], ['recipse', 'recipes'],
        ['hwo to', 'how to'], ['new yrok', 'new york']];
    let typoPick = null;
    for (const [typo, want] of typoCandidates) {
        const exact = expectedLists([typo], K)[0];
        const fz = (await getJson(`${DIRECT}/v1/complete?` + new URLSearchParams({ q: typo, k: String(K), fuzzy: 'auto' }))).json;
        const hit = fz.suggestions.find((s) => lower(s.text).startsWith(want));
        if (hit && !exact.some((t) => lower(t).startsWith(want))) { typoPick = { typo, want, direct: fz.suggestions }; break; }
    }
    check(typoPick !== null, 'the index answers a typo\'d word with the intended suggestion under fuzzy=auto (and not without)',
        typoCandidates.map((c) => c[0]));
    const want = typoPick.want;
    const dhit = typoPick.direct.find((s) => lower(s.text).startsWith(want));
    check(dhit.edits === 1 && Array.isArray(dhit.match) && dhit.match[0] === 0,
        `GET /v1/complete?q=${typoPick.typo}&fuzzy=auto answers ${JSON.stringify(dhit.text)} with edits 1 and a match range`, dhit);
    const typoReq = page.waitForRequest((r) => r.url().includes('/v1/complete?') &&
        new URL(r.url()).searchParams.get('q') === typoPick.typo);
    await typeFresh(page, typoPick.typo, 15);
    const tq = new URL((await typoReq).url()).searchParams;
    check(tq.get('fuzzy') === 'auto', 'the page asks with fuzzy=auto', tq.toString());
    try {
        await page.waitForFunction(([t, w]) => window.qacTypeahead.state().shownPrefix === t &&
            [...document.querySelectorAll('#qac-listbox [role=option]')].some((e) => e.textContent.toLowerCase().startsWith(w)),
        [typoPick.typo, want], { timeout: 5000 });
    } catch (e) {
        throw new Error(`typing ${JSON.stringify(typoPick.typo)} never showed a suggestion starting with ${JSON.stringify(want)};` +
            ` last seen ${JSON.stringify(await optionTexts(page).catch(() => '?'))}`);
    }
    const typoShown = await page.evaluate((w) => {
        const li = [...document.querySelectorAll('#qac-listbox [role=option]')].find((e) => e.textContent.toLowerCase().startsWith(w));
        const m = li.querySelector('mark');
        return { text: li.textContent, mark: m ? [li.textContent.indexOf(m.textContent), m.textContent] : null,
            expanded: document.getElementById('qac-input').getAttribute('aria-expanded') };
    }, want);
    check(typoShown.text === dhit.text && typoShown.expanded === 'true',
        `typing ${JSON.stringify(typoPick.typo)} shows ${JSON.stringify(dhit.text)} in the open list`, typoShown);
    check(typoShown.mark && typoShown.mark[0] === 0 && lower(typoShown.mark[1]) === want &&
        typoShown.mark[1] === Buffer.from(dhit.text).subarray(dhit.match[0], dhit.match[1]).toString(),
    `the intended word is highlighted from the server's match range (${JSON.stringify(want)}, not the typed ${JSON.stringify(typoPick.typo)})`,
    typoShown.mark);
    await page.screenshot({ path: path.join(ARTIFACTS, 'typeahead-typo.png') });
    ok(`screenshot ${path.join(ARTIFACTS, 'typeahead-typo.png')}`);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
}

async function run(context, prefix, steps, lists, expected) {
    const page = context.pages()[0] || await context.newPage();
    const foreign = [];
    const pageErrors = [];
    page.on('request', (r) => { const u = r.url(); if (!u.startsWith(origin + '/') && !u.startsWith('data:')) foreign.push(u); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

    const resp = await page.goto(BASE);
    check(resp && resp.status() === 200, 'the page loads through nginx', resp && resp.status());
    await page.waitForFunction(() => window.qacTypeahead !== undefined);

    /* The page offers itself to the browser as a search engine with suggestions (OpenSearch). */
    const link = await page.evaluate(() => {
        const l = document.querySelector('link[rel="search"]');
        return l && { type: l.getAttribute('type'), href: l.href, title: l.title };
    });
    check(link && link.type === 'application/opensearchdescription+xml' && link.href === origin + '/opensearch.xml' && link.title,
        'the page links its OpenSearch description (<link rel="search">)', link);

    /* ARIA 1.2 combobox wiring. */
    const aria = await page.evaluate(() => {
        const i = document.getElementById('qac-input');
        const lb = document.getElementById(i.getAttribute('aria-controls'));
        return { role: i.getAttribute('role'), expanded: i.getAttribute('aria-expanded'),
            lbRole: lb && lb.getAttribute('role'), label: i.labels.length,
            live: document.querySelector('[aria-live=polite]') !== null };
    });
    check(aria.role === 'combobox' && aria.expanded === 'false' && aria.lbRole === 'listbox' && aria.label === 1 && aria.live,
        'input is a labelled combobox controlling a listbox, collapsed, with a polite live region', aria);

    /* Type key by key; after each key the list is qac's answer for the text so far. */
    await page.focus('#qac-input');
    for (let i = 0; i < prefix.length; i++) {
        await page.keyboard.type(prefix[i]);
        await waitForList(page, steps[i], lists[i], `after key ${i + 1}`);
    }
    ok(`typing ${JSON.stringify(prefix)} key by key shows qac complete's list after every key (${steps.length} keys)`);

    const shown = await page.evaluate(() => {
        const i = document.getElementById('qac-input');
        return { expanded: i.getAttribute('aria-expanded'), live: document.getElementById('qac-live').textContent,
            marks: [...document.querySelectorAll('#qac-listbox [role=option]')].map((li) => {
                const m = li.querySelector('mark');
                return m ? [li.textContent.indexOf(m.textContent), m.textContent] : null;
            }),
            selected: [...document.querySelectorAll('#qac-listbox [role=option]')].map((li) => li.getAttribute('aria-selected')),
            latency: document.getElementById('qac-latency').textContent };
    });
    check(shown.expanded === 'true', 'aria-expanded is true while the list shows');
    check(shown.live === `${expected.length} suggestion${expected.length === 1 ? '' : 's'} available.`,
        'the live region announces the count', shown.live);
    check(shown.selected.every((s) => s === 'false'), 'no option is selected before the arrows are used', shown.selected);
    check(shown.marks.every((m) => m && m[0] === 0 && lower(m[1]) === lower(prefix)),
        'the typed part of every suggestion is highlighted from the server\'s match range', shown.marks);
    check(/^round trip [0-9.]+ ms · median [0-9.]+ ms \(\d+\) · server \d+ µs$/.test(shown.latency),
        'the latency readout shows the round trip and took_us', shown.latency);
    console.log(`# page readout after ${steps.length} keys (browser-measured fetch round trip): ${shown.latency}`);

    /* Down twice, Enter: submits the second suggestion with PREFIX and RANK; the server counts it. */
    const sj0 = await statsJson();
    const before = acceptCount(sj0);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    const sel = await page.evaluate(() => ({
        ad: document.getElementById('qac-input').getAttribute('aria-activedescendant'),
        selected: [...document.querySelectorAll('#qac-listbox [role=option]')].map((li) => li.getAttribute('aria-selected')),
    }));
    check(sel.ad === 'qac-opt-1' && sel.selected[1] === 'true' && sel.selected.filter((s) => s === 'true').length === 1,
        'two ArrowDowns highlight the second option (aria-activedescendant, aria-selected)', sel);
    await page.screenshot({ path: path.join(ARTIFACTS, 'typeahead.png') });
    ok(`screenshot ${path.join(ARTIFACTS, 'typeahead.png')}`);
    const acceptReq = page.waitForRequest((r) => r.url().endsWith('/v1/accept') && r.method() === 'POST');
    const acceptResp = page.waitForResponse((r) => r.url().endsWith('/v1/accept'));
    await page.keyboard.press('Enter');
    const form = new URLSearchParams((await acceptReq).postData() || '');
    const ar = await acceptResp;
    check(ar.status() === 200, 'POST /v1/accept through nginx answers 200', ar.status());
    check(form.get('q') === expected[1] && form.get('prefix') === prefix && form.get('rank') === '2' &&
        /^[0-9a-f]{32}$/.test(form.get('user') || '') && /^[0-9a-f]{32}$/.test(form.get('session') || ''),
    'Enter sends ACCEPT with the second suggestion, PREFIX, RANK=2, user and session', Object.fromEntries(form));
    check(await page.inputValue('#qac-input') === expected[1], 'the box holds the chosen suggestion');
    check(await page.getAttribute('#qac-input', 'aria-expanded') === 'false', 'the list closes after submitting');
    const sj1 = await statsJson();
    const after = acceptCount(sj1);
    check(after === before + 1, 'GET /v1/stats counts the ACCEPT', { before, after });
    if (typeof sj0.accept_with_rank === 'number') {   /* qac counts the context arguments it received */
        check(sj1.accept_with_rank === sj0.accept_with_rank + 1 && sj1.accept_with_prefix === sj0.accept_with_prefix + 1,
            'the server saw PREFIX and RANK with the ACCEPT', [sj0.accept_with_rank, sj1.accept_with_rank]);
    }

    /* Ids: the same user and session on a later request. */
    const ids = await page.evaluate(() => [localStorage.getItem('qac.user'), localStorage.getItem('qac.session')]);
    check(ids[0] === form.get('user') && ids[1] === form.get('session'), 'user and session ids are kept in localStorage', ids);

    /* Escape closes the list; a second Escape clears the box. */
    await typeFresh(page, prefix, 0);
    await page.waitForFunction(() => document.getElementById('qac-input').getAttribute('aria-expanded') === 'true');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Escape');
    const esc1 = await page.evaluate(() => ({ v: document.getElementById('qac-input').value,
        e: document.getElementById('qac-input').getAttribute('aria-expanded'),
        ad: document.getElementById('qac-input').getAttribute('aria-activedescendant'),
        hidden: document.getElementById('qac-listbox').hidden }));
    check(esc1.v === prefix && esc1.e === 'false' && esc1.ad === null && esc1.hidden, 'Escape closes the list and keeps the text', esc1);
    await sleep(150);   /* an answer still in flight must not reopen the list */
    check(await page.getAttribute('#qac-input', 'aria-expanded') === 'false', 'a late answer does not reopen a list closed by Escape');
    await page.keyboard.press('Escape');
    check(await page.inputValue('#qac-input') === '', 'a second Escape clears the box');

    /* Tab completes the highlighted suggestion into the box, and completion goes on from there. */
    await typeFresh(page, prefix, 0);
    await page.waitForFunction((p) => window.qacTypeahead.state().shownPrefix === p &&
        document.getElementById('qac-input').getAttribute('aria-expanded') === 'true', prefix);
    const first = (await optionTexts(page))[0];
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    check(await page.inputValue('#qac-input') === first, 'Tab puts the highlighted suggestion in the box', first);
    check(await page.evaluate(() => document.activeElement.id) === 'qac-input', 'focus stays in the box after Tab');
    await page.waitForFunction((p) => window.qacTypeahead.state().shownPrefix === p, first);
    ok('after Tab the page asks for completions of the completed text');

    /* Mouse: clicking the third option submits it with RANK=3. */
    await typeFresh(page, prefix, 0);
    await page.waitForFunction((p) => window.qacTypeahead.state().shownPrefix === p &&
        document.getElementById('qac-input').getAttribute('aria-expanded') === 'true', prefix);
    const opts = await optionTexts(page);
    const b2 = await stats();
    const clickReq = page.waitForRequest((r) => r.url().endsWith('/v1/accept') && r.method() === 'POST');
    const clickResp = page.waitForResponse((r) => r.url().endsWith('/v1/accept'));
    await page.click('#qac-opt-2');
    const cform = new URLSearchParams((await clickReq).postData() || '');
    await clickResp;
    check(cform.get('q') === opts[2] && cform.get('rank') === '3' && cform.get('prefix') === prefix,
        'a click on the third option sends ACCEPT with RANK=3', Object.fromEntries(cform));
    check(await stats() === b2 + 1, 'the server counts the clicked ACCEPT');

    /* Typed text submitted with Enter (nothing highlighted): ACCEPT without PREFIX and RANK. The text
     * does not start with the prefix, so the query it adds to the index stays out of later lists. */
    const typedQuery = 'qac e2e typed query';
    await typeFresh(page, typedQuery, 0);
    const tReq = page.waitForRequest((r) => r.url().endsWith('/v1/accept') && r.method() === 'POST');
    await page.keyboard.press('Enter');
    const tform = new URLSearchParams((await tReq).postData() || '');
    check(tform.get('q') === typedQuery && !tform.has('prefix') && !tform.has('rank'),
        'Enter with nothing highlighted submits the typed text without PREFIX/RANK', Object.fromEntries(tform));

    if (process.env.QAC_E2E_MOCK_TSV) console.log('# typo step skipped: mock_qac.py has no fuzzy matching');
    else await typoStep(page);

    /* Late answers: hold every answer for a shorter prefix back longer, so the older requests answer
     * after the newer ones; once all have arrived, the list must be the one for the final text. */
    const delivered = [];
    let final = null;
    await page.route('**/v1/complete?**', async (route) => {
        const q = new URL(route.request().url()).searchParams.get('q');
        const res = await route.fetch();
        const body = await res.body();
        await sleep(Math.max(0, prefix.length - q.length) * 200);
        delivered.push(q);
        await route.fulfill({ status: res.status(), headers: res.headers(), body });
    });
    await page.fill('#qac-input', '');
    await page.focus('#qac-input');
    await page.keyboard.type(prefix, { delay: 15 });
    await page.waitForFunction(() => window.qacTypeahead.state().inflight === 0, null, { timeout: 10000 });
    await sleep(100);
    const sentPrefixes = delivered.slice();
    const shownRace = await optionTexts(page);
    const st = await page.evaluate(() => window.qacTypeahead.state());
    await page.unroute('**/v1/complete?**');
    const lastIdx = sentPrefixes.lastIndexOf(prefix);
    check(lastIdx >= 0 && lastIdx < sentPrefixes.length - 1,
        'the race was real: an older prefix was answered after the final one', sentPrefixes);
    final = await getJson(`${DIRECT}/v1/complete?` + new URLSearchParams({ q: prefix, k: String(K), user: ids[0], session: ids[1] }));
    const direct = final.json.suggestions.map((s) => s.text);
    check(st.shownPrefix === prefix && JSON.stringify(shownRace) === JSON.stringify(direct),
        'after late older answers, the list is still the answer for the final text', { shown: shownRace, direct, st });

    /* Rendering of multi-byte text from the match byte range, and text is never parsed as HTML. */
    await page.route('**/v1/complete?**', (route) => route.fulfill({
        status: 200, contentType: 'application/json',
        body: JSON.stringify({ prefix: 'caf', took_us: 7, suggestions: [
            { text: 'Café crème', score: 3, match: [0, 5] },
            { text: '😀 smile', score: 2, match: [0, 4] },
            { text: '<img src=x onerror="window.pwned=1">', score: 1, match: [0, 1] },
        ] }),
    }));
    await typeFresh(page, 'caf', 0);
    await page.waitForFunction(() => window.qacTypeahead.state().shownPrefix === 'caf');
    const uni = await page.evaluate(() => ({
        marks: [...document.querySelectorAll('#qac-listbox mark')].map((m) => m.textContent),
        imgs: document.querySelectorAll('#qac-listbox img').length, pwned: window.pwned === 1,
        conv: [
            window.qacTypeahead.byteRangeToIndices('naïve', 0, 3), window.qacTypeahead.byteRangeToIndices('𝄞x', 4, 5),
            window.qacTypeahead.byteRangeToIndices('é', 0, 1), window.qacTypeahead.byteRangeToIndices('ab', 0, 3),
            window.qacTypeahead.byteRangeToIndices('ab', 2, 1),
        ] }));
    check(JSON.stringify(uni.marks) === JSON.stringify(['Café', '😀', '<']) && uni.imgs === 0 && !uni.pwned,
        'byte ranges over multi-byte text highlight whole characters; suggestion text is not HTML', uni);
    check(JSON.stringify(uni.conv) === JSON.stringify([[0, 3], [2, 3], [0, 1], null, null]),
        'byteRangeToIndices: 2-byte, 4-byte (surrogate pair), mid-character and invalid ranges', uni.conv);

    /* An error answer (as nginx's rate limit gives) is reported, not shown as a list. */
    await page.unroute('**/v1/complete?**');
    await page.route('**/v1/complete?**', (route) => route.fulfill({
        status: 429, contentType: 'application/json',
        body: '{"error":{"code":"rate_limited","message":"too many requests from this client; slow down"}}',
    }));
    await typeFresh(page, 'x', 0);
    await page.waitForFunction(() => /Too many requests/.test(document.getElementById('qac-result').textContent));
    check(await page.getAttribute('#qac-input', 'aria-expanded') === 'false', 'a 429 answer closes the list and says why');
    await page.unroute('**/v1/complete?**');

    /* Phone width: 360 px, no horizontal scrolling, the list inside the screen. */
    await page.setViewportSize({ width: 360, height: 740 });
    await typeFresh(page, prefix, 0);
    await page.waitForFunction((p) => window.qacTypeahead.state().shownPrefix === p &&
        document.getElementById('qac-input').getAttribute('aria-expanded') === 'true', prefix);
    const geo = await page.evaluate(() => {
        const r = (id) => { const b = document.getElementById(id).getBoundingClientRect(); return [b.left, b.right, b.width]; };
        return { scroll: document.documentElement.scrollWidth, input: r('qac-input'), list: r('qac-listbox'), submit: r('qac-form') };
    });
    check(geo.scroll <= 360 && geo.list[0] >= 0 && geo.list[1] <= 360 && geo.input[2] >= 180,
        'at 360 px: no horizontal scroll, list within the screen, a usable box', geo);
    await page.screenshot({ path: path.join(ARTIFACTS, 'typeahead-360.png') });
    ok(`screenshot ${path.join(ARTIFACTS, 'typeahead-360.png')}`);

    /* Opened as a search (the OpenSearch template /?q={searchTerms}, or a shared link): it searches. */
    const acceptsBefore = await stats();
    await page.goto(new URL(`/?${new URLSearchParams({ q: prefix })}`, BASE).href);
    try {
        await page.waitForFunction(() => document.getElementById('qac-result').dataset.accepted === '1', null, { timeout: 5000 });
    } catch (e) {
        throw new Error(`opened with ?q=: no ACCEPT recorded; the page says ${JSON.stringify(await page.textContent('#qac-result'))}`);
    }
    const opened = await page.evaluate(() => ({ value: document.getElementById('qac-input').value,
        result: document.getElementById('qac-result').textContent }));
    check(opened.value === prefix && opened.result === `You searched for “${prefix}”.` && await stats() === acceptsBefore + 1,
        'the page opened with ?q= searches for it (and records the ACCEPT)', opened);

    check(foreign.length === 0, 'nothing was loaded from anywhere but the page\'s origin', foreign);
    check(pageErrors.filter((e) => !/429/.test(e)).length === 0, 'no script errors on the page', pageErrors);
}

main().then(() => { console.log('# typeahead: all checks passed'); }, (e) => {
    console.log(`not ok - ${e.message}`);
    process.exitCode = 1;
});
