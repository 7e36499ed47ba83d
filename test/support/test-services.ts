// Which Postgres and NATS a test run uses, decided once by jest's global setup (test/support/jest-global-setup.ts)
// before any test file loads; the URLs reach every worker through process.env (DATABASE_URL, NATS_URL), which
// env.ts reads. Only relative imports: jest loads the global setup without its module aliases.
//
//   OUTBOX_TEST_SERVICES=auto (default)  per service: DATABASE_URL / NATS_URL when set, else the machine's own
//       server when it answers (127.0.0.1:5432 / 4222), else a container when an engine answers, else the run stops
//       at once saying what to do.
//   OUTBOX_TEST_SERVICES=containers      both in containers, whatever is set or answers (proves that path here).
//   OUTBOX_TEST_SERVICES=local           what is set or the defaults, unchecked: nothing is started (as before).
//   OUTBOX_TEST_POSTGRES_IMAGE (default postgres:15), OUTBOX_TEST_NATS_IMAGE (default nats:2.10).
import { z } from 'zod';
import {
  DEFAULT_NATS_IMAGE,
  DEFAULT_POSTGRES_IMAGE,
  ENGINE_HINT,
  startNatsContainer,
  startPostgresContainer,
  type EngineCheck,
  type ServiceContainer,
} from './containers';
import { LOCAL_DATABASE_URL, LOCAL_NATS_URL } from './env';
import { portAnswers } from './ports';

const MODES = ['auto', 'local', 'containers'] as const;

const settingsSchema = z.object({
  OUTBOX_TEST_SERVICES: z.enum(MODES).default('auto'),
  OUTBOX_TEST_POSTGRES_IMAGE: z.string().regex(/^\S+$/, 'must be an image name such as postgres:15').default(DEFAULT_POSTGRES_IMAGE),
  OUTBOX_TEST_NATS_IMAGE: z.string().regex(/^\S+$/, 'must be an image name such as nats:2.10').default(DEFAULT_NATS_IMAGE),
  DATABASE_URL: z.string().optional(),
  NATS_URL: z.string().optional(),
});

export type TestServicesSettings = z.output<typeof settingsSchema>;

/** A bad setting of the test run, named with what it must be. */
export class TestServicesError extends Error {}

/** The test run's settings from `env`, read once; empty values count as unset. Throws TestServicesError naming the variable. */
export function readTestServicesSettings(env: Record<string, string | undefined>): TestServicesSettings {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([name, v]) => name in settingsSchema.shape && v !== undefined && v !== ''));
  const result = settingsSchema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const what = name === 'OUTBOX_TEST_SERVICES' ? `must be one of ${MODES.join(', ')}` : issue.message;
    return `${name}: ${what} (got "${cleaned[name]}")`;
  });
  throw new TestServicesError(lines.join('\n'));
}

/** Where one service comes from. */
export type ServiceSource =
  | { kind: 'given'; url: string; variable: 'DATABASE_URL' | 'NATS_URL' }
  | { kind: 'local'; url: string }
  | { kind: 'container'; image: string; why: string };

export interface TestServicesPlan {
  mode: TestServicesSettings['OUTBOX_TEST_SERVICES'];
  postgres: ServiceSource;
  nats: ServiceSource;
}

/** The machine's own servers: their URLs and the loopback ports probed for them. */
export interface LocalServers {
  postgres: { url: string; port: number };
  nats: { url: string; port: number };
}

export const LOCAL_SERVERS: LocalServers = {
  postgres: { url: LOCAL_DATABASE_URL, port: Number(new URL(LOCAL_DATABASE_URL).port) },
  nats: { url: LOCAL_NATS_URL, port: Number(new URL(LOCAL_NATS_URL).port) },
};

/** Decides where each service comes from; only `auto` looks at which local ports answer. */
export async function planTestServices(settings: TestServicesSettings, local: LocalServers = LOCAL_SERVERS): Promise<TestServicesPlan> {
  const mode = settings.OUTBOX_TEST_SERVICES;
  const decide = async (variable: 'DATABASE_URL' | 'NATS_URL', server: { url: string; port: number }, image: string, name: string): Promise<ServiceSource> => {
    if (mode === 'containers') return { kind: 'container', image, why: 'OUTBOX_TEST_SERVICES=containers' };
    const given = settings[variable];
    if (given !== undefined) return { kind: 'given', url: given, variable };
    if (mode === 'local' || (await portAnswers(server.port))) return { kind: 'local', url: server.url };
    return { kind: 'container', image, why: `${variable} is not set and no ${name} answers on 127.0.0.1:${server.port}` };
  };
  const [postgres, nats] = await Promise.all([
    decide('DATABASE_URL', local.postgres, settings.OUTBOX_TEST_POSTGRES_IMAGE, 'Postgres'),
    decide('NATS_URL', local.nats, settings.OUTBOX_TEST_NATS_IMAGE, 'NATS'),
  ]);
  return { mode, postgres, nats };
}

type Log = (line: string) => void;
type ContainerSource = Extract<ServiceSource, { kind: 'container' }>;

/** The services the plan wants in containers, with why. */
export function containersWanted(plan: TestServicesPlan): Array<{ service: 'postgres' | 'nats'; source: ContainerSource }> {
  return (['postgres', 'nats'] as const).flatMap((service) => {
    const source = plan[service];
    return source.kind === 'container' ? [{ service, source }] : [];
  });
}

const NAMES = { postgres: 'Postgres', nats: 'NATS' } as const;

/** What the run says when it needs containers and `reason` says why it cannot have them. */
export function cannotStartMessage(plan: TestServicesPlan, reason: string): string {
  return [
    'The tests need Postgres and NATS, and cannot start what is missing:',
    ...containersWanted(plan).map(({ service, source }) => `  ${NAMES[service]}: ${source.why}`),
    `  containers: ${reason}`,
    'Do one of:',
    '  - run them here: `make services` (Debian/Ubuntu: apt-get install postgresql nats-server), or set DATABASE_URL / NATS_URL;',
    `  - ${ENGINE_HINT}: the run then starts them in containers (images: OUTBOX_TEST_POSTGRES_IMAGE, OUTBOX_TEST_NATS_IMAGE);`,
    '  - OUTBOX_TEST_SERVICES=local to run without them (only the tests that need neither pass).',
  ].join('\n');
}

/**
 * Carries out the plan: starts the containers it asks for side by side (on the engine `engine` found), sets
 * DATABASE_URL / NATS_URL in `env` to them, and returns them for `tearDownTestServices`. Throws, saying what to do,
 * when containers are needed and cannot be started; nothing is left running then.
 */
export async function setUpTestServices(
  plan: TestServicesPlan,
  engine: () => Promise<EngineCheck>,
  env: Record<string, string | undefined>,
  log: Log,
): Promise<ServiceContainer[]> {
  const wanted = containersWanted(plan);
  if (wanted.length === 0) return [];
  const found = await engine();
  if (!found.ok) throw new TestServicesError(cannotStartMessage(plan, found.reason));

  log(`test services: starting ${wanted.map((w) => NAMES[w.service]).join(' and ')} in containers (${found.description}), because`);
  for (const { service, source } of wanted) log(`  ${NAMES[service]}: ${source.why}`);
  const results = await Promise.allSettled(
    wanted.map(({ service, source }) => (service === 'postgres' ? startPostgresContainer(source.image) : startNatsContainer(source.image))),
  );
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`  ${NAMES[wanted[i]!.service]} (${wanted[i]!.source.image}): ${(r.reason as Error).message}`] : []));
  if (failed.length > 0) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw new TestServicesError(
      [
        'test services: a container did not start:',
        ...failed,
        'Where registry images cannot be pulled, build local stand-ins under the same names (`bash scripts/containers/build-standins.sh`),',
        'or name images you have with OUTBOX_TEST_POSTGRES_IMAGE / OUTBOX_TEST_NATS_IMAGE.',
      ].join('\n'),
    );
  }
  for (const container of started) {
    env[container.service === 'postgres' ? 'DATABASE_URL' : 'NATS_URL'] = container.url;
    log(`  ${NAMES[container.service]}: ${container.image} in ${container.id.slice(0, 12)} at ${redact(container.url)}, up in ${container.startedInMs} ms`);
  }
  return started;
}

/** Stops and removes what `setUpTestServices` started. */
export async function tearDownTestServices(containers: ServiceContainer[], log: Log): Promise<void> {
  if (containers.length === 0) return;
  const results = await Promise.allSettled(containers.map((c) => c.stop()));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${containers[i]!.id.slice(0, 12)}: ${(r.reason as Error).message}`] : []));
  if (failed.length > 0) throw new Error(`test services: could not remove containers (remove them by hand): ${failed.join('; ')}`);
  log(`test services: removed ${containers.map((c) => `${c.service} ${c.id.slice(0, 12)}`).join(', ')}`);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
