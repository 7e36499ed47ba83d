/**
 * Where a test run takes Postgres and NATS from (test/support/test-services.ts, run once by jest's global setup):
 * what is set, else what answers on this machine, else containers; the settings' messages; what the run says when
 * it can have neither. Ports are probed for real: a free port is one where nothing answers.
 */
import net from 'node:net';
import {
  cannotStartMessage,
  freePort,
  nodeRunsTestcontainers,
  planTestServices,
  readTestServicesSettings,
  setUpTestServices,
  TestServicesError,
  type LocalServers,
} from '@outbox-relay/test-support';

/** Local servers on ports where nothing answers, as on a laptop without Postgres or NATS installed. */
async function absentServers(): Promise<LocalServers> {
  return { postgres: { url: 'postgres://absent/test', port: await freePort() }, nats: { url: 'nats://absent', port: await freePort() } };
}

/** Local servers that answer (plain TCP listeners: the plan only asks whether something answers). */
async function presentServers(): Promise<{ servers: LocalServers; close: () => Promise<void> }> {
  const listeners = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<net.Server>((resolve) => {
          const server = net.createServer((socket) => socket.destroy());
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
  return {
    servers: { postgres: { url: 'postgres://here/test', port: portOf(listeners[0]!) }, nats: { url: 'nats://here', port: portOf(listeners[1]!) } },
    close: async () => {
      await Promise.all(listeners.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

describe('settings', () => {
  it('default to auto with postgres:15 and nats:2.10; empty values count as unset', () => {
    expect(readTestServicesSettings({ OUTBOX_TEST_SERVICES: '', DATABASE_URL: '' })).toEqual({
      OUTBOX_TEST_SERVICES: 'auto',
      OUTBOX_TEST_POSTGRES_IMAGE: 'postgres:15',
      OUTBOX_TEST_NATS_IMAGE: 'nats:2.10',
    });
  });

  it('a bad value is refused, naming the variable, what it must be and what it was', () => {
    expect(() => readTestServicesSettings({ OUTBOX_TEST_SERVICES: 'docker', OUTBOX_TEST_NATS_IMAGE: 'nats 2.10' })).toThrow(TestServicesError);
    expect(() => readTestServicesSettings({ OUTBOX_TEST_SERVICES: 'docker', OUTBOX_TEST_NATS_IMAGE: 'nats 2.10' })).toThrow(
      'OUTBOX_TEST_SERVICES: must be one of auto, local, containers (got "docker")\n' +
        'OUTBOX_TEST_NATS_IMAGE: must be an image name such as nats:2.10 (got "nats 2.10")',
    );
  });
});

describe('the plan', () => {
  it('auto, nothing set and nothing answering: both in containers, each saying why', async () => {
    const plan = await planTestServices(readTestServicesSettings({ OUTBOX_TEST_POSTGRES_IMAGE: 'postgres:17-alpine' }), await absentServers());
    expect(plan.postgres).toEqual({ kind: 'container', image: 'postgres:17-alpine', why: expect.stringMatching(/^DATABASE_URL is not set and no Postgres answers on 127\.0\.0\.1:\d+$/) });
    expect(plan.nats).toEqual({ kind: 'container', image: 'nats:2.10', why: expect.stringMatching(/^NATS_URL is not set and no NATS answers on 127\.0\.0\.1:\d+$/) });
  });

  it('auto: local servers that answer are used (the default, so CI starts no container)', async () => {
    const { servers, close } = await presentServers();
    try {
      const plan = await planTestServices(readTestServicesSettings({}), servers);
      expect(plan).toEqual({ mode: 'auto', postgres: { kind: 'local', url: 'postgres://here/test' }, nats: { kind: 'local', url: 'nats://here' } });
    } finally {
      await close();
    }
  });

  it('auto: a URL that is set wins over anything local, and only the other service goes to a container', async () => {
    const plan = await planTestServices(readTestServicesSettings({ DATABASE_URL: 'postgres://db.example/test' }), await absentServers());
    expect(plan.postgres).toEqual({ kind: 'given', url: 'postgres://db.example/test', variable: 'DATABASE_URL' });
    expect(plan.nats.kind).toBe('container');
  });

  it('containers: both in containers even where local servers answer and URLs are set', async () => {
    const { servers, close } = await presentServers();
    try {
      const plan = await planTestServices(readTestServicesSettings({ OUTBOX_TEST_SERVICES: 'containers', NATS_URL: 'nats://elsewhere' }), servers);
      expect(plan.postgres).toEqual({ kind: 'container', image: 'postgres:15', why: 'OUTBOX_TEST_SERVICES=containers' });
      expect(plan.nats).toEqual({ kind: 'container', image: 'nats:2.10', why: 'OUTBOX_TEST_SERVICES=containers' });
    } finally {
      await close();
    }
  });

  it('local: nothing is probed or started, even where nothing answers', async () => {
    const servers = await absentServers();
    const plan = await planTestServices(readTestServicesSettings({ OUTBOX_TEST_SERVICES: 'local' }), servers);
    expect(plan).toEqual({ mode: 'local', postgres: { kind: 'local', url: 'postgres://absent/test' }, nats: { kind: 'local', url: 'nats://absent' } });
    let asked = false;
    const env: Record<string, string | undefined> = {};
    const started = await setUpTestServices(plan, async () => ((asked = true), { ok: true, description: 'unused' }), env, () => undefined);
    expect({ started, asked, env }).toEqual({ started: [], asked: false, env: {} });
  });
});

describe('when containers are needed and cannot be had', () => {
  it('the run stops before any test, naming what is missing, why containers are out, and the three ways on', async () => {
    const plan = await planTestServices(readTestServicesSettings({ DATABASE_URL: 'postgres://db.example/test' }), await absentServers());
    const reason = 'no Docker-compatible engine answers (no DOCKER_HOST set, and none of the usual sockets)';
    await expect(setUpTestServices(plan, async () => ({ ok: false, reason }), {}, () => undefined)).rejects.toThrow(cannotStartMessage(plan, reason));
    const message = cannotStartMessage(plan, reason);
    expect(message).toMatch(/^ {2}NATS: NATS_URL is not set and no NATS answers on 127\.0\.0\.1:\d+$/m);
    expect(message).not.toContain('Postgres: ');
    expect(message).toContain(`  containers: ${reason}`);
    expect(message).toContain('make services');
    expect(message).toContain('DOCKER_HOST=unix:///run/podman/podman.sock');
    expect(message).toContain('OUTBOX_TEST_SERVICES=local');
  });

  it('Node older than 22.22 cannot run testcontainers 12, and is told so rather than failing inside it', () => {
    expect([nodeRunsTestcontainers('20.20.2'), nodeRunsTestcontainers('22.21.9'), nodeRunsTestcontainers('22.22.0'), nodeRunsTestcontainers('24.1.0')]).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });
});

