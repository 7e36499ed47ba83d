#!/usr/bin/env node
// Docker HEALTHCHECK for every entry point of the image. The image runs one of several services, so this finds
// which one PID 1 is (its command line names services/<name>/dist/main.js) and asks that service's /healthz on
// the port its own variable sets. Exit 0 = healthy, 1 = unhealthy (Docker's contract).
// A service without an HTTP endpoint (subscriber or payments with no port set, outboxctl, a shell) counts as
// healthy while it runs: Docker already notices when PID 1 exits. Kubernetes ignores HEALTHCHECK and uses the
// probes in the manifests instead.
//   HEALTHCHECK_CMDLINE_FILE  where to read the command line (default /proc/1/cmdline; tests point it elsewhere)
//   HEALTHCHECK_TIMEOUT_MS    how long to wait for the answer (default 4000, below the Dockerfile's --timeout=5s)
import fs from 'node:fs';

/** Per service: the variable holding its HTTP port and the default the service uses when it is unset. */
const PROBES = {
  relay: { portVariable: 'RELAY_HTTP_PORT', defaultPort: 8090 },
  orders: { portVariable: 'PORT', defaultPort: 8081 },
  operator: { portVariable: 'OPERATOR_HTTP_PORT', defaultPort: 8080 },
  payments: { portVariable: 'PAYMENTS_HTTP_PORT' },
  subscriber: { portVariable: 'SUBSCRIBER_HTTP_PORT' },
};
const TIMEOUT_MS = Number(process.env.HEALTHCHECK_TIMEOUT_MS) || 4000;

function runningService() {
  const file = process.env.HEALTHCHECK_CMDLINE_FILE || '/proc/1/cmdline';
  const args = fs.readFileSync(file, 'utf8').split('\0');
  for (const arg of args) {
    const match = /(?:^|\/)services\/([a-z]+)\/dist\/main\.js$/.exec(arg);
    if (match) return match[1];
  }
  return undefined;
}

function portOf(probe) {
  const raw = process.env[probe.portVariable];
  if (raw === undefined || raw === '') return probe.defaultPort;
  const port = Number(raw);
  // Port 0 means "any free port": nothing to probe from outside.
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
}

async function main() {
  const service = runningService();
  const probe = service ? PROBES[service] : undefined;
  const port = probe ? portOf(probe) : undefined;
  if (port === undefined) {
    process.stdout.write(`healthy: ${service ?? 'this process'} has no health endpoint to ask\n`);
    return 0;
  }
  const url = `http://127.0.0.1:${port}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    process.stdout.write(`${res.ok ? 'healthy' : 'unhealthy'}: ${service} ${url} answered ${res.status}\n`);
    return res.ok ? 0 : 1;
  } catch (error) {
    process.stdout.write(`unhealthy: ${service} ${url}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main();
