/** One live relay instance as every member sees it in the database. */
export interface MemberView {
  instanceId: string;
  /** Partitions it holds a live lease on. */
  held: number;
  /** Asked to step down a moment ago: its partitions go to the others for a while. */
  yielding: boolean;
}

/**
 * The fair share of partitions per member: each gets floor(P/N), and the P mod N extra partitions go to the
 * members holding most already, then by id. Ranking by what is held means a join or leave moves as few
 * partitions as possible (with P = 1 a newcomer never takes the lease from a healthy leader). A yielding member
 * (asked to step down a moment ago) gets nothing while anyone else is live, so everything it held moves to the
 * others; alone, it keeps its share. Every member computes the same result from the same rows, so they agree
 * without talking.
 */
export function fairShares(partitions: number, members: readonly MemberView[]): Map<string, number> {
  const willing = members.filter((m) => !m.yielding);
  const sharing = willing.length > 0 ? willing : [...members];
  const ranked = [...sharing].sort((a, b) => b.held - a.held || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
  const base = Math.floor(partitions / Math.max(1, ranked.length));
  const extra = partitions - base * ranked.length;
  const shares = new Map(members.map((m) => [m.instanceId, 0]));
  ranked.forEach((m, rank) => shares.set(m.instanceId, base + (rank < extra ? 1 : 0)));
  return shares;
}

/** What one member should do to reach its share, given who holds which partition now. */
export interface BalanceDecision {
  target: number;
  /** Free partitions to campaign for (at most the deficit). */
  acquire: number[];
  /** Own partitions to hand over gracefully (the surplus). */
  release: number[];
}

export function decideBalance(
  self: string,
  partitions: number,
  members: readonly MemberView[],
  holders: ReadonlyMap<number, string>,
): BalanceDecision {
  const target = fairShares(partitions, members).get(self) ?? 0;
  const mine = [...holders].filter(([, holder]) => holder === self).map(([p]) => p).sort((a, b) => a - b);
  if (mine.length > target) return { target, acquire: [], release: mine.slice(target) };
  const free: number[] = [];
  for (let p = 0; p < partitions; p++) if (!holders.has(p)) free.push(p);
  // Start looking at a member-specific offset so two members short of partitions rarely race for the same one.
  const offset = free.length === 0 ? 0 : hashOf(self) % free.length;
  const rotated = [...free.slice(offset), ...free.slice(0, offset)];
  return { target, acquire: rotated.slice(0, target - mine.length), release: [] };
}

function hashOf(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) >>> 0;
  return hash;
}
