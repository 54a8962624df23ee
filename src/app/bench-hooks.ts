// Measurement hooks for `npm run bench`, installed only when the link carries `bench=1`. They let
// the benchmark drive a tab and read when things happened, on a clock shared by all tabs of the
// machine (epoch milliseconds with sub-millisecond precision).
import type { Strategy } from '../core/adversaries.ts';
import { WAL_VERSION } from '../core/wal.ts';
import { generateKeyPair, sign, verify } from '../crypto/ed25519.ts';
import type { RoomStore } from '../storage/room-store.ts';
import type { ProtocolPanelView } from './room-view.ts';
import type { LunchRoom } from './room.ts';

/** When a sequence number executed in this tab, on the machine-wide clock, and which requests it carried. */
export interface ExecutedMark {
  seq: number;
  at: number;
  requests: string[];
}

/** What the bench may ask of a tab (`window.__lunchBench`); e2e/bench/pages.ts calls these. */
export interface BenchHooks {
  ready(): boolean;
  n(): number;
  me(): number;
  primary(): number;
  propose(place: string, time: string): void;
  vote(member: number, counter: number, choice: 'join' | 'decline'): void;
  executed(): ExecutedMark[];
  decision(): string | null;
  panel(): ProtocolPanelView | null;
  setMalicious(enabled: boolean, strategy: Strategy): void;
  signCost(iterations: number): number;
  verifyCost(iterations: number): number;
  durableWriteCost(iterations: number): Promise<number>;
  ping(peer: number, count: number): Promise<number[]>;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across the tabs of one machine. */
export const clock = (): number => performance.timeOrigin + performance.now();

/** Installs the hooks on `window.__lunchBench`; `marks` is filled by the room's onExecuted. */
export function installBenchHooks(room: LunchRoom, store: RoomStore, ping: (id: string) => Promise<number>, marks: ExecutedMark[]): void {
  const msg = new TextEncoder().encode('byzantine-lunch bench message of a typical size '.repeat(4));
  const hooks: BenchHooks = {
    ready: () => room.view().phase === 'running',
    n: () => room.view().size,
    me: () => room.view().members.findIndex((m) => m.isMe),
    primary: () => room.view().members.findIndex((m) => m.primary),
    propose: (place, time) => room.propose(place, time),
    vote: (member, counter, choice) => room.vote({ member, counter }, choice),
    executed: () => marks,
    decision: () => room.view().decision?.place ?? null,
    panel: () => room.view().panel,
    setMalicious: (enabled, strategy) => room.setMalicious(enabled, strategy),
    signCost(iterations) {
      const { secretKey } = generateKeyPair();
      const t = performance.now();
      for (let i = 0; i < iterations; i++) sign(msg, secretKey);
      return (performance.now() - t) / iterations;
    },
    verifyCost(iterations) {
      const { secretKey, publicKey } = generateKeyPair();
      const sig = sign(msg, secretKey);
      const t = performance.now();
      for (let i = 0; i < iterations; i++) verify(sig, msg, publicKey);
      return (performance.now() - t) / iterations;
    },
    async durableWriteCost(iterations) {
      const room = `bench-scratch-${Math.floor(Math.random() * 1e9)}`;
      const owner = 'ab'.repeat(32);
      const t = performance.now();
      for (let i = 0; i < iterations; i++) await store.appendRecords(room, owner, [{ v: WAL_VERSION, kind: 'start' }]);
      const cost = (performance.now() - t) / iterations;
      await store.wipe(room, owner);
      return cost;
    },
    async ping(peer, count) {
      const id = room.view().members[peer]?.id;
      if (!id) throw new Error(`no member ${peer}`);
      const rtts: number[] = [];
      for (let i = 0; i < count; i++) rtts.push(await ping(id));
      return rtts;
    },
  };
  (globalThis as { __lunchBench?: BenchHooks }).__lunchBench = hooks;
}
