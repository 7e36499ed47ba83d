import { TestEnvironment } from 'jest-environment-node';
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';

/**
 * Jest 30 on Node < 24.9 cannot load an ES-module-only package (@kubernetes/client-node 1.x) into its sandbox,
 * and the repository's jest config transforms only TypeScript. Node itself can (require of ESM, Node >= 20.19),
 * so this environment hands the sandbox a loader that uses Node's own require. Test files that reach client-node
 * select this environment and point the module at it:
 *
 *   /** @jest-environment ./services/operator/test/support/client-node-environment.ts *\/
 *   jest.mock('@kubernetes/client-node', () => (globalThis as ClientNodeGlobal).loadClientNode());
 */
export default class ClientNodeEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    this.global.loadClientNode = (): unknown => require('@kubernetes/client-node');
  }
}
