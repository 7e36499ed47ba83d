/**
 * The stand-alone relay as real processes: kill -9 of the leader, and a leader frozen (SIGSTOP) past its lease
 * that wakes up (SIGCONT) after a successor took over, SIGTERM hand-over and the POST /step-down switchover.
 */
import { randomBytes } from 'node:crypto';
import { migrateOutbox, Outbox, type RelayStatus } from '@outbox-relay/outbox';
import type { RelayProcessStatus } from '../src/status-backlog';
import { createTestSchema, undoNewestOutboxMigration, type TestSchema, createTestStream, listeningPort, readStream, relayProcessEnv, startRelayProcess, waitFor, type TestStream, getJson, startService, type ServiceProcess, countPendingEvents } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let relays: Array<{ proc: ServiceProcess; port: number }> = [];
const LEASE_MS = 1500;
/** POST /step-down takes it (step-down-token.test.ts tests the refusals). */
const ADMIN_TOKEN = randomBytes(32).toString('base64url');

beforeEach(async () => {
  db = await createTestSchema('relayproc');
  ns = await createTestStream('relayproc');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
});
afterEach(async () => {
  await Promise.all(relays.map((r) => r.proc.stop('SIGKILL')));
  relays = [];
  await outbox.close();
  await ns.drop();
  await db.drop();
});

async function startRelays(count: number) {
  for (let i = 0; i < count; i++) {
    const { proc, port } = await startRelayProcess(db, ns, `relay-${i}`, {
      OUTBOX_LEASE_MS: String(LEASE_MS),
      OUTBOX_RENEW_MS: '300',
      OUTBOX_POLL_MS: '50',
      OUTBOX_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    relays.push({ proc, port });
  }
  await waitFor('relays ready', async () => {
    const ready = await Promise.all(relays.map((r) => getJson(`http://127.0.0.1:${r.port}/readyz`)));
    return ready.every(Boolean) || undefined;
  });
}

async function statuses(except?: ServiceProcess) {
  return Promise.all(relays.filter((r) => r.proc !== except).map(async (r) => ({ r, status: await getJson<RelayStatus>(`http://127.0.0.1:${r.port}/status`) })));
}

async function currentLeader(except?: ServiceProcess) {
  return waitFor('one leader', async () => {
    const leading = (await statuses(except)).filter((s) => s.status?.leading);
    return leading.length === 1 ? leading[0]! : undefined;
  }, 10_000, 10);
}

async function write(aggregateId: string, n: number) {
  await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId, eventType: 'Step', payload: { n } }));
}

async function expectAllOnceInOrder(total: number) {
  const messages = await waitFor(`${total} messages`, async () => {
    const m = await readStream(ns.nc, ns.stream).catch(() => []);
    return m.length >= total ? m : undefined;
  });
  expect(messages).toHaveLength(total);
  const ns_ = messages.map((m) => (m.data as { n: number }).n);
  expect(new Set(ns_).size).toBe(total);
  for (const aggregate of new Set(messages.map((m) => m.aggregateId))) {
    const steps = messages.filter((m) => m.aggregateId === aggregate).map((m) => (m.data as { n: number }).n);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  }
}

it('fails over after kill -9 of the leader within the lease, losing and duplicating nothing', async () => {
  await startRelays(3);
  const first = await currentLeader();
  for (let n = 0; n < 20; n++) await write(`k${n % 4}`, n);
  const killedAt = Date.now();
  await first.r.proc.stop('SIGKILL');
  for (let n = 20; n < 40; n++) await write(`k${n % 4}`, n);
  const next = await currentLeader(first.r.proc);
  const failoverMs = Date.now() - killedAt;
  expect(next.r).not.toBe(first.r);
  expect(next.status!.partitions[0]!.epoch).toBeGreaterThan(first.status!.partitions[0]!.epoch!);
  // No release happened, so the successor had to wait for expiry: at most lease + one retry period (+ slack).
  expect(failoverMs).toBeLessThan(LEASE_MS + 300 + 1500);
  await expectAllOnceInOrder(40);
  // What the operator judges the new leader by: it publishes (an acknowledged publish in its term) and nothing
  // waits (the backlog, read in the background, is empty).
  const reported = await waitFor('the backlog read empty', async () => {
    const s = await getJson<RelayProcessStatus>(`http://127.0.0.1:${next.r.port}/status`);
    const p = s?.partitions[0];
    return p && p.pending === 0 && p.publishedAgoMs !== null ? p : undefined;
  });
  expect(reported).toMatchObject({ leading: true, oldestPendingAgeMs: 0 });
  expect(reported.renewedAgoMs).toBeLessThan(LEASE_MS);
  expect(reported.publishedAgoMs).toBeLessThanOrEqual(reported.leadingForMs!);
});

it('a leader frozen past its lease cannot publish or record progress when it wakes', async () => {
  await startRelays(2);
  const frozen = await currentLeader();
  const frozenEpoch = frozen.status!.partitions[0]!.epoch!;
  for (let n = 0; n < 10; n++) await write(`f${n % 2}`, n);
  await waitFor('first batch published', async () => ((await readStream(ns.nc, ns.stream).catch(() => [])).length >= 10 ? true : undefined));

  frozen.r.proc.child.kill('SIGSTOP');
  const successor = await currentLeader(frozen.r.proc);
  for (let n = 10; n < 30; n++) await write(`f${n % 2}`, n);
  frozen.r.proc.child.kill('SIGCONT');
  for (let n = 30; n < 40; n++) await write(`f${n % 2}`, n);

  await expectAllOnceInOrder(40);
  // The woken process learns it lost the lease and reports itself a follower.
  await waitFor('the frozen relay to step down', async () => {
    const s = await getJson<RelayStatus>(`http://127.0.0.1:${frozen.r.port}/status`);
    return s && !s.leading ? true : undefined;
  });
  // Every event written after the freeze was marked under the successor's epoch, none under the stale one.
  // (The stream can hold the last batch a moment before its fenced mark commits: wait for the marks.)
  await waitFor('every row marked', async () => (await countPendingEvents(db.pool, db.schema)) === 0 || undefined);
  const { rows } = await db.pool.query(
    `SELECT DISTINCT published_epoch::int AS epoch FROM "${db.schema}".outbox_published WHERE (payload->>'n')::int >= 10`,
  );
  expect(rows.map((r) => r.epoch)).toEqual([successor.status!.partitions[0]!.epoch]);
  expect(rows.map((r) => r.epoch)).not.toContain(frozenEpoch);
  // /status says "not leading" as soon as the local deadline has passed; the renewal that finds the lease taken
  // (and logs it) comes a moment later, later still on a loaded machine.
  await waitFor('the woken relay to log that it lost the lease', () =>
    frozen.r.proc.logs.some((l) => l.msg === 'lease lost' || l.msg === 'stopped publishing: lease lost' || l.msg === 'stopped publishing') || undefined,
  );
});

it('hands over in well under a second on SIGTERM', async () => {
  await startRelays(2);
  const leader = await currentLeader();
  const stoppedAt = Date.now();
  const exitCode = await leader.r.proc.stop('SIGTERM');
  expect(exitCode).toBe(0);
  await currentLeader(leader.r.proc);
  const handOverMs = Date.now() - stoppedAt;
  expect(handOverMs).toBeLessThan(LEASE_MS); // without the release it would take the whole lease
  for (let n = 0; n < 5; n++) await write('g', n);
  await expectAllOnceInOrder(5);
});

it('switches over on POST /step-down: the leader releases at once and stays a follower', async () => {
  await startRelays(2);
  const leader = await currentLeader();
  const before = leader.status!.partitions[0]!.epoch!;
  expect((await fetch(`http://127.0.0.1:${leader.r.port}/step-down`)).status).toBe(405);
  const askedAt = Date.now();
  const res = await fetch(`http://127.0.0.1:${leader.r.port}/step-down`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ released: [{ partition: 0, epoch: before }] });
  const next = await currentLeader(leader.r.proc);
  expect(Date.now() - askedAt).toBeLessThan(LEASE_MS);
  expect(next.r).not.toBe(leader.r);
  expect(next.status!.partitions[0]!.epoch).toBe(before + 1);
  expect((await getJson<RelayStatus>(`http://127.0.0.1:${leader.r.port}/status`))?.leading).toBe(false);
  for (let n = 0; n < 5; n++) await write('s', n);
  await expectAllOnceInOrder(5);
});

it('waits, not ready, while the outbox schema does not exist yet, then starts once it is migrated', async () => {
  const schema = `${db.schema}_later`;
  const { proc, port } = await startRelayProcess({ schema: schema }, ns, 'relay-early');
  relays.push({ proc, port });
  try {
    await waitFor('a "schema not ready" log line', () => proc.logs.some((l) => l.msg === 'outbox schema not ready; waiting') || undefined);
    expect(proc.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    await migrateOutbox({ pool: db.pool, schema });
    await waitFor('the relay to lead', async () => (await getJson<RelayStatus>(`http://127.0.0.1:${port}/status`))?.leading || undefined, 15_000);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const later = new Outbox({ pool: db.pool, schema });
    await later.transaction((tx) => later.enqueue(tx, { aggregateType: 'Order', aggregateId: 'w', eventType: 'Step', payload: { n: 0 } }));
    await later.close();
    await expectAllOnceInOrder(1);
  } finally {
    await proc.stop('SIGTERM');
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

it('waits, not ready, while the schema lacks a migration of this version (naming it), then starts once migrated', async () => {
  const schema = `${db.schema}_old`;
  await migrateOutbox({ pool: db.pool, schema });
  // The schema as the previous version left it: without its newest migration.
  const newest = await undoNewestOutboxMigration(db.pool, schema);
  const { proc, port } = await startRelayProcess({ schema: schema }, ns, 'relay-upgraded-first');
  relays.push({ proc, port });
  try {
    const line = await waitFor(
      'a "schema not ready" line naming the migration',
      () => proc.logs.find((l) => l.msg === 'outbox schema not ready; waiting' && JSON.stringify(l).includes(newest)),
    );
    expect(JSON.stringify(line)).toContain(`run \`OUTBOX_SCHEMA=${schema} outbox-migrate\``);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);

    await migrateOutbox({ pool: db.pool, schema });
    await waitFor('the relay to lead', async () => (await getJson<RelayStatus>(`http://127.0.0.1:${port}/status`))?.leading || undefined, 15_000);
    const later = new Outbox({ pool: db.pool, schema });
    await later.transaction((tx) => later.enqueue(tx, { aggregateType: 'Order', aggregateId: 'u', eventType: 'Step', payload: { n: 0 } }));
    await later.close();
    await expectAllOnceInOrder(1);
  } finally {
    await proc.stop('SIGTERM');
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

it('says so when OUTBOX_PARTITIONS differs from the schema, and keeps to the schema the writers use', async () => {
  const { proc, port } = await startRelayProcess(db, ns, 'relay-mismatch', { OUTBOX_PARTITIONS: '4' });
  relays.push({ proc, port });
  const line = await waitFor('the mismatch logged', () => proc.logs.find((l) => String(l.msg).startsWith('OUTBOX_PARTITIONS differs')));
  expect(line).toMatchObject({ configured: 4, partitions: 1, schema: db.schema });
  const status = await waitFor('the relay to lead', async () => {
    const s = await getJson<RelayStatus>(`http://127.0.0.1:${port}/status`);
    return s?.leading ? s : undefined;
  });
  expect(status.partitions.map((p) => p.partition)).toEqual([0]);
});

describe('OUTBOX_MESSAGE_HEADERS (issue 15)', () => {
  const env = () => relayProcessEnv(db, ns, 'relay-headers');

  it('exits 2 naming the variable and what it must be when the mode or the source is wrong', async () => {
    const proc = startService('services/relay/dist/main.js', { ...env(), OUTBOX_MESSAGE_HEADERS: 'ce', OUTBOX_CLOUDEVENTS_SOURCE: 'not a uri' });
    relays.push({ proc, port: 0 });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toContain('OUTBOX_MESSAGE_HEADERS: must be one of outbox, cloudevents, both (got "ce")');
    expect(proc.stderr()).toContain('OUTBOX_CLOUDEVENTS_SOURCE: must be a URI-reference (RFC 3986)');
  });

  it('publishes CloudEvents headers only with OUTBOX_MESSAGE_HEADERS=cloudevents, under OUTBOX_CLOUDEVENTS_SOURCE', async () => {
    const proc = startService('services/relay/dist/main.js', { ...env(), OUTBOX_MESSAGE_HEADERS: 'cloudevents', OUTBOX_CLOUDEVENTS_SOURCE: '/shop/orders' });
    relays.push({ proc, port: await listeningPort(proc, 'health endpoints listening') });
    const [row] = await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderCreated', payload: {} }));
    const [message] = await waitFor('the message', async () => {
      const messages = await readStream(ns.nc, ns.stream).catch(() => []);
      return messages.length > 0 ? messages : undefined;
    });
    expect(message!.headers).toMatchObject({ 'ce-id': row!.id, 'ce-source': '/shop/orders', 'ce-type': 'Order.OrderCreated', 'ce-subject': 'o-1' });
    expect(Object.keys(message!.headers).filter((name) => name.startsWith('Outbox-'))).toEqual([]);
    expect(proc.logs.find((l) => l.msg === 'relay started')).toMatchObject({ messageHeaders: 'cloudevents' });
  });
});
