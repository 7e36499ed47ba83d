import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { JetStreamApiCode, jetStreamApiCode } from './jetstream-codes';
import {
  StreamConfigError,
  streamLimitDifferences,
  streamLimitsConfig,
  subjectFilterCovers,
  type StreamLimitDifference,
  type StreamLimits,
  type StreamManagement,
} from './stream-config';

export interface StreamSpec {
  name: string;
  subjectPrefix: string;
  /** The window the relay creates the stream with (and widens a shorter one to, in `create` mode). */
  duplicateWindowMs: number;
  /** `create` (default) or `verify`: see STREAM_MANAGEMENT_MODES. */
  management?: StreamManagement;
  /**
   * The shortest window the relay's timings allow (10 x lease, relayTimingIssues); what `verify` requires of a
   * stream it may not widen. Default: `duplicateWindowMs`.
   */
  minDuplicateWindowMs?: number;
  /** Limits of a stream the relay creates; compared with an existing stream, never applied to it. */
  limits?: StreamLimits;
}

/** Who owns the stream and the limits of one the process creates: what every caller of ensureStream passes on. */
export type StreamOwnership = Pick<StreamSpec, 'management' | 'limits' | 'minDuplicateWindowMs'>;

export type EnsureStreamOutcome = 'created' | 'updated' | 'unchanged';

export interface StreamReport {
  outcome: EnsureStreamOutcome;
  /** Configured limits an existing stream does not have (left as they are: the stream's owner decides). */
  differences: StreamLimitDifference[];
  /** The stream's last sequence when it was looked at (0 for a stream just created): every later message is stored after it. */
  lastSeq: number;
}

/**
 * Creates the stream if missing; if it exists, checks that it captures our subjects and widens a duplicate
 * window that is shorter than configured (a short window would let a successor's re-publish through). Every
 * process that publishes or consumes may call it first (relays, the payment worker, subscribers): a creation that
 * another process won meanwhile is looked at again, not an error. In `verify` mode it only checks.
 * Throws StreamConfigError when the stream cannot fit (see ensureStreamReport).
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<EnsureStreamOutcome> {
  return (await ensureStreamReport(jsm, spec)).outcome;
}

/** `ensureStream`, also telling which configured limits the existing stream lacks. */
export async function ensureStreamReport(jsm: JetStreamManager, spec: StreamSpec): Promise<StreamReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ensureStreamOnce(jsm, spec);
    } catch (error) {
      if (jetStreamApiCode(error) !== JetStreamApiCode.streamNameInUse || attempt >= 3) throw error;
    }
  }
}

async function ensureStreamOnce(jsm: JetStreamManager, spec: StreamSpec): Promise<StreamReport> {
  const subject = `${spec.subjectPrefix}.>`;
  const verifying = spec.management === 'verify';
  const limits = spec.limits ?? {};
  const info = await jsm.streams.info(spec.name).catch((error: unknown) => {
    if (jetStreamApiCode(error) === JetStreamApiCode.streamNotFound) return null;
    throw error;
  });
  if (!info) {
    if (verifying) {
      throw new StreamConfigError({ stream: spec.name, problem: 'missing', setting: 'OUTBOX_STREAM', expected: `a stream named "${spec.name}" declared by its owner (OUTBOX_STREAM_MANAGEMENT=verify never creates one)`, found: 'no such stream' });
    }
    const config: Partial<StreamConfig> & { name: string } = { ...streamLimitsConfig(limits), name: spec.name, subjects: [subject], duplicate_window: nanos(spec.duplicateWindowMs) };
    await overlapsAsConfigError(jsm, spec, subject, jsm.streams.add(config));
    return { outcome: 'created', differences: [], lastSeq: 0 };
  }
  const subjects = info.config.subjects ?? [];
  const window = info.config.duplicate_window;
  const differences = streamLimitDifferences(limits, info.config);
  const lastSeq = info.state.last_seq;
  const covered = subjects.some((filter) => subjectFilterCovers(filter, subject));
  const required = spec.minDuplicateWindowMs ?? spec.duplicateWindowMs;
  if (verifying) {
    if (!covered) {
      throw new StreamConfigError({ stream: spec.name, problem: 'subjects', setting: 'OUTBOX_SUBJECT_PREFIX', expected: `subjects covering "${subject}"`, found: `subjects ${JSON.stringify(subjects)}` });
    }
    if (window < nanos(required)) {
      throw new StreamConfigError({ stream: spec.name, problem: 'duplicate-window', setting: 'duplicate_window', expected: `a duplicate window of at least ${required} ms (10 x OUTBOX_LEASE_MS)`, found: `${window / 1e6} ms` });
    }
    return { outcome: 'unchanged', differences, lastSeq };
  }
  const needsWindow = window < nanos(spec.duplicateWindowMs);
  if (covered && !needsWindow) return { outcome: 'unchanged', differences, lastSeq };
  // Only what publishing needs is changed; limits the stream's owner set stay theirs.
  const update = jsm.streams.update(spec.name, {
    subjects: covered ? subjects : [...subjects, subject],
    duplicate_window: needsWindow ? nanos(spec.duplicateWindowMs) : window,
  });
  await overlapsAsConfigError(jsm, spec, subject, update);
  return { outcome: 'updated', differences, lastSeq };
}

/** `request`, with the server's "subjects overlap" refusal turned into a StreamConfigError naming the other stream. */
async function overlapsAsConfigError(jsm: JetStreamManager, spec: StreamSpec, subject: string, request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (jetStreamApiCode(error) !== JetStreamApiCode.subjectsOverlap) throw error;
    const others = (await jsm.streams.names(subject).next().catch(() => [] as string[])).filter((name) => name !== spec.name);
    const other = others[0];
    throw new StreamConfigError({
      stream: spec.name,
      problem: 'overlap',
      setting: 'OUTBOX_SUBJECT_PREFIX',
      expected: `subjects "${subject}" held by no other stream`,
      found: other ? `stream "${other}" already captures them` : 'another stream already captures them',
      otherStream: other,
      cause: error,
    });
  }
}
