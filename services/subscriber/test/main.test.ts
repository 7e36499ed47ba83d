/**
 * The subscriber as a process (dist/main.js): exit 2 naming a bad variable, JSON lines on stdout, /healthz,
 * graceful SIGTERM with exit 0. Builds the package first (incremental, a no-op after `npm run build`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { createTestStream, waitFor, type TestStream, TEST_NATS_URL } from '@outbox-relay/test-support';

const root = path.resolve(__dirname, '..', '..', '..');
const main = path.join(root, 'services', 'subscriber', 'dist', 'main.js');

function run(env: Record<string, string>): { child: ChildProcess; lines: Array<Record<string, unknown>>; stderr: () => string } {
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let buffer = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (line.trim()) lines.push(JSON.parse(line));
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return { child, lines, stderr: () => err };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('subscriber process', () => {
  let ts: TestStream;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/subscriber'], { cwd: root, stdio: 'pipe' });
    ts = await createTestStream('subproc');
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await ts.drop();
  });

  it('exits 2 and names the variable when the configuration is invalid', async () => {
    const { child, stderr } = run({ NATS_URL: TEST_NATS_URL, SUBSCRIBER_ID: 'not valid!' });
    children.push(child);
    expect(await exitOf(child)).toBe(2);
    expect(stderr()).toMatch(/SUBSCRIBER_ID/);
  });

  it('logs one JSON line per event, serves /healthz, and stops gracefully on SIGTERM', async () => {
    const id = `proc-${randomUUID().slice(0, 8)}`;
    const { child, lines } = run({
      NATS_URL: TEST_NATS_URL,
      OUTBOX_STREAM: ts.stream,
      OUTBOX_SUBJECT_PREFIX: ts.subjectPrefix,
      SUBSCRIBER_ID: id,
      SUBSCRIBER_HTTP_PORT: '0',
    });
    children.push(child);
    await waitFor('the subscriber to consume', () => lines.some((l) => l.msg === 'Subscriber consuming'), 15_000);
    const port = await waitFor('the health endpoint', () => lines.find((l) => l.msg === 'Health endpoint listening')?.port as number | undefined, 5_000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', subscriberId: id, consumer: `sub-${id}` });

    const orderId = randomUUID();
    const eventId = randomUUID();
    const h = natsHeaders();
    h.set('Outbox-Event-Id', eventId);
    h.set('Outbox-Event-Type', 'OrderCreated');
    h.set('Outbox-Aggregate-Type', 'Order');
    h.set('Outbox-Aggregate-Id', orderId);
    h.set('Outbox-Partition', '0');
    h.set('Outbox-Seq', '1');
    await jetstream(ts.nc).publish(`${ts.subjectPrefix}.Order.OrderCreated`, JSON.stringify({ orderId, amount: 5 }), { msgID: eventId, headers: h });

    const line = await waitFor('the order created line', () => lines.find((l) => l.msg === 'Received order created event'));
    expect(line).toMatchObject({ service: 'subscriber', subscriberId: id, orderId, eventId, aggregateId: orderId, partition: 0, seq: 1, streamSeq: 1, redelivered: false });

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(lines.some((l) => l.msg === 'Subscriber stopped')).toBe(true);
  });
});
