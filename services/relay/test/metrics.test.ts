/**
 * /metrics of the stand-alone relay process (dist/main.js) after real traffic: two instances on one partition,
 * events written → the leader's published total equals them, the backlog is 0, is_leader is 1 on the leader
 * only, with the lease's epoch. Builds the package first (incremental).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Outbox, type RelayStatus } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, createTestStream, startRelayProcess, waitFor, type TestStream, getJson, ROOT, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { samplesOf, scrape, valueOf, type Sample } from '../../telemetry/test/support/scrape';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
const relays: Array<{ proc: ServiceProcess; base: string }> = [];

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/relay'], { cwd: ROOT, stdio: 'pipe' });
  db = await createTestSchema('relaymetrics');
  ns = await createTestStream('relaymetrics');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  for (const id of ['m-0', 'm-1']) {
    const { proc, url } = await startRelayProcess(db, ns, id, { OUTBOX_LEASE_MS: '1500', OUTBOX_RENEW_MS: '300', OUTBOX_POLL_MS: '50', METRICS_BACKLOG_CACHE_MS: '0' });
    relays.push({ proc, base: url });
  }
  await waitFor('relays ready', async () => (await Promise.all(relays.map((r) => getJson(`${r.base}/readyz`)))).every(Boolean) || undefined);
}, 120_000);

afterAll(async () => {
  await Promise.all(relays.map((r) => r.proc.stop('SIGKILL')));
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const total = (samples: Sample[], name: string) => samplesOf(samples, name).reduce((n, s) => n + s.value, 0);

it('reports published events, an empty backlog and the one leader with its epoch', async () => {
  const leader = await waitFor('one leader', async () => {
    const statuses = await Promise.all(relays.map(async (r) => ({ r, status: await getJson<RelayStatus>(`${r.base}/status`) })));
    const leading = statuses.filter((s) => s.status?.leading);
    return leading.length === 1 ? leading[0]!.r : undefined;
  });
  const follower = relays.find((r) => r !== leader)!;

  const EVENTS = 120;
  for (let i = 0; i < EVENTS; i += 30) {
    await outbox.transaction((tx) =>
      outbox.enqueue(tx, Array.from({ length: 30 }, (_, k) => ({ aggregateType: 'Order', aggregateId: `o${(i + k) % 7}`, eventType: 'Step', payload: { n: i + k } }))),
    );
  }

  const led = await waitFor('every event published and the backlog empty', async () => {
    const s = await scrape(leader.base);
    return s && total(s, 'outbox_events_published_total') === EVENTS && valueOf(s, 'outbox_pending_events', { partition: '0' }) === 0 ? s : undefined;
  });
  const followed = (await scrape(follower.base))!;

  expect(valueOf(led, 'outbox_events_published_total', { partition: '0' })).toBe(EVENTS);
  expect(valueOf(led, 'outbox_commit_to_ack_seconds_count')).toBe(EVENTS);
  expect(valueOf(led, 'outbox_publish_batch_size_events_sum')).toBe(EVENTS);
  // Where the time went: commit_to_read once per event, the other stages once per batch.
  const batches = valueOf(led, 'outbox_publish_batch_size_events_count');
  expect(valueOf(led, 'outbox_relay_stage_seconds_count', { stage: 'commit_to_read' })).toBe(EVENTS);
  for (const stage of ['read', 'read_to_sent', 'sent_to_ack']) expect(valueOf(led, 'outbox_relay_stage_seconds_count', { stage })).toBe(batches);
  expect(valueOf(led, 'outbox_oldest_pending_age_seconds', { partition: '0' })).toBe(0);
  expect(total(followed, 'outbox_events_published_total')).toBe(0);
  // Which code runs where: the build info, one sample of 1, with this Node.js (the same binary runs the process).
  expect(samplesOf(led, 'outbox_relay_build_info')).toEqual([
    { name: 'outbox_relay_build_info', labels: { version: expect.any(String), revision: expect.stringMatching(/^([0-9a-f]{7,64}|unknown)$/), nodejs_version: process.version }, value: 1 },
  ]);
  // Both read the same shared backlog.
  expect(valueOf(followed, 'outbox_pending_events', { partition: '0' })).toBe(0);

  const { rows } = await db.pool.query<{ epoch: string }>(`SELECT epoch FROM "${db.schema}".outbox_partitions WHERE partition = 0`);
  expect(valueOf(led, 'outbox_relay_is_leader', { partition: '0' })).toBe(1);
  expect(valueOf(led, 'outbox_relay_epoch', { partition: '0' })).toBe(Number(rows[0]!.epoch));
  expect(valueOf(led, 'outbox_relay_leader_transitions_total', { partition: '0', transition: 'acquired' })).toBe(1);
  expect(valueOf(followed, 'outbox_relay_is_leader', { partition: '0' })).toBe(0);

  // The scrapes themselves are timed (a scrape is recorded once answered, so the next one shows it), and the
  // process metrics are there.
  const next = (await scrape(leader.base))!;
  expect(valueOf(next, 'http_server_request_duration_seconds_count', { method: 'GET', route: '/metrics', status_code: '200' })).toBeGreaterThanOrEqual(1);
  expect(valueOf(led, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(valueOf(led, 'outbox_oldest_transaction_age_seconds')).toBeGreaterThanOrEqual(0);
});
