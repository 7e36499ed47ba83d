import { z } from 'zod';
import { OperatorError, messageOf } from './errors';
import { RELAY_HTTP_PORT } from './reconcile/env';
import type { RelayPodReport } from './reconcile/types';

/** A relay pod as the prober needs it. */
export interface ProbeTarget {
  name: string;
  ip: string;
}

/** Talks to relay pods; injectable so tests can stand in for pods that do not run. */
export interface PodProber {
  /** The pod's `/status`, or null when it does not answer in time, answers non-2xx, or with another shape. */
  status(pod: ProbeTarget): Promise<RelayPodReport | null>;
  /**
   * Asks the pod to release its leases (`POST /step-down` with the relay's admin token, 202). Throws StepDownError
   * when it did not accept.
   */
  stepDown(pod: ProbeTarget, adminToken: string): Promise<void>;
}

export class StepDownError extends OperatorError {
  constructor(
    readonly pod: string,
    readonly statusCode: number | undefined,
    detail: string,
  ) {
    super(`step-down of pod ${pod} failed: ${detail}`);
  }
}

const age = z.number().min(0).nullable().optional();
/** What the operator reads of a relay's /status; the progress fields are optional, as older relays lack them. */
const reportSchema = z.object({
  instanceId: z.string(),
  leading: z.boolean(),
  partitions: z.array(
    z.object({
      partition: z.number().int(),
      leading: z.boolean(),
      epoch: z.number().int().nullable(),
      leadingForMs: age,
      renewedAgoMs: age,
      publishedAgoMs: age,
      pending: z.number().int().min(0).nullable().optional(),
      oldestPendingAgeMs: age,
    }),
  ),
  backlogReadAgoMs: age,
  natsConnected: z.boolean().nullable().optional(),
});

export interface HttpPodProberOptions {
  /** Per request; short, because a pod that cannot answer in a second is what the prober is looking for. */
  timeoutMs: number;
  port?: number;
  /** Where a pod listens; tests point this at local servers. Default: http://<pod IP>:<port>. */
  baseUrl?: (pod: ProbeTarget) => string;
}

/** The relay's HTTP endpoints (services/relay health server): GET /status, POST /step-down (with the admin token). */
export class HttpPodProber implements PodProber {
  private readonly baseUrl: (pod: ProbeTarget) => string;

  constructor(private readonly options: HttpPodProberOptions) {
    const port = options.port ?? RELAY_HTTP_PORT;
    // IPv6 pod IPs need brackets in a URL.
    this.baseUrl = options.baseUrl ?? ((pod) => `http://${pod.ip.includes(':') ? `[${pod.ip}]` : pod.ip}:${port}`);
  }

  async status(pod: ProbeTarget): Promise<RelayPodReport | null> {
    try {
      const res = await fetch(`${this.baseUrl(pod)}/status`, { signal: AbortSignal.timeout(this.options.timeoutMs) });
      if (!res.ok) return null;
      const parsed = reportSchema.safeParse(await res.json());
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  async stepDown(pod: ProbeTarget, adminToken: string): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl(pod)}/step-down`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminToken}` },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new StepDownError(pod.name, undefined, messageOf(err));
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 202 && res.status !== 200) throw new StepDownError(pod.name, res.status, `answered ${res.status}`);
  }
}
