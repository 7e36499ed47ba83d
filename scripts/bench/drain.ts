// Kept for existing links: relay drain against the raw JetStream publish limit, now part of the benchmark harness.
// Usage (after `npm run build`): node -r ./test/support/register-ts.cjs scripts/bench/drain.ts [events=200000] [batchSize=1000]
//   = npm run bench -- --only drain --events <events> --batch <batchSize>
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const [events = '200000', batch = '1000', ...rest] = process.argv.slice(2);
// The loader this script runs under (node -r …/register-ts.cjs) runs the benchmark too.
const { status } = spawnSync(process.execPath, [...process.execArgv, path.join(__dirname, 'run.ts'), '--only', 'drain', '--events', events, '--batch', batch, ...rest], { stdio: 'inherit' });
process.exit(status ?? 1);
