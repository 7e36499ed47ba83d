/** Figures of a chaos run as a table, a one-line verdict, and the error that names everything needed to reproduce. */
import type { FindingCategory } from './auditor';
import type { FaultRecord } from './faults';
import type { FaultKind } from './options';
import type { ChaosResult } from './run';

export interface KindFigures {
  kind: FaultKind;
  count: number;
  failover: Spread;
  resume: Spread;
  drain: Spread;
  maxLagMs: number | null;
  notes: string;
}

/** p50 and max of the values that were reached; `missed` counts the ones that passed their bound. */
export interface Spread {
  p50: number | null;
  max: number | null;
  n: number;
  missed: number;
}

export function spread(values: Array<number | null | undefined>): Spread {
  const reached = values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  const missed = values.filter((v) => v === null).length;
  return {
    p50: reached.length ? reached[Math.floor((reached.length - 1) / 2)]! : null,
    max: reached.length ? reached[reached.length - 1]! : null,
    n: reached.length,
    missed,
  };
}

export function figuresByKind(faults: readonly FaultRecord[]): KindFigures[] {
  const kinds = [...new Set(faults.map((f) => f.kind))];
  return kinds.map((kind) => {
    const of = faults.filter((f) => f.kind === kind);
    const lags = of.map((f) => f.maxLagMs).filter((v): v is number => typeof v === 'number');
    return {
      kind,
      count: of.length,
      failover: spread(of.map((f) => f.failoverMs)),
      resume: spread(of.map((f) => f.resumeMs)),
      drain: spread(of.map((f) => f.drainMs)),
      maxLagMs: lags.length ? Math.max(...lags) : null,
      notes: notesFor(kind, of),
    };
  });
}

function notesFor(kind: FaultKind, faults: readonly FaultRecord[]): string {
  const notes: string[] = [];
  if (kind === 'partition-change') {
    const applied = faults.filter((f) => f.outcome.startsWith('applied'));
    notes.push(`applied ${applied.length} (${applied.map((f) => f.outcome.split(' ')[1] + '->' + f.outcome.split(' ')[3]).join(', ') || '-'}), refused ${faults.length - applied.length}`);
  }
  if (kind.startsWith('poison')) {
    const moved = spread(faults.map((f) => f.deadLetterMs));
    notes.push(`dead-lettered ${moved.n}/${faults.length}${moved.n ? ` (p50 ${moved.p50} ms)` : ''}`);
  }
  const noVictimPartitions = faults.filter((f) => f.victimPartitions && f.victimPartitions.length === 0).length;
  if (noVictimPartitions) notes.push(`${noVictimPartitions} victim(s) led nothing`);
  const errors = faults.filter((f) => f.error).length;
  if (errors) notes.push(`${errors} harness error(s)`);
  return notes.join('; ');
}

export function formatReport(result: ChaosResult): string {
  const lines: string[] = [];
  const o = result.options;
  lines.push(
    `chaos seed ${result.seed}: ${(result.totalMs / 1000).toFixed(0)} s total, faults for ${(o.durationMs / 1000).toFixed(0)} s; ` +
      `${o.relays} relays, ${o.partitions} partitions, ${o.writers} writers, ${o.aggregates} aggregates; ` +
      `lease ${o.leaseMs} ms, duplicate window ${o.duplicateWindowMs} ms`,
  );
  const ms = (v: number | null) => (v === null ? '-' : `${v}`);
  const cell = (s: Spread) => (s.n === 0 && s.missed === 0 ? '-' : `${ms(s.p50)} / ${ms(s.max)}${s.missed ? ` (+${s.missed} >bound)` : ''}`);
  const header = ['fault', 'n', 'failover p50/max ms', 'resume p50/max ms', 'drain p50/max ms', 'max lag ms', 'notes'];
  const rows = figuresByKind(result.faults).map((k) => [
    k.kind,
    String(k.count),
    cell(k.failover),
    cell(k.resume),
    cell(k.drain),
    k.maxLagMs === null ? '-' : String(k.maxLagMs),
    k.notes,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  lines.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
  lines.push(
    '(failover: fault -> the victim\'s partitions led by other relays per /status; resume: recovery -> every partition published an event written after it;',
    ' drain: recovery -> every event committed before it published; max lag: oldest unpublished event\'s age since its commit, fault start to resume/drain)',
  );
  const failover = spread(result.faults.map((f) => f.failoverMs));
  if (failover.n + failover.missed > 0) lines.push(`failover over all relay faults: p50 ${ms(failover.p50)} ms, max ${ms(failover.max)} ms (${failover.n} measured${failover.missed ? `, ${failover.missed} not within bound` : ''})`);
  const a = result.audit.summary;
  const w = result.workload;
  lines.push(
    `events: ${a.committed} committed, ${a.rolledBack} rolled back, ${a.ambiguous} ambiguous (${a.ambiguousCommitted} of them committed); ` +
      `stream ${a.streamMessages} messages (${a.distinctInStream} distinct); poison ${a.poison} (${a.poisonDeadLettered} dead-lettered); max version ${a.maxVersion}`,
  );
  const shapes = Object.entries(w.transactions).map(([k, v]) => `${k} ${v}`).join(', ');
  lines.push(
    `writers: ${shapes}; ${w.committed} committed, ${w.rolledBackOnPurpose} rolled back on purpose, ${w.failed} failed (${w.ambiguousCommits} during COMMIT); ` +
      `${w.checkedOutConnectionErrors} connections lost under a checked-out client (would crash a writer without a listener: issue 13.7)`,
  );
  lines.push(
    `relays: ${result.relayProcessesStarted} processes started, ${result.unexpectedExits} exited on their own; final drain ${result.finalDrainMs === null ? 'NOT complete' : `${result.finalDrainMs} ms`}`,
  );
  return lines.join('\n');
}

export function verdictLine(result: ChaosResult): string {
  const a = result.audit;
  if (a.passed) {
    return `PASS seed ${result.seed}: ${a.summary.committed} committed events once each and in order, ${result.faults.length} faults, nothing lost, duplicated, reordered or phantom`;
  }
  return `FAIL seed ${result.seed}: ${countsByCategory(result)}`;
}

function countsByCategory(result: ChaosResult): string {
  const counts = new Map<FindingCategory, number>();
  for (const f of result.audit.findings) counts.set(f.category, (counts.get(f.category) ?? 0) + 1);
  return [...counts].map(([category, n]) => `${n} ${category}`).join(', ');
}

/** Everything needed to reproduce and understand a failed run: seed, fault schedule, first offenders per kind. */
export function failureMessage(result: ChaosResult, perCategory = 5): string {
  const lines = [verdictLine(result), `reproduce: npm run chaos -- --seed ${result.seed} --minutes ${(result.options.durationMs / 60_000).toFixed(2)} --faults ${result.options.faults.join(',')}`];
  lines.push(`run started ${result.startedAt}; schedule:`);
  for (const f of result.faults) lines.push(`  ${scheduleLine(f)}`);
  const byCategory = new Map<FindingCategory, string[]>();
  for (const f of result.audit.findings) {
    const list = byCategory.get(f.category) ?? [];
    if (list.length < perCategory) list.push(`${f.subject}: ${f.detail}`);
    byCategory.set(f.category, list);
  }
  for (const [category, list] of byCategory) {
    lines.push(`${category} (first ${list.length}):`);
    for (const item of list) lines.push(`  ${item}`);
  }
  return lines.join('\n');
}

export function scheduleLine(f: FaultRecord): string {
  const at = (ms: number | undefined) => (ms === undefined ? '?' : `t+${(ms / 1000).toFixed(1)}s`);
  const params = Object.entries(f.params)
    .filter(([k]) => k !== 'victim')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const victim = f.victim ? ` ${f.victim}${f.victimPartitions ? ` (led ${f.victimPartitions.join(',') || 'nothing'})` : ''}` : '';
  return `#${f.index} ${at(f.startedAtMs)}..${at(f.endedAtMs)} ${f.kind}${victim}${params ? ` ${params}` : ''}: ${f.outcome}${f.error ? ` [harness: ${f.error}]` : ''}`;
}
