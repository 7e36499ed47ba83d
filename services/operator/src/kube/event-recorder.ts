import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { API_GROUP_VERSION, KIND } from '../api/group';
import type { OutboxRelayResource } from '../api/types';
import { messageOf } from '../errors';
import type { ReconcileEvent } from '../reconcile/types';
import type { RelayCluster } from './kube-client';

export interface EventRecorderOptions {
  /** source.component / reportingComponent: which controller speaks. */
  component: string;
  /** reportingInstance: which replica of it (the pod name). */
  instance: string;
  /** The same event about the same object is not repeated within this window (reconciles run often). */
  dedupeMs: number;
  logger: Logger;
}

/** The API server refuses longer event messages. */
const MAX_MESSAGE = 1024;

/**
 * Writes core/v1 Events about an OutboxRelay (what `kubectl describe obr` shows). Best effort, like client-go's
 * recorder: a failed write is logged, never fails the reconcile that produced it.
 */
export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly cluster: Pick<RelayCluster, 'createEvent'>,
    private readonly options: EventRecorderOptions,
  ) {}

  /** true when the Event was written; false when it repeated a recent one or the write failed. */
  async record(relay: OutboxRelayResource, event: ReconcileEvent, now = new Date()): Promise<boolean> {
    const meta = relay.metadata ?? {};
    const key = `${meta.uid}|${event.type}|${event.reason}|${event.message}`;
    this.prune(now.getTime());
    if (this.recent.has(key)) return false;
    try {
      await this.cluster.createEvent({
        metadata: { name: `${meta.name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`, namespace: meta.namespace ?? 'default' },
        involvedObject: {
          apiVersion: API_GROUP_VERSION,
          kind: KIND,
          name: meta.name ?? '',
          namespace: meta.namespace ?? 'default',
          ...(meta.uid ? { uid: meta.uid } : {}),
          ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
        },
        type: event.type,
        reason: event.reason,
        message: event.message.length > MAX_MESSAGE ? event.message.slice(0, MAX_MESSAGE - 3) + '...' : event.message,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.options.component },
        reportingComponent: this.options.component,
        reportingInstance: this.options.instance,
      });
      this.recent.set(key, now.getTime());
      return true;
    } catch (err) {
      this.options.logger.warn({ relay: `${meta.namespace}/${meta.name}`, reason: event.reason, err: messageOf(err) }, 'could not record event');
      return false;
    }
  }

  private prune(now: number): void {
    for (const [key, at] of this.recent) if (now - at >= this.options.dedupeMs) this.recent.delete(key);
  }
}
