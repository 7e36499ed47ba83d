import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';

/** What a process reports about the code it runs. */
export interface BuildInfo {
  version: string;
  /** Git revision built, or `unknown` (see write-build-info.cjs). */
  revision: string;
  /** `process.version` of the Node.js running it. */
  nodeVersion: string;
}

const buildInfoFile = z.object({ version: z.string().min(1), revision: z.string().min(1) });

/**
 * The build's version and revision, written next to the compiled code by `npm run build`
 * (services/telemetry/write-build-info.cjs). Code run without that step (from the sources, or compiled by tsc
 * alone) reports this package's version and revision `unknown`. Read once, by ServiceMetrics in a process's main.
 */
export function readBuildInfo(file = path.join(__dirname, 'build-info.json')): BuildInfo {
  let written: z.infer<typeof buildInfoFile> | undefined;
  try {
    written = buildInfoFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    written = undefined;
  }
  const version = written?.version ?? (require('../package.json') as { version: string }).version;
  return { version, revision: written?.revision ?? 'unknown', nodeVersion: process.version };
}

/** `outbox_relay_build_info{version, revision, nodejs_version} 1`: which code each process runs, for dashboards and alerts. */
export function registerBuildInfo(registry: Registry, info: BuildInfo): void {
  const gauge = new Gauge({
    name: 'outbox_relay_build_info',
    help: 'Always 1; the labels say which outbox-relay version and git revision this process runs, on which Node.js.',
    labelNames: ['version', 'revision', 'nodejs_version'],
    registers: [registry],
  });
  gauge.set({ version: info.version, revision: info.revision, nodejs_version: info.nodeVersion }, 1);
}
