/**
 * POST /step-down on the relay process takes the admin token (OUTBOX_ADMIN_TOKEN_FILE, or OUTBOX_ADMIN_TOKEN): a
 * request without it or with another is refused (401) and the leader keeps its lease; with no token configured the
 * endpoint is closed (403); a token file that cannot be read or is empty stops the relay at start (exit 2). The
 * token never appears in what the relay writes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateOutbox, type RelayStatus } from '@outbox-relay/outbox';
import { createTestSchema, createTestStream, getJson, listeningPort, relayProcessEnv, startService, waitFor, type ServiceProcess, type TestSchema, type TestStream } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let dir: string;
let running: ServiceProcess[] = [];
const token = randomBytes(32).toString('base64url');

beforeEach(async () => {
  db = await createTestSchema('stepdowntoken');
  ns = await createTestStream('stepdowntoken');
  await migrateOutbox({ pool: db.pool, schema: db.schema });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-admin-token-'));
});
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  running = [];
  fs.rmSync(dir, { recursive: true, force: true });
  await ns.drop();
  await db.drop();
});

function startRelay(extra: Record<string, string>): ServiceProcess {
  const proc = startService('services/relay/dist/main.js', relayProcessEnv(db, ns, 'relay-token', { LOG_LEVEL: 'debug', ...extra }));
  running.push(proc);
  return proc;
}

/** A leading relay and its port. */
async function leadingRelay(extra: Record<string, string>): Promise<{ proc: ServiceProcess; url: string; epoch: number }> {
  const proc = startRelay(extra);
  const url = `http://127.0.0.1:${await listeningPort(proc, 'health endpoints listening')}`;
  const status = await waitFor('the relay to lead', async () => {
    const s = await getJson<RelayStatus>(`${url}/status`);
    return s?.leading ? s : undefined;
  }, 15_000);
  return { proc, url, epoch: status.partitions[0]!.epoch! };
}

function tokenFile(content: string): string {
  const file = path.join(dir, 'token');
  fs.writeFileSync(file, content, { mode: 0o400 });
  return file;
}

const stepDown = (url: string, authorization?: string) =>
  fetch(`${url}/step-down`, { method: 'POST', headers: authorization === undefined ? {} : { Authorization: authorization } });

it('refuses a step-down without the token or with another (401), keeping the lease; accepts the token from the file', async () => {
  const { proc, url, epoch } = await leadingRelay({ OUTBOX_ADMIN_TOKEN_FILE: tokenFile(`${token}\n`) });
  const refusals = [undefined, `Bearer ${randomBytes(32).toString('base64url')}`, 'Bearer short', `Basic ${token}`, 'Bearer', `Bearer ${token}x`];
  for (const authorization of refusals) {
    const res = await stepDown(url, authorization);
    expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ error: 'unauthorized' });
    expect(body).not.toContain(token);
  }
  const still = await getJson<RelayStatus>(`${url}/status`);
  expect(still?.partitions[0]).toMatchObject({ leading: true, epoch });

  const accepted = await stepDown(url, `bearer ${token}`);
  expect(accepted.status).toBe(202);
  expect(await accepted.json()).toEqual({ released: [{ partition: 0, epoch }] });
  expect((await getJson<RelayStatus>(`${url}/status`))?.leading).toBe(false);
  // Every request above is in the access log; the token is in none of it.
  expect(JSON.stringify(proc.logs) + proc.stderr()).not.toContain(token);
  expect(proc.logs.some((l) => l.path === '/step-down' && l.status === 401)).toBe(true);
});

it('takes the token from OUTBOX_ADMIN_TOKEN as well', async () => {
  const { url, epoch } = await leadingRelay({ OUTBOX_ADMIN_TOKEN: token });
  expect((await stepDown(url, `Bearer ${token.slice(1)}`)).status).toBe(401);
  const res = await stepDown(url, `Bearer ${token}`);
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ released: [{ partition: 0, epoch }] });
});

it('with no token configured, the endpoint is closed (403, naming the setting), whatever the request carries', async () => {
  const { url, epoch } = await leadingRelay({});
  for (const authorization of [undefined, `Bearer ${token}`]) {
    const res = await stepDown(url, authorization);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'step_down_disabled', message: expect.stringContaining('OUTBOX_ADMIN_TOKEN_FILE') });
  }
  expect((await getJson<RelayStatus>(`${url}/status`))?.partitions[0]).toMatchObject({ leading: true, epoch });
});

describe('a token setting that cannot work stops the relay at start: exit 2, naming the setting', () => {
  it('a token file that does not exist', async () => {
    const relay = startRelay({ OUTBOX_ADMIN_TOKEN_FILE: path.join(dir, 'missing') });
    expect(await relay.exited).toBe(2);
    expect(relay.stderr()).toMatch(/^outbox-relay: invalid configuration: OUTBOX_ADMIN_TOKEN_FILE: cannot read .*missing \(ENOENT\)\n/);
  });

  it('an empty token file (white space only)', async () => {
    const relay = startRelay({ OUTBOX_ADMIN_TOKEN_FILE: tokenFile(' \n') });
    expect(await relay.exited).toBe(2);
    expect(relay.stderr()).toMatch(/OUTBOX_ADMIN_TOKEN_FILE: .*token is empty/);
  });

  it('both settings at once, without echoing the token', async () => {
    const relay = startRelay({ OUTBOX_ADMIN_TOKEN_FILE: tokenFile(token), OUTBOX_ADMIN_TOKEN: token });
    expect(await relay.exited).toBe(2);
    expect(relay.stderr()).toContain('OUTBOX_ADMIN_TOKEN: set either OUTBOX_ADMIN_TOKEN or OUTBOX_ADMIN_TOKEN_FILE, not both');
    expect(relay.stderr()).not.toContain(token);
  });

  it('a token with white space inside, without echoing it', async () => {
    const relay = startRelay({ OUTBOX_ADMIN_TOKEN: `${token} ${token}` });
    expect(await relay.exited).toBe(2);
    expect(relay.stderr()).toContain('OUTBOX_ADMIN_TOKEN: must not contain white space');
    expect(relay.stderr()).not.toContain(token);
  });
});
