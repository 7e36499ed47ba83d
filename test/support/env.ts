/**
 * Where the suite finds its services. The machine's own servers by default (`make services` and `.ci/run` start
 * them when they are down); DATABASE_URL / NATS_URL point elsewhere; where neither answers, the test run's global
 * setup starts containers and sets both variables before any test file loads (test-services.ts).
 */
export const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const LOCAL_NATS_URL = 'nats://127.0.0.1:4222';
export const TEST_DATABASE_URL = process.env.DATABASE_URL || LOCAL_DATABASE_URL;
export const TEST_NATS_URL = process.env.NATS_URL || LOCAL_NATS_URL;

/** A name unique to this test file and run, safe as SQL identifier and NATS token (lower-case, digits, _). */
export function uniqueName(prefix: string): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${random}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
