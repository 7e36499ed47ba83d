import type { StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { OutboxError } from '../errors';

/** Where a stream's messages live: files (survive a restart) or memory (faster, lost with the server). */
export const STREAM_STORAGE_TYPES = ['file', 'memory'] as const;
export type StreamStorage = (typeof STREAM_STORAGE_TYPES)[number];

/** What a full stream does: drop its oldest messages, or refuse new ones (the relay then retries them). */
export const STREAM_DISCARD_POLICIES = ['old', 'new'] as const;
export type StreamDiscard = (typeof STREAM_DISCARD_POLICIES)[number];

/**
 * Who owns the stream: `create` (the relay creates it when missing, adds its subjects and widens a short
 * duplicate window), or `verify` (a platform team declares it, with NACK or the nats CLI; the relay only checks
 * it and never writes its configuration).
 */
export const STREAM_MANAGEMENT_MODES = ['create', 'verify'] as const;
export type StreamManagement = (typeof STREAM_MANAGEMENT_MODES)[number];

/**
 * Limits the relay gives a stream it creates. An absent field is the server's default (one replica, file storage,
 * no limit, discard old) and is never compared with an existing stream. A limit of 0 means no limit.
 */
export interface StreamLimits {
  replicas?: number;
  storage?: StreamStorage;
  maxAgeMs?: number;
  maxBytes?: number;
  maxMsgs?: number;
  discard?: StreamDiscard;
}

/** The environment variable of each limit, so that every message names what to change. */
export const streamLimitVariables: Record<keyof StreamLimits, string> = {
  replicas: 'OUTBOX_STREAM_REPLICAS',
  storage: 'OUTBOX_STREAM_STORAGE',
  maxAgeMs: 'OUTBOX_STREAM_MAX_AGE_MS',
  maxBytes: 'OUTBOX_STREAM_MAX_BYTES',
  maxMsgs: 'OUTBOX_STREAM_MAX_MSGS',
  discard: 'OUTBOX_STREAM_DISCARD',
};

/** The configured limits in the server's terms (nanoseconds; -1 for "no limit" in bytes and messages). */
export function streamLimitsConfig(limits: StreamLimits): Partial<StreamConfig> {
  const config: Partial<StreamConfig> = {};
  if (limits.replicas !== undefined) config.num_replicas = limits.replicas;
  if (limits.storage !== undefined) config.storage = limits.storage as StreamConfig['storage'];
  if (limits.maxAgeMs !== undefined) config.max_age = nanos(limits.maxAgeMs);
  if (limits.maxBytes !== undefined) config.max_bytes = limits.maxBytes === 0 ? -1 : limits.maxBytes;
  if (limits.maxMsgs !== undefined) config.max_msgs = limits.maxMsgs === 0 ? -1 : limits.maxMsgs;
  if (limits.discard !== undefined) config.discard = limits.discard as StreamConfig['discard'];
  return config;
}

/** A configured limit that an existing stream does not have; reported, never applied to that stream. */
export interface StreamLimitDifference {
  setting: string;
  configured: string | number;
  found: string | number;
}

/** How an existing stream differs from the configured limits (only the configured ones are compared). */
export function streamLimitDifferences(limits: StreamLimits, found: StreamConfig): StreamLimitDifference[] {
  const wanted = streamLimitsConfig(limits);
  const pairs: Array<[keyof StreamLimits, keyof StreamConfig, (v: unknown) => string | number]> = [
    ['replicas', 'num_replicas', (v) => Number(v ?? 1)],
    ['storage', 'storage', (v) => String(v)],
    ['maxAgeMs', 'max_age', (v) => Number(v ?? 0) / 1e6],
    ['maxBytes', 'max_bytes', (v) => (Number(v) <= 0 ? 0 : Number(v))],
    ['maxMsgs', 'max_msgs', (v) => (Number(v) <= 0 ? 0 : Number(v))],
    ['discard', 'discard', (v) => String(v)],
  ];
  const differences: StreamLimitDifference[] = [];
  for (const [limit, field, show] of pairs) {
    if (wanted[field] === undefined) continue;
    const configured = show(wanted[field]);
    const existing = show(found[field]);
    if (configured !== existing) differences.push({ setting: streamLimitVariables[limit], configured, found: existing });
  }
  return differences;
}

/**
 * True when every subject matching `subject` also matches the stream subject filter `filter` (NATS wildcards:
 * `*` one token, `>` one or more trailing tokens). A stream covers the relay when one of its filters does.
 */
export function subjectFilterCovers(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return i < s.length;
    if (i >= s.length) return false;
    if (f[i] === '*') {
      if (s[i] === '>') return false;
      continue;
    }
    if (f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** What is wrong with the stream, for code that acts on it (e.g. the operator's condition reason). */
export type StreamProblem = 'missing' | 'subjects' | 'duplicate-window' | 'overlap';

/**
 * The stream does not fit the relay's configuration, and the relay will not change it (verify mode), or cannot
 * (another stream holds the subjects). A configuration error: retrying cannot help, so
 * processes report it in one line and exit with the configuration exit code (2).
 */
export class StreamConfigError extends OutboxError {
  readonly stream: string;
  readonly problem: StreamProblem;
  /** The setting to change (an environment variable of the relay, or the stream's own field). */
  readonly setting: string;
  readonly expected: string;
  readonly found: string;
  /** The other stream whose subjects overlap the relay's (problem `overlap`). */
  readonly otherStream?: string;
  constructor(fields: { stream: string; problem: StreamProblem; setting: string; expected: string; found: string; otherStream?: string; cause?: unknown }) {
    super(
      `stream "${fields.stream}" does not fit the relay (${fields.setting}): expected ${fields.expected}, found ${fields.found}`,
      { cause: fields.cause },
    );
    this.stream = fields.stream;
    this.problem = fields.problem;
    this.setting = fields.setting;
    this.expected = fields.expected;
    this.found = fields.found;
    this.otherStream = fields.otherStream;
  }
}
