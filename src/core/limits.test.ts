// The limits in limits.ts nest, and decoding stays cheap at every one of them. These tests build
// the largest messages the schema allows (largest room, full window, full batches) and the
// cheapest-to-send shapes that are most costly to take apart, and measure both.
import { decode, encode, Tokenizer, type Token } from 'cborg';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  MAX_BATCH, MAX_BATCH_BYTES, MAX_CBOR_TOKENS, MAX_LOG_WINDOW, MAX_MEMBERS, MAX_PLACE_UNITS, MAX_REQUEST_BYTES, MAX_WIRE_BYTES,
} from './limits.ts';
import { LunchOpSchema, type LunchOp } from './lunch.ts';
import {
  batchBytes, decodeWire, encodeWire,
  type PreparedCert, type RequestBody, type Signed, type ViewChangeBody, type Wire, type WireKind,
} from './messages.ts';
import { quorumFor } from './quorum.ts';

const SIG = new Uint8Array(64).fill(7);
const DIGEST = new Uint8Array(32).fill(9);
/** The widest room name: 64 characters of three UTF-8 bytes each. */
const WIDE_ROOM = '部'.repeat(64);
const signed = <B>(body: B) => ({ body, sig: SIG });

/** The largest place the schema allows, in bytes: 60 wide characters padded with wide spaces. */
export const WIDEST_PLACE = '食'.repeat(MAX_PLACE_UNITS / 2) + '\u3000'.repeat(MAX_PLACE_UNITS / 2);

const request = (room: string, from: number, counter: number, op: LunchOp): Signed<RequestBody> =>
  signed({ t: 'request' as const, room, from, counter, op });
const widest = (from: number, counter: number) => request(WIDE_ROOM, from, counter, { kind: 'propose', place: WIDEST_PLACE, time: '12:00' });
/** The request with the most items per byte. */
const busiest = (from: number, counter: number) => request('r', from, counter, { kind: 'vote', proposal: { member: 1, counter: 1 }, choice: 'join' });

/** As many requests as fit MAX_BATCH and MAX_BATCH_BYTES. */
function fullBatch(make: (from: number, counter: number) => Signed<RequestBody>): Signed<RequestBody>[] {
  const batch: Signed<RequestBody>[] = [];
  for (let i = 0; batch.length < MAX_BATCH; i++) {
    const next = [...batch, make(i % MAX_MEMBERS, 1000 + i)];
    if (batchBytes(next).length > MAX_BATCH_BYTES) break;
    batch.push(next[next.length - 1]!);
  }
  return batch;
}

function worstNewView(room: string, make: (from: number, counter: number) => Signed<RequestBody>): Wire {
  const { q } = quorumFor(MAX_MEMBERS);
  const batch = fullBatch(make);
  const slot = (t: 'pre-prepare' | 'prepare', from: number, seq: number) =>
    signed({ t, room, from, view: 4_000_000_000, seq, digest: DIGEST });
  const cert = (seq: number): PreparedCert => ({
    pp: slot('pre-prepare', 0, seq) as PreparedCert['pp'],
    prepares: Array.from({ length: MAX_MEMBERS - 1 }, (_, i) => slot('prepare', i + 1, seq)) as PreparedCert['prepares'],
    batch,
  });
  const vc = (from: number) => signed<ViewChangeBody>({
    t: 'view-change', room, from, view: 4_000_000_001, epoch: 4_000_000_000, stable: 4_000_000_000,
    proof: Array.from({ length: MAX_MEMBERS }, (_, i) => signed({ t: 'checkpoint' as const, room, from: i, seq: 4_000_000_000, digest: DIGEST })),
    prepared: Array.from({ length: MAX_LOG_WINDOW }, (_, i) => cert(4_000_000_001 + i)),
  });
  return {
    k: 'new-view',
    nv: signed({
      t: 'new-view' as const, room, from: 1, view: 4_000_000_001,
      vcs: Array.from({ length: q }, (_, i) => vc(i)),
      pps: Array.from({ length: MAX_LOG_WINDOW }, (_, i) => slot('pre-prepare', 1, 4_000_000_001 + i)),
    }) as Extract<Wire, { k: 'new-view' }>['nv'],
  };
}

/** Median milliseconds of decoding `bytes`, over a few runs after a warm-up. */
// CPU time of this process, not the wall clock: the cost is the work done, and a busy machine
// (the seeded batch runs beside this file) stretches the wall clock, not the work.
function decodeMs(bytes: Uint8Array): number {
  decodeWire(bytes);
  const times = Array.from({ length: 5 }, () => {
    const t0 = process.cpuUsage();
    decodeWire(bytes);
    const used = process.cpuUsage(t0);
    return (used.user + used.system) / 1000;
  });
  return times.sort((a, b) => a - b)[2]!;
}

// The largest legal NEW-VIEW takes about 20 ms on one core of the CI machine, anything else a few
// milliseconds at most; the bound leaves room for a loaded runner.
const DECODE_BUDGET_MS = 80;

describe('the limits nest', () => {
  it('the widest request is a valid lunch op and fits MAX_REQUEST_BYTES, several to a batch', () => {
    expect(v.safeParse(LunchOpSchema, widest(0, 1).body.op).success).toBe(true);
    const bytes = encodeWire({ k: 'request', req: widest(9, 4_000_000_000) }).length;
    expect(bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(fullBatch(widest).length).toBeGreaterThanOrEqual(4);
    // One padded with more than the allowed spaces is no valid op at all.
    expect(v.safeParse(LunchOpSchema, { kind: 'propose', place: `Taco${' '.repeat(MAX_PLACE_UNITS)}`, time: '12:00' }).success).toBe(false);
  });

  it('the largest NEW-VIEW of the largest room fits one protocol message and decodes', () => {
    for (const [room, make] of [[WIDE_ROOM, widest], ['r', busiest]] as const) {
      const bytes = encodeWire(worstNewView(room, make));
      expect(bytes.length).toBeLessThanOrEqual(MAX_WIRE_BYTES);
      expect(decodeWire(bytes).ok).toBe(true);
      expect(countItems(bytes)).toBeLessThanOrEqual(MAX_CBOR_TOKENS);
    }
  });
});

describe('decoding costs little at every size a peer can send', () => {
  const legal = encodeWire(worstNewView('r', busiest));
  const cases: [string, Uint8Array][] = [
    ['the NEW-VIEW with the most items', legal],
    ['the largest NEW-VIEW', encodeWire(worstNewView(WIDE_ROOM, widest))],
    ['a view-change with a million empty entries', encode({ k: 'view-change', vc: { body: { t: 'view-change', prepared: Array.from({ length: 1_000_000 }, () => ({})) }, sig: SIG } })],
    ['nested lists at the item bound', encode({ k: 'new-view', nv: { body: nested(3), x: nested(3), y: nested(3), z: nested(3), sig: SIG } })],
    ['nesting past the depth bound', encode({ k: 'evidence', proof: deep(1000) })],
    ['the largest message cut short', legal.subarray(0, legal.length - 1)],
    ['one byte over the limit', new Uint8Array(MAX_WIRE_BYTES + 1)],
  ];
  for (const kind of ['request', 'pre-prepare', 'prepare', 'commit', 'view-change', 'status', 'fetch', 'committed', 'evidence', 'checkpoint', 'state'] satisfies WireKind[]) {
    cases.push([`a ${kind} of empty maps`, encode({ k: kind, x: Array.from({ length: 200_000 }, () => ({})) })]);
  }
  for (const [name, bytes] of cases) {
    it(`${name} (${bytes.length} bytes)`, () => {
      const ms = decodeMs(bytes);
      expect(ms, `${ms.toFixed(1)} ms`).toBeLessThan(DECODE_BUDGET_MS);
    });
  }
});

/** Lists of MAX_CBOR_ITEMS-ish entries, `levels` deep, of empty maps: legal bounds, no legal shape. */
function nested(levels: number): unknown {
  return levels === 0 ? {} : Array.from({ length: 64 }, () => nested(levels - 1));
}

/** Items in well-formed CBOR, counted with no bounds. */
function countItems(bytes: Uint8Array): number {
  let count = 0;
  class Counting extends Tokenizer {
    override next(): Token {
      count++;
      return super.next();
    }
  }
  decode(bytes, { useMaps: false, tokenizer: new Counting(bytes, {}) });
  return count;
}

function deep(levels: number): unknown {
  let x: unknown = {};
  for (let i = 0; i < levels; i++) x = [x];
  return x;
}
