// Command-line options of scripts/bench/run.mjs (see HELP). Bad flags raise UsageError, which exits 2.

/** Steps in the order they run. */
export const STEP_NAMES = ['tx', 'publish', 'http', 'drain', 'e2e', 'failover', 'scale'];
/** A figure is only meaningful next to its raw limit from the same run. */
const NEEDS = { http: 'tx', drain: 'publish', scale: 'publish' };
const ALIASES = { rss: 'drain' };
/** pino's levels, which every service's LOG_LEVEL accepts. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export const HELP = `Usage: node scripts/bench/run.mjs [options]        (npm run bench -- [options]; run npm run build first)

  --quick            small sizes and short durations: a smoke run, figures not representative
  --only <names>     comma-separated subset of: ${STEP_NAMES.join(', ')} (rss = drain); a step's raw
                     limit is added when missing (http needs tx, drain needs publish)
  --events <n>       events for the raw publish and the drain backlog (default 200000, --quick 20000)
  --batch <n>        relay OUTBOX_BATCH_SIZE for the drain (default 1000, the product default)
  --repeat <n>       raw publish and drain runs whose medians are reported (default 3, --quick 1)
  --out <file>       where the generated table goes (default BENCHMARKS.md)
  --write            write the table even for --quick or --only runs (default: only full runs write)
  --no-write         print only
  --analyze          ANALYZE the drain backlog before the relay starts (by default the relay meets it with the
                     planner statistics of a fresh table, as after a sudden backlog)
  --cpu-prof         start the services with node --cpu-prof; prints a summary of each profile and keeps them
  --log-level <lvl>  LOG_LEVEL of the services the run starts (default warn: their logs are not measured) and
                     keep their logs after the run, e.g. --only scale --log-level debug to trace a hand-over
  --help

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), NATS_URL (default nats://127.0.0.1:4222).
Exit status: 0 when every step ran (a MISS is a result, not a failure), 1 when a step failed or lost events, 2 on bad flags.`;

export class UsageError extends Error {}

function positiveInt(flag, value) {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} needs a positive integer, got "${value ?? ''}"`);
  return Number(value);
}

export function parseArgs(argv) {
  const args = { quick: false, only: null, events: null, batch: 1000, out: 'BENCHMARKS.md', write: null, cpuProf: false, analyze: false, logLevel: null, repeat: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick': args.quick = true; break;
      case '--only': {
        const names = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (names.length === 0) throw new UsageError(`--only needs step names: ${STEP_NAMES.join(', ')}`);
        for (const name of names) {
          if (!STEP_NAMES.includes(name) && !(name in ALIASES)) throw new UsageError(`--only: unknown step "${name}"; steps are ${STEP_NAMES.join(', ')} (and rss)`);
        }
        args.only = [...(args.only ?? []), ...names.map((n) => ALIASES[n] ?? n)];
        break;
      }
      case '--events': args.events = positiveInt('--events', value()); break;
      case '--batch': args.batch = positiveInt('--batch', value()); break;
      case '--repeat': args.repeat = positiveInt('--repeat', value()); break;
      case '--out': args.out = value() ?? ''; if (!args.out) throw new UsageError('--out needs a file name'); break;
      case '--write': args.write = true; break;
      case '--no-write': args.write = false; break;
      case '--cpu-prof': args.cpuProf = true; break;
      case '--analyze': args.analyze = true; break;
      case '--log-level': {
        const level = value();
        if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level needs one of ${LOG_LEVELS.join(', ')}, got "${level ?? ''}"`);
        args.logLevel = level;
        break;
      }
      case '--help': case '-h': args.help = true; break;
      default: throw new UsageError(`unknown option "${arg}" (see --help)`);
    }
  }
  return args;
}

export function selectSteps(args, log) {
  if (!args.only) return [...STEP_NAMES];
  const chosen = new Set(args.only);
  for (const name of args.only) {
    const needed = NEEDS[name];
    if (needed && !chosen.has(needed)) {
      chosen.add(needed);
      log(`(--only ${name}: adding ${needed}, the raw limit it is compared against)`);
    }
  }
  return STEP_NAMES.filter((name) => chosen.has(name));
}
