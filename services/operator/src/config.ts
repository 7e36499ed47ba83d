import os from 'node:os';
import { envVar, parseEnv } from '@outbox-relay/runtime';
import { z } from 'zod';
import type { OperatorPods } from './reconcile/types';
import { DEFAULT_IMAGE } from './api/limits';

const flag = envVar.flag;
export const DEFAULT_OPERATOR_POD_LABELS = 'app.kubernetes.io/name=outbox-relay-operator,app.kubernetes.io/component=operator';
const ms = envVar.millis;
/** `k=v,k2=v2`, as a label selector of equalities is written. */
const labelList = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*(,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)*$/, 'must be labels as key=value,key2=value2')
    .default(fallback)
    .transform((text) => Object.fromEntries(text.split(',').map((pair) => pair.split('=') as [string, string])));
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name (DNS label)');

/** The operator's environment (deploy/operator.yaml sets these; README documents them). */
export const operatorEnvSchema = z
  .object({
    /** Empty or unset: watch every namespace. */
    WATCH_NAMESPACE: dnsLabel.optional(),
    /** Downward API; the identity in the leader Lease and in Events. */
    POD_NAME: z.string().min(1).max(253).optional(),
    POD_NAMESPACE: dnsLabel.optional(),
    /**
     * Labels of the operator's pods (deploy/operator.yaml's and the chart's): with POD_NAMESPACE, what a relay's
     * NetworkPolicy lets in.
     */
    OPERATOR_POD_LABELS: labelList(DEFAULT_OPERATOR_POD_LABELS),
    LEADER_ELECTION: flag(true),
    /** Where the leader Lease lives; defaults to POD_NAMESPACE. */
    LEADER_ELECTION_NAMESPACE: dnsLabel.optional(),
    LEADER_ELECTION_LEASE_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS subdomain').default('outbox-relay-operator'),
    // client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry.
    LEADER_ELECTION_LEASE_DURATION_MS: ms(15_000, 1000),
    LEADER_ELECTION_RENEW_DEADLINE_MS: ms(10_000, 500),
    LEADER_ELECTION_RETRY_PERIOD_MS: ms(2_000, 100),
    /** /healthz, /readyz and /metrics. */
    OPERATOR_HTTP_PORT: envVar.port().default(8080),
    LOG_LEVEL: envVar.logLevel(),
    /** Every OutboxRelay is reconciled at least this often (pod probes notice leaders that stop renewing). */
    RESYNC_MS: ms(30_000, 1000),
    /** Informers rebuild their caches from a fresh list this often. */
    RELIST_MS: ms(300_000, 10_000),
    WORKERS: z.coerce.number().int().min(1).max(32).default(2),
    /** Timeout of one relay pod probe (GET /status, POST /step-down). */
    PROBE_TIMEOUT_MS: ms(1000, 50),
    /**
     * Timeout of every Kubernetes API request (lists included; watches are streams, repaired by RELIST_MS). The
     * client sets none: a request on a dead connection would otherwise hold a reconcile forever. Lease renewals
     * are also cut at the renew deadline, whichever comes first.
     */
    KUBE_API_TIMEOUT_MS: ms(10_000, 100),
    /**
     * Image of the relays whose OutboxRelay sets no spec.image. The chart sets it to the operator's own image (one
     * image for every service), so upgrading the operator moves those relays to the same version.
     */
    RELAY_IMAGE: z.string().trim().min(1).max(1024).regex(/^\S+$/, 'must be an image reference without spaces').default(DEFAULT_IMAGE),
    /** A kubeconfig file; unset: in-cluster service account, else ~/.kube/config. */
    KUBECONFIG: z.string().min(1).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.LEADER_ELECTION_RENEW_DEADLINE_MS >= env.LEADER_ELECTION_LEASE_DURATION_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['LEADER_ELECTION_RENEW_DEADLINE_MS'],
        message: `must be below LEADER_ELECTION_LEASE_DURATION_MS (${env.LEADER_ELECTION_LEASE_DURATION_MS}) so a leader stops before another may start`,
      });
    }
    if (env.LEADER_ELECTION_RETRY_PERIOD_MS >= env.LEADER_ELECTION_RENEW_DEADLINE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['LEADER_ELECTION_RETRY_PERIOD_MS'],
        message: `must be below LEADER_ELECTION_RENEW_DEADLINE_MS (${env.LEADER_ELECTION_RENEW_DEADLINE_MS}) so a renewal is retried before the deadline`,
      });
    }
    if (env.LEADER_ELECTION && !env.LEADER_ELECTION_NAMESPACE && !env.POD_NAMESPACE) {
      ctx.addIssue({
        code: 'custom',
        path: ['LEADER_ELECTION_NAMESPACE'],
        message: 'is required when LEADER_ELECTION is on (or set POD_NAMESPACE through the downward API)',
      });
    }
  });

export interface LeaderElectionConfig {
  namespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface OperatorConfig {
  /** Undefined: all namespaces. */
  watchNamespace?: string;
  identity: string;
  /** Undefined: leader election off (one replica only). */
  leaderElection?: LeaderElectionConfig;
  httpPort: number;
  logLevel: string;
  resyncMs: number;
  relistMs: number;
  workers: number;
  /** Undefined without POD_NAMESPACE: relays then get no NetworkPolicy (it would shut the operator out). */
  operatorPods?: OperatorPods;
  probeTimeoutMs: number;
  /** Image of relays without spec.image. */
  relayImage: string;
  /** Every Kubernetes API request ends after this long at most. */
  apiTimeoutMs: number;
  kubeconfigPath?: string;
}

/** Reads and validates the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): OperatorConfig {
  const e = parseEnv(operatorEnvSchema, env);
  const electionNamespace = e.LEADER_ELECTION_NAMESPACE ?? e.POD_NAMESPACE;
  return {
    ...(e.WATCH_NAMESPACE ? { watchNamespace: e.WATCH_NAMESPACE } : {}),
    identity: e.POD_NAME ?? `${os.hostname()}-${process.pid}`,
    ...(e.LEADER_ELECTION && electionNamespace
      ? {
          leaderElection: {
            namespace: electionNamespace,
            leaseName: e.LEADER_ELECTION_LEASE_NAME,
            leaseDurationMs: e.LEADER_ELECTION_LEASE_DURATION_MS,
            renewDeadlineMs: e.LEADER_ELECTION_RENEW_DEADLINE_MS,
            retryPeriodMs: e.LEADER_ELECTION_RETRY_PERIOD_MS,
          },
        }
      : {}),
    httpPort: e.OPERATOR_HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    resyncMs: e.RESYNC_MS,
    relistMs: e.RELIST_MS,
    workers: e.WORKERS,
    ...(e.POD_NAMESPACE ? { operatorPods: { namespace: e.POD_NAMESPACE, labels: e.OPERATOR_POD_LABELS } } : {}),
    probeTimeoutMs: e.PROBE_TIMEOUT_MS,
    relayImage: e.RELAY_IMAGE,
    apiTimeoutMs: e.KUBE_API_TIMEOUT_MS,
    ...(e.KUBECONFIG ? { kubeconfigPath: e.KUBECONFIG } : {}),
  };
}
