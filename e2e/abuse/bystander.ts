// The bystander room: honest members in a room of their own, from 127.0.0.1, who keep relaying to
// each other and keep having newcomers join fresh rooms while an attack runs elsewhere. What they
// see is what an attack costs everyone else. Each member relays a small signal to the next one at
// a steady rate and the next one echoes it back, so every relay gives one round-trip time.
import { percentile } from '../bench/model.ts';
import { refusalOf, SignalingClient } from './client.ts';

/** Settings of a bystander room. */
export interface BystanderOptions {
  /** WebSocket URL of the signaling endpoint. */
  url: string;
  /** Source address of every bystander socket. Default 127.0.0.1. */
  localAddress?: string;
  /** Members of the standing room. Default 4. */
  members?: number;
  /**
   * How often each member relays to the next one. Default 100 ms: with the echoes that is 20
   * frames a second per socket, half the server's per-socket rate limit, so a stalled server's
   * backlog does not get honest members rate-limited for its own delay.
   */
  relayEveryMs?: number;
  /** How often a newcomer joins a fresh room. Default 500 ms. */
  joinEveryMs?: number;
  /** A relay or join not answered within this long is lost. Default 2000 ms. */
  lostAfterMs?: number;
}

/** What the bystanders saw in one window (from one mark() to the next). */
export interface BystanderWindow {
  seconds: number;
  /** Connect-to-joined times of the newcomers that made it, ms. */
  joinMs: number[];
  /** Newcomers refused or not answered in time, by reason. */
  joinFailures: Record<string, number>;
  /** Relay round trips (member → server → member → server → member), ms. */
  relayMs: number[];
  /** Relays with no echo within lostAfterMs. */
  relaysLost: number;
  /** Standing members whose socket closed under them. */
  disconnects: number;
  /** Error frames the standing members received, by code. */
  errors: Record<string, number>;
}

/** The figures of a window that the report prints and the targets judge. */
export interface BystanderSummary {
  joins: number;
  joinP50: number;
  joinMax: number;
  relays: number;
  relayP50: number;
  relayP99: number;
  /** Everything the bystanders lost: failed joins, lost relays, dropped members, error frames. */
  lost: number;
  /** The losses in words, e.g. "3 joins (server-full 3)". */
  lostDetail: string;
}

interface Pending {
  sentAt: number;
  window: BystanderWindow;
}

const add = (rec: Record<string, number>, key: string, n = 1) => {
  rec[key] = (rec[key] ?? 0) + n;
};

function emptyWindow(): BystanderWindow {
  return { seconds: 0, joinMs: [], joinFailures: {}, relayMs: [], relaysLost: 0, disconnects: 0, errors: {} };
}

/** A standing bystander room plus a stream of newcomers; see the file comment. */
export class Bystander {
  private readonly opts: Required<BystanderOptions>;
  private readonly room = `bystanders-${Date.now().toString(36)}`;
  private members: SignalingClient[] = [];
  private readonly pending = new Map<string, Pending>();
  private current = emptyWindow();
  private markedAt = Date.now();
  private seq = 0;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(options: BystanderOptions) {
    this.opts = { localAddress: '127.0.0.1', members: 4, relayEveryMs: 100, joinEveryMs: 500, lostAfterMs: 2_000, ...options };
  }

  /** Joins the standing room and starts relaying and the newcomers. */
  async start(): Promise<void> {
    for (let i = 0; i < this.opts.members; i++) this.members.push(await this.member(i));
    this.members.forEach((_, i) => {
      // Staggered, so the room's relays are spread over the interval.
      const offset = (i * this.opts.relayEveryMs) / this.opts.members;
      this.timers.push(setTimeout(() => this.timers.push(setInterval(() => this.relay(i), this.opts.relayEveryMs)), offset));
    });
    this.timers.push(setInterval(() => void this.newcomer(), this.opts.joinEveryMs));
    this.timers.push(setInterval(() => this.expire(), 250));
  }

  private async member(i: number, key = this.members[i]?.key): Promise<SignalingClient> {
    const c = await SignalingClient.connect(this.opts.url, { localAddress: this.opts.localAddress, key });
    const joined = await c.join(this.room);
    if (!joined.ok) throw new Error(`a bystander could not join its room: ${joined.code}`);
    c.onSignal = (from, data) => this.onSignal(c, from, data);
    c.onError = (f) => add(this.current.errors, f.code);
    void c.whenClosed().then(() => this.onClosed(i, c));
    return c;
  }

  private onClosed(i: number, c: SignalingClient): void {
    if (this.stopped) return;
    this.current.disconnects++;
    // Rejoin, as a tab would, so the next window measures the room again.
    const retry = () => {
      if (this.stopped) return;
      this.member(i, c.key).then((fresh) => {
        this.members[i] = fresh;
      }, () => this.timers.push(setTimeout(retry, 500)));
    };
    retry();
  }

  private relay(i: number): void {
    const from = this.members[i]!;
    const to = this.members[(i + 1) % this.members.length]!;
    if (from.closeCode !== undefined || to.closeCode !== undefined) return;
    const id = `${i}:${this.seq++}`;
    this.pending.set(id, { sentAt: performance.now(), window: this.current });
    from.signal(to.peer, { ping: id });
  }

  private onSignal(me: SignalingClient, from: string, data: unknown): void {
    const d = data as { ping?: string; pong?: string } | null;
    if (typeof d?.ping === 'string') me.signal(from, { pong: d.ping });
    else if (typeof d?.pong === 'string') {
      const p = this.pending.get(d.pong);
      if (p === undefined) return;
      this.pending.delete(d.pong);
      p.window.relayMs.push(performance.now() - p.sentAt);
    }
  }

  private expire(): void {
    const limit = performance.now() - this.opts.lostAfterMs;
    for (const [id, p] of this.pending) {
      if (p.sentAt < limit) {
        this.pending.delete(id);
        p.window.relaysLost++;
      }
    }
  }

  private async newcomer(): Promise<void> {
    const window = this.current;
    const t = await this.probeJoin();
    if (typeof t === 'number') window.joinMs.push(t);
    else add(window.joinFailures, t);
  }

  /** One newcomer joins a fresh room: its connect-to-joined time in ms, or why it failed. */
  async probeJoin(): Promise<number | string> {
    const started = performance.now();
    let c: SignalingClient | undefined;
    try {
      c = await SignalingClient.connect(this.opts.url, { localAddress: this.opts.localAddress, timeoutMs: this.opts.lostAfterMs });
      const r = await c.join(`newcomer-${Math.random().toString(36).slice(2)}`, 4, this.opts.lostAfterMs);
      return r.ok ? performance.now() - started : r.code;
    } catch (e) {
      const why = refusalOf(e);
      return why.startsWith('no challenge') ? 'no connection' : why;
    } finally {
      c?.close();
    }
  }

  /** Ends the current window and starts the next one; relays still in flight count in the window that sent them. */
  mark(): BystanderWindow {
    const done = this.current;
    done.seconds = (Date.now() - this.markedAt) / 1000;
    this.current = emptyWindow();
    this.markedAt = Date.now();
    return done;
  }

  /** Waits until every relay sent so far is answered or lost, then ends the window. */
  async settle(): Promise<BystanderWindow> {
    const window = this.mark();
    const deadline = Date.now() + this.opts.lostAfterMs + 500;
    while ([...this.pending.values()].some((p) => p.window === window) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return window;
  }

  /** Stops everything and closes every socket. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const m of this.members) m.close();
  }
}

/** The window in the numbers the report prints. */
export function summarizeWindow(w: BystanderWindow): BystanderSummary {
  const joins = [...w.joinMs].sort((a, b) => a - b);
  const relays = [...w.relayMs].sort((a, b) => a - b);
  const failedJoins = Object.values(w.joinFailures).reduce((a, b) => a + b, 0);
  const errors = Object.values(w.errors).reduce((a, b) => a + b, 0);
  const parts: string[] = [];
  const codes = (rec: Record<string, number>) => Object.entries(rec).map(([k, n]) => `${k} ${n}`).join(', ');
  if (failedJoins) parts.push(`${failedJoins} joins (${codes(w.joinFailures)})`);
  if (w.relaysLost) parts.push(`${w.relaysLost} relays`);
  if (w.disconnects) parts.push(`${w.disconnects} members dropped`);
  if (errors) parts.push(`${errors} error frames (${codes(w.errors)})`);
  return {
    joins: joins.length,
    joinP50: percentile(joins, 50),
    joinMax: joins.at(-1) ?? Number.NaN,
    relays: relays.length,
    relayP50: percentile(relays, 50),
    relayP99: percentile(relays, 99),
    lost: failedJoins + w.relaysLost + w.disconnects + errors,
    lostDetail: parts.join(', ') || 'nothing',
  };
}
