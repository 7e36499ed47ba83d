/**
 * The payment worker's admin endpoint refuses what it cannot take, with the status that says why: a body that is
 * not JSON by its content type (415), larger than its limit (413, without reading it all into memory), malformed
 * (400), or naming settings the fake gateway does not have (400 with the fields). Nothing changes then.
 */
import http from 'node:http';
import { Pool } from 'pg';
import { createLogger, type ServiceHttp } from '@outbox-relay/runtime';
import { FakePaymentGateway, createPaymentsHttp } from '@outbox-relay/payments';
import { TEST_DATABASE_URL } from '@outbox-relay/test-support';

let admin: ServiceHttp;
let base: string;
let gateway: FakePaymentGateway;
const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });

beforeAll(async () => {
  gateway = new FakePaymentGateway({ pool, schema: 'payments', settings: { successRate: 1, latencyMs: 0, failing: false } });
  admin = createPaymentsHttp({ pool, logger: createLogger('test', 'silent'), isReady: () => true, stats: () => null, relayStatus: undefined, fakeGateway: gateway });
  base = `http://127.0.0.1:${await admin.listen(0, '127.0.0.1')}`;
});
afterAll(async () => {
  await admin.close(0);
  await pool.end();
});

const put = (body: string | Uint8Array, contentType?: string) =>
  fetch(`${base}/admin/fake-gateway`, { method: 'PUT', body, headers: contentType ? { 'content-type': contentType } : {} });

it('changes a setting given as a JSON object', async () => {
  const res = await put(JSON.stringify({ failing: true }), 'application/json; charset=utf-8');
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ failing: true });
  gateway.configure({ failing: false });
});

it.each([
  ['no content type', undefined],
  ['text/plain (what fetch and curl -d send by default)', 'text/plain;charset=UTF-8'],
  ['a form', 'application/x-www-form-urlencoded'],
])('refuses a body sent as %s with 415, changing nothing', async (_what, contentType) => {
  const res = await put(JSON.stringify({ failing: true }), contentType);
  expect(res.status).toBe(415);
  expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  expect(gateway.settings().failing).toBe(false);
});

it('refuses a body over 4 KiB with 413, counting bytes, not characters', async () => {
  // 2,100 two-byte characters: 4,200 bytes, though only 2,100 characters.
  const res = await put(JSON.stringify({ failing: true, pad: 'é'.repeat(2100) }), 'application/json');
  expect(res.status).toBe(413);
  expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
  expect(gateway.settings().failing).toBe(false);
});

it.each([
  ['announced as 8 MiB', { 'content-length': 8 * 1024 * 1024 }],
  ['chunked, with no length announced', { 'transfer-encoding': 'chunked' }],
])('answers 413 to a body %s as soon as it passes the limit, without waiting for (or buffering) the rest', async (_how, framing) => {
  // The client sends 8 KiB of a body and never finishes it: a reader that buffered the whole body before
  // checking its size would never answer.
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${base}/admin/fake-gateway`, { method: 'PUT', headers: { 'content-type': 'application/json', ...framing } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.write(Buffer.alloc(8 * 1024, 0x20));
  });
  expect(status).toBe(413);
  expect(gateway.settings().failing).toBe(false);
});

it('refuses malformed JSON with 400, and settings that do not exist with the fields named', async () => {
  const malformed = await put('{"failing": tru', 'application/json');
  expect(malformed.status).toBe(400);
  expect(await malformed.json()).toMatchObject({ error: 'malformed_json' });
  const unknown = await put(JSON.stringify({ colour: 'red', successRate: 2 }), 'application/json');
  expect(unknown.status).toBe(400);
  const issues = ((await unknown.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path).sort();
  expect(issues).toEqual(['colour', 'successRate']);
  expect(gateway.settings()).toEqual({ successRate: 1, latencyMs: 0, failing: false });
});
