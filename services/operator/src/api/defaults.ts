import { SPEC_DEFAULTS } from './limits';
import type { OutboxRelaySpec } from './types';

/** A spec as a client might send it: the API server fills in the defaults, but not every server (or fake) does. */
export type OutboxRelaySpecInput = Partial<Omit<OutboxRelaySpec, 'database' | 'nats'>> & {
  database?: Partial<OutboxRelaySpec['database']>;
  nats?: Partial<OutboxRelaySpec['nats']>;
};

/**
 * Applies the CRD's defaults in code, so reconcile sees the same spec whether or not the API server defaulted it.
 * Required fields that are missing stay missing (empty strings); validate.ts reports them.
 */
export function withDefaults(input: OutboxRelaySpecInput | undefined): OutboxRelaySpec {
  const spec = input ?? {};
  const d = SPEC_DEFAULTS;
  const database = spec.database ?? {};
  const nats = spec.nats ?? {};
  return {
    ...spec,
    replicas: spec.replicas ?? d.replicas,
    database: {
      secretRef: { name: database.secretRef?.name ?? '', key: database.secretRef?.key ?? '' },
      schema: database.schema ?? d.databaseSchema,
      confirmingStandbys: database.confirmingStandbys ?? d.databaseConfirmingStandbys,
    },
    nats: {
      ...nats,
      url: nats.url ?? '',
      stream: nats.stream ?? d.natsStream,
      subjectPrefix: nats.subjectPrefix ?? d.natsSubjectPrefix,
      duplicateWindowSeconds: nats.duplicateWindowSeconds ?? d.duplicateWindowSeconds,
      messageHeaders: nats.messageHeaders ?? d.natsMessageHeaders,
      streamManagement: nats.streamManagement ?? d.natsStreamManagement,
    },
    batchSize: spec.batchSize ?? d.batchSize,
    publishWindow: spec.publishWindow ?? d.publishWindow,
    batchMaxBytes: spec.batchMaxBytes ?? d.batchMaxBytes,
    leaseDurationMs: spec.leaseDurationMs ?? d.leaseDurationMs,
    renewIntervalMs: spec.renewIntervalMs ?? d.renewIntervalMs,
    failoverDelaySeconds: spec.failoverDelaySeconds ?? d.failoverDelaySeconds,
    paused: spec.paused ?? d.paused,
    logLevel: spec.logLevel ?? d.logLevel,
  };
}
