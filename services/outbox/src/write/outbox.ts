import type { ClientBase, Pool, PoolClient } from 'pg';
import type { Logger } from '@outbox-relay/runtime';
import { type AtomicWriteResult, type BusinessStatement, enqueue, type EnqueueOptions, type EnqueuedEvent, writeAtomically } from './enqueue';
import type { OutboxEventInput } from './event';
import { assertSchemaName, outboxTables } from '../schema/names';
import { WakeNotifier } from './notifier';
import { withTransaction } from '../transaction';

export interface OutboxOptions extends EnqueueOptions {
  pool: Pool;
  logger?: Logger;
}

/**
 * The writer's side of the outbox, bound to one pool and schema:
 * `outbox.transaction(async (tx) => { ...business writes...; await outbox.enqueue(tx, event); })`.
 */
export class Outbox {
  readonly schema: string;
  private readonly pool: Pool;
  private readonly notifier: WakeNotifier;
  private readonly enqueueOptions: EnqueueOptions;

  constructor(options: OutboxOptions) {
    this.schema = assertSchemaName(options.schema ?? 'outbox');
    this.pool = options.pool;
    this.enqueueOptions = {
      schema: this.schema,
      maxPayloadBytes: options.maxPayloadBytes,
      serializeAggregates: options.serializeAggregates,
      preparedStatements: options.preparedStatements,
    };
    this.notifier = new WakeNotifier(this.pool, outboxTables(this.schema).channel, options.logger);
  }

  /** Writes events in the caller's open transaction (see `enqueue`). Call `wake()` after your COMMIT. */
  enqueue(client: ClientBase, events: OutboxEventInput | OutboxEventInput[]): Promise<EnqueuedEvent[]> {
    return enqueue(client, events, this.enqueueOptions);
  }

  /**
   * Runs `work` in a transaction (BEGIN … COMMIT, ROLLBACK on any error, which is rethrown) and wakes the relay
   * after a successful commit, so events are published within milliseconds instead of one poll interval.
   */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const result = await withTransaction(this.pool, work);
    this.wake();
    return result;
  }

  /**
   * One business statement and its events in ONE SQL statement, committed on its own (see `writeAtomically`):
   * the fastest way to write when the business change is a single INSERT/UPDATE/DELETE … RETURNING. The events
   * are written only if that statement returns a row. Wakes the relay after the commit.
   */
  async write<R extends object>(business: BusinessStatement, events: OutboxEventInput | OutboxEventInput[]): Promise<AtomicWriteResult<R>> {
    const result = await writeAtomically<R>(this.pool, business, events, this.enqueueOptions);
    if (result.events.length > 0) this.wake();
    return result;
  }

  /** Tells relays that events were committed. Cheap and coalesced; safe to call often. */
  wake(): void {
    this.notifier.signal();
  }

  /** Waits for a pending wake-up to be sent (graceful shutdown). */
  async close(): Promise<void> {
    await this.notifier.flush();
  }
}
