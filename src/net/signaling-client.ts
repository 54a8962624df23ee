// Browser side of the signaling server: join a room with proof of our key, relay opaque signals,
// and reconnect with backoff when the socket drops. Frames from the server are validated like any
// other input: the server introduces peers but is not trusted.
import * as v from 'valibot';
import { sign, signedBytes, toHex } from '../crypto/ed25519.ts';
import {
  JOIN_DOMAIN, SIGNALING_PATH, ServerFrame, joinPayload, type ClientFrame, type ErrorCode, type RoomSize,
} from './signaling-frames.ts';

/** What the client reports to the tab. */
export interface SignalingEvents {
  joined(peers: string[]): void;
  peerJoined(peer: string): void;
  peerLeft(peer: string): void;
  signal(from: string, data: unknown): void;
  /**
   * The server refused us for good: a newer tab of this member replaced this one, or the room is
   * full and this tab holds no verified channel into it. Every other refusal is retried.
   */
  fatal(code: ErrorCode, message: string): void;
  status(status: SignalingStatus, detail?: string): void;
  /** The STUN/TURN servers the server hands out (fresh TURN credentials on every join). */
  ice?(config: RTCConfiguration): void;
}

/** Where the tab stands with the signaling server, for the status line. */
export type SignalingStatus = 'connecting' | 'joined' | 'offline';

/** Who this tab is, which room it joins, and how. */
export interface SignalingOptions {
  url: string;
  room: string;
  size: RoomSize;
  peer: string;
  secretKey: Uint8Array;
  events: SignalingEvents;
  /** The WebSocket constructor; the browser's unless a test passes another. */
  WebSocket?: new (url: string) => WebSocket;
  /** First reconnect delay; doubles up to 10 s, with jitter so refused tabs do not return in step. */
  retryBaseMs?: number;
  /**
   * Whether this tab has verified data channels into the room. While it does, even `room-full`
   * is retried rather than final: the channels work without the server, and the seat may have
   * gone to another key only because the room met while this tab's socket was away.
   */
  hasVerifiedChannels?: () => boolean;
  /**
   * How often the tab pings the server. A connection that does not open within two of these, or
   * that answers nothing to a ping for two of them, is given up and made anew: after a network
   * cut the browser may not notice for minutes that its socket is dead. Default 10000.
   */
  keepaliveMs?: number;
}

// A refusal of a join is retried after a pause, whatever it says, except these. Capacity errors
// (server-full, too-many-rooms, busy, rate-limited) pass when strangers go; size-mismatch comes
// only from older servers, and a room named with another size is another room on newer ones.
const FINAL: ReadonlySet<ErrorCode> = new Set(['replaced', 'room-full']);
const JOIN_REFUSALS: ReadonlySet<ErrorCode> = new Set([
  'room-full', 'size-mismatch', 'too-many-rooms', 'server-full', 'busy', 'rate-limited', 'bad-signature',
]);
const MAX_BACKOFF_MS = 10_000;
const OPEN = 1; // WebSocket.OPEN, which not every WebSocket implementation exposes statically

/** The signaling endpoint on the server that served this page (wss when the page is https). */
export function signalingUrl(location: Location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${SIGNALING_PATH}`;
}

/**
 * One tab's connection to the signaling server: joins, relays, and keeps reconnecting with backoff
 * until stopped or refused for good.
 */
export class SignalingClient {
  private socket: WebSocket | null = null;
  private stopped = false;
  private backoff: number;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private keepalive: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private pingSentAt: number | null = null;
  /** The current socket's join was accepted. */
  private joined = false;
  /** Frames from the server that failed validation, by reason. */
  readonly dropped = new Map<string, number>();

  constructor(private readonly options: SignalingOptions) {
    this.backoff = options.retryBaseMs ?? 250;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.keepalive);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onerror = () => {}; // closing a socket that is still connecting reports an error
      socket.close(1000, 'leaving');
    }
  }

  /** Relays a signal once this tab is in the room; before that the server would refuse it. */
  sendSignal(to: string, data: unknown): void {
    if (this.joined) this.send({ type: 'signal', to, data });
  }

  private send(frame: ClientFrame): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  private connect(): void {
    const { events } = this.options;
    events.status('connecting');
    const Socket = this.options.WebSocket ?? WebSocket;
    const socket = new Socket(this.options.url);
    this.socket = socket;
    this.joined = false;
    const keepaliveMs = this.options.keepaliveMs ?? 10_000;
    const openedBy = Date.now() + 2 * keepaliveMs;
    this.lastHeard = Date.now();
    this.pingSentAt = null;
    clearInterval(this.keepalive);
    // Judged by the answer to the last ping, not by the timer's pace: a background tab's timers
    // may run only once a minute, and that alone must not look like a dead connection.
    this.keepalive = setInterval(() => {
      if (this.socket !== socket) return;
      const now = Date.now();
      if (socket.readyState !== OPEN) {
        if (now > openedBy) this.lost(socket, 'the signaling server did not answer');
      } else if (this.pingSentAt !== null && this.lastHeard < this.pingSentAt) {
        if (now - this.pingSentAt >= 2 * keepaliveMs) this.lost(socket, 'no answer from the signaling server');
      } else {
        this.pingSentAt = now;
        this.send({ type: 'ping' });
      }
    }, keepaliveMs);
    socket.onmessage = (e) => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      this.receive(typeof e.data === 'string' ? e.data : '');
    };
    socket.onclose = (e) => {
      if (this.socket === socket) this.lost(socket, e.reason || `connection closed (${e.code})`);
    };
  }

  /** This socket is closed or dead: forget it and connect again after a pause. */
  private lost(socket: WebSocket, why: string): void {
    this.socket = null;
    clearInterval(this.keepalive);
    socket.onerror = () => {};
    try {
      if (socket.readyState !== 3) socket.close(); // 3: CLOSED
    } catch {
      // already closing
    }
    if (this.stopped) return;
    this.options.events.status('offline', why);
    this.retryTimer = setTimeout(() => this.connect(), this.backoff * (0.75 + Math.random() / 2));
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  private receive(text: string): void {
    const { events, room, size, peer, secretKey } = this.options;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.count('bad-json');
      return;
    }
    const parsed = v.safeParse(ServerFrame, json);
    if (!parsed.success) {
      this.count('bad-frame');
      return;
    }
    const frame = parsed.output;
    switch (frame.type) {
      case 'challenge': {
        const sig = sign(signedBytes(JOIN_DOMAIN, joinPayload(frame.nonce, room, peer, size)), secretKey);
        this.send({ type: 'join', room, peer, size, sig: toHex(sig) });
        return;
      }
      case 'ice':
        events.ice?.({ iceServers: frame.iceServers, iceTransportPolicy: frame.iceTransportPolicy });
        return;
      case 'joined':
        this.joined = true;
        this.backoff = this.options.retryBaseMs ?? 250;
        events.status('joined');
        events.joined(frame.peers.filter((p) => p !== peer));
        return;
      case 'peer-joined':
        if (frame.peer !== peer) events.peerJoined(frame.peer);
        return;
      case 'peer-left':
        if (frame.peer !== peer) events.peerLeft(frame.peer);
        return;
      case 'signal':
        events.signal(frame.from, frame.data);
        return;
      case 'pong':
        return;
      case 'error': {
        this.count(`server-error:${frame.code}`);
        const final = FINAL.has(frame.code) && !(frame.code === 'room-full' && this.options.hasVerifiedChannels?.());
        if (final) {
          this.stop();
          events.fatal(frame.code, frame.message);
        } else if (!this.joined && this.socket && JOIN_REFUSALS.has(frame.code)) {
          // Our join was refused: ask again on a fresh socket, after a pause that grows.
          this.lost(this.socket, `the signaling server refused to let this tab in for now (${frame.code}); trying again`);
        }
        return;
      }
    }
  }

  private count(reason: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }
}

