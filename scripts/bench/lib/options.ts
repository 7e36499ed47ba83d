// Command-line options of scripts/bench/run.ts (see HELP). Bad flags raise UsageError, which exits 2.
import { parseArgs } from 'node:util';
import { integerFlag, UsageError, usageError } from './flags';

/** Steps in the order they run. */
export const STEP_NAMES = ['tx', 'publish', 'http', 'drain', 'hot', 'e2e', 'failover', 'scale'] as const;
export type StepName = (typeof STEP_NAMES)[number];
/** A figure is only meaningful next to its raw limit from the same run. */
const NEEDS: Partial<Record<StepName, StepName>> = { http: 'tx', drain: 'publish', scale: 'publish' };
const ALIASES: Record<string, StepName> = { rss: 'drain' };
/** pino's levels, which every service's LOG_LEVEL accepts. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export const HELP = `Usage: npm run bench -- [options]        (run npm run build first)
       node -r ./test/support/register-ts.cjs scripts/bench/run.ts [options]        (the same, from the repository root)

  --quick            small sizes and short durations: a smoke run, figures not representative
  --only <names>     comma-separated subset of: ${STEP_NAMES.join(', ')} (rss = drain); a step's raw
                     limit is added when missing (http needs tx, drain needs publish)
  --events <n>       events for the raw publish and the drain backlog (default 200000, --quick 20000)
  --batch <n>        relay OUTBOX_BATCH_SIZE for the drains (default 1000, the product default)
  --hot-events <n>   events of the hot backlog on 1 aggregate (default 20000, --quick 5000); the backlog on 10
                     aggregates is 2.5 times as large (it drains faster)
  --repeat <n>       raw publish, drain, hot and e2e (relay process) runs whose medians are reported (default 3,
                     --quick 1)
  --out <file>       where the generated table goes (default BENCHMARKS.md)
  --write            write the table even for --quick or --only runs (default: only full runs write)
  --no-write         print only
  --analyze          ANALYZE the drain backlog before the relay starts (by default the relay meets it with the
                     planner statistics of a fresh table, as after a sudden backlog)
  --cpu-prof         start the services with node --cpu-prof; prints a summary of each profile and keeps them
  --service-node-flag=<--flag>
                     a Node flag for every service process the run starts (repeatable), e.g.
                     --service-node-flag=--max-semi-space-size=8 to see what a V8 setting does to (7)
  --commit-timestamps
                     run against a private Postgres (its own port and data directory, started and removed by the
                     run) with track_commit_timestamp on, so (5) also measures from each event's commit rather than
                     its transaction's start (created_at); its other figures are then of that server
  --log-level <lvl>  LOG_LEVEL of the services the run starts (default warn: their logs are not measured) and
                     keep their logs after the run, e.g. --only scale --log-level debug to trace a hand-over
  --help

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), NATS_URL (default nats://127.0.0.1:4222).
Exit status: 0 when every step ran (a MISS is a result, not a failure), 1 when a step failed or lost events, 2 on bad flags.`;

export { UsageError };

export interface BenchArgs {
  quick: boolean;
  only: StepName[] | null;
  events: number | null;
  hotEvents: number | null;
  batch: number;
  out: string;
  /** --write / --no-write, whichever came last; null when neither was given. */
  write: boolean | null;
  cpuProf: boolean;
  analyze: boolean;
  logLevel: string | null;
  serviceNodeFlags: string[];
  repeat: number | null;
  /** Run against a private Postgres with track_commit_timestamp on, so (5) measures from each event's commit. */
  commitTimestamps: boolean;
  help: boolean;
}

const OPTIONS = {
  quick: { type: 'boolean' },
  only: { type: 'string', multiple: true },
  events: { type: 'string' },
  'hot-events': { type: 'string' },
  batch: { type: 'string' },
  repeat: { type: 'string' },
  out: { type: 'string' },
  write: { type: 'boolean' },
  'no-write': { type: 'boolean' },
  'cpu-prof': { type: 'boolean' },
  analyze: { type: 'boolean' },
  'log-level': { type: 'string' },
  'service-node-flag': { type: 'string', multiple: true },
  'commit-timestamps': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const onlyProblem = () => `--only needs step names: ${STEP_NAMES.join(', ')}`;
const logLevelProblem = (value: string | undefined) => `--log-level needs one of ${LOG_LEVELS.join(', ')}, got "${value ?? ''}"`;
const serviceNodeFlagProblem = (value: string | undefined) =>
  `--service-node-flag needs a Node flag written with "=", e.g. --service-node-flag=--max-semi-space-size=8, got "${value ?? ''}"`;
const positiveIntProblem = (flag: string, value: string | undefined) => `${flag} needs a positive integer, got "${value ?? ''}"`;

function valueProblem(flag: string, value: string | undefined): string {
  if (flag === '--only') return onlyProblem();
  if (flag === '--out') return '--out needs a file name';
  if (flag === '--log-level') return logLevelProblem(value);
  if (flag === '--service-node-flag') return serviceNodeFlagProblem(value);
  return positiveIntProblem(flag, value);
}

/** The steps of one --only value (comma-separated names, aliases resolved). */
function stepNames(value: string): StepName[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(onlyProblem());
  return names.map((name) => {
    const step = ALIASES[name] ?? STEP_NAMES.find((s) => s === name);
    if (!step) throw new UsageError(`--only: unknown step "${name}"; steps are ${STEP_NAMES.join(', ')} (and rss)`);
    return step;
  });
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, tokens: true });
  } catch (error) {
    throw usageError(error, argv, OPTIONS, valueProblem);
  }
  const { values, tokens } = parsed;
  const positiveInt = (flag: string, value: string | undefined) => integerFlag(flag, value, 1, positiveIntProblem) ?? null;
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) throw new UsageError(logLevelProblem(logLevel));
  const serviceNodeFlags = values['service-node-flag'] ?? [];
  const badFlag = serviceNodeFlags.find((flag) => !/^--[a-z]/.test(flag));
  if (badFlag !== undefined) throw new UsageError(serviceNodeFlagProblem(badFlag));
  if (values.out === '') throw new UsageError('--out needs a file name');
  const lastWrite = tokens.filter((t) => t.kind === 'option' && (t.name === 'write' || t.name === 'no-write')).pop();
  return {
    quick: values.quick ?? false,
    only: values.only ? values.only.flatMap(stepNames) : null,
    events: positiveInt('--events', values.events),
    hotEvents: positiveInt('--hot-events', values['hot-events']),
    batch: positiveInt('--batch', values.batch) ?? 1000,
    repeat: positiveInt('--repeat', values.repeat),
    out: values.out ?? 'BENCHMARKS.md',
    write: lastWrite?.kind === 'option' ? lastWrite.name === 'write' : null,
    cpuProf: values['cpu-prof'] ?? false,
    analyze: values.analyze ?? false,
    logLevel: logLevel ?? null,
    serviceNodeFlags,
    commitTimestamps: values['commit-timestamps'] ?? false,
    help: values.help ?? false,
  };
}

/** What a run does with its arguments and their defaults (--quick makes a smoke run of them). */
export interface RunSettings {
  events: number;
  /** Events of the hot backlog on 1 aggregate (steps/hot-aggregates.ts: the one on 10 is 2.5 times as large). */
  hotEvents: number;
  repeats: number;
  childLogLevel: string;
  serviceNodeFlags: string[];
  /** Write the table into --out: full runs do, --quick and --only runs only with --write. */
  write: boolean;
}

export function runSettings(args: BenchArgs): RunSettings {
  return {
    events: args.events ?? (args.quick ? 20_000 : 200_000),
    hotEvents: args.hotEvents ?? (args.quick ? 5_000 : 20_000),
    repeats: args.repeat ?? (args.quick ? 1 : 3),
    childLogLevel: args.logLevel ?? 'warn',
    serviceNodeFlags: args.serviceNodeFlags,
    write: args.write ?? (!args.quick && !args.only),
  };
}

export function selectSteps(args: Pick<BenchArgs, 'only'>, log: (line: string) => void): StepName[] {
  return withRawLimits(STEP_NAMES, NEEDS, args.only, log);
}

/**
 * The steps `only` names (all when unset), in the order of `names`, with the raw-limit step each one's figure is
 * compared against (`needs`) added and said so. Shared by `npm run bench` and `npm run bench:ha`.
 */
export function withRawLimits<Name extends string>(
  names: readonly Name[],
  needs: Partial<Record<Name, Name>>,
  only: readonly Name[] | null | undefined,
  log: (line: string) => void,
): Name[] {
  if (!only) return [...names];
  const chosen = new Set(only);
  for (const name of only) {
    const needed = needs[name];
    if (needed && !chosen.has(needed)) {
      chosen.add(needed);
      log(`(--only ${name}: adding ${needed}, the raw limit it is compared against)`);
    }
  }
  return names.filter((name) => chosen.has(name));
}
