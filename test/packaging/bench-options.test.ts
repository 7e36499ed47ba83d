/**
 * The benchmark's command line (scripts/bench/lib/options.ts): node:util's parseArgs in strict mode, its refusals
 * a UsageError that names the flag (run.ts exits 2 with it), and what --quick and --only make of a run.
 */
import { parseBenchArgs, runSettings, selectSteps, STEP_NAMES, UsageError } from '../../scripts/bench/lib/options';

const refusal = (argv: string[]) => {
  try {
    parseBenchArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

test('a bad flag is refused naming it', () => {
  expect(refusal(['--quick', '--bogus'])).toBe('unknown option "--bogus" (see --help)');
  expect(refusal(['--bogus=3'])).toBe('unknown option "--bogus=3" (see --help)');
  expect(refusal(['drain'])).toBe('unknown option "drain" (see --help)');
  expect(refusal(['--events'])).toBe('--events needs a positive integer, got ""');
  expect(refusal(['--events', '--quick'])).toBe('--events needs a positive integer, got "--quick"');
  expect(refusal(['--batch', '0'])).toBe('--batch needs a positive integer, got "0"');
  expect(refusal(['--hot-events', '1e4'])).toBe('--hot-events needs a positive integer, got "1e4"');
  expect(refusal(['--only', 'tx,nope'])).toBe('--only: unknown step "nope"; steps are tx, publish, http, drain, hot, e2e, failover, scale (and rss)');
  expect(refusal(['--only='])).toBe(`--only needs step names: ${STEP_NAMES.join(', ')}`);
  expect(refusal(['--log-level', 'loud'])).toBe('--log-level needs one of fatal, error, warn, info, debug, trace, got "loud"');
  expect(refusal(['--out='])).toBe('--out needs a file name');
  expect(refusal(['--quick=yes'])).toBe('--quick takes no value, got "yes"');
  expect(refusal(['--service-node-flag=max-old-space-size=64'])).toBe(
    '--service-node-flag needs a Node flag written with "=", e.g. --service-node-flag=--max-semi-space-size=8, got "max-old-space-size=64"',
  );
});

test('--service-node-flag passes Node flags, in order, to the services the run starts', () => {
  const args = parseBenchArgs(['--service-node-flag=--max-semi-space-size=8', '--service-node-flag=--max-old-space-size=96']);
  expect(runSettings(args).serviceNodeFlags).toEqual(['--max-semi-space-size=8', '--max-old-space-size=96']);
});

test('--quick is a smoke run: small sizes, one repeat, nothing written unless --write', () => {
  const quick = parseBenchArgs(['--quick']);
  expect(runSettings(quick)).toEqual({ events: 20_000, hotEvents: 5_000, repeats: 1, childLogLevel: 'warn', serviceNodeFlags: [], write: false });
  expect(runSettings(parseBenchArgs(['--quick', '--write'])).write).toBe(true);
  expect(runSettings(parseBenchArgs(['--quick', '--events=5000', '--repeat', '2'])).events).toBe(5000);
  expect(runSettings(parseBenchArgs(['--quick', '--hot-events', '3000'])).hotEvents).toBe(3000);
  expect(runSettings(parseBenchArgs([]))).toEqual({ events: 200_000, hotEvents: 20_000, repeats: 3, childLogLevel: 'warn', serviceNodeFlags: [], write: true });
  // The last of --write and --no-write counts.
  expect(parseBenchArgs(['--write', '--no-write']).write).toBe(false);
  expect(parseBenchArgs(['--no-write', '--write']).write).toBe(true);
  expect(parseBenchArgs(['-h']).help).toBe(true);
  expect(parseBenchArgs(['--commit-timestamps']).commitTimestamps).toBe(true);
  expect(parseBenchArgs([]).commitTimestamps).toBe(false);
});

test('--only adds the raw limits its steps are compared against, and keeps the steps in their order', () => {
  const said: string[] = [];
  const args = parseBenchArgs(['--only', 'scale,http', '--only', 'rss']);
  expect(args.only).toEqual(['scale', 'http', 'drain']);
  expect(selectSteps(args, (line) => said.push(line))).toEqual(['tx', 'publish', 'http', 'drain', 'scale']);
  expect(said).toEqual(['(--only scale: adding publish, the raw limit it is compared against)', '(--only http: adding tx, the raw limit it is compared against)']);
  expect(runSettings(args).write).toBe(false);
  expect(selectSteps(parseBenchArgs(['--only', 'tx']), () => undefined)).toEqual(['tx']);
  // hot measures its own raw bounds (the awaiting loops), so it needs no other step; it runs before e2e.
  expect(selectSteps(parseBenchArgs(['--only', 'e2e,hot']), () => undefined)).toEqual(['hot', 'e2e']);
  expect(selectSteps(parseBenchArgs([]), () => undefined)).toEqual([...STEP_NAMES]);
});
