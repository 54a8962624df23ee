import { describe, expect, it } from 'vitest';
import type { AnyBody } from './messages.ts';
import { obsoleteAtOrBelow, WAL_VERSION, type WalRecord } from './wal.ts';

const room = 'r';
const digest = new Uint8Array(32);
const sig = new Uint8Array(64);
const signed = (body: AnyBody): WalRecord => ({ v: WAL_VERSION, kind: 'signed', signed: { body, sig } } as WalRecord);

describe('obsoleteAtOrBelow: what a stable checkpoint makes obsolete', () => {
  it('puts slot messages and their certificates at their sequence number', () => {
    for (const t of ['pre-prepare', 'prepare', 'commit'] as const) {
      const body = { t, room, from: 1, view: 2, seq: 7, digest } as AnyBody;
      expect(obsoleteAtOrBelow(body)).toBe(7);
      expect(obsoleteAtOrBelow(signed(body))).toBe(7);
    }
    expect(obsoleteAtOrBelow({ t: 'checkpoint', room, from: 1, seq: 16, digest })).toBe(16);
    const pp = { body: { t: 'pre-prepare', room, from: 0, view: 0, seq: 9, digest }, sig };
    expect(obsoleteAtOrBelow({ v: WAL_VERSION, kind: 'prepared', cert: { pp, batch: [], prepares: [] } } as unknown as WalRecord)).toBe(9);
    expect(obsoleteAtOrBelow({ v: WAL_VERSION, kind: 'committed', cert: { pp, batch: [], commits: [] } } as unknown as WalRecord)).toBe(9);
    expect(obsoleteAtOrBelow({ v: WAL_VERSION, kind: 'stable', seq: 32 } as unknown as WalRecord)).toBe(32);
  });

  it('never makes requests, view votes, the log start or a loss obsolete', () => {
    const request = { t: 'request', room, from: 1, counter: 3, op: { kind: 'new-round' } } as AnyBody;
    expect(obsoleteAtOrBelow(request)).toBeNull();
    expect(obsoleteAtOrBelow(signed(request))).toBeNull();
    expect(obsoleteAtOrBelow(signed({ t: 'view-change', room, from: 1, view: 1, epoch: 0, stable: 0, proof: [], prepared: [] } as AnyBody))).toBeNull();
    expect(obsoleteAtOrBelow({ v: WAL_VERSION, kind: 'start' })).toBeNull();
    expect(obsoleteAtOrBelow({ v: WAL_VERSION, kind: 'lost', nonce: new Uint8Array(16) })).toBeNull();
  });
});
