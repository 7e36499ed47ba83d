import { TEST_DATABASE_URL, TEST_NATS_URL } from '@outbox-relay/test-support';

/** Where a payment worker process under test keeps and finds its data. */
export interface WorkerSchemas {
  outboxSchema: string;
  inboxSchema: string;
  paymentsSchema: string;
  stream: string;
  subjectPrefix: string;
}

/**
 * The environment every payment worker process of the tests starts with: the test's schemas and stream, its own
 * migrations, and short relay timings. Each test adds what it is about (retries, gateway behaviour, ports).
 */
export function workerProcessEnv(s: WorkerSchemas): Record<string, string> {
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    NATS_URL: TEST_NATS_URL,
    OUTBOX_SCHEMA: s.outboxSchema,
    INBOX_SCHEMA: s.inboxSchema,
    PAYMENTS_SCHEMA: s.paymentsSchema,
    OUTBOX_STREAM: s.stream,
    OUTBOX_SUBJECT_PREFIX: s.subjectPrefix,
    OUTBOX_MIGRATE: 'true',
    OUTBOX_LEASE_MS: '1000',
    OUTBOX_RENEW_MS: '200',
    OUTBOX_POLL_MS: '50',
    OUTBOX_DUPLICATE_WINDOW_MS: '20000',
  };
}
