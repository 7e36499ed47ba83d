#!/usr/bin/env node
import { ConfigError, createLogger } from '@outbox-relay/outbox';
import { loadConfig, type OperatorConfig } from './config';
import { createOperatorServer, listen } from './http-server';
import { k8s } from './kube/client-node';
import { OperatorMetrics } from './metrics';
import { Operator } from './operator';

/** The operator process: configuration, logger, kubeconfig, the operator replica, its HTTP endpoints, signals. */
async function main(): Promise<void> {
  let config: OperatorConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`outbox-operator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger('outbox-operator', config.logLevel, { instanceId: config.identity });
  const kubeConfig = new k8s.KubeConfig();
  if (config.kubeconfigPath) kubeConfig.loadFromFile(config.kubeconfigPath);
  else kubeConfig.loadFromDefault();

  const metrics = new OperatorMetrics();
  let shuttingDown = false;
  const operator: Operator = new Operator({
    config,
    kubeConfig,
    logger,
    metrics,
    onLeadershipLost: () => {
      logger.fatal('lost the leader lease; exiting so the pod restarts as a standby');
      void shutdown(1);
    },
  });
  const server = createOperatorServer({ health: () => operator.health(), metrics });
  const port = await listen(server, config.httpPort);
  logger.info(
    { port, namespace: config.watchNamespace ?? '(all)', leaderElection: config.leaderElection ?? false, server: kubeConfig.getCurrentCluster()?.server },
    'operator started',
  );
  operator.start();

  async function shutdown(code: number): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    // A stuck API call must not keep the pod from terminating within its grace period.
    const force = setTimeout(() => process.exit(code || 1), 10_000);
    force.unref();
    await operator.stop();
    server.close();
    logger.info({ code }, 'operator stopped');
    process.exit(code);
  }
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`outbox-operator: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
