// sug.js -- node-redis (the `redis` package from npm) against qac's RediSearch suggestion commands,
// written the way node-redis's documentation shows (client.ft.sugAdd / sugGet / sugGetWithScores /
// sugGetWithPayloads / sugDel / sugLen). Run by tests/it_sug.sh: node sug.js PORT; exit 0 pass.
'use strict';
const { createClient } = require('redis');
const assert = require('assert');

async function main() {
  const client = createClient({ url: `redis://127.0.0.1:${process.argv[2]}` });
  client.on('error', (e) => { console.error('client error', e); process.exit(1); });
  await client.connect();
  assert.strictEqual(await client.ft.sugAdd('sug', 'hello world', 1), 1);
  assert.strictEqual(await client.ft.sugAdd('sug', 'hello world', 1, { INCR: true }), 1);
  assert.strictEqual(await client.ft.sugAdd('sug', 'hello werld', 1, { PAYLOAD: 'bar' }), 2);
  assert.strictEqual(await client.ft.sugAdd('sug', 'yellow world', 2), 3);
  assert.strictEqual(await client.ft.sugLen('sug'), 3);
  assert.deepStrictEqual(await client.ft.sugGet('sug', 'hello'), ['hello world', 'hello werld']);
  assert.deepStrictEqual(await client.ft.sugGet('sug', 'hello', { FUZZY: true, MAX: 3 }),
    ['hello world', 'hello werld', 'yellow world']);
  const ws = await client.ft.sugGetWithScores('sug', 'hello');
  assert.deepStrictEqual(ws.map((x) => x.suggestion), ['hello world', 'hello werld']);
  assert.ok(Math.abs(ws[0].score - 2 / Math.sqrt(7)) < 1e-6, JSON.stringify(ws));
  const wp = await client.ft.sugGetWithPayloads('sug', 'hello');
  assert.deepStrictEqual(wp, [{ suggestion: 'hello world', payload: null }, { suggestion: 'hello werld', payload: 'bar' }]);
  const wsp = await client.ft.sugGetWithScoresWithPayloads('sug', 'hello w', { MAX: 1 });
  assert.strictEqual(wsp.length, 1);
  assert.strictEqual(wsp[0].suggestion, 'hello world');
  assert.deepStrictEqual(await client.ft.sugGet('nosuch', 'x'), []);
  assert.strictEqual(await client.ft.sugDel('sug', 'hello world'), true);
  assert.strictEqual(await client.ft.sugDel('sug', 'hello world'), false);
  assert.strictEqual(await client.ft.sugLen('sug'), 2);
  assert.strictEqual(await client.exists('sug'), 1);
  assert.strictEqual(await client.type('sug'), 'trietype0');
  assert.strictEqual(await client.del('sug'), 1);
  assert.strictEqual(await client.ft.sugLen('sug'), 0);
  await assert.rejects(client.ft.sugAdd('sug', 'x', NaN), /invalid score/);
  await client.quit();
  console.log('node-redis ft.sugAdd/sugGet/sugGetWithScores/sugGetWithPayloads/sugDel/sugLen, exists, type, del');
}
main().catch((e) => { console.error(e); process.exit(1); });
