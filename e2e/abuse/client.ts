// A signaling client for the abuse harness: honest when the bystanders use it, hostile when the
// attacks do. It can bind to a chosen loopback source address, because the server is meant to
// count and cap clients per address, and an attack must look like a different machine from the
// bystanders to measure that.
import { createServer } from 'node:net';
import { WebSocket } from 'ws';
import { generateKeyPair, sign, signedBytes, toHex, type KeyPair } from '../../src/crypto/ed25519.ts';
import { JOIN_DOMAIN, joinPayload, SIGNALING_PATH, type RoomSize, type ServerFrame } from '../../src/net/signaling-frames.ts';

/** An error frame as the server sends it. */
export type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

const addressUsable = new Map<string, Promise<boolean>>();

/** Whether this machine lets a socket bind to `address` (Linux does for all of 127.0.0.0/8). */
function canBind(address: string): Promise<boolean> {
  let known = addressUsable.get(address);
  if (known === undefined) {
    known = new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(0, address, () => probe.close(() => resolve(true)));
    });
    addressUsable.set(address, known);
  }
  return known;
}

/**
 * The loopback source address for client `n`: 127.0.0.1 for the bystanders (n = 1), 127.0.0.n for
 * an attacker. Where the system cannot bind such an address (not Linux) it is 127.0.0.1, and the
 * per-address figures then mean nothing.
 */
export async function loopbackAddress(n: number): Promise<string> {
  const address = `127.0.0.${n}`;
  return n === 1 || (await canBind(address)) ? address : '127.0.0.1';
}

/** The WebSocket URL of the signaling endpoint of a server at `base` (http://host:port). */
export function signalingUrl(base: string): string {
  return `${base.replace(/^http/, 'ws')}${SIGNALING_PATH}`;
}

/** Why a connect failed, in a word: the server's error code when it sent one before closing. */
export function refusalOf(error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  return /\(\d+, ([\w-]+)\)/.exec(why)?.[1] ?? why;
}

/** What to do with each signal relayed to a client. */
export type SignalHandler = (from: string, data: unknown) => void;

/** Connection options for {@link SignalingClient.connect}. */
export interface ConnectOptions {
  /** Source address to bind; default the system's choice (127.0.0.1 on loopback). */
  localAddress?: string;
  /** The member key to join with; default a fresh one. */
  key?: KeyPair;
  /** How long to wait for the server's challenge. Default 5000 ms. */
  timeoutMs?: number;
}

/** One WebSocket to the signaling server, with the join handshake and relays. */
export class SignalingClient {
  /** The member id this client joins as (its public key in hex). */
  readonly peer: string;
  /** The server's latest challenge: a join must sign this one. */
  nonce = '';
  /** Error frames received, by code. */
  readonly errors = new Map<string, number>();
  /** The longest error message received, in characters. */
  longestError = 0;
  /** Texts of the error frames received, the first few only. */
  readonly errorTexts: string[] = [];
  /** Close code once the socket closed; undefined while it is open. */
  closeCode: number | undefined;
  /** Called for each relayed signal. */
  onSignal: SignalHandler | undefined;
  /** Called for each error frame. */
  onError: ((frame: ErrorFrame) => void) | undefined;
  /** Bytes of frames received so far. */
  bytesIn = 0;
  private waiters: { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame | null) => void }[] = [];
  private closeWaiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket, readonly key: KeyPair) {
    this.peer = toHex(key.publicKey);
    ws.on('error', () => {});
    ws.on('message', (data) => this.receive(String(data)));
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.waiters.splice(0)) w.resolve(null);
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  /** Connects and waits for the challenge; rejects when the socket closes or stays silent. */
  static connect(url: string, options: ConnectOptions = {}): Promise<SignalingClient> {
    const ws = new WebSocket(url, { localAddress: options.localAddress, perMessageDeflate: false });
    const client = new SignalingClient(ws, options.key ?? generateKeyPair());
    return client.next((f) => f.type === 'challenge', options.timeoutMs ?? 5_000).then((f) => {
      if (f === null) {
        client.close();
        throw new Error(client.closeCode === undefined ? 'no challenge in time' : `closed before the challenge (${client.closeCode}${client.firstErrorCode()})`);
      }
      return client;
    });
  }

  private firstErrorCode(): string {
    const first = [...this.errors.keys()][0];
    return first ? `, ${first}` : '';
  }

  private receive(text: string): void {
    this.bytesIn += text.length;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'challenge') this.nonce = frame.nonce;
    if (frame.type === 'error') {
      this.errors.set(frame.code, (this.errors.get(frame.code) ?? 0) + 1);
      this.longestError = Math.max(this.longestError, frame.message.length);
      if (this.errorTexts.length < 8) this.errorTexts.push(frame.message);
      this.onError?.(frame);
    }
    if (frame.type === 'signal') this.onSignal?.(frame.from, frame.data);
    const i = this.waiters.findIndex((w) => w.match(frame));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
  }

  /** The next frame (from now on) that matches, or null on timeout or close. */
  next(match: (f: ServerFrame) => boolean, timeoutMs: number): Promise<ServerFrame | null> {
    if (this.closeCode !== undefined) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = {
        match,
        resolve: (f: ServerFrame | null) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** A join frame signed over `nonce` (default: the latest challenge). */
  joinFrame(room: string, size: RoomSize = 4, nonce = this.nonce): { type: 'join'; room: string; peer: string; size: RoomSize; sig: string } {
    const sig = toHex(sign(signedBytes(JOIN_DOMAIN, joinPayload(nonce, room, this.peer, size)), this.key.secretKey));
    return { type: 'join', room, peer: this.peer, size, sig };
  }

  /** Joins `room`; resolves with the peers already there, or with the error code ('timeout', 'closed'). */
  async join(room: string, size: RoomSize = 4, timeoutMs = 5_000): Promise<{ ok: true; peers: string[] } | { ok: false; code: string }> {
    const answer = this.next((f) => f.type === 'joined' || f.type === 'error', timeoutMs);
    this.send(this.joinFrame(room, size));
    const f = await answer;
    if (f === null) return { ok: false, code: this.closeCode === undefined ? 'timeout' : 'closed' };
    if (f.type === 'joined') return { ok: true, peers: f.peers };
    return { ok: false, code: f.type === 'error' ? f.code : f.type };
  }

  /** Sends a frame (a string is sent as it is). Never throws on a closed socket. */
  send(frame: unknown): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Relays `data` to member `to` of this client's room. */
  signal(to: string, data: unknown): void {
    this.send({ type: 'signal', to, data });
  }

  /** Bytes handed to the socket but not yet written out. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  /** Resolves once the socket has closed. */
  whenClosed(): Promise<void> {
    if (this.closeCode !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /**
   * Reads at most `bytesPerSecond` from now on, like a member on a slow line: the socket is paused
   * whenever it got ahead, so the server's unsent output for it grows as it would in the field.
   */
  readAtMost(bytesPerSecond: number): void {
    const started = Date.now();
    const startBytes = this.bytesIn;
    let timer: NodeJS.Timeout | undefined;
    this.ws.on('message', () => {
      const ahead = this.bytesIn - startBytes - ((Date.now() - started) / 1000) * bytesPerSecond;
      if (ahead <= 0 || timer !== undefined || this.closeCode !== undefined) return;
      this.ws.pause();
      timer = setTimeout(() => {
        timer = undefined;
        if (this.closeCode === undefined) this.ws.resume();
      }, Math.ceil((ahead / bytesPerSecond) * 1000));
    });
  }

  /** Closes at once, without the closing handshake. */
  close(): void {
    this.ws.terminate();
  }
}

/** Connects `count` clients, `parallel` at a time; failed connections are counted, not thrown. */
export async function connectMany(
  url: string, count: number, options: ConnectOptions & { parallel?: number; keyOf?: (i: number) => KeyPair },
): Promise<{ clients: SignalingClient[]; failures: Map<string, number> }> {
  const clients: SignalingClient[] = [];
  const failures = new Map<string, number>();
  const parallel = options.parallel ?? 50;
  for (let start = 0; start < count; start += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - start) }, (_, j) =>
      SignalingClient.connect(url, { ...options, key: options.keyOf?.(start + j) }).then(
        (c) => clients.push(c),
        (e: unknown) => {
          const why = e instanceof Error ? e.message : String(e);
          failures.set(why, (failures.get(why) ?? 0) + 1);
        },
      ));
    await Promise.all(batch);
  }
  return { clients, failures };
}
