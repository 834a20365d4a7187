/* web/app.js -- the typeahead: asks qac for completions at every keystroke and runs the combobox.
 *
 * Talks to the same origin (nginx proxies /v1/ to qac):
 *   GET  v1/complete?q=PREFIX&k=K&user=U&session=S&fuzzy=auto&infix=1 (typos forgiven by length; words
 *        anywhere: "york" finds "new york"; completions of the text first, then the other word matches,
 *        then typo matches, which carry "edits")
 *        -> {"prefix":..,"suggestions":[{"text":..,"score":..,"match":[start,end],
 *            "words":[[start,end],..],"generated":true}],"took_us":..}
 *        ("generated": the ranker made the text from frequent query endings; shown in italics)
 *        match and words are BYTE ranges of text in UTF-8 (match: the typed prefix, highlighted as one
 *        range when it is not empty; else words: each typed word's match, wherever it is);
 *        byteRangeToIndices() turns them into string indices.
 *   POST v1/accept   form body q=QUERY&user=U&session=S[&prefix=P&rank=R]  (rank: 1 = top suggestion)
 *
 * Ordering invariant: every request carries a sequence number (seq, increasing). An answer is shown only
 * if its seq is greater than the seq of the answer on screen (shownSeq); anything that changes what the
 * list should show without a request (clearing the box, Escape, submitting) raises shownSeq to the last
 * seq issued, so no answer already in flight can reopen or overwrite the list. A late older answer is
 * therefore always dropped, while answers that arrive in order update the list as they come.
 * Requests are never aborted to make room (on HTTP/1.1 an abort closes the connection): at most
 * MAX_INFLIGHT run at once and further keystrokes collapse into one pending request for the latest text.
 * Each request has a timeout (AbortController) so a lost answer cannot hold a slot forever.
 *
 * Identity: a random anonymous user id kept in localStorage (qac.user) and a session id (qac.session)
 * renewed after SESSION_IDLE_MS without a request. Both are sent with every request; nothing else about
 * the person is stored or sent. Without localStorage (private modes) both live only as long as the page.
 *
 * The combobox follows the ARIA 1.2 pattern "list autocomplete with manual selection": focus stays in
 * the input; aria-activedescendant names the highlighted option; the listbox's options carry
 * aria-selected; a polite live region announces how many suggestions there are. Suggestion text is
 * inserted as text nodes only (never as HTML).
 */
'use strict';

(function () {
    const API = 'v1/';
    const K = 10;                          /* suggestions asked for */
    const MAX_INFLIGHT = 2;                /* completion requests running at once */
    const REQUEST_TIMEOUT_MS = 2000;       /* a completion older than this is abandoned */
    const SESSION_IDLE_MS = 30 * 60 * 1000;
    const MAX_QUERY_CHARS = 256;           /* same as the input's maxlength */
    const LATENCY_WINDOW = 50;             /* round trips kept for the median */

    /* ---- identity ------------------------------------------------------------------------------ */

    const memoryStore = new Map();
    const store = (function () {
        try {
            const s = window.localStorage;
            s.setItem('qac.probe', '1');
            s.removeItem('qac.probe');
            return s;
        } catch (e) {
            return null;
        }
    })();
    function getItem(key) {
        if (!store) return memoryStore.has(key) ? memoryStore.get(key) : null;
        try { return store.getItem(key); } catch (e) { return null; }
    }
    function setItem(key, value) {
        memoryStore.set(key, value);
        if (!store) return;
        try { store.setItem(key, value); } catch (e) { /* quota or privacy mode: memory copy serves */ }
    }
    function randomId() {
        const b = new Uint8Array(16);
        crypto.getRandomValues(b);                 /* available without a secure context, unlike randomUUID */
        let s = '';
        for (const x of b) s += x.toString(16).padStart(2, '0');
        return s;
    }
    const ID_RE = /^[0-9a-f]{32}$/;
    function userId() {
        let u = getItem('qac.user');
        if (!u || !ID_RE.test(u)) {
            u = randomId();
            setItem('qac.user', u);
        }
        return u;
    }
    /* The session id, renewed when the last request is more than SESSION_IDLE_MS ago; marks activity. */
    function sessionId() {
        const now = Date.now();
        let id = getItem('qac.session');
        const last = Number(getItem('qac.session.last'));
        if (!id || !ID_RE.test(id) || !Number.isFinite(last) || now - last > SESSION_IDLE_MS || now < last) {
            id = randomId();
            setItem('qac.session', id);
        }
        setItem('qac.session.last', String(now));
        return id;
    }

    /* ---- UTF-8 byte range -> string indices ---------------------------------------------------- */

    /* The [i, j) UTF-16 indices of text covering UTF-8 bytes [start, end), or null when the range is
     * not valid for text. An offset inside a multi-byte character is rounded up to the next character
     * boundary. Lone surrogates count 3 bytes, as TextEncoder writes them (U+FFFD). */
    function byteRangeToIndices(text, start, end) {
        if (typeof text !== 'string' || !Number.isInteger(start) || !Number.isInteger(end) ||
            start < 0 || end < start) return null;
        let bytes = 0, i = 0, si = -1, ei = -1;
        for (const ch of text) {
            if (si < 0 && bytes >= start) si = i;
            if (bytes >= end) { ei = i; break; }
            const cp = ch.codePointAt(0);
            bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            i += ch.length;
        }
        if (si < 0 && bytes >= start) si = i;
        if (ei < 0 && bytes >= end) ei = i;
        return si < 0 || ei < 0 ? null : [si, ei];
    }

    /* ---- page elements and state --------------------------------------------------------------- */

    const form = document.getElementById('qac-form');
    const input = document.getElementById('qac-input');
    const listbox = document.getElementById('qac-listbox');
    const live = document.getElementById('qac-live');
    const latencyEl = document.getElementById('qac-latency');
    const resultEl = document.getElementById('qac-result');

    let seq = 0;              /* last sequence number issued */
    let shownSeq = 0;         /* sequence number of what the list shows (answers <= it are dropped) */
    let inflight = 0;
    let pending = null;       /* {seq, q}: the latest text, waiting for a free slot */
    let suggestions = [];     /* [{text, score, range}] on screen */
    let shownPrefix = '';     /* the text those suggestions answer */
    let active = -1;          /* highlighted option, -1 = none (the typed text) */
    const rtts = [];

    function isOpen() { return input.getAttribute('aria-expanded') === 'true'; }
    function open() {
        if (suggestions.length === 0) return close();
        listbox.hidden = false;
        input.setAttribute('aria-expanded', 'true');
    }
    function close() {
        setActive(-1);
        listbox.hidden = true;
        input.setAttribute('aria-expanded', 'false');
    }
    function setActive(i) {
        const old = listbox.children[active];
        if (old) {
            old.setAttribute('aria-selected', 'false');
            old.classList.remove('qac-active');
        }
        active = i >= 0 && i < suggestions.length ? i : -1;
        const el = listbox.children[active];
        if (el) {
            el.setAttribute('aria-selected', 'true');
            el.classList.add('qac-active');
            input.setAttribute('aria-activedescendant', el.id);
            el.scrollIntoView({ block: 'nearest' });
        } else {
            input.removeAttribute('aria-activedescendant');
        }
    }
    function announce(text) {
        if (live.textContent !== text) live.textContent = text;
    }
    /* Drop every answer in flight: the list now shows what the box holds without asking. */
    function invalidate() {
        shownSeq = seq;
        pending = null;
    }

    /* ---- rendering ----------------------------------------------------------------------------- */

    /* text with each of ranges ([start, end) string indices, any order, may overlap) marked */
    function optionContent(li, text, ranges) {
        const rs = (ranges || []).filter(function (r) { return r && r[0] < r[1]; })
            .sort(function (a, b) { return a[0] - b[0]; });
        let at = 0;
        for (const r of rs) {
            const s = Math.max(r[0], at);
            if (s >= r[1]) continue;
            if (s > at) li.append(document.createTextNode(text.slice(at, s)));
            const mark = document.createElement('mark');
            mark.className = 'qac-typed';
            mark.textContent = text.slice(s, r[1]);
            li.append(mark);
            at = r[1];
        }
        if (at < text.length) li.append(document.createTextNode(text.slice(at)));
    }

    function render(q, body) {
        const list = Array.isArray(body.suggestions) ? body.suggestions : [];
        suggestions = [];
        for (const s of list) {
            if (!s || typeof s.text !== 'string') continue;
            const m = Array.isArray(s.match) && s.match.length === 2 ? s.match : null;
            const words = Array.isArray(s.words) ? s.words.filter(function (w) {
                return Array.isArray(w) && w.length === 2;
            }) : [];
            /* a completion (or a typo match): the typed prefix as one range; another word match: its words */
            const byteRanges = m && m[1] > m[0] ? [m] : words;
            suggestions.push({
                text: s.text, score: s.score, generated: s.generated === true,
                ranges: byteRanges.map(function (r) { return byteRangeToIndices(s.text, r[0], r[1]); }),
            });
            if (suggestions.length === K) break;
        }
        shownPrefix = q;
        active = -1;
        input.removeAttribute('aria-activedescendant');
        const items = suggestions.map(function (s, i) {
            const li = document.createElement('li');
            li.id = 'qac-opt-' + i;
            li.className = s.generated ? 'qac-option qac-generated' : 'qac-option';
            li.setAttribute('role', 'option');
            li.setAttribute('aria-selected', 'false');
            li.dataset.index = String(i);
            optionContent(li, s.text, s.ranges);
            return li;
        });
        listbox.replaceChildren.apply(listbox, items);
        const n = suggestions.length;
        announce(n === 0 ? 'No suggestions.' : n === 1 ? '1 suggestion available.' : n + ' suggestions available.');
        if (n > 0 && document.activeElement === input) open(); else close();
    }

    function fmtMs(ms) { return ms < 10 ? ms.toFixed(2) : ms.toFixed(1); }
    function showLatency(rtt, tookUs) {
        rtts.push(rtt);
        if (rtts.length > LATENCY_WINDOW) rtts.shift();
        const sorted = rtts.slice().sort(function (a, b) { return a - b; });
        const med = sorted[(sorted.length - 1) >> 1];
        const server = Number.isFinite(tookUs) ? tookUs + ' µs' : '–';
        latencyEl.textContent = 'round trip ' + fmtMs(rtt) + ' ms · median ' + fmtMs(med) + ' ms (' +
            rtts.length + ') · server ' + server;
    }

    function errorText(status, body) {
        const e = body && body.error;
        if (status === 429) return 'Too many requests; suggestions paused for a moment.';
        if (e && typeof e.message === 'string') return 'Suggestions unavailable: ' + e.message;
        return 'Suggestions unavailable (HTTP ' + status + ').';
    }

    /* ---- requests ------------------------------------------------------------------------------ */

    function request(r) {
        if (inflight >= MAX_INFLIGHT) {
            pending = r;                /* replaces an older pending text: it would be dropped anyway */
            return;
        }
        send(r);
    }

    async function send(r) {
        inflight++;
        const ctl = new AbortController();
        const timer = setTimeout(function () { ctl.abort(); }, REQUEST_TIMEOUT_MS);
        const params = new URLSearchParams({
            q: r.q, k: String(K), user: userId(), session: sessionId(), fuzzy: 'auto', infix: '1',
        });
        const t0 = performance.now();
        try {
            const res = await fetch(API + 'complete?' + params.toString(), {
                signal: ctl.signal, cache: 'no-store', headers: { Accept: 'application/json' },
            });
            let body = null;
            try { body = await res.json(); } catch (e) { body = null; }
            const rtt = performance.now() - t0;
            if (r.seq <= shownSeq) return;            /* a newer answer is on screen: drop this one */
            if (!res.ok || !body || typeof body !== 'object') {
                shownSeq = r.seq;
                suggestions = [];
                listbox.replaceChildren();
                close();
                announce(errorText(res.status, body));
                resultEl.textContent = errorText(res.status, body);
                return;
            }
            shownSeq = r.seq;
            render(r.q, body);
            showLatency(rtt, body.took_us);
        } catch (e) {
            if (r.seq > shownSeq) {
                resultEl.textContent = ctl.signal.aborted ? 'Suggestions timed out.' : 'Suggestions unavailable (network error).';
            }
        } finally {
            clearTimeout(timer);
            inflight--;
            if (pending && inflight < MAX_INFLIGHT) {
                const p = pending;
                pending = null;
                if (p.seq > shownSeq) send(p);
            }
        }
    }

    function onInput() {
        const q = input.value.slice(0, MAX_QUERY_CHARS);
        seq++;
        if (q.trim() === '') {
            invalidate();
            suggestions = [];
            listbox.replaceChildren();
            close();
            announce('');
            return;
        }
        request({ seq: seq, q: q });
    }

    /* ---- submitting ---------------------------------------------------------------------------- */

    /* pick: {prefix, rank} when a suggestion was chosen (rank 1 = top), null for typed text. */
    function submit(text, pick) {
        seq++;
        invalidate();
        input.value = text;
        close();
        resultEl.textContent = 'You searched for “' + text + '”.';
        const params = new URLSearchParams({ q: text, user: userId(), session: sessionId() });
        if (pick) {
            params.set('prefix', pick.prefix);
            params.set('rank', String(pick.rank));
        }
        fetch(API + 'accept', {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: params.toString(),
            keepalive: true,
        }).then(function (res) {
            if (!res.ok) return res.json().catch(function () { return null; }).then(function (b) {
                resultEl.textContent += ' (not recorded: ' + errorText(res.status, b) + ')';
            });
            resultEl.dataset.accepted = String(Number(resultEl.dataset.accepted || 0) + 1);
        }).catch(function () {
            resultEl.textContent += ' (not recorded: network error)';
        });
    }

    /* ---- events -------------------------------------------------------------------------------- */

    input.addEventListener('input', onInput);

    input.addEventListener('keydown', function (e) {
        if (e.isComposing || e.altKey || e.ctrlKey || e.metaKey) return;
        const n = suggestions.length;
        switch (e.key) {
        case 'ArrowDown':
            e.preventDefault();
            if (!isOpen()) {
                if (n > 0 && shownPrefix === input.value) { open(); setActive(0); }
                else onInput();
                return;
            }
            setActive(active + 1 >= n ? -1 : active + 1);    /* past the last: back to the typed text */
            return;
        case 'ArrowUp':
            if (!isOpen()) return;
            e.preventDefault();
            setActive(active < 0 ? n - 1 : active - 1);
            return;
        case 'Enter':
            e.preventDefault();
            if (isOpen() && active >= 0) submit(suggestions[active].text, { prefix: shownPrefix, rank: active + 1 });
            else if (input.value.trim() !== '') submit(input.value, null);
            return;
        case 'Escape':
            if (isOpen()) {
                e.preventDefault();
                seq++;
                invalidate();
                close();
            } else if (input.value !== '') {
                e.preventDefault();
                input.value = '';
                onInput();
            }
            return;
        case 'Tab':
            if (!isOpen() || active < 0 || e.shiftKey) return;     /* otherwise Tab moves focus */
            e.preventDefault();
            input.value = suggestions[active].text;
            input.setSelectionRange(input.value.length, input.value.length);
            onInput();                                             /* keep completing from there */
            return;
        default:
            return;
        }
    });

    input.addEventListener('focus', function () {
        if (suggestions.length > 0 && shownPrefix === input.value) open();
    });
    input.addEventListener('blur', close);

    /* mousedown would move focus out of the input (and close the list) before click. */
    listbox.addEventListener('mousedown', function (e) { e.preventDefault(); });
    listbox.addEventListener('mousemove', function (e) {
        const li = e.target.closest('li[role="option"]');
        if (li && Number(li.dataset.index) !== active) {
            const i = Number(li.dataset.index);
            setActive(i);
        }
    });
    listbox.addEventListener('click', function (e) {
        const li = e.target.closest('li[role="option"]');
        if (!li) return;
        const i = Number(li.dataset.index);
        if (suggestions[i]) submit(suggestions[i].text, { prefix: shownPrefix, rank: i + 1 });
    });

    form.addEventListener('submit', function (e) {
        e.preventDefault();
        if (input.value.trim() !== '') submit(input.value, null);
    });

    /* Opened as a search -- the browser's OpenSearch template (/?q={searchTerms}, see /opensearch.xml)
     * or a shared link: search for it at once. */
    const asked = new URLSearchParams(window.location.search).get('q');
    if (asked !== null && asked.trim() !== '') submit(asked, null);

    /* For tests and for poking at it from the console; not an API. */
    window.qacTypeahead = {
        byteRangeToIndices: byteRangeToIndices,
        state: function () {
            return { seq: seq, shownSeq: shownSeq, inflight: inflight, shownPrefix: shownPrefix, active: active };
        },
    };
})();
