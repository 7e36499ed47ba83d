/** Latencies from 1 ms to 10 s: commit → ack, HTTP requests. */
export const LATENCY_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Events per publish batch, up to the largest OUTBOX_BATCH_SIZE (10 000). */
export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];
