// Postgres and NATS (JetStream) in containers, through testcontainers, for machines where neither runs locally but a
// Docker-compatible engine answers (Docker, or podman's Docker API with DOCKER_HOST): the test run's global setup
// (test-services.ts) and the local demo's NATS start them here. Only relative imports: jest loads the global setup
// without its module aliases.
//
// testcontainers 12 needs Node >= 22.22 (its HTTP client, undici 8, does not even load on Node 20), so it is imported
// only when a container is about to start: the local path never loads it.
import type { GenericContainer, StartedTestContainer } from 'testcontainers';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './wait';

export const DEFAULT_POSTGRES_IMAGE = 'postgres:15';
export const DEFAULT_NATS_IMAGE = 'nats:2.10';
/** The oldest Node that testcontainers 12 runs on (its `engines`). */
export const CONTAINERS_MIN_NODE = '22.22.0';
/** Label of every container started here (`docker ps -a --filter label=outbox-relay.test-service` lists them). */
export const CONTAINER_LABEL = 'outbox-relay.test-service';
/** Per start: a container whose start fails half-way (it exists, but testcontainers gave up) is found and removed by it. */
const START_LABEL = 'outbox-relay.test-service-start';
/** What to do to get an engine, for messages. */
export const ENGINE_HINT =
  'start Docker, or podman\'s Docker API (`bash scripts/containers/podman-setup.sh`, then DOCKER_HOST=unix:///run/podman/podman.sock ' +
  'and TESTCONTAINERS_RYUK_DISABLED=true)';

export interface ServiceContainer {
  service: 'postgres' | 'nats';
  image: string;
  id: string;
  url: string;
  /** Milliseconds from asking for the container to the service answering. */
  startedInMs: number;
  /** Stops and removes the container (and its anonymous volumes). */
  stop(): Promise<void>;
}

export type EngineCheck = { ok: true; description: string } | { ok: false; reason: string };

/** Whether this Node can run testcontainers 12 (`version` as in process.versions.node). */
export function nodeRunsTestcontainers(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [minMajor = 0, minMinor = 0] = CONTAINERS_MIN_NODE.split('.').map(Number);
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

/**
 * Whether containers can be started from this process: a Node that runs testcontainers, and a Docker-compatible
 * engine found the way testcontainers looks for one (DOCKER_HOST, ~/.testcontainers.properties, the usual sockets).
 */
export async function checkContainerEngine(): Promise<EngineCheck> {
  if (!nodeRunsTestcontainers()) {
    return {
      ok: false,
      reason:
        `testcontainers 12 needs Node >= ${CONTAINERS_MIN_NODE}, and this is Node ${process.versions.node}; run with a newer Node ` +
        '(e.g. `npm i --no-save --prefix .tools node@24` and put .tools/node_modules/node/bin first on PATH)',
    };
  }
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    const client = await getContainerRuntimeClient();
    const runtime = client.info.containerRuntime;
    return { ok: true, description: `${runtime.operatingSystem} (server ${runtime.serverVersion}) via ${process.env.DOCKER_HOST ?? runtime.remoteSocketPath}` };
  } catch (error) {
    const where = process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : 'no DOCKER_HOST set, and none of the usual sockets';
    return { ok: false, reason: `no Docker-compatible engine answers (${where}: ${(error as Error).message})` };
  }
}

/** The loopback address for the engine's host name (a published port answers on 127.0.0.1; "localhost" may mean ::1 first). */
function hostOf(container: StartedTestContainer): string {
  const host = container.getHost();
  return host === 'localhost' ? '127.0.0.1' : host;
}

/**
 * Starts `container` with a label of its own; when the start fails after the engine created it (a wait strategy
 * timed out), removes it before rethrowing: without the Ryuk reaper (which podman cannot run) nothing else would.
 */
async function startOrRemove(container: GenericContainer): Promise<StartedTestContainer> {
  const start = randomBytes(8).toString('hex');
  try {
    return await container.withLabels({ [START_LABEL]: start }).start();
  } catch (error) {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await getContainerRuntimeClient();
    const created = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${START_LABEL}=${start}`] } });
    for (const info of created) await client.container.remove(client.container.getById(info.Id), { removeVolumes: true }).catch(() => undefined);
    throw error;
  }
}

function stopper(container: StartedTestContainer): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => (stopped ??= container.stop({ timeout: 2000, remove: true, removeVolumes: true }).then(() => undefined));
}

/**
 * A Postgres container as the official image runs it: superuser `postgres` with a random password, `database`
 * created (default `test`, the suite's). Resolves once a real connection runs a query.
 */
export async function startPostgresContainer(image: string, database = 'test'): Promise<ServiceContainer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const started = Date.now();
  const password = randomBytes(12).toString('hex');
  const container = await startOrRemove(
    new GenericContainer(image)
      .withEnvironment({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: password, POSTGRES_DB: database })
      .withExposedPorts(5432)
      .withLabels({ [CONTAINER_LABEL]: 'postgres' })
      // The first start initializes the data directory on a socket-only server, then starts the real one: the log
      // line comes first from the former, so a real connection (below) decides when it is ready.
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/))
      .withStartupTimeout(120_000),
  );
  const stop = stopper(container);
  const url = `postgres://postgres:${password}@${hostOf(container)}:${container.getMappedPort(5432)}/${database}`;
  try {
    await waitFor(`Postgres in container ${container.getId().slice(0, 12)} (${image}) to take connections`, () => queryAnswers(url), 60_000, 100);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { service: 'postgres', image, id: container.getId(), url, startedInMs: Date.now() - started, stop };
}

/** A nats-server container with JetStream on (`-js`); resolves once JetStream answers a client. */
export async function startNatsContainer(image: string): Promise<ServiceContainer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const started = Date.now();
  const container = await startOrRemove(
    new GenericContainer(image)
      .withCommand(['-js'])
      // Every port the image EXPOSEs (client, cluster, monitoring), though only 4222 is used: podman's Docker API
      // lists unpublished exposed ports among the bindings, and testcontainers then waits for them until it fails.
      .withExposedPorts(4222, 6222, 8222)
      .withLabels({ [CONTAINER_LABEL]: 'nats' })
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .withStartupTimeout(120_000),
  );
  const stop = stopper(container);
  const url = `nats://${hostOf(container)}:${container.getMappedPort(4222)}`;
  try {
    await waitFor(`JetStream in container ${container.getId().slice(0, 12)} (${image})`, () => jetStreamAnswers(url), 30_000, 100);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { service: 'nats', image, id: container.getId(), url, startedInMs: Date.now() - started, stop };
}

async function queryAnswers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function jetStreamAnswers(url: string): Promise<boolean> {
  let nc;
  try {
    nc = await connect({ servers: url, timeout: 2000 });
  } catch {
    return false;
  }
  try {
    await (await jetstreamManager(nc)).getAccountInfo();
    return true;
  } catch (error) {
    throw new Error(`nats-server at ${url} answers, but not JetStream (was it started with -js?): ${(error as Error).message}`);
  } finally {
    await nc.close();
  }
}
