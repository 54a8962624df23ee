// Browser side of the signaling server: join a room with proof of our key, relay opaque signals,
// and reconnect with backoff when the socket drops. Frames from the server are validated like any
// other input: the server introduces peers but is not trusted.
import * as v from 'valibot';
import { sign, signedBytes, toHex } from '../crypto/ed25519.ts';
import {
  JOIN_DOMAIN, SIGNALING_PATH, ServerFrame, joinPayload, type ClientFrame, type ErrorCode, type RoomSize,
} from '../../signaling-server/frames.ts';

export interface SignalingEvents {
  joined(peers: string[]): void;
  peerJoined(peer: string): void;
  peerLeft(peer: string): void;
  signal(from: string, data: unknown): void;
  /** The server refused us for good (room full, wrong size, replaced by a newer tab). */
  fatal(code: ErrorCode, message: string): void;
  status(status: SignalingStatus, detail?: string): void;
}

export type SignalingStatus = 'connecting' | 'joined' | 'offline';

export interface SignalingOptions {
  url: string;
  room: string;
  size: RoomSize;
  peer: string;
  secretKey: Uint8Array;
  events: SignalingEvents;
  /** The WebSocket constructor; the browser's unless a test passes another. */
  WebSocket?: new (url: string) => WebSocket;
  /** First reconnect delay; doubles up to 10 s. */
  retryBaseMs?: number;
}

const FATAL: ReadonlySet<ErrorCode> = new Set(['room-full', 'size-mismatch', 'replaced', 'too-many-rooms', 'server-full', 'bad-signature']);
const MAX_BACKOFF_MS = 10_000;
const OPEN = 1; // WebSocket.OPEN, which not every WebSocket implementation exposes statically

export function signalingUrl(location: Location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${SIGNALING_PATH}`;
}

export class SignalingClient {
  private socket: WebSocket | null = null;
  private stopped = false;
  private backoff: number;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
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
    this.socket?.close(1000, 'leaving');
    this.socket = null;
  }

  sendSignal(to: string, data: unknown): void {
    this.send({ type: 'signal', to, data });
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
    socket.onmessage = (e) => {
      if (this.socket !== socket) return;
      this.receive(typeof e.data === 'string' ? e.data : '');
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      events.status('offline', e.reason || `connection closed (${e.code})`);
      this.retryTimer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
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
      case 'joined':
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
      case 'error':
        if (FATAL.has(frame.code)) {
          this.stop();
          events.fatal(frame.code, frame.message);
        } else {
          this.count(`server-error:${frame.code}`);
        }
        return;
    }
  }

  private count(reason: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }
}

