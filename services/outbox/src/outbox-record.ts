/**
 * One unpublished event as the relay reads it: relay/ reads and marks it, publish/ turns it into a message.
 */
export interface OutboxRecord {
  seq: string;
  id: string;
  partition: number;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  /** The payload's JSON text, published as is (no parse/serialize round trip). */
  payload: string;
  headers: Record<string, string>;
  createdAt: Date;
}
