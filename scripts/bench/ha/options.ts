// Command-line options of scripts/bench/ha.ts (see HA_HELP). Bad flags raise UsageError, which exits 2.
import { parseArgs } from 'node:util';
import { integerFlag, UsageError, usageError, type ValueProblem } from '../lib/flags';
import { withRawLimits } from '../lib/options';

export const HA_HELP = `Usage: npm run bench:ha -- [options]        (run npm run build first)
       node -r ./test/support/register-ts.cjs scripts/bench/ha.ts [options]        (the same, from the repository root)

Against a private 3-node JetStream cluster (nats-server processes started and removed by the run) and the machine's
Postgres, in one run: the relay's drain of a backlog to an R3 and to an R1 stream against raw publish loops to R3;
commit → subscriber latency at a steady rate on R3; the publishing stall per kill -9 of the stream's leader (and per
graceful stop of it, as a rolling update does).

  --events <n>    events of the backlog drains and of the raw publish loops (default 100000; --quick 20000)
  --rate <n>      events/s of the latency step and of the writes during the kills (default 1000)
  --seconds <n>   measured seconds of the latency step (default 20; --quick 5)
  --kills <n>     kill -9 of the stream leader, each followed by a restart (default 3; --quick 1)
  --only <names>  comma-separated subset of the steps: raw, drain, latency, kill (drain adds raw: its limit)
  --quick         small sizes, a smoke run: figures not representative
  --help

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). The cluster's servers: nats-server
(/usr/sbin/nats-server, or NATS_SERVER_BIN). Exit status: 0 when every step ran (a MISS is a result, not a failure),
1 when a step failed or lost events, 2 on bad flags.`;

/** The steps of an HA run, in the order they run (ha.ts keeps the list of their implementations). */
export const HA_STEP_NAMES = ['raw', 'drain', 'latency', 'kill'] as const;
export type HaStepName = (typeof HA_STEP_NAMES)[number];
/** A figure is only meaningful next to its raw limit from the same run. */
const NEEDS: Partial<Record<HaStepName, HaStepName>> = { drain: 'raw' };

export interface HaArgs {
  events: number;
  rate: number;
  seconds: number;
  kills: number;
  quick: boolean;
  only: HaStepName[] | null;
  help: boolean;
}

const OPTIONS = {
  events: { type: 'string' },
  rate: { type: 'string' },
  seconds: { type: 'string' },
  kills: { type: 'string' },
  only: { type: 'string' },
  quick: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const onlyProblem = () => `--only needs step names: ${HA_STEP_NAMES.join(', ')}`;
const valueProblem: ValueProblem = (flag, value) => (flag === '--only' ? onlyProblem() : `${flag} needs a positive integer, got "${value ?? ''}"`);

function stepNames(value: string): HaStepName[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(onlyProblem());
  return names.map((name) => {
    const step = HA_STEP_NAMES.find((s) => s === name);
    if (!step) throw new UsageError(`--only: unknown step "${name}"; steps are ${HA_STEP_NAMES.join(', ')}`);
    return step;
  });
}

export function parseHaArgs(argv: string[]): HaArgs {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (error) {
    throw usageError(error, argv, OPTIONS, valueProblem);
  }
  const int = (flag: 'events' | 'rate' | 'seconds' | 'kills') => integerFlag(`--${flag}`, values[flag], 1, valueProblem);
  const quick = values.quick ?? false;
  return {
    events: int('events') ?? (quick ? 20_000 : 100_000),
    rate: int('rate') ?? 1000,
    seconds: int('seconds') ?? (quick ? 5 : 20),
    kills: int('kills') ?? (quick ? 1 : 3),
    quick,
    only: values.only === undefined ? null : stepNames(values.only),
    help: values.help ?? false,
  };
}

/** The steps to run, in order: `--only`'s, with the raw limit a figure is compared against. */
export function selectHaSteps(args: Pick<HaArgs, 'only'>, log: (line: string) => void): HaStepName[] {
  return withRawLimits(HA_STEP_NAMES, NEEDS, args.only, log);
}
