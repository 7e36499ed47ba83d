/** Where the test suite finds its services; `.ci/run` and `make test` start them when they are down. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A name unique to this test file and run, safe as SQL identifier and NATS token (lower-case, digits, _). */
export function uniqueName(prefix: string): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${random}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
