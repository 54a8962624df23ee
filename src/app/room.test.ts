// LunchRoom's message diagrams: four rooms wired through a network the test delivers by hand, so a
// message can be held back until its sequence number has executed and then arrive late.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeWire } from '../core/messages.ts';
import type { WalRecord } from '../core/wal.ts';
import { generateKeyPair, toHex } from '../crypto/ed25519.ts';
import type { RoomRoster, RoomStore } from '../storage/room-store.ts';
import { LunchRoom } from './room.ts';
import type { RoomView } from './room-view.ts';

/** Just enough of a RoomStore, in memory. */
function memoryStore(): RoomStore {
  const rosters = new Map<string, RoomRoster>();
  const records = new Map<string, WalRecord[]>();
  const key = (room: string, member: string) => `${room}/${member}`;
  return {
    loadRoster: async (room, member) => rosters.get(key(room, member)) ?? null,
    saveRoster: async (room, member, roster) => void rosters.set(key(room, member), roster),
    appendRecords: async (room, member, batch) => void records.set(key(room, member), [...(records.get(key(room, member)) ?? []), ...batch]),
    loadRecords: async (room, member) => ({ records: [...(records.get(key(room, member)) ?? [])], corrupt: 0 }),
    compact: async () => ({ stableSeq: null, removed: 0, kept: 0 }),
    wipe: async (room, member) => {
      rosters.delete(key(room, member));
      records.delete(key(room, member));
    },
    close: async () => {},
  };
}

interface Packet {
  from: string;
  to: string;
  bytes: Uint8Array;
}

/** What a packet carries, for holding back: kind, sequence number and the member who signed it. */
function about(bytes: Uint8Array): { k: string; seq: number | null; signer: number | null } {
  const d = decodeWire(bytes);
  if (!d.ok) return { k: 'garbage', seq: null, signer: null };
  const m = d.message;
  if (m.k === 'commit') return { k: m.k, seq: m.commit.body.seq, signer: m.commit.body.from };
  if (m.k === 'prepare') return { k: m.k, seq: m.prepare.body.seq, signer: m.prepare.body.from };
  if (m.k === 'pre-prepare') return { k: m.k, seq: m.pp.body.seq, signer: m.pp.body.from };
  return { k: m.k, seq: null, signer: null };
}

class Net {
  readonly queue: Packet[] = [];
  readonly held: Packet[] = [];
  readonly rooms = new Map<string, LunchRoom>();
  readonly stores = new Map<string, RoomStore>();
  readonly changes = new Map<string, number>();
  readonly ids: string[];
  readonly clock = { now: 1_000 };

  constructor(n: 4 | 7 | 10) {
    const pairs = Array.from({ length: n }, () => generateKeyPair());
    this.ids = pairs.map((p) => toHex(p.publicKey));
    pairs.forEach((p, i) => {
      const id = this.ids[i]!;
      const others = this.ids.filter((x) => x !== id);
      this.changes.set(id, 0);
      const store = memoryStore();
      this.stores.set(id, store);
      const room = new LunchRoom({
        room: 'late-room',
        size: n,
        me: { id, secretKey: p.secretKey },
        peers: {
          verified: () => others,
          send: (to, bytes) => void this.queue.push({ from: id, to, bytes }),
        },
        store,
        onChange: () => void this.changes.set(id, (this.changes.get(id) ?? 0) + 1),
        now: () => this.clock.now,
      });
      this.rooms.set(id, room);
    });
  }

  async start(): Promise<void> {
    for (const room of this.rooms.values()) await room.start();
    await this.settle();
    for (const room of this.rooms.values()) expect(room.view().phase).toBe('running');
  }

  /** The room of roster member `index` (rosters are ordered by key). */
  member(index: number): LunchRoom {
    return this.rooms.get(this.idOf(index))!;
  }

  index(id: string): number {
    return [...this.ids].sort().indexOf(id);
  }

  /** The key of roster member `index`. */
  idOf(index: number): string {
    return [...this.ids].sort()[index]!;
  }

  /** Delivers everything queued (and whatever that causes), holding back what `hold` picks. */
  async settle(hold: (p: Packet) => boolean = () => false): Promise<void> {
    for (let idle = 0; idle < 5; ) {
      await new Promise((r) => setTimeout(r, 0));
      const batch = this.queue.splice(0);
      if (batch.length === 0) {
        idle++;
        continue;
      }
      idle = 0;
      for (const p of batch) {
        if (hold(p)) this.held.push(p);
        else this.rooms.get(p.to)!.receive(p.from, p.bytes);
      }
    }
  }

  async release(): Promise<void> {
    for (const p of this.held.splice(0)) this.rooms.get(p.to)!.receive(p.from, p.bytes);
    await this.settle();
  }

  stop(): void {
    for (const room of this.rooms.values()) room.stop();
  }
}

const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0);
const commitsFrom = (view: RoomView, seq: number) =>
  [...new Set(view.diagrams.find((d) => d.seq === seq)!.events.filter((e) => e.type === 'commit').map((e) => e.from))].sort();

let net: Net | null = null;
afterEach(() => {
  net?.stop();
  net = null;
});

describe('LunchRoom durability', () => {
  /** Holds member `index`'s next writes until `open()`; `batches` lists the size of each write. */
  function gate(index: number) {
    const store = net!.stores.get(net!.idOf(index))!;
    const append = store.appendRecords.bind(store);
    const batches: number[] = [];
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    store.appendRecords = async (room, member, records) => {
      batches.push(records.length);
      await opened;
      return append(room, member, records);
    };
    return { batches, open };
  }

  it('shows the agreed names everywhere, and tells only the member whose request the rules refused', async () => {
    net = new Net(4);
    await net.start();
    const views = () => [0, 1, 2, 3].map((i) => net!.member(i).view());
    for (const v of views()) expect(v.members.map((m) => m.name)).toEqual(['James', 'Bryan', 'Rich', 'Chris']);
    net.member(2).rename('  Dana ');
    await net.settle();
    for (const v of views()) expect(v.members.map((m) => m.name)).toEqual(['James', 'Bryan', 'Dana', 'Chris']);
    net.member(3).rename('DANA');
    await net.settle();
    expect(views().map((v) => v.refused)).toEqual([null, null, null, 'the name “DANA” is already taken by Dana']);
    expect(views()[3]!.members[3]!.name).toBe('Chris');
    // Asking again clears it; a name that breaks the rules is refused before anything is signed.
    net.member(3).newRound();
    expect(net.member(3).view().refused).toBeNull();
    expect(() => net!.member(3).rename('a\nb')).toThrow('A name cannot contain line breaks or control characters.');
    await net.settle();
    for (const v of views()) expect([v.asked, v.quorum]).toEqual([['Chris'], 3]);
    expect(views().map((v) => v.iAsked)).toEqual([false, false, false, true]);
  });

  it('makes the decision card from one final set of votes', async () => {
    net = new Net(4);
    await net.start();
    net.member(1).propose('Ramen Spot', '12:20');
    await net.settle();
    net.member(3).vote({ member: 1, counter: 1 }, 'decline');
    net.member(0).vote({ member: 1, counter: 1 }, 'join');
    await net.settle();
    net.member(2).vote({ member: 1, counter: 1 }, 'join');
    await net.settle();
    net.member(0).vote({ member: 1, counter: 1 }, 'decline');
    await net.settle();
    for (const i of [0, 1, 2, 3]) {
      const v = net.member(i).view();
      expect(v.decision).toMatchObject({ going: ['James', 'Bryan', 'Rich'], declined: ['Chris'] });
    }
    expect(net.member(0).view().refused).toBe('round 1 is already decided');
  });

  it('writes a run of records in one call, and sends what follows only once it is durable', async () => {
    net = new Net(4);
    await net.start();
    const issuer = net.idOf(1);
    const { batches, open } = gate(1);
    net.member(1).propose('Ramen Spot', '12:20');
    await new Promise((r) => setTimeout(r, 10));
    expect(batches).toHaveLength(1);
    expect(net.queue.filter((p) => p.from === issuer)).toEqual([]);
    open();
    await net.settle();
    expect(net.member(1).view().executed).toBe(1);
  });

  it('sends nothing once stopped, even what a write already under way was for', async () => {
    net = new Net(4);
    await net.start();
    const issuer = net.idOf(1);
    const { batches, open } = gate(1);
    net.member(1).propose('Ramen Spot', '12:20');
    await new Promise((r) => setTimeout(r, 10));
    net.member(1).stop();
    open();
    await net.settle();
    expect(batches).toHaveLength(1);
    expect(net.queue.filter((p) => p.from === issuer)).toEqual([]);
    expect(net.member(0).view().executed).toBe(0);
  });
});

describe('LunchRoom diagrams', () => {
  it('adds a commit that arrives after its sequence number executed to that decision, diagram and counts alike', async () => {
    net = new Net(4);
    await net.start();
    const target = 0;
    const late = 3;
    const isLate = (p: Packet) => {
      const a = about(p.bytes);
      return a.k === 'commit' && a.signer === late && net!.index(p.to) === target;
    };
    net.member(1).propose('Ramen Spot', '12:20');
    await net.settle(isLate);
    expect(net.held).toHaveLength(1);

    const room = net.member(target);
    const before = room.view();
    expect(before.executed).toBe(1);
    expect(before.diagrams.map((d) => d.seq)).toEqual([1]);
    expect(commitsFrom(before, 1)).toEqual([0, 1, 2]);
    expect(before.panel.lastCounts.commit).toBe(5); // three sent, two received
    expect(before.diagrams[0]!.events).toHaveLength(sum(before.panel.lastCounts));
    const changes = net.changes.get(net.idOf(target))!;

    await net.release();
    const after = room.view();
    expect(after.executed).toBe(1);
    expect(commitsFrom(after, 1)).toEqual([0, 1, 2, 3]);
    expect(after.panel.lastCounts.commit).toBe(6);
    expect(after.diagrams[0]!.events).toHaveLength(sum(after.panel.lastCounts));
    expect(sum(after.panel.lastCounts)).toBe(sum(before.panel.lastCounts) + 1);
    const arrow = after.diagrams[0]!.events.at(-1)!;
    expect(arrow).toMatchObject({ type: 'commit', phase: 'commit', from: late, to: target, seq: 1, view: 0 });
    // The UI is told, so the last decision's diagram and counters update live.
    expect(net.changes.get(net.idOf(target))!).toBeGreaterThan(changes);
  });

  it('adds a late commit to an earlier decision, leaving the last one alone', async () => {
    net = new Net(4);
    await net.start();
    const target = 2;
    const late = 0;
    const isLate = (p: Packet) => {
      const a = about(p.bytes);
      return a.k === 'commit' && a.seq === 1 && a.signer === late && net!.index(p.to) === target;
    };
    net.member(1).propose('Ramen Spot', '12:20');
    await net.settle(isLate);
    net.member(3).propose('Taco Truck', '12:40');
    await net.settle(isLate);
    expect(net.held).toHaveLength(1);

    const room = net.member(target);
    const before = room.view();
    expect(before.diagrams.map((d) => d.seq)).toEqual([1, 2]);
    expect(commitsFrom(before, 1)).toEqual([1, 2, 3]);
    expect(commitsFrom(before, 2)).toEqual([0, 1, 2, 3]);

    await net.release();
    const after = room.view();
    expect(commitsFrom(after, 1)).toEqual([0, 1, 2, 3]);
    expect(after.diagrams[0]!.events).toHaveLength(before.diagrams[0]!.events.length + 1);
    expect(after.diagrams[1]!.events).toEqual(before.diagrams[1]!.events);
    expect(after.panel.lastCounts).toEqual(before.panel.lastCounts);
    expect(after.diagrams[1]!.events).toHaveLength(sum(after.panel.lastCounts));
  });

  it('adds a request that arrives after the pre-prepare carrying it executed to that decision', async () => {
    net = new Net(4);
    await net.start();
    const target = 3;
    const proposer = 1;
    const isLate = (p: Packet) => about(p.bytes).k === 'request' && net!.index(p.to) === target;
    net.member(proposer).propose('Ramen Spot', '12:20');
    await net.settle(isLate);
    expect(net.held).toHaveLength(1);
    const room = net.member(target);
    const before = room.view();
    expect(before.executed).toBe(1);
    expect(before.panel.lastCounts.request).toBeUndefined();

    await net.release();
    const after = room.view();
    expect(after.panel.lastCounts.request).toBe(1);
    expect(after.diagrams[0]!.events.at(-1)).toMatchObject({ type: 'request', phase: 'request', from: proposer, to: target });
    expect(after.diagrams[0]!.events).toHaveLength(sum(after.panel.lastCounts));
  });

  it('draws a late message once however often it is repeated, and counts every copy in the totals', async () => {
    net = new Net(4);
    await net.start();
    const target = 1;
    const isLate = (p: Packet) => {
      const a = about(p.bytes);
      return a.k === 'commit' && a.signer === 2 && net!.index(p.to) === target;
    };
    net.member(0).propose('Ramen Spot', '12:20');
    await net.settle(isLate);
    const [held] = net.held.splice(0);
    const room = net.member(target);
    const before = room.view();
    for (let i = 0; i < 600; i++) room.receive(held!.from, held!.bytes);
    await net.settle();
    const view = room.view();
    expect(view.diagrams[0]!.events).toHaveLength(before.diagrams[0]!.events.length + 1);
    expect(view.diagrams[0]!.events).toHaveLength(sum(view.panel.lastCounts));
    expect(view.panel.lastCounts.commit).toBe(6);
    expect(view.panel.totalCounts.commit).toBeGreaterThanOrEqual(600);
  });

  for (const n of [4, 7] as const) {
    it(`shows the protocol's count in the last decision at n = ${n}, however many copies the retransmission beat adds`, async () => {
      net = new Net(n);
      await net.start();
      // Commits held back leave every slot unfinished when the beat comes, so everyone resends.
      net.member(1).propose('Ramen Spot', '12:20');
      await net.settle((p) => about(p.bytes).k === 'commit');
      net.clock.now += 1_500;
      await new Promise((r) => setTimeout(r, 600));
      await net.release();
      const views = [...net.rooms.values()].map((r) => r.view());
      expect(views.every((v) => v.executed === 1)).toBe(true);
      expect(views.reduce((a, v) => a + v.panel.retransmissions, 0)).toBeGreaterThan(0);
      // Each message is counted by its sender and its receiver.
      const shown = (kind: string) => views.reduce((a, v) => a + (v.panel.lastCounts[kind] ?? 0), 0) / 2;
      expect(['request', 'pre-prepare', 'prepare', 'commit'].map(shown)).toEqual([n - 1, n - 1, (n - 1) ** 2, n * (n - 1)]);
    });
  }
});
