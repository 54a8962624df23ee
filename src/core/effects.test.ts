import { describe, expect, it } from 'vitest';
import { writeThenSend, type Effect } from './effects.ts';
import { WAL_VERSION, type WalRecord } from './wal.ts';

// Records told apart by their nonce's first byte; what they say does not matter here.
const rec = (k: number): WalRecord => ({ v: WAL_VERSION, kind: 'lost', nonce: new Uint8Array(16).fill(k) });
const persist = (seq: number): Effect => ({ kind: 'persist', record: rec(seq) });
const send = (to: number): Effect => ({ kind: 'send', to, type: 'garbage', message: null, bytes: new Uint8Array([to]) });
const view = (v: number): Effect => ({ kind: 'view', view: v, changing: false });

describe('writeThenSend', () => {
  it('writes each run of records once, before the sends that follow it', () => {
    const groups = writeThenSend([persist(1), persist(2), send(1), send(2), persist(3), send(3)]);
    expect(groups.map((g) => [g.records.length, g.then.length])).toEqual([[2, 2], [1, 1]]);
    expect(groups[1]!.records[0]).toEqual(rec(3));
  });

  it('lets only a send end a run: other effects wait with it, records after them join the same write', () => {
    const groups = writeThenSend([persist(1), view(1), persist(2), send(0)]);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.records).toEqual([rec(1), rec(2)]);
    expect(groups[0]!.then.map((e) => e.kind)).toEqual(['view', 'send']);
  });

  it('has no write for effects that need none, and nothing for nothing', () => {
    expect(writeThenSend([])).toEqual([]);
    const groups = writeThenSend([send(1), view(2)]);
    expect(groups).toEqual([{ records: [], then: [send(1), view(2)] }]);
  });

  it('keeps records that no send follows', () => {
    expect(writeThenSend([send(1), persist(1)]).map((g) => g.records.length)).toEqual([0, 1]);
  });
});
