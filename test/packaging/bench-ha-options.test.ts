/**
 * The HA benchmark's command line (scripts/bench/ha/options.ts): refusals name the flag (ha.ts exits 2 with them),
 * --quick makes a smoke run, and --only adds the raw limit a figure is compared against.
 */
import { HA_STEP_NAMES, parseHaArgs, selectHaSteps } from '../../scripts/bench/ha/options';
import { UsageError } from '../../scripts/bench/lib/flags';

const refusal = (argv: string[]) => {
  try {
    parseHaArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

test('a bad flag is refused naming it', () => {
  expect(refusal(['--bogus'])).toBe('unknown option "--bogus" (see --help)');
  expect(refusal(['--events', '0'])).toBe('--events needs a positive integer, got "0"');
  expect(refusal(['--kills', '--quick'])).toBe('--kills needs a positive integer, got "--quick"');
  expect(refusal(['--only', 'raw,nope'])).toBe('--only: unknown step "nope"; steps are raw, drain, latency, kill');
  expect(refusal(['--only='])).toBe(`--only needs step names: ${HA_STEP_NAMES.join(', ')}`);
});

test('defaults, and --quick as a smoke run', () => {
  expect(parseHaArgs([])).toEqual({ events: 100_000, rate: 1000, seconds: 20, kills: 3, quick: false, only: null, help: false });
  expect(parseHaArgs(['--quick'])).toMatchObject({ events: 20_000, seconds: 5, kills: 1, quick: true });
  expect(parseHaArgs(['--quick', '--events', '5000'])).toMatchObject({ events: 5000 });
});

test('--only keeps the order of the run and adds the raw limit of the drain', () => {
  const said: string[] = [];
  expect(selectHaSteps(parseHaArgs(['--only', 'kill,drain']), (line) => said.push(line))).toEqual(['raw', 'drain', 'kill']);
  expect(said).toEqual(['(--only drain: adding raw, the raw limit it is compared against)']);
  expect(selectHaSteps(parseHaArgs([]), () => undefined)).toEqual([...HA_STEP_NAMES]);
});
