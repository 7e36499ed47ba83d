// jest globalTeardown: removes the containers jest-global-setup.ts started (none on the local path).
import type { ServiceContainer } from './containers';
import { CONTAINERS_KEY } from './jest-global-setup';
import { tearDownTestServices } from './test-services';

export default async function globalTeardown(): Promise<void> {
  const containers = (globalThis as Record<symbol, ServiceContainer[] | undefined>)[CONTAINERS_KEY] ?? [];
  await tearDownTestServices(containers, (line) => process.stderr.write(`${line}\n`));
}
