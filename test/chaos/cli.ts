/**
 * The long chaos run: `npm run chaos -- --minutes 30 --seed 1,2,3 [--faults all|short|kind,-kind,…]`.
 * Runs the seeds one after the other, prints each run's figures and verdict, and exits 1 if any run failed.
 * Needs the relay built (`npm run build`); starts its own Postgres and nats-server.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ALL_FAULTS, FAULT_KINDS, FOUND_BEFORE_FIXES, parseFaults, type ChaosOptions } from './options';
import { failureMessage, formatReport, scheduleLine, verdictLine } from './report';
import { closeActiveRuns, runChaos, type ChaosResult } from './run';

const USAGE = `usage: npm run chaos -- [--minutes N] [--seed S[,S…]] [--faults SPEC] [--relays N] [--partitions N]
                       [--writers N] [--json FILE] [--logs DIR] [--quiet]
  --minutes   fault phase per seed (default 5; fractions allowed)
  --seed      one seed or a comma list (default: one from the clock)
  --faults    comma list of kinds, "all" (default), "short" (the kinds of make test's run), "-kind" removes one
  --json      write every run's full result (figures, schedule, findings) to FILE
  --logs      keep every relay's log and stderr and the Postgres log under DIR/seed-<seed>/
fault kinds (and what each found before the issue-13 fixes, where it failed):
${ALL_FAULTS.map((k) => `  ${k.padEnd(22)} ${FAULT_KINDS[k]}${FOUND_BEFORE_FIXES[k] ? `\n  ${''.padEnd(22)} [ea3f6d5: ${FOUND_BEFORE_FIXES[k]}]` : ''}`).join('\n')}`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
      seed: { type: 'string' },
      faults: { type: 'string', default: 'all' },
      relays: { type: 'string' },
      partitions: { type: 'string' },
      writers: { type: 'string' },
      json: { type: 'string' },
      logs: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
  const seeds = (values.seed ?? String(Date.now() % 1_000_000)).split(',').map((s) => {
    const seed = Number(s.trim());
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed takes non-negative integers, got "${s}"`);
    return seed;
  });
  const overrides: Partial<ChaosOptions> = {
    durationMs: Math.round(minutes * 60_000),
    faults: parseFaults(values.faults),
    ...(values.relays ? { relays: positive('relays', values.relays) } : {}),
    ...(values.partitions ? { partitions: positive('partitions', values.partitions) } : {}),
    ...(values.writers ? { writers: positive('writers', values.writers) } : {}),
    ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
    ...(values.logs ? { logDir: values.logs } : {}),
  };
  const results: ChaosResult[] = [];
  for (const seed of seeds) {
    process.stderr.write(`== seed ${seed}: ${minutes} min of faults (${overrides.faults!.join(', ') || 'none'})\n`);
    const result = await runChaos({ ...overrides, seed });
    results.push(result);
    process.stdout.write(`\n${formatReport(result)}\n`);
    if (result.passed) process.stdout.write(`schedule:\n${result.faults.map((f) => `  ${scheduleLine(f)}`).join('\n')}\n${verdictLine(result)}\n`);
    else process.stdout.write(`${failureMessage(result)}\n`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  const failed = results.filter((r) => !r.passed);
  process.stdout.write(
    `\nVERDICT: ${failed.length === 0 ? 'PASS' : 'FAIL'} (${results.length - failed.length}/${results.length} seeds passed${failed.length ? `; failed: ${failed.map((r) => r.seed).join(', ')}` : ''})\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

// Postgres runs in its own session (pg_ctl detaches it), so an interrupt must tear the runs down explicitly.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping the servers and relays of the run in progress\n`);
    void closeActiveRuns().finally(() => process.exit(130));
  });
}
// A bug in the harness itself: still leave no server or relay behind.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.once(event, (error: unknown) => {
    process.stderr.write(`chaos: ${event} in the harness: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    void closeActiveRuns().finally(() => process.exit(2));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
