/** Latencies from 1 ms to 10 s: commit → ack, HTTP requests. */
export const LATENCY_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Events per publish batch, up to the largest OUTBOX_BATCH_SIZE (10 000). */
export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

/**
 * Stages of a publish, from 0.25 ms to 5 s: a stage of a healthy relay takes a fraction of a millisecond to a few,
 * and a tail is read from these buckets, so they are denser than LATENCY_SECONDS_BUCKETS where the tails are.
 */
export const STAGE_SECONDS_BUCKETS = [0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 5];
