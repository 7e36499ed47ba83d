/** fairShares / decideBalance: every member computes the same shares from the same rows. */
import { decideBalance, fairShares, type MemberView } from '../src/election/shares';

const m = (instanceId: string, held = 0, yielding = false): MemberView => ({ instanceId, held, yielding });
const counts = (shares: Map<string, number>) => [...shares.values()].sort((a, b) => b - a);

describe('fairShares', () => {
  it.each([
    [8, ['a', 'b', 'c'], [3, 3, 2]],
    [8, ['a', 'b', 'c', 'd'], [2, 2, 2, 2]],
    [8, ['a', 'b', 'c', 'd', 'e'], [2, 2, 2, 1, 1]],
    [1, ['a', 'b'], [1, 0]],
    [3, ['a', 'b', 'c', 'd'], [1, 1, 1, 0]],
    [1024, ['a', 'b', 'c'], [342, 341, 341]],
  ])('%i partitions over %j → %j', (partitions, ids, expected) => {
    expect(counts(fairShares(partitions, ids.map((id) => m(id))))).toEqual(expected);
  });

  it('gives the extra partitions to members already holding most, so a join moves as little as possible', () => {
    // With one partition, a newcomer ("a", first by id) must not take the lease from the healthy leader "z".
    expect(fairShares(1, [m('a'), m('z', 1)])).toEqual(new Map([['z', 1], ['a', 0]]));
    expect(fairShares(8, [m('a', 2), m('b', 3), m('c', 3)]).get('a')).toBe(2);
  });

  it('gives a yielding member nothing while others are live, and its share when it is alone', () => {
    expect(fairShares(1, [m('a', 1, true), m('b')])).toEqual(new Map([['a', 0], ['b', 1]]));
    expect(counts(fairShares(8, [m('a', 4, true), m('b', 4)]))).toEqual([8, 0]);
    expect(fairShares(8, [m('a', 3, true), m('b', 3), m('c', 2)])).toEqual(new Map([['a', 0], ['b', 4], ['c', 4]]));
    expect(fairShares(2, [m('a', 2, true)])).toEqual(new Map([['a', 2]]));
  });

  it('is the same whatever order the rows come in', () => {
    const members = [m('c', 1), m('a', 3), m('d'), m('b', 3)];
    expect(fairShares(8, members)).toEqual(fairShares(8, [...members].reverse()));
  });
});

describe('decideBalance', () => {
  it('releases the surplus, highest partitions first', () => {
    const holders = new Map([[0, 'a'], [1, 'a'], [2, 'a'], [3, 'b'], [4, 'b'], [5, 'b'], [6, 'c'], [7, 'c']]);
    const members = [m('a', 3), m('b', 3), m('c', 2), m('d', 0)];
    expect(decideBalance('a', 8, members, holders)).toEqual({ target: 2, acquire: [], release: [2] });
    expect(decideBalance('c', 8, members, holders)).toEqual({ target: 2, acquire: [], release: [] });
    expect(decideBalance('d', 8, members, holders)).toEqual({ target: 2, acquire: [], release: [] }); // nothing free yet
  });

  it('campaigns only for free partitions, at most its deficit', () => {
    const holders = new Map([[0, 'a'], [1, 'a']]);
    const decision = decideBalance('b', 4, [m('a', 2), m('b', 0)], holders);
    expect(decision.target).toBe(2);
    expect([...decision.acquire].sort()).toEqual([2, 3]);
    expect(decideBalance('a', 4, [m('a', 2), m('b', 0)], holders).acquire).toEqual([]);
  });
});
