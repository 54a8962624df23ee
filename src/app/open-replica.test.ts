// Starting a replica as a new member, restored, or as one that lost its records; and the problem
// texts the user sees.
import { describe, expect, it } from 'vitest';
import type { Effect } from '../core/effects.ts';
import { WAL_VERSION } from '../core/wal.ts';
import { ed25519Suite, generateKeyPair } from '../crypto/ed25519.ts';
import { openReplica, type Arrival } from './open-replica.ts';
import { errorText, restoreProblem, sizeMismatch, storageFailed } from './problems.ts';

const pairs = Array.from({ length: 4 }, () => generateKeyPair());
const config = { roster: { room: 'r', keys: pairs.map((p) => p.publicKey) }, me: 1, secretKey: pairs[1]!.secretKey, suite: ed25519Suite, now: 0 };
const records = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'persist' ? [e.record] : []));

function arrival(over: Partial<Arrival> & { stored?: unknown[]; corrupt?: number } = {}): Arrival & { loads: number } {
  const a = {
    fresh: false,
    restoredFromFile: false,
    loads: 0,
    load: async () => {
      a.loads++;
      return { records: over.stored ?? [], corrupt: over.corrupt ?? 0 };
    },
    random: (n: number) => new Uint8Array(n).fill(7),
    ...over,
  };
  return a;
}

describe('openReplica', () => {
  it('starts a member of a new room without reading storage; its first effect starts its log', async () => {
    const a = arrival({ fresh: true });
    const opened = await openReplica(config, a);
    expect(a.loads).toBe(0);
    expect(opened).toMatchObject({ effects: [], problem: null, restored: null });
    expect(records(opened.replica.tick(1))[0]).toMatchObject({ kind: 'start' });
  });

  it('restores a member from its records and says how many it used', async () => {
    const first = await openReplica(config, arrival({ fresh: true }));
    const stored = records(first.replica.request({ kind: 'propose', place: 'Ramen Spot', time: '12:20' }));
    const opened = await openReplica(config, arrival({ stored }));
    expect(opened.problem).toBeNull();
    expect(opened.restored).toBe(stored.length);
    expect(opened.replica.snapshot().amnesia).toBe(false);
  });

  it('starts an imported identity with no records here as one that lost them', async () => {
    const opened = await openReplica(config, arrival({ fresh: true, restoredFromFile: true }));
    expect(opened.replica.snapshot().amnesia).toBe(true);
    expect(opened.problem).toBe(restoreProblem(0, true));
    expect(opened.restored).toBeNull();
  });

  it('counts unreadable records in the problem and recovers', async () => {
    const opened = await openReplica(config, arrival({ stored: [{ v: WAL_VERSION, kind: 'start' }, { nonsense: true }], corrupt: 1 }));
    expect(opened.replica.snapshot().amnesia).toBe(true);
    expect(opened.problem).toMatch(/^2 stored protocol record\(s\) could not be read/);
  });

  it('tells records of an older or a newer version apart from damage, and recovers', async () => {
    const first = await openReplica(config, arrival({ fresh: true }));
    const current = records(first.replica.request({ kind: 'propose', place: 'Ramen Spot', time: '12:20' }));
    const older = await openReplica(config, arrival({ stored: current.map((r) => ({ ...r, v: WAL_VERSION - 1 })) }));
    expect(older.replica.snapshot().amnesia).toBe(true);
    expect(older.problem).toMatch(/^This tab’s records of the room were saved by an older version .* help of 3 other members .* start a new room\.$/);
    const newer = await openReplica(config, arrival({ stored: [...current, { v: WAL_VERSION + 1, kind: 'start' }] }));
    expect(newer.replica.snapshot().amnesia).toBe(true);
    expect(newer.problem).toMatch(/^This tab’s records of the room were saved by a newer version .* reload the page/);
    // A version field that is not a plausible version number is damage, not another version.
    const odd = await openReplica(config, arrival({ stored: [{ v: '2', kind: 'start' }, { v: 2.5, kind: 'start' }, { v: 0, kind: 'start' }, { v: -1 }, { v: 1e9 }] }));
    expect(odd.problem).toMatch(/^5 stored protocol record\(s\) could not be read/);
    // A tab whose recovery after them has settled is whole and says nothing, though the old or
    // unreadable records stay in store (compaction keeps what it cannot read).
    expect(restoreProblem(0, false, { older: 3, newer: 0 })).toBeNull();
    expect(restoreProblem(2, false)).toBeNull();
  });
});

describe('problems', () => {
  it('says nothing for whole records, and what the user can do otherwise', () => {
    expect(restoreProblem(0, false)).toBeNull();
    expect(restoreProblem(0, true)).toMatch(/records are gone/);
    expect(sizeMismatch('lunch', 4, 7)).toBe('This member joined room lunch as one of 4; the link says 7. Open the room with its original link.');
    expect(storageFailed(new Error('Quota exceeded.'))).toBe('Storage failed, so this tab stopped taking part: Quota exceeded. Reload the tab.');
    expect(errorText('plain')).toBe('plain');
  });
});
