/**
 * The short fault-injection run of `make test` (issue 13): private Postgres, nats-server and 3 relay processes,
 * writers with out-of-order commits, multi-event, cross-aggregate, rolled-back and long transactions, and a
 * seeded schedule of faults; the auditor reads the whole stream afterwards. Two fixed seeds, each with half of
 * the short kinds, so every kind is injected (about twice) in about two minutes. The faults that outlast the
 * duplicate window take 12-14 s each and run in the long version: `npm run chaos -- --minutes N --seed S`.
 *
 * CHAOS_FAULTS=all (or a list, see options.ts) gives both seeds other kinds; CHAOS_SEEDS=7,8 other seeds;
 * CHAOS_SECONDS the fault phase per seed; CHAOS_VERBOSE=1 prints progress.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, testNeeding } from '@outbox-relay/test-support';
import { parseFaults, SHORT_FAULTS, type FaultKind } from './options';
import { failureMessage, formatReport } from './report';
import { closeActiveRuns, runChaos } from './run';

/** Processes and the network; the database and the data. Together: every short kind. */
const GROUPS: FaultKind[][] = [
  ['relay-kill', 'relay-freeze', 'nats-outage', 'nats-partition', 'poison-linebreak'],
  ['pg-restart-fast', 'pg-restart-immediate', 'pg-kill', 'pg-outage', 'poison-oversize', 'partition-change'],
];
const seeds = (process.env.CHAOS_SEEDS ?? '1301,1302').split(',').map(Number);
const chosen = process.env.CHAOS_FAULTS ? parseFaults(process.env.CHAOS_FAULTS) : null;
const seconds = Number(process.env.CHAOS_SECONDS ?? 50);
/** A private Postgres and nats-server, which the faults stop, kill and restart. */
const withServers = testNeeding('postgres-server', 'nats-server');
const runs = seeds.map((seed, i) => ({ seed, faults: chosen ?? GROUPS[i % GROUPS.length]! }));

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'services/relay/dist/main.js'))) throw new Error('the relay is not built: run `npm run build` (make test does)');
});
afterAll(closeActiveRuns);

it('the two seeds together inject every short kind', () => {
  expect(GROUPS.flat().sort()).toEqual([...SHORT_FAULTS].sort());
});

describe.each(runs)('seed $seed', ({ seed, faults }) => {
  withServers(`loses, duplicates, reorders and invents nothing under ${seconds} s of ${faults.join(', ')}`, async () => {
    const result = await runChaos({
      seed,
      durationMs: seconds * 1000,
      faults,
      // Bounded waits that end well inside the test's timeout, so a broken relay fails with the auditor's
      // findings, not with a timeout: a recovery that takes longer is a figure, a drain that never ends a finding.
      recoveryBoundMs: 10_000,
      budgetMs: (seconds + 80) * 1000,
      ...(process.env.CHAOS_VERBOSE ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    });
    process.stdout.write(`${formatReport(result)}\n`);
    if (!result.passed) throw new Error(failureMessage(result));
    // A run that wrote or faulted next to nothing would pass without proving anything.
    expect(result.audit.summary.committed).toBeGreaterThan(1000);
    expect(new Set(result.faults.map((f) => f.kind)).size).toBeGreaterThanOrEqual(Math.min(faults.length, 4));
  }, (seconds + 110) * 1000);
});
