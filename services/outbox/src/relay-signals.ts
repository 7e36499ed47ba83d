/**
 * What is said on the relays' LISTEN/NOTIFY channel (`outboxTables(schema).channel`), in one place: writers,
 * leases, the balancer, `configurePartitions` and outboxctl send these; every relay listens. A payload nobody
 * knows counts as `wake` (an older or newer sender still wakes the relays).
 */
export type RelaySignal =
  /** New events (or replayed ones) are pending: publish now instead of at the next poll. */
  | { kind: 'wake' }
  /** A lease was released: a follower may take it at once instead of waiting for it to expire. */
  | { kind: 'released'; partition: number }
  /** A relay joined: the others hand over their surplus partitions now. */
  | { kind: 'joined'; instanceId: string }
  /** An operator asked the holder of `partition` to step down (outboxctl step-down, the Kubernetes operator). */
  | { kind: 'step-down'; partition: number }
  /** The partition count changed (configurePartitions): relays take new partitions up and give removed ones up. */
  | { kind: 'partitions'; count: number };

/**
 * The payload prefixes, for SQL that builds a payload in the statement (`pg_notify(channel, $prefix || partition)`)
 * so that the NOTIFY commits with the change it announces.
 */
export const RELAY_SIGNAL_PREFIX = {
  released: 'released:',
  joined: 'joined:',
  stepDown: 'step-down:',
  partitions: 'partitions:',
} as const;

export const WAKE_PAYLOAD = 'wake';

export function relaySignalPayload(signal: RelaySignal): string {
  switch (signal.kind) {
    case 'wake':
      return WAKE_PAYLOAD;
    case 'released':
      return `${RELAY_SIGNAL_PREFIX.released}${signal.partition}`;
    case 'joined':
      return `${RELAY_SIGNAL_PREFIX.joined}${signal.instanceId}`;
    case 'step-down':
      return `${RELAY_SIGNAL_PREFIX.stepDown}${signal.partition}`;
    case 'partitions':
      return `${RELAY_SIGNAL_PREFIX.partitions}${signal.count}`;
  }
}

export function parseRelaySignal(payload: string | null | undefined): RelaySignal {
  const text = payload ?? '';
  const rest = (prefix: string) => (text.startsWith(prefix) ? text.slice(prefix.length) : null);
  const number = (value: string | null) => (value !== null && /^\d+$/.test(value) ? Number(value) : null);
  const released = number(rest(RELAY_SIGNAL_PREFIX.released));
  if (released !== null) return { kind: 'released', partition: released };
  const joined = rest(RELAY_SIGNAL_PREFIX.joined);
  if (joined !== null && joined !== '') return { kind: 'joined', instanceId: joined };
  const stepDown = number(rest(RELAY_SIGNAL_PREFIX.stepDown));
  if (stepDown !== null) return { kind: 'step-down', partition: stepDown };
  const count = number(rest(RELAY_SIGNAL_PREFIX.partitions));
  if (count !== null && count > 0) return { kind: 'partitions', count };
  return { kind: 'wake' };
}
