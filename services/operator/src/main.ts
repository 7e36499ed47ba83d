#!/usr/bin/env node
import { createLogger, exitAfterFlush, exitOnUncaught, ProcessShutdown, readConfigOrExit } from '@outbox-relay/runtime';
import { loadConfig, type OperatorConfig } from './config';
import { createOperatorHttp } from './operator-http';
import { k8s } from './kube/client-node';
import { OperatorMetrics } from './metrics';
import { Operator } from './operator';

/** The operator process: configuration, logger, kubeconfig, the operator replica, its HTTP endpoints, signals. */
async function main(): Promise<void> {
  const config: OperatorConfig = readConfigOrExit('outbox-operator', () => loadConfig(process.env));
  const logger = createLogger('outbox-operator', config.logLevel, { instanceId: config.identity });
  exitOnUncaught(logger);
  const kubeConfig = new k8s.KubeConfig();
  if (config.kubeconfigPath) kubeConfig.loadFromFile(config.kubeconfigPath);
  else kubeConfig.loadFromDefault();

  const metrics = new OperatorMetrics();
  const operator: Operator = new Operator({
    config,
    kubeConfig,
    logger,
    metrics,
    onLeadershipLost: () => {
      logger.fatal('lost the leader lease; exiting so the pod restarts as a standby');
      void shutdown.run('leader lease lost', 1);
    },
    // No graceful stop: the controller is stuck (an API call or a probe that does not end) and another replica
    // may lead from now on; exiting is the only way to be sure this one acts no more.
    onStopOverdue: () => void exitAfterFlush(logger, 1, 200),
  });
  const http = createOperatorHttp({ logger, health: () => operator.health(), metrics });
  const shutdown = new ProcessShutdown({
    logger,
    // A stuck API call must not keep the pod from terminating within its grace period.
    timeoutMs: 10_000,
    stop: async () => {
      await operator.stop();
      await http.close(1000);
    },
  }).onSignals();
  const port = await http.listen(config.httpPort);
  logger.info(
    { port, namespace: config.watchNamespace ?? '(all)', leaderElection: config.leaderElection ?? false, relayImage: config.relayImage, server: kubeConfig.getCurrentCluster()?.server },
    'operator started',
  );
  operator.start();

}

main().catch((err: unknown) => {
  process.stderr.write(`outbox-operator: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
