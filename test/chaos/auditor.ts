/**
 * After the run, holds the whole stream against what the writers know and what the database says:
 * every committed event exactly once, nothing rolled back, an ambiguous commit in the stream iff its row exists,
 * each account's versions 1..k in stream order, poison only in the dead letters, and no relay that died or
 * crashed on its own.
 */
import type { Pool } from 'pg';
import { NAMES, type RelayExit, type RelayProcess } from './cluster';
import type { EventLedger } from './ledger';
import type { AuditedMessage } from './stream';

export type FindingCategory =
  | 'missing'
  | 'duplicate'
  | 'order'
  | 'rolled-back-in-stream'
  | 'rolled-back-row'
  | 'ambiguous-mismatch'
  | 'committed-without-row'
  | 'unknown-in-stream'
  | 'poison-in-stream'
  | 'poison-not-dead-lettered'
  | 'undrained'
  | 'relay-exit'
  | 'relay-fatal'
  | 'relay-unclean-stop'
  | 'harness';

export interface Finding {
  category: FindingCategory;
  /** The event (or relay instance) it is about. */
  subject: string;
  detail: string;
}

export interface AuditSummary {
  streamMessages: number;
  distinctInStream: number;
  committed: number;
  rolledBack: number;
  ambiguous: number;
  /** Of the ambiguous commits, how many the database shows committed. */
  ambiguousCommitted: number;
  poison: number;
  poisonDeadLettered: number;
  accounts: number;
  /** Highest version over all accounts (events of the busiest aggregate). */
  maxVersion: number;
}

export interface AuditResult {
  passed: boolean;
  findings: Finding[];
  summary: AuditSummary;
}

export interface AuditInput {
  db: Pool;
  ledger: EventLedger;
  messages: AuditedMessage[];
  processes: RelayProcess[];
  exits: RelayExit[];
  /** Exit codes of the relays stopped with SIGTERM at the end. */
  gracefulStops: Array<{ instanceId: string; code: number | null }>;
  /** Rows still unpublished once the final drain gave up (0 when it completed). */
  undrained: Array<{ partition: number; pending: number }>;
  harnessErrors: string[];
}

interface RowState {
  partition: number;
  published: boolean;
  epoch: string | null;
}

export async function audit(input: AuditInput): Promise<AuditResult> {
  const findings: Finding[] = [];
  const add = (category: FindingCategory, subject: string, detail: string) => findings.push({ category, subject, detail });
  const s = `"${NAMES.schema}"`;

  const rows = new Map<string, RowState>();
  // Every event with its state, through the event state views (together they are the outbox).
  const { rows: outboxRows } = await input.db.query<{ id: string; partition: number; published: boolean; epoch: string | null }>(
    `SELECT id::text, partition, false AS published, NULL::text AS epoch FROM ${s}.outbox_pending
     UNION ALL
     SELECT id::text, partition, true AS published, published_epoch::text AS epoch FROM ${s}.outbox_published`,
  );
  for (const r of outboxRows) rows.set(r.id, { partition: r.partition, published: r.published, epoch: r.epoch });
  const { rows: letterRows } = await input.db.query<{ id: string; reason: string }>(`SELECT event_id::text AS id, reason FROM ${s}.outbox_dead_letters`);
  const deadLetters = new Map(letterRows.map((r) => [r.id, r.reason]));
  const { rows: accountRows } = await input.db.query<{ id: string; version: number }>(`SELECT id, version FROM ${NAMES.business}.accounts ORDER BY id`);
  const { rows: leaseRows } = await input.db.query<{ partition: number; holder: string | null }>(
    `SELECT partition, CASE WHEN expires_at > now() THEN holder END AS holder FROM ${s}.outbox_partitions`,
  );
  const partitionCount = (await input.db.query<{ partitions: number }>(`SELECT partitions FROM ${s}.outbox_settings`)).rows[0]?.partitions ?? 0;
  const leases = new Map(leaseRows.map((r) => [r.partition, r.holder]));

  const byId = new Map<string, AuditedMessage[]>();
  for (const m of input.messages) {
    const list = byId.get(m.eventId);
    if (list) list.push(m);
    else byId.set(m.eventId, [m]);
  }

  /** Where a row is, for a finding: the partition it waits in and whether any relay could ever read it. */
  const whereIs = (id: string): string => {
    const row = rows.get(id);
    if (row) {
      const partition =
        row.partition >= partitionCount
          ? `partition ${row.partition}, outside the current count ${partitionCount}`
          : `partition ${row.partition} (lease ${leases.has(row.partition) ? (leases.get(row.partition) ?? 'free') : 'row missing'})`;
      return row.published ? `row marked published at epoch ${row.epoch} in ${partition}` : `row unpublished in ${partition}`;
    }
    const reason = deadLetters.get(id);
    return reason !== undefined ? `in the relay dead letters: ${reason}` : 'no outbox row';
  };

  for (const [id, list] of byId) {
    if (list.length > 1) add('duplicate', id, `stored ${list.length} times (stream seqs ${list.map((m) => m.streamSeq).join(', ')}), aggregate ${list[0]!.aggregateId}`);
  }

  let ambiguousCommitted = 0;
  for (const event of input.ledger.events.values()) {
    const stored = byId.get(event.id)?.length ?? 0;
    const exists = rows.has(event.id) || deadLetters.has(event.id);
    const what = `${event.aggregate} v${event.version} (tx ${event.tx}, ${event.shape})`;
    switch (event.fate) {
      case 'committed':
        if (!exists) add('committed-without-row', event.id, `${what}: committed, but the database has no row`);
        if (stored === 0) add('missing', event.id, `${what}: committed, never in the stream; ${whereIs(event.id)}`);
        break;
      case 'rolledBack':
        if (exists) add('rolled-back-row', event.id, `${what}: rolled back, yet ${whereIs(event.id)}`);
        if (stored > 0) add('rolled-back-in-stream', event.id, `${what}: rolled back, yet in the stream`);
        break;
      case 'ambiguous':
        if (exists) ambiguousCommitted++;
        if (exists && stored === 0) add('ambiguous-mismatch', event.id, `${what}: COMMIT failed but the transaction committed, never in the stream; ${whereIs(event.id)}`);
        if (!exists && stored > 0) add('ambiguous-mismatch', event.id, `${what}: COMMIT failed and nothing committed, yet in the stream`);
        break;
      case 'open':
        add('harness', event.id, `${what}: transaction still open at the audit`);
        break;
    }
  }

  for (const [id, list] of byId) {
    if (!input.ledger.events.has(id) && !input.ledger.poison.has(id)) {
      add('unknown-in-stream', id, `aggregate ${JSON.stringify(list[0]!.aggregateId)}, subject ${list[0]!.subject}: no writer wrote it`);
    }
  }

  let maxVersion = 0;
  const versionsInStream = new Map<string, Array<{ version: number; id: string; seq: number }>>();
  for (const m of input.messages) {
    if (m.aggregate === null || m.version === null) continue;
    if (m.aggregate !== m.aggregateId) add('order', m.eventId, `payload aggregate ${m.aggregate} under header Outbox-Aggregate-Id ${m.aggregateId}`);
    const list = versionsInStream.get(m.aggregate) ?? [];
    list.push({ version: m.version, id: m.eventId, seq: m.streamSeq });
    versionsInStream.set(m.aggregate, list);
  }
  for (const account of accountRows) {
    maxVersion = Math.max(maxVersion, account.version);
    const seen = versionsInStream.get(account.id) ?? [];
    // What a consumer without an inbox would see: every message, duplicates included, must count 1, 2, … k.
    const bad = seen.findIndex((entry, i) => entry.version !== i + 1);
    if (bad >= 0) {
      const around = seen.slice(Math.max(0, bad - 3), bad + 4).map((e) => e.version).join(', ');
      const entry = seen[bad]!;
      add('order', entry.id, `${account.id}: message ${bad + 1} (stream seq ${entry.seq}) carries v${entry.version}, expected v${bad + 1}; versions around it: ${around}; database version ${account.version}`);
    } else if (seen.length !== account.version) {
      add('order', account.id, `${account.id}: stream ends at v${seen.length}, database version is ${account.version}`);
    }
  }

  let poisonDeadLettered = 0;
  for (const p of input.ledger.poison.values()) {
    const label = `${p.kind} poison (aggregate ${JSON.stringify(p.aggregateId)})`;
    if (byId.has(p.id)) add('poison-in-stream', p.id, `${label} reached the stream`);
    if (deadLetters.has(p.id)) poisonDeadLettered++;
    else add('poison-not-dead-lettered', p.id, `${label}: ${whereIs(p.id)}`);
  }

  for (const u of input.undrained) add('undrained', `partition ${u.partition}`, `${u.pending} events still unpublished after the final drain`);

  for (const exit of input.exits) {
    add('relay-exit', exit.instanceId, `exited on its own at t+${(exit.atMs / 1000).toFixed(1)}s, code ${exit.code}, signal ${exit.signal}; stderr: ${errorSummary(exit.stderrTail)}`);
  }
  for (const p of input.processes) {
    const fatal = fatalLines(p);
    if (fatal.length > 0) add('relay-fatal', p.instanceId, fatal.slice(0, 3).join(' | '));
  }
  for (const stop of input.gracefulStops) {
    if (stop.code !== 0) add('relay-unclean-stop', stop.instanceId, `SIGTERM ended it with exit code ${stop.code}`);
  }
  for (const error of input.harnessErrors) add('harness', 'harness', error);

  const counts = input.ledger.counts();
  return {
    passed: findings.length === 0,
    findings,
    summary: {
      streamMessages: input.messages.length,
      distinctInStream: byId.size,
      committed: counts.committed,
      rolledBack: counts.rolledBack,
      ambiguous: counts.ambiguous,
      ambiguousCommitted,
      poison: input.ledger.poison.size,
      poisonDeadLettered,
      accounts: accountRows.length,
      maxVersion,
    },
  };
}

/** Log lines and stderr that say the process met an error nothing handled. */
function fatalLines(p: RelayProcess): string[] {
  const out: string[] = [];
  for (const line of p.proc.logs) {
    const msg = String(line.msg ?? '');
    if ((typeof line.level === 'number' && line.level >= 60) || /unhandled rejection|uncaught exception/i.test(msg)) {
      const err = line.err as { message?: string } | undefined;
      out.push(`log: ${msg}${err?.message ? `: ${err.message}` : ''}`);
    }
  }
  const stderr = p.proc.stderr();
  if (/unhandled|uncaught|fatal/i.test(stderr)) out.push(`stderr: ${errorSummary(stderr)}`);
  return out;
}

/** The error's own line and where it was thrown, out of a crash's stderr (Node prints source excerpts first). */
function errorSummary(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const error = lines.findIndex((l) => /^([\w.]*Error|Error)\b|^\[?\w*Error[:\]]|fatal/i.test(l));
  if (error < 0) return lines.slice(-4).join(' / ').slice(0, 600) || '(empty)';
  return [lines[error], ...lines.slice(error + 1).filter((l) => l.startsWith('at ')).slice(0, 2)].join(' / ').slice(0, 600);
}
