// The benchmark's command lines are read by node:util's parseArgs in strict mode, which refuses unknown flags,
// missing values and values given to switches. Its refusals become UsageError (exit 2) that name the flag as the
// scripts always have; the flag is found by reading the same arguments again, leniently.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the script prints the message and exits 2. */
export class UsageError extends Error {}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Says what a string flag lacks when it has no value, or one that looks like another flag. */
export type ValueProblem = (flag: string, value: string | undefined) => string;

/** `error` as a UsageError when it is a refusal of parseArgs (anything else is returned as it is). */
export function usageError(error: unknown, argv: string[], options: OptionsConfig, valueProblem: ValueProblem): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return error;
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') return new UsageError(`unknown option "${token.value}" (see --help)`);
    if (token.kind !== 'option') continue;
    const option = options[token.name];
    if (!option) return new UsageError(`unknown option "${argv[token.index]}" (see --help)`);
    if (option.type === 'boolean' && token.value !== undefined) return new UsageError(`${token.rawName} takes no value, got "${token.value}"`);
    if (option.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
      return new UsageError(valueProblem(token.rawName, token.value));
    }
  }
  return new UsageError((error as Error).message);
}

/** A whole number of at least `min` from a flag's value (undefined when the flag was not given). */
export function integerFlag(flag: string, value: string | undefined, min: number, problem: ValueProblem): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(problem(flag, value));
  return Number(value);
}

/**
 * What `parse` makes of this process's arguments; null after printing `help` when they asked for it. On a
 * UsageError: `<script>: <message>` on stderr and exit 2.
 */
export function commandLine<T extends { help: boolean }>(script: string, help: string, parse: (argv: string[]) => T): T | null {
  let args: T;
  try {
    args = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${script}: ${error.message}\n`);
    process.exit(2);
  }
  if (!args.help) return args;
  process.stdout.write(`${help}\n`);
  return null;
}
