/**
 * The operator's partition-count Job (services/operator/src/reconcile/partition-job.ts) run as the kubelet would run
 * it, against real Postgres and NATS while two relay processes publish and a writer writes: the count changes, no
 * event is lost, duplicated or reordered, and the relays' /status, read through the operator's own prober, gives the
 * operator the new count.
 */
import { Outbox, readPartitionCount } from '@outbox-relay/outbox';
import { HttpPodProber } from '../../operator/src/prober';
import { observedPartitionCount } from '../../operator/src/reconcile/partition-count';
import { desiredPartitionJob } from '../../operator/src/reconcile/partition-job';
import type { ObservedPod } from '../../operator/src/reconcile/types';
import { withDefaults } from '../../operator/src/api/defaults';
import type { OutboxRelayResource } from '../../operator/src/api/types';
import {
  createTestSchema,
  createTestStream,
  getJson,
  readStream,
  startRelayProcess,
  startService,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  waitFor,
  type ServiceProcess,
  type TestSchema,
  type TestStream,
} from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
const relays: Array<{ proc: ServiceProcess; port: number; name: string }> = [];

beforeEach(async () => {
  db = await createTestSchema('partjob');
  ns = await createTestStream('partjob');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
});
afterEach(async () => {
  await Promise.all(relays.map((r) => r.proc.stop('SIGKILL')));
  relays.length = 0;
  await outbox.close();
  await ns.drop();
  await db.drop();
});

async function startRelay(name: string): Promise<void> {
  const { proc, port } = await startRelayProcess(db, ns, name, { OUTBOX_LEASE_MS: '1500', OUTBOX_RENEW_MS: '300' });
  relays.push({ proc, port, name });
}

/** What the operator sees of the relay pods: their /status through its prober, then its reading of the count. */
async function operatorView(): Promise<ReturnType<typeof observedPartitionCount>> {
  const prober = new HttpPodProber({ timeoutMs: 2000, baseUrl: (pod) => `http://127.0.0.1:${relays.find((r) => r.name === pod.name)!.port}` });
  const pods: ObservedPod[] = await Promise.all(
    relays.map(async (r) => ({ name: r.name, uid: r.name, ip: '127.0.0.1', ready: true, deleting: false, createdAt: new Date().toISOString(), report: await prober.status({ name: r.name, ip: '127.0.0.1' }) })),
  );
  return observedPartitionCount(pods);
}

/** The Job's one container as a process: its command from the repository root (its workingDir is the image's /app),
 * its env with the Secret reference resolved as the kubelet would. */
function runJob(target: number): ServiceProcess {
  const relay: OutboxRelayResource = {
    apiVersion: 'outbox-relay.dev/v1alpha1',
    kind: 'OutboxRelay',
    metadata: { name: 'orders', namespace: 'shop', uid: 'u-1' },
    spec: withDefaults({ database: { secretRef: { name: 'db', key: 'url' }, schema: db.schema }, nats: { url: TEST_NATS_URL }, partitionCount: target }),
  };
  const container = desiredPartitionJob(relay, relay.spec, { sequence: 1, target, image: "outbox-relay:test" }).spec!.template.spec!.containers[0]!;
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.secretKeyRef) env[variable.name] = TEST_DATABASE_URL;
    else throw new Error(`the Job's ${variable.name} comes from somewhere this test does not resolve`);
  }
  const [node, script, ...args] = container.command!;
  expect(node).toBe('node');
  expect(args).toEqual([]);
  return startService(script!, env);
}

test('the Job changes the count under a writer and two relays; every event once, in order; the operator reads the new count', async () => {
  await startRelay('relay-a');
  await startRelay('relay-b');
  await waitFor('both relays follow 1 partition', async () => (await operatorView()).count === 1 || undefined);

  let n = 0;
  let writing = true;
  const aggregates = ['o-1', 'o-2', 'o-3', 'o-4', 'o-5'];
  const writer = (async () => {
    while (writing) {
      n += 1;
      const step = n;
      await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: aggregates[step % aggregates.length]!, eventType: 'Step', payload: { n: step } }));
    }
  })();
  await waitFor('events flowing', () => n >= 50 || undefined);

  const job = runJob(4);
  expect(await job.exited).toBe(0);
  expect(job.logs.at(-1)).toMatchObject({ schema: db.schema, partitions: 4 });
  expect(await readPartitionCount(db.pool, db.schema)).toBe(4);
  const written = n;
  await waitFor('events written after the change', () => n >= written + 50 || undefined);
  writing = false;
  await writer;

  const view = await waitFor('both relays follow 4 partitions', async () => {
    const seen = await operatorView();
    return seen.count === 4 ? seen : undefined;
  });
  expect(view.detail).toBe('the relays follow 4 partition(s)');
  await waitFor('every partition led once', async () => {
    const now = await Promise.all(relays.map((r) => getJson<{ partitions: Array<{ partition: number; leading: boolean }> }>(`http://127.0.0.1:${r.port}/status`)));
    const leading = now.flatMap((s) => s!.partitions.filter((p) => p.leading).map((p) => p.partition)).sort();
    return leading.join(',') === '0,1,2,3' || undefined;
  });

  const messages = await waitFor(`${n} messages`, async () => {
    const m = await readStream(ns.nc, ns.stream).catch(() => []);
    return m.length >= n ? m : undefined;
  }, 60_000);
  const steps = messages.map((m) => (m.data as { n: number }).n);
  expect(steps).toHaveLength(n);
  expect(new Set(steps).size).toBe(n);
  for (const aggregate of aggregates) {
    const own = messages.filter((m) => m.aggregateId === aggregate).map((m) => (m.data as { n: number }).n);
    expect(own).toEqual([...own].sort((a, b) => a - b));
  }
});
