// jest globalSetup: decides once per run where Postgres and NATS come from and starts containers where needed
// (test-services.ts). Runs in jest's main process before the workers start, so the URLs it puts in process.env reach
// every test file; jest-global-teardown.ts removes the containers.
import { checkContainerEngine, type ServiceContainer } from './containers';
import { planTestServices, readTestServicesSettings, setUpTestServices } from './test-services';
import { reapOrphans } from './orphans';
import { PRIVATE_POSTGRES_ORPHANS } from './private-postgres';
import { PRIVATE_NATS_ORPHANS } from './nats';

/** Where the teardown, in the same process, finds the containers. */
export const CONTAINERS_KEY = Symbol.for('outbox-relay.test-containers');

export default async function globalSetup(): Promise<void> {
  // Servers of an earlier run that was killed (orphans.ts): gone before this run adds its own.
  for (const kind of [PRIVATE_POSTGRES_ORPHANS, PRIVATE_NATS_ORPHANS]) reapOrphans(kind);
  const plan = await planTestServices(readTestServicesSettings(process.env));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // jest's own output starts on the same line as the setup's first one.
  if (plan.postgres.kind === 'container' || plan.nats.kind === 'container') log('');
  const containers = await setUpTestServices(plan, checkContainerEngine, process.env, log);
  (globalThis as Record<symbol, ServiceContainer[]>)[CONTAINERS_KEY] = containers;
}
