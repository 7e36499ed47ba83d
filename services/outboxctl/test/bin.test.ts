import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createCtlDb, type CtlDb } from './support';

const BIN = path.resolve(__dirname, '..', 'dist', 'main.js');

/** Runs the built binary as a real process with exactly `env` (plus PATH). */
function runBin(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(BIN)) throw new Error('services/outboxctl/dist/main.js is not built: run `npm run build` (make test does)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let db: CtlDb;
beforeAll(async () => {
  db = await createCtlDb('ctl_bin');
});
afterAll(async () => {
  await db.drop();
});

describe('the outboxctl binary (dist/main.js)', () => {
  it('exits with run()’s code: 0 with output on success, 2 on a usage error, 2 without configuration', async () => {
    const ok = await runBin(['status', '--json'], db.env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).partitions).toEqual([expect.objectContaining({ partition: 0, pending: 0 })]);

    const usage = await runBin(['dlq', 'show', '12'], db.env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('invalid dead-letter id "12"');

    const unconfigured = await runBin(['status'], {});
    expect(unconfigured.code).toBe(2);
    expect(unconfigured.stderr).toContain('--database-url / DATABASE_URL: is required');

    const notFound = await runBin(['dlq', 'show', 'c5'], db.env);
    expect(notFound.code).toBe(3);
  });
});
