// The signaling server: one HTTP server that serves the built app and, on SIGNALING_PATH, a
// WebSocket endpoint that introduces the members of a room to each other. It keeps a map from
// room to members and does four things: join (after checking a signature that proves the socket
// holds the peer's key), relay opaque `data` between two members of the same room, leave, and
// ping. It never interprets what it relays and must never throw on anything a client sends.
//
// Nobody who can reach it may shut others out (issue 13). Every scarce thing has a budget that
// one party cannot spend for everyone: sockets per address as well as in total, seats per room
// (kept for a room's members, so strangers never take them), signature checks per address and per
// second, relayed bytes per sender, and queued bytes per sender and target, so that a flood is
// refused to whoever sends it instead of piling up on (and getting dropped) whoever receives it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import sirv from 'sirv';
import * as v from 'valibot';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { fromHex, randomBytes, signedBytes, toHex, verify } from '../src/crypto/ed25519.ts';
import {
  ClientFrame,
  describeIssues,
  JOIN_DOMAIN,
  joinPayload,
  MAX_SIGNALING_FRAME_BYTES,
  SIGNALING_PATH,
  type ErrorCode,
  type RoomSize,
  type ServerFrame,
} from '../src/net/signaling-frames.ts';
import { iceFrameFor, type IceSettings } from './ice.ts';
import { TokenBucket } from '../src/net/budget.ts';
import { addressKey } from './limits.ts';

/**
 * Every limit below has a default meant for a public server of this small app; tests shrink them.
 * "Address" means the remote IP address (an IPv6 address by its /64), as the server's own socket
 * sees it: behind a reverse proxy every client has the proxy's address.
 */
export interface SignalingServerOptions {
  /** Directory of the built app, served as a single-page app. Undefined: WebSocket only, 404 otherwise. */
  staticDir?: string;
  /** Most rooms that may exist at once. Default 1000. */
  maxRooms?: number;
  /** Most rooms that sockets from one address may have opened and that still exist. Default 50. */
  maxRoomsPerAddress?: number;
  /**
   * Most WebSocket connections at once. When it is reached, a new socket is let in only by
   * closing the oldest socket that has not joined a room, taken from the address that holds the
   * most such sockets, and only if that address holds more of them than the newcomer's does;
   * otherwise the newcomer gets `server-full` and is closed. Default 2000.
   */
  maxConnections?: number;
  /**
   * Of maxConnections, how many are kept for sockets that have not joined yet: members of rooms
   * may hold at most maxConnections minus this many seats, so joining members never use up the
   * room a returning member needs to connect. Default a tenth of maxConnections.
   */
  pendingReserve?: number;
  /**
   * Most WebSocket connections from one address. The e2e suite opens up to ten tabs of a room at
   * once from 127.0.0.1, and a reload briefly holds two sockets for one tab. Default 64.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Most TCP connections (plain HTTP and WebSocket alike) from one address; more are closed at
   * once, before any byte is read. Default 128 (maxConnectionsPerAddress plus room for the few
   * connections a browser uses to load the app).
   */
  maxSocketsPerAddress?: number;
  /** Most TCP connections at once, of any kind. Default maxConnections + 500. */
  maxSockets?: number;
  /** How often sockets are pinged; a socket that did not answer the previous ping is dropped. Default 15000. */
  pingIntervalMs?: number;
  /** Token-bucket refill rate per connection, in frames per second. Default 40. */
  ratePerSecond?: number;
  /** Token-bucket capacity per connection: the largest burst accepted at once. Default 80. */
  rateBurst?: number;
  /** A connection that has this many frames rate-limited without pausing is closed (1008). Default 200. */
  maxRateLimited?: number;
  /**
   * Bytes of signals one member may have relayed per second, counted as sent to the target.
   * A browser's offer, answer and candidates for one peer come to a few KiB. Default 32768.
   */
  relayBytesPerSecond?: number;
  /**
   * The relay budget's burst: enough for a tab of a ten-member room to introduce itself to all
   * nine others at once, and more than one largest frame (64 KiB). Default 262144.
   */
  relayBurstBytes?: number;
  /**
   * Most bytes relayed from one sender that may wait, unsent, for one target. A signal beyond
   * that is refused to its sender (`peer-busy`) instead of being queued: a target that reads
   * slowly then holds at most this much per room-mate. Default 98304 (one largest frame fits).
   */
  maxQueuedPerSender?: number;
  /**
   * A socket whose unsent output exceeds this many bytes is not reading and is dropped. Relays
   * alone never take a socket past half of it (they are refused first), so only the server's
   * own frames, which it sends at a pace the socket's own behaviour sets, can. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * A socket that stays outside every room this long is closed, so idle sockets cannot fill the
   * server. A tab joins as soon as it is challenged, within a round trip. Default 20000.
   */
  joinTimeoutMs?: number;
  /** Join attempts accepted per second from one address, before any other check. Default 5. */
  joinAttemptsPerSecond?: number;
  /** Burst of join attempts from one address: ten tabs opened at once, twice. Default 20. */
  joinAttemptBurst?: number;
  /**
   * HTTP requests answered per second from one address; beyond it the socket is closed without
   * an answer, which costs the server next to nothing. A tab loads a handful of files. Default 50.
   */
  httpRequestsPerSecond?: number;
  /** Burst of HTTP requests from one address: several tabs loading at once. Default 200. */
  httpRequestBurst?: number;
  /**
   * Join signatures checked per second in all (an Ed25519 check of a fresh key costs about
   * 1-3 ms). Checks run one per event-loop turn, so relays are served between them; a returning
   * member of a room is checked before strangers. Default 100.
   */
  joinChecksPerSecond?: number;
  /** Burst of join signature checks. Default 10. */
  joinCheckBurst?: number;
  /** Joins waiting for their signature check beyond which new ones get `busy`. Default 256. */
  maxQueuedJoins?: number;
  /** A socket that sends this many joins in a row with a bad signature is closed (1008). Default 3. */
  maxBadJoins?: number;
  /**
   * An HTTP request (WebSocket upgrades included) must have sent all its headers within this
   * long, or its socket is closed. Default 10000.
   */
  headersTimeoutMs?: number;
  /** An HTTP request must have been received in full within this long. Default 30000. */
  requestTimeoutMs?: number;
  /** A plain HTTP socket that sends and receives nothing for this long is closed. Default 30000. */
  idleTimeoutMs?: number;
  /** STUN/TURN servers to hand each member when it joins (see ice.ts). Default: none, no ice frame. */
  ice?: IceSettings;
  /** Certificate and key (PEM): serve https and wss instead of http and ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The clock, in milliseconds: budgets, timeouts and TURN credential expiry. Default Date.now. */
  now?: () => number;
  /** Where unexpected internal errors are reported. Default console.error. */
  onInternalError?: (error: unknown) => void;
}

/** Counters for tests and operators; none of them is ever shown to a client. */
export interface SignalingStats {
  connections: number;
  rooms: number;
  members: number;
  framesReceived: number;
  signalsRelayed: number;
  /** Error frames sent to clients, by code. */
  errorsSent: Partial<Record<ErrorCode, number>>;
  /** Exceptions caught inside the server's own handlers (should stay 0). */
  internalErrors: number;
  /** Signals refused to their sender: over its byte budget, or its target is not reading. */
  relaysRefused: number;
  /** Join signatures checked. */
  joinChecks: number;
  /** Sockets closed, before joining, to let a newcomer in while the server was full. */
  evicted: number;
  /** TCP connections closed on arrival because their address or the server had too many. */
  socketsRefused: number;
  /** HTTP requests left unanswered (their socket closed) because their address sent too many. */
  requestsRefused: number;
}

/** A running (or ready to run) signaling server: call listen, and close when done. */
export interface SignalingServer {
  readonly httpServer: Server | HttpsServer;
  readonly wss: WebSocketServer;
  listen(port: number, host: string): Promise<{ port: number; host: string }>;
  close(): Promise<void>;
  stats(): SignalingStats;
}

/** Close codes this server uses (besides ws's own 1009 for frames over the hard cap). */
export const CLOSE_CODES = {
  shuttingDown: 1001,
  policy: 1008,
  tooLarge: 1009,
  serverFull: 1013,
  replaced: 4000,
} as const;

/** What the server counts per remote address (see addressKey). */
interface Address {
  /** TCP connections of any kind. */
  sockets: number;
  readonly connections: Set<Connection>;
  /** Its sockets that are in no room, oldest first. */
  readonly pending: Set<Connection>;
  /** Rooms opened from this address that still exist. */
  rooms: number;
  readonly joins: TokenBucket;
  readonly requests: TokenBucket;
}

interface Connection {
  readonly ws: WebSocket;
  readonly address: Address;
  /** Fresh per join attempt, so one join signature can be used once only. */
  nonce: string;
  /** When this socket last stood outside any room (connect, leave, refusal). */
  outsideSince: number | undefined;
  room: string | undefined;
  peer: string | undefined;
  alive: boolean;
  tokens: number;
  lastRefill: number;
  rateLimited: number;
  /** A join of this socket waits for its signature check. */
  checking: boolean;
  /** Joins in a row whose signature did not verify. */
  badJoins: number;
  /** Bytes this socket may still have relayed. */
  readonly relayBudget: TokenBucket;
  /** Bytes relayed to this socket and not yet handed to the kernel, by sender. */
  readonly inbound: Map<Connection, number>;
  /** When the TURN credential last handed to this member expires (Unix seconds). */
  iceExpires: number | undefined;
}

interface Room {
  readonly name: string;
  readonly size: RoomSize;
  readonly members: Map<string, Connection>;
  /**
   * The members present when the room first filled up: the tabs form their roster then, so from
   * that moment a seat freed by a closed tab is kept for its member, not given to a newcomer
   * (whom the others would ignore anyway). Forgotten with the room when its last member leaves.
   */
  seated: ReadonlySet<string> | null;
  /** Where the socket that opened the room came from; the room counts against its rooms. */
  readonly opener: Address;
}

type JoinFrame = Extract<ClientFrame, { type: 'join' }>;

interface JoinCheck {
  readonly conn: Connection;
  readonly frame: JoinFrame;
  /** The challenge the join was signed over; a join whose socket moved on since is void. */
  readonly nonce: string;
}

interface Refusal {
  code: ErrorCode;
  message: string;
}

/**
 * A room is its name and its size together: a join with another size is another room, so whoever
 * names a room first with a wrong size cannot lock the real link out of it.
 */
function roomKey(name: string, size: RoomSize): string {
  return `${size}/${name}`;
}

/** Seats a room holds: all of them once it has met (they are kept for its members), else those in use. */
function seatsOf(room: Room): number {
  return room.seated !== null ? room.size : room.members.size;
}

// Ed25519's group order: a signature whose S is not below it never verifies (RFC 8032 5.1.7).
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

/** A check far cheaper than the signature's: S must be below the group order. */
function plausibleSignature(sigHex: string): boolean {
  let s = 0n;
  for (let i = 126; i >= 64; i -= 2) s = (s << 8n) | BigInt(parseInt(sigHex.slice(i, i + 2), 16));
  return s < GROUP_ORDER;
}

/** Builds the HTTP server, its WebSocket endpoint and every budget; nothing listens until listen(). */
export function createSignalingServer(options: SignalingServerOptions = {}): SignalingServer {
  const maxRooms = options.maxRooms ?? 1000;
  const maxRoomsPerAddress = options.maxRoomsPerAddress ?? 50;
  const maxConnections = options.maxConnections ?? 2000;
  const pendingReserve = Math.min(maxConnections, options.pendingReserve ?? Math.max(1, Math.floor(maxConnections / 10)));
  const maxSeats = maxConnections - pendingReserve;
  const maxConnectionsPerAddress = options.maxConnectionsPerAddress ?? 64;
  const maxSocketsPerAddress = options.maxSocketsPerAddress ?? 128;
  const maxSockets = options.maxSockets ?? maxConnections + 500;
  const pingIntervalMs = options.pingIntervalMs ?? 15_000;
  const ratePerSecond = options.ratePerSecond ?? 40;
  const rateBurst = options.rateBurst ?? 80;
  const maxRateLimited = options.maxRateLimited ?? 200;
  const relayBytesPerSecond = options.relayBytesPerSecond ?? 32 * 1024;
  const relayBurstBytes = options.relayBurstBytes ?? 256 * 1024;
  const maxQueuedPerSender = options.maxQueuedPerSender ?? 96 * 1024;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const relayCeiling = maxBufferedBytes / 2;
  const joinTimeoutMs = options.joinTimeoutMs ?? 20_000;
  const joinAttemptsPerSecond = options.joinAttemptsPerSecond ?? 5;
  const joinAttemptBurst = options.joinAttemptBurst ?? 20;
  const httpRequestsPerSecond = options.httpRequestsPerSecond ?? 50;
  const httpRequestBurst = options.httpRequestBurst ?? 200;
  const joinChecksPerSecond = options.joinChecksPerSecond ?? 100;
  const joinCheckBurst = options.joinCheckBurst ?? 10;
  const maxQueuedJoins = options.maxQueuedJoins ?? 256;
  const maxBadJoins = options.maxBadJoins ?? 3;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(headersTimeoutMs, options.requestTimeoutMs ?? 30_000);
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const now = options.now ?? Date.now;
  const onInternalError = options.onInternalError ?? ((e: unknown) => console.error('signaling server:', e));

  const rooms = new Map<string, Room>();
  const connections = new Set<Connection>();
  const addresses = new Map<string, Address>();
  /** Sockets in no room, in the order they came to be there. */
  const pending = new Set<Connection>();
  let seatsUsed = 0;
  const counters = { framesReceived: 0, signalsRelayed: 0, internalErrors: 0, relaysRefused: 0, joinChecks: 0, evicted: 0, socketsRefused: 0, requestsRefused: 0 };
  const errorsSent: Partial<Record<ErrorCode, number>> = {};
  const joinCheckBudget = new TokenBucket(joinChecksPerSecond, joinCheckBurst, now());
  // Returning members first: a stranger cannot name a member's key without having been told it.
  const memberChecks: JoinCheck[] = [];
  const strangerChecks: JoinCheck[] = [];

  function reportInternal(e: unknown): void {
    counters.internalErrors++;
    try {
      onInternalError(e);
    } catch {
      // A failing logger must not take the server down either.
    }
  }
  /** Runs a handler so that nothing it throws can escape into Node's event loop. */
  function guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      reportInternal(e);
    }
  }

  function addressOf(remote: string | undefined): Address {
    const key = addressKey(remote);
    let address = addresses.get(key);
    if (address === undefined) {
      address = {
        sockets: 0, connections: new Set(), pending: new Set(), rooms: 0,
        joins: new TokenBucket(joinAttemptsPerSecond, joinAttemptBurst, now()),
        requests: new TokenBucket(httpRequestsPerSecond, httpRequestBurst, now()),
      };
      addresses.set(key, address);
    }
    return address;
  }
  /** An address with nothing open and a full bucket holds no information worth its memory. */
  function forgetIdleAddresses(): void {
    const at = now();
    for (const [key, a] of addresses) {
      if (a.sockets === 0 && a.connections.size === 0 && a.rooms === 0 && a.joins.full(at) && a.requests.full(at)) addresses.delete(key);
    }
  }

  // ---- HTTP: the built app, or 404 when there is none ----
  const notFound = (_req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(options.staticDir === undefined
      ? `Not found. This server only answers WebSocket connections on ${SIGNALING_PATH}.\n`
      : 'Not found.\n');
  };
  const serveStatic = options.staticDir === undefined
    ? undefined
    : sirv(options.staticDir, { single: true, etag: true, onNoMatch: notFound });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    // One address sending requests as fast as it can would keep the event loop busy for every
    // room: past its budget, the cheapest answer is none.
    if (!addressOf(req.socket.remoteAddress).requests.take(now())) {
      counters.requestsRefused++;
      req.socket.destroy();
      return;
    }
    // The app is a few small files: whole responses only. sirv's Range parsing mishandles
    // reversed, one-byte and suffix ranges (and a reversed one left the response open).
    delete req.headers.range;
    delete req.headers['if-range'];
    try {
      if (serveStatic) serveStatic(req, res);
      else notFound(req, res);
    } catch (e) {
      reportInternal(e);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else {
        res.destroy();
      }
    }
  };
  const httpOptions = {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    // Node checks both timeouts only this often (30 s by default), which let a slow upgrade
    // hold its socket for over a minute.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 2))),
  };
  const httpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, handshakeTimeout: headersTimeoutMs, ...httpOptions }, onRequest)
    : createServer(httpOptions, onRequest);
  httpServer.timeout = idleTimeoutMs; // WebSockets opt out of it: ws clears the timeout on upgrade
  httpServer.maxConnections = maxSockets;
  httpServer.on('clientError', (_err, socket) => socket.destroy());
  httpServer.on('connection', (socket: Socket) => {
    guard(() => {
      const address = addressOf(socket.remoteAddress);
      if (address.sockets >= maxSocketsPerAddress) {
        counters.socketsRefused++;
        socket.destroy();
        return;
      }
      address.sockets++;
      socket.once('close', () => { address.sockets--; });
    });
  });

  // ---- WebSocket upgrade on SIGNALING_PATH only ----
  // ws's hard cap is a little above MAX_SIGNALING_FRAME_BYTES so that a moderately oversize frame reaches
  // us and its sender learns why (`too-large`) before we close with 1009. Anything above the hard
  // cap is cut off by ws itself with a bare 1009 close, without buffering it.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 * MAX_SIGNALING_FRAME_BYTES, perMessageDeflate: false });
  wss.on('error', reportInternal);
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    guard(() => {
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0];
      if (path !== SIGNALING_PATH) {
        socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nWebSocket connections are only accepted on ${SIGNALING_PATH}.\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
  });

  // ---- sending ----
  function sendText(conn: Connection, text: string): boolean {
    const { ws } = conn;
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > maxBufferedBytes) {
      ws.terminate(); // it is not reading what we send it; its close event does the leaving
      return false;
    }
    ws.send(text);
    return true;
  }
  function send(conn: Connection, frame: ServerFrame): void {
    sendText(conn, JSON.stringify(frame));
  }
  function sendError(conn: Connection, code: ErrorCode, message: string): void {
    errorsSent[code] = (errorsSent[code] ?? 0) + 1;
    send(conn, { type: 'error', code, message });
  }
  function broadcast(room: Room, except: Connection, frame: ServerFrame): void {
    for (const member of room.members.values()) if (member !== except) send(member, frame);
  }

  // ---- connections ----
  function setOutside(conn: Connection): void {
    conn.outsideSince = now();
    pending.delete(conn);
    conn.address.pending.delete(conn);
    pending.add(conn);
    conn.address.pending.add(conn);
  }
  function setInside(conn: Connection): void {
    conn.outsideSince = undefined;
    pending.delete(conn);
    conn.address.pending.delete(conn);
  }
  /** Stops counting a socket (idempotent): on close, or at once when it is evicted. */
  function forget(conn: Connection): void {
    if (!connections.delete(conn)) return;
    conn.address.connections.delete(conn);
    setInside(conn);
    leave(conn);
  }

  /**
   * The socket to close so a newcomer from `newcomer` fits: the oldest not-yet-joined socket of
   * the address holding the most of them, if that is more than the newcomer's address holds.
   */
  function evictionVictim(newcomer: Address): Connection | undefined {
    let most: Address | undefined;
    for (const a of addresses.values()) if (most === undefined || a.pending.size > most.pending.size) most = a;
    if (most === undefined || most.pending.size <= newcomer.pending.size) return undefined;
    for (const conn of most.pending) if (!conn.checking) return conn;
    return undefined;
  }

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    guard(() => {
      const address = addressOf(req.socket.remoteAddress);
      const conn: Connection = {
        ws,
        address,
        nonce: toHex(randomBytes(16)),
        outsideSince: now(),
        room: undefined,
        peer: undefined,
        alive: true,
        tokens: rateBurst,
        lastRefill: now(),
        rateLimited: 0,
        checking: false,
        badJoins: 0,
        relayBudget: new TokenBucket(relayBytesPerSecond, relayBurstBytes, now()),
        inbound: new Map(),
        iceExpires: undefined,
      };
      ws.on('error', () => {}); // ws closes the socket itself after a protocol error (e.g. 1009)
      const refuse = (message: string) => {
        sendError(conn, 'server-full', message);
        ws.close(CLOSE_CODES.serverFull, 'server full');
      };
      if (address.connections.size >= maxConnectionsPerAddress) {
        refuse(`Your address has ${maxConnectionsPerAddress} connections to this server open already. Close some tabs, or try again in a minute.`);
        return;
      }
      if (connections.size >= maxConnections) {
        const victim = evictionVictim(address);
        if (victim === undefined) {
          refuse('The signaling server has too many connections right now. Try again in a minute.');
          return;
        }
        counters.evicted++;
        forget(victim);
        sendError(victim, 'server-full', 'The signaling server is full and this connection had not joined a room, so it was closed to let another in. Try again in a minute.');
        victim.ws.close(CLOSE_CODES.serverFull, 'server full');
      }
      connections.add(conn);
      address.connections.add(conn);
      setOutside(conn);
      ws.on('pong', () => { conn.alive = true; });
      ws.on('message', (data, isBinary) => guard(() => onFrame(conn, data, isBinary)));
      ws.on('close', () => guard(() => forget(conn)));
      send(conn, { type: 'challenge', nonce: conn.nonce });
    });
  });

  function takeToken(conn: Connection): boolean {
    const at = now();
    const refill = (Math.max(0, at - conn.lastRefill) / 1000) * ratePerSecond;
    conn.lastRefill = Math.max(conn.lastRefill, at);
    conn.tokens = Math.min(rateBurst, conn.tokens + refill);
    // A full bucket means the client paused long enough: forgive its earlier excesses.
    if (conn.tokens >= rateBurst) conn.rateLimited = 0;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  function onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    counters.framesReceived++;
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (bytes > MAX_SIGNALING_FRAME_BYTES) {
      sendError(conn, 'too-large', `A frame was ${bytes} bytes; the limit is ${MAX_SIGNALING_FRAME_BYTES}. Closing this connection; reconnect and send smaller frames.`);
      conn.ws.close(CLOSE_CODES.tooLarge, 'frame too large');
      return;
    }
    if (!takeToken(conn)) {
      conn.rateLimited++;
      if (conn.rateLimited >= maxRateLimited) {
        sendError(conn, 'rate-limited', 'This connection kept sending far too fast and is being closed. Reconnect and send fewer frames.');
        conn.ws.close(CLOSE_CODES.policy, 'rate limit exceeded');
      } else {
        sendError(conn, 'rate-limited', `Too many frames: at most ${ratePerSecond} per second are accepted. This frame was dropped; slow down and resend it.`);
      }
      return;
    }
    if (isBinary) {
      sendError(conn, 'bad-frame', 'Binary frames are not accepted. Send JSON text frames.');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(rawText(data));
    } catch {
      sendError(conn, 'bad-json', 'The frame is not valid JSON (or is nested too deeply). Send one JSON object per frame.');
      return;
    }
    const parsed = v.safeParse(ClientFrame, json);
    if (!parsed.success) {
      sendError(conn, 'bad-frame', `The frame does not match the signaling protocol: ${describeIssues(parsed.issues)}.`);
      return;
    }
    const frame = parsed.output;
    if (frame.type === 'join') askToJoin(conn, frame);
    else if (frame.type === 'signal') relay(conn, frame.to, frame.data);
    else if (frame.type === 'ping') send(conn, { type: 'pong' });
    else {
      leave(conn);
      // A later join on this socket signs a fresh nonce, never one already used; a join still
      // waiting for its check is void from now on.
      conn.nonce = toHex(randomBytes(16));
      send(conn, { type: 'challenge', nonce: conn.nonce });
    }
  }

  // ---- joining: cheap checks, then the signature, one per event-loop turn ----
  /**
   * Why this join cannot be let in now, if it cannot. A member of the room (present, or seated
   * once the room has met) is never refused here: strangers cannot use up what is kept for it.
   * Full rooms all read alike, so an outsider learns that a room is full, not who is away.
   */
  function refusal(conn: Connection, frame: JoinFrame): Refusal | null {
    const room = rooms.get(roomKey(frame.room, frame.size));
    if (room !== undefined) {
      if (room.members.has(frame.peer) || room.seated?.has(frame.peer)) return null;
      if (room.seated !== null || room.members.size >= room.size) {
        return { code: 'room-full', message: `Room ${frame.room} is full: all ${room.size} of ${room.size} seats are taken, and a seat stays kept for its member while that member is away. Start a new room.` };
      }
    } else {
      if (rooms.size >= maxRooms) return { code: 'too-many-rooms', message: 'The signaling server has too many rooms open right now. Try again later.' };
      if (conn.address.rooms >= maxRoomsPerAddress) {
        return { code: 'too-many-rooms', message: `Your address has ${maxRoomsPerAddress} rooms open on this server already. Try again when some have closed.` };
      }
    }
    if (seatsUsed >= maxSeats) return { code: 'server-full', message: 'The signaling server has no free seat in any room right now. Try again in a minute.' };
    return null;
  }

  function askToJoin(conn: Connection, frame: JoinFrame): void {
    if (conn.room !== undefined) {
      sendError(conn, 'already-joined', `This connection already joined room ${rooms.get(conn.room)?.name ?? ''}. Send leave first, or open a new connection.`);
      return;
    }
    if (conn.checking) {
      sendError(conn, 'rate-limited', 'A join from this connection is still being checked. Wait for its answer.');
      return;
    }
    if (!conn.address.joins.take(now())) {
      sendError(conn, 'rate-limited', `Too many joins from your address: at most ${joinAttemptsPerSecond} per second are checked. Try again in a moment.`);
      return;
    }
    const refused = refusal(conn, frame);
    if (refused !== null) {
      sendError(conn, refused.code, refused.message);
      return;
    }
    if (!plausibleSignature(frame.sig)) {
      badJoin(conn);
      return;
    }
    const room = rooms.get(roomKey(frame.room, frame.size));
    const member = room !== undefined && (room.members.has(frame.peer) || room.seated?.has(frame.peer) === true);
    const queue = member ? memberChecks : strangerChecks;
    if (queue.length >= maxQueuedJoins) {
      sendError(conn, 'busy', 'The signaling server is checking many joins right now. Try again in a few seconds.');
      return;
    }
    conn.checking = true;
    queue.push({ conn, frame, nonce: conn.nonce });
    scheduleChecks(0);
  }

  function badJoin(conn: Connection): void {
    conn.badJoins++;
    sendError(conn, 'bad-signature', "The join signature does not verify for this peer key and this connection's challenge nonce. Sign the join with the key named by peer, using the nonce this connection received.");
    if (conn.badJoins >= maxBadJoins) conn.ws.close(CLOSE_CODES.policy, 'bad joins');
  }

  let checkTimeout: ReturnType<typeof setTimeout> | undefined;
  let checkImmediate: ReturnType<typeof setImmediate> | undefined;
  let checksScheduled = false;
  function scheduleChecks(delayMs: number): void {
    if (checksScheduled || closing !== undefined) return;
    checksScheduled = true;
    if (delayMs > 0) {
      checkTimeout = setTimeout(runOneCheck, delayMs);
      checkTimeout.unref();
    } else {
      checkImmediate = setImmediate(runOneCheck);
    }
  }
  /** Checks one waiting join, then yields, so relays and other I/O run between checks. */
  function runOneCheck(): void {
    checksScheduled = false;
    guard(() => {
      if (memberChecks.length === 0 && strangerChecks.length === 0) return;
      const wait = joinCheckBudget.msUntilToken(now());
      if (wait > 0) return scheduleChecks(Math.max(5, wait));
      joinCheckBudget.take(now());
      const check = (memberChecks.length > 0 ? memberChecks : strangerChecks).shift()!;
      check.conn.checking = false;
      finishJoin(check);
    });
    if (memberChecks.length > 0 || strangerChecks.length > 0) scheduleChecks(0);
  }

  function finishJoin({ conn, frame, nonce }: JoinCheck): void {
    // The socket closed, joined, or left and was challenged anew while this join waited.
    if (!connections.has(conn) || conn.room !== undefined || conn.nonce !== nonce) return;
    const { room: roomId, peer, size, sig } = frame;
    counters.joinChecks++;
    const message = signedBytes(JOIN_DOMAIN, joinPayload(nonce, roomId, peer, size));
    if (!verify(fromHex(sig), message, fromHex(peer))) {
      badJoin(conn);
      return;
    }
    conn.badJoins = 0;
    // Others may have come and gone while this join waited.
    const refused = refusal(conn, frame);
    if (refused !== null) {
      sendError(conn, refused.code, refused.message);
      return;
    }
    const key = roomKey(roomId, size);
    let room = rooms.get(key);
    if (room === undefined) {
      room = { name: roomId, size, members: new Map(), seated: null, opener: conn.address };
      rooms.set(key, room);
      conn.address.rooms++;
    }
    seatsUsed -= seatsOf(room);
    const previous = room.members.get(peer);
    if (previous !== undefined) {
      // The same member is back (a reloaded tab): the new socket takes over its seat at once.
      previous.room = undefined;
      previous.peer = undefined;
      if (connections.has(previous)) setOutside(previous);
      sendError(previous, 'replaced', 'This member joined again from another connection (a reload?), which replaced this one.');
      previous.ws.close(CLOSE_CODES.replaced, 'replaced');
    }
    room.members.set(peer, conn);
    if (room.seated === null && room.members.size === room.size) room.seated = new Set(room.members.keys());
    seatsUsed += seatsOf(room);
    conn.room = key;
    conn.peer = peer;
    setInside(conn);
    conn.nonce = toHex(randomBytes(16));
    sendIce(conn, peer);
    const others = [...room.members.keys()].filter((p) => p !== peer);
    send(conn, { type: 'joined', room: roomId, size: room.size, peers: others });
    broadcast(room, conn, { type: 'peer-joined', peer });
  }

  /** Fresh ICE servers (and TURN credentials) for a member, when any are configured. */
  function sendIce(conn: Connection, peer: string): void {
    const frame = options.ice ? iceFrameFor(options.ice, peer, now()) : null;
    if (frame === null) return;
    conn.iceExpires = frame.expires;
    send(conn, frame);
  }

  // ---- relaying, within the sender's budgets ----
  function relay(conn: Connection, to: string, data: unknown): void {
    if (conn.room === undefined || conn.peer === undefined) {
      sendError(conn, 'not-joined', 'Join a room before sending signals.');
      return;
    }
    const target = rooms.get(conn.room)?.members.get(to);
    if (target === undefined) {
      sendError(conn, 'unknown-peer', `Peer ${to.slice(0, 8)}… is not in your room (it may have left). Wait for peer-joined before signaling it.`);
      return;
    }
    let text: string;
    try {
      text = JSON.stringify({ type: 'signal', from: conn.peer, data } satisfies ServerFrame);
    } catch {
      sendError(conn, 'bad-frame', 'The signal data could not be relayed (it is nested too deeply). Send simpler data.');
      return;
    }
    const bytes = Buffer.byteLength(text);
    const queued = target.inbound.get(conn) ?? 0;
    // Refused to the sender rather than queued: a target must never pile up another's flood
    // until it looks like a socket that does not read.
    if (queued + bytes > maxQueuedPerSender || target.ws.bufferedAmount + bytes > relayCeiling) {
      counters.relaysRefused++;
      sendError(conn, 'peer-busy', `Peer ${to.slice(0, 8)}… is not reading its signals as fast as they come, so this one was dropped; it stays in the room. Send less, or resend later.`);
      return;
    }
    if (!conn.relayBudget.take(now(), bytes)) {
      counters.relaysRefused++;
      sendError(conn, 'rate-limited', `Too many signal bytes: at most ${relayBytesPerSecond} bytes per second (bursts of ${relayBurstBytes}) are relayed for one member. This signal was dropped; send less.`);
      return;
    }
    if (target.ws.readyState !== WebSocket.OPEN) return;
    target.inbound.set(conn, queued + bytes);
    target.ws.send(text, () => {
      const left = (target.inbound.get(conn) ?? 0) - bytes;
      if (left > 0) target.inbound.set(conn, left);
      else target.inbound.delete(conn);
    });
    counters.signalsRelayed++;
  }

  function leave(conn: Connection): void {
    const { room: key, peer } = conn;
    if (key === undefined || peer === undefined) return;
    conn.room = undefined;
    conn.peer = undefined;
    if (connections.has(conn)) setOutside(conn);
    const room = rooms.get(key);
    if (room === undefined || room.members.get(peer) !== conn) return;
    seatsUsed -= seatsOf(room);
    room.members.delete(peer);
    if (room.members.size === 0) {
      rooms.delete(key);
      room.opener.rooms--;
    } else {
      seatsUsed += seatsOf(room);
      broadcast(room, conn, { type: 'peer-left', peer });
    }
  }

  // ---- heartbeat: drop sockets that did not answer the previous ping ----
  const heartbeat = setInterval(() => {
    for (const conn of connections) {
      guard(() => {
        if (!conn.alive) {
          conn.ws.terminate();
          return;
        }
        // Renew a member's TURN credential once half its lifetime has passed.
        if (conn.peer !== undefined && conn.iceExpires !== undefined && options.ice
          && now() / 1000 > conn.iceExpires - options.ice.ttlSeconds / 2) {
          sendIce(conn, conn.peer);
        }
        conn.alive = false;
        conn.ws.ping();
      });
    }
    guard(forgetIdleAddresses);
  }, pingIntervalMs);
  heartbeat.unref();

  // ---- sockets that join no room are closed; oldest first, so the scan stops early ----
  const sweep = setInterval(() => {
    guard(() => {
      const at = now();
      for (const conn of pending) {
        if (conn.outsideSince === undefined || at - conn.outsideSince <= joinTimeoutMs) break;
        setInside(conn); // once: it is on its way out
        sendError(conn, 'not-joined', `This connection joined no room for ${Math.round(joinTimeoutMs / 1000)} s and is being closed. Reconnect when you are ready to join.`);
        conn.ws.close(CLOSE_CODES.policy, 'no join');
      }
    });
  }, Math.max(10, Math.min(1000, Math.floor(joinTimeoutMs / 4))));
  sweep.unref();

  // ---- lifecycle ----
  function listen(port: number, host: string): Promise<{ port: number; host: string }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      httpServer.once('error', onError);
      httpServer.listen(port, host, () => {
        httpServer.off('error', onError);
        httpServer.on('error', reportInternal);
        const address = httpServer.address() as AddressInfo;
        resolve({ port: address.port, host });
      });
    });
  }

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve) => {
      clearInterval(heartbeat);
      clearInterval(sweep);
      clearTimeout(checkTimeout);
      clearImmediate(checkImmediate);
      for (const conn of connections) conn.ws.close(CLOSE_CODES.shuttingDown, 'server shutting down');
      // Give polite closes a moment, then cut whatever is left.
      const force = setTimeout(() => {
        for (const ws of wss.clients) ws.terminate();
        httpServer.closeAllConnections();
      }, 500);
      force.unref();
      wss.close();
      if (!httpServer.listening) {
        clearTimeout(force);
        for (const ws of wss.clients) ws.terminate();
        resolve();
        return;
      }
      httpServer.close(() => {
        clearTimeout(force);
        resolve();
      });
      httpServer.closeIdleConnections();
    });
    return closing;
  }

  function stats(): SignalingStats {
    let members = 0;
    for (const room of rooms.values()) members += room.members.size;
    return { connections: connections.size, rooms: rooms.size, members, ...counters, errorsSent: { ...errorsSent } };
  }

  return { httpServer, wss, listen, close, stats };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
