import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpPodProber, StepDownError } from '../../src/prober';
import { FakeRelays } from '../support/fake-relays';

describe('HttpPodProber', () => {
  const relays = new FakeRelays();
  const prober = new HttpPodProber({ timeoutMs: 300, baseUrl: relays.baseUrl });
  const pod = (name: string) => ({ name, ip: '10.0.0.1' });

  beforeAll(async () => {
    await relays.add('leader', true, 7, 2);
    await relays.add('standby', false);
  });
  afterAll(() => relays.closeAll());

  test('reads a pod report: who leads which partition at which epoch, and the progress of each', async () => {
    const progress = { leadingForMs: 60_000, renewedAgoMs: 100, publishedAgoMs: 200, pending: 0, oldestPendingAgeMs: 0 };
    await expect(prober.status(pod('leader'))).resolves.toEqual({
      instanceId: 'leader',
      leading: true,
      partitions: [
        { partition: 0, leading: true, epoch: 7, ...progress },
        { partition: 1, leading: true, epoch: 7, ...progress },
      ],
      backlogReadAgoMs: 100,
      natsConnected: true,
    });
    await expect(prober.status(pod('standby'))).resolves.toMatchObject({ leading: false, partitions: [{ epoch: null }] });
  });

  test.each(['hang', 'fail', 'garbage'] as const)('a pod that does not answer properly (%s) reports null', async (behaviour) => {
    relays.setBehaviour('standby', behaviour);
    const started = Date.now();
    await expect(prober.status(pod('standby'))).resolves.toBeNull();
    expect(Date.now() - started).toBeLessThan(3000);
    relays.setBehaviour('standby', 'answer');
  });

  test("an older relay's report, without the progress fields, is read as it is (no evidence either way)", async () => {
    const old = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ instanceId: 'old', leading: true, partitions: [{ partition: 0, leading: true, epoch: 2, deadLettered: 0 }] }));
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    const port = (old.address() as AddressInfo).port;
    try {
      const read = await new HttpPodProber({ timeoutMs: 300, baseUrl: () => `http://127.0.0.1:${port}` }).status(pod('old'));
      expect(read).toEqual({ instanceId: 'old', leading: true, partitions: [{ partition: 0, leading: true, epoch: 2 }] });
    } finally {
      old.close();
    }
  });

  test('a pod with nothing listening reports null', async () => {
    await expect(new HttpPodProber({ timeoutMs: 300, port: 9 }).status({ name: 'gone', ip: '127.0.0.1' })).resolves.toBeNull();
  });

  test('step-down is a POST with the admin token, which the relay accepts with 202, after which it no longer leads', async () => {
    relays.adminToken = () => 'the-token';
    await expect(prober.stepDown(pod('leader'), 'another-token')).rejects.toMatchObject({ name: 'StepDownError', pod: 'leader', statusCode: 401 });
    expect(relays.stepDowns('leader')).toBe(0);
    await prober.stepDown(pod('leader'), 'the-token');
    expect(relays.stepDowns('leader')).toBe(1);
    await expect(prober.status(pod('leader'))).resolves.toMatchObject({ leading: false });
  });

  test('a step-down the pod refuses or cannot hear is a StepDownError naming the pod', async () => {
    relays.setBehaviour('standby', 'fail');
    await expect(prober.stepDown(pod('standby'), 'the-token')).rejects.toMatchObject({ name: 'StepDownError', pod: 'standby', statusCode: 500 });
    relays.setBehaviour('standby', 'hang');
    await expect(prober.stepDown(pod('standby'), 'the-token')).rejects.toBeInstanceOf(StepDownError);
    relays.setBehaviour('standby', 'answer');
  });
});
