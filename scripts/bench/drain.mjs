#!/usr/bin/env node
// Kept for existing links: relay drain against the raw JetStream publish limit, now part of the benchmark harness.
// Usage (after `npm run build`): node scripts/bench/drain.mjs [events=200000] [batchSize=1000]
//   = node scripts/bench/run.mjs --only drain --events <events> --batch <batchSize>
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [events = '200000', batch = '1000', ...rest] = process.argv.slice(2);
const run = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run.mjs');
const { status } = spawnSync(process.execPath, [run, '--only', 'drain', '--events', events, '--batch', batch, ...rest], { stdio: 'inherit' });
process.exit(status ?? 1);
