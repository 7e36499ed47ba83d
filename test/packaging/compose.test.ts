/**
 * compose.yaml, the whole system in containers, checked the way Compose reads it (YAML with merge keys): every
 * process is an entry point of the image, every variable one its service reads and accepts, the services agree
 * with each other and with Postgres and NATS, ports do not collide, and the start-up order holds together.
 * No engine runs it here (registry images cannot be pulled on the development machines).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import YAML from 'yaml';
import type { z } from 'zod';
import { parseEnv } from '@outbox-relay/runtime';
import { ordersEnvSchema } from '../../services/orders/src/config';
import { createOrderRequestSchema } from '../../services/orders/src/domain/order';
import { paymentsEnvSchema } from '../../services/payments/src/config';
import { relayProcessEnvSchema } from '../../services/relay/src/config';
import { subscriberEnvSchema } from '../../services/subscriber/src/config';
import { fromRoot } from './support/paths';

interface Service {
  image?: string;
  build?: string | { context: string };
  pull_policy?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = YAML.parse(fs.readFileSync(fromRoot('compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = Object.entries(compose.services);
const IMAGE = 'outbox-relay:dev';
const app = services.filter(([, s]) => s.image === IMAGE);
const running = (entry: string) => app.filter(([, s]) => s.command?.[0] === entry);

/** The entry points docker/entrypoint.sh runs: the services' dispatch line, plus `migrate`. */
const ENTRY_POINTS = (() => {
  const text = fs.readFileSync(fromRoot('docker/entrypoint.sh'), 'utf8');
  const line = /^\s*([a-z |]+)\)\s*\n\s*shift\s*\n\s*exec node "services\/\$entry\/dist\/main\.js"/m.exec(text);
  if (!line) throw new Error('docker/entrypoint.sh: no case line dispatching to services/$entry/dist/main.js');
  return [...line[1]!.split('|').map((s) => s.trim()), 'migrate'];
})();

/** Per service of the image: its environment schema. */
const SCHEMAS: Record<string, z.ZodObject> = {
  orders: ordersEnvSchema,
  relay: relayProcessEnvSchema,
  subscriber: subscriberEnvSchema,
  payments: paymentsEnvSchema,
};

/** docker/healthcheck.mjs's probes: the variable holding each service's HTTP port. */
const PROBE_VARIABLES = Object.fromEntries(
  [...fs.readFileSync(fromRoot('docker/healthcheck.mjs'), 'utf8').matchAll(/^\s+([a-z]+): \{ portVariable: '([A-Z_]+)'/gm)].map((m) => [m[1]!, m[2]!]),
);

/** What the service's process would read from this environment; throws as it would, or for a name it does not read. */
function configOf(name: string, service: Service): Record<string, unknown> {
  const schema = SCHEMAS[service.command![0]!]!;
  const env = service.environment ?? {};
  const unknown = Object.keys(env).filter((variable) => !(variable in schema.shape));
  if (unknown.length > 0) throw new Error(`${name} sets variables its service does not read: ${unknown.join(', ')}`);
  return parseEnv(schema, env) as Record<string, unknown>;
}

/** "127.0.0.1:8082:8081" → host address, host port, container port. */
function published(port: string): { address: string; host: number; container: number } {
  const [address, host, container] = port.split(':');
  return { address: address!, host: Number(host), container: Number(container) };
}

describe('compose.yaml', () => {
  test('runs what the issue asks for: Postgres, NATS with JetStream, 3 order replicas, a relay, 3 subscribers, the payment worker', () => {
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(compose.services.nats?.image).toMatch(/^nats:/);
    expect(compose.services.nats?.command).toContain('-js');
    expect(running('orders')).toHaveLength(3);
    expect(running('relay')).toHaveLength(1);
    expect(running('subscriber')).toHaveLength(3);
    expect(running('payments')).toHaveLength(1);
    expect(services).toHaveLength(10);
  });

  test("every other service runs an entry point of docker/entrypoint.sh from the project's one image, built once from this checkout", () => {
    for (const [name, service] of services.filter(([n]) => n !== 'postgres' && n !== 'nats')) {
      expect({ name, image: service.image }).toEqual({ name, image: IMAGE });
      expect(ENTRY_POINTS).toContain(service.command?.[0]);
      expect(SCHEMAS).toHaveProperty(service.command![0]!);
    }
    const builders = app.filter(([, s]) => s.build !== undefined);
    expect(builders.map(([name, s]) => [name, s.build])).toEqual([['orders-1', '.']]);
    expect(fs.existsSync(fromRoot('Dockerfile'))).toBe(true);
    // The others never try a registry for an image that only exists once built.
    for (const [, service] of app.filter(([, s]) => s.build === undefined)) expect(service.pull_policy).toBe('never');
  });

  test.each(app.map(([name]) => name))("%s: every variable it sets is one its service reads, and the service accepts them all", (name) => {
    expect(() => configOf(name, compose.services[name]!)).not.toThrow();
  });

  test('the services agree on the database, the outbox, the stream, and who publishes', () => {
    const pg = compose.services.postgres!.environment!;
    const url = new URL(running('orders')[0]![1].environment!.DATABASE_URL!);
    expect({ host: url.hostname, port: url.port, user: url.username, password: url.password, db: url.pathname.slice(1) }).toEqual({
      host: 'postgres',
      port: '5432',
      user: pg.POSTGRES_USER,
      password: pg.POSTGRES_PASSWORD,
      db: pg.POSTGRES_DB,
    });
    const configs = app.map(([name, service]) => ({ name, entry: service.command![0]!, config: configOf(name, service) }));
    const writers = configs.filter((c) => c.entry !== 'subscriber');
    for (const { config } of writers) expect({ DATABASE_URL: config.DATABASE_URL, OUTBOX_SCHEMA: config.OUTBOX_SCHEMA }).toEqual({ DATABASE_URL: url.href, OUTBOX_SCHEMA: 'outbox' });
    for (const { config } of configs) {
      expect({ NATS_URL: config.NATS_URL, stream: config.OUTBOX_STREAM, prefix: config.OUTBOX_SUBJECT_PREFIX, window: config.OUTBOX_DUPLICATE_WINDOW_MS }).toEqual({
        NATS_URL: 'nats://nats:4222',
        stream: 'ORDERS',
        prefix: 'orders',
        window: 120_000,
      });
    }
    // The relay service publishes the one outbox; the replicas and the worker only write to it.
    expect(configs.filter((c) => c.entry === 'orders').map((c) => c.config.ORDERS_RELAY_ENABLED)).toEqual([false, false, false]);
    expect(configs.find((c) => c.entry === 'payments')!.config.PAYMENTS_RELAY_ENABLED).toBe(false);
    // Each subscriber is its own durable consumer (fan-out), each replica its own lease holder.
    const ids = (entry: string, variable: string) => configs.filter((c) => c.entry === entry).map((c) => c.config[variable]);
    expect(new Set(ids('subscriber', 'SUBSCRIBER_ID')).size).toBe(3);
    expect(new Set(ids('orders', 'RELAY_INSTANCE_ID')).size).toBe(3);
  });

  test("published ports are on loopback, do not collide, and reach the port each service's own variable sets", () => {
    const all = services.flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, ...published(p) })));
    expect(all.length).toBeGreaterThanOrEqual(10);
    expect(all.filter((p) => p.address !== '127.0.0.1')).toEqual([]);
    expect(new Set(all.map((p) => p.host)).size).toBe(all.length);
    for (const [name, service] of app) {
      const variable = PROBE_VARIABLES[service.command![0]!]!;
      const port = Number(configOf(name, service)[variable]);
      expect({ name, ports: service.ports!.map((p) => published(p).container) }).toEqual({ name, ports: [port] });
    }
    expect(compose.services.postgres!.ports!.map((p) => published(p).container)).toEqual([5432]);
    expect(compose.services.nats!.ports!.map((p) => published(p).container)).toContain(4222);
  });

  test("health checks: Postgres and NATS ask their servers; the image's own check asks each service on the port it listens on", () => {
    expect(compose.services.postgres!.healthcheck!.test.join(' ')).toContain('pg_isready -U outbox -d outbox');
    const nats = compose.services.nats!;
    expect(nats.healthcheck!.test.join(' ')).toContain('8222/healthz?js-enabled-only=true');
    expect(nats.command!.join(' ')).toContain('-m 8222');
    for (const [name, service] of app) {
      expect({ name, test: service.healthcheck?.test }).toEqual({ name, test: ['CMD', 'node', '/app/docker/healthcheck.mjs'] });
      // healthcheck.mjs counts a service without its port variable as healthy without asking: each sets it.
      expect(service.environment).toHaveProperty(PROBE_VARIABLES[service.command![0]!]!);
    }
  });

  test('depends_on: targets exist and have health checks, no cycle; the relay and the payment worker wait for the migrated tables', () => {
    for (const [name, service] of services) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, target, exists: target in compose.services }).toEqual({ name, target, exists: true });
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect(compose.services[target]!.healthcheck).toBeDefined();
      }
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, trail: string[]): void => {
      if (done.has(name)) return;
      if (visiting.has(name)) throw new Error(`depends_on cycle: ${[...trail, name].join(' -> ')}`);
      visiting.add(name);
      for (const target of Object.keys(compose.services[name]!.depends_on ?? {})) visit(target, [...trail, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const [name] of services) expect(() => visit(name, [])).not.toThrow();
    const migrator = running('orders').find(([, s]) => s.environment!.OUTBOX_MIGRATE === 'true')![0];
    for (const [, service] of [...running('relay'), ...running('payments')]) {
      expect(service.depends_on).toMatchObject({ [migrator]: { condition: 'service_healthy' }, nats: { condition: 'service_healthy' } });
    }
    for (const [, service] of running('orders')) expect(service.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
  });

  (spawnSync('docker-compose', ['version']).status === 0 ? test : test.skip)('docker-compose config (where installed) accepts it', () => {
    const run = spawnSync('docker-compose', ['-f', fromRoot('compose.yaml'), 'config', '--services'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n').sort()).toEqual(services.map(([name]) => name).sort());
    expect(run.status).toBe(0);
  });

  test('every named volume it mounts is declared', () => {
    const named = services.flatMap(([, s]) => (s.volumes ?? []).map((v) => v.split(':')[0]!)).filter((v) => !v.startsWith('.') && !v.startsWith('/'));
    expect(named.length).toBeGreaterThan(0);
    for (const volume of named) expect(compose.volumes ?? {}).toHaveProperty(volume);
  });
});

describe('README: With containers', () => {
  const readme = fs.readFileSync(fromRoot('README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## With containers'), readme.indexOf('## Kubernetes quick start'));
  const block = (/```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '').replace(/\\\n\s*/g, ' ');

  test('its order goes to a published order replica, with a body the order service accepts', () => {
    const curl = /curl -s -X POST localhost:(\d+)\/orders .* -d '([^']+)'/.exec(block);
    expect(curl).not.toBeNull();
    const hostPorts = running('orders').flatMap(([, s]) => s.ports!.map((p) => published(p).host));
    expect(hostPorts).toContain(Number(curl![1]));
    expect(createOrderRequestSchema.safeParse(JSON.parse(curl![2]!)).success).toBe(true);
  });

  test('the services and settings it names exist', () => {
    for (const [, name] of block.matchAll(/docker compose logs (\S+)/g)) expect(compose.services).toHaveProperty(name!);
    for (const name of ['OUTBOX_TEST_SERVICES', 'OUTBOX_TEST_POSTGRES_IMAGE', 'OUTBOX_TEST_NATS_IMAGE']) {
      expect(section).toContain(name);
      expect(fs.readFileSync(fromRoot('test/support/test-services.ts'), 'utf8')).toContain(name);
    }
    for (const file of [...section.matchAll(/`(scripts\/[\w./-]+)`/g)].map((m) => m[1]!)) expect(fs.existsSync(fromRoot(file))).toBe(true);
  });
});
