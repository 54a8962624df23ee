// The signaling server: one HTTP server that serves the built app and, on SIGNALING_PATH, a
// WebSocket endpoint that introduces the members of a room to each other. It keeps a map from
// room to members and does four things: join (after checking a signature that proves the socket
// holds the peer's key), relay opaque `data` between two members of the same room, leave, and
// ping. It never interprets what it relays and must never throw on anything a client sends.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
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
  MAX_FRAME_BYTES,
  SIGNALING_PATH,
  type ErrorCode,
  type RoomSize,
  type ServerFrame,
} from './frames.ts';
import { iceFrameFor, type IceSettings } from './ice.ts';

export interface SignalingServerOptions {
  /** Directory of the built app, served as a single-page app. Undefined: WebSocket only, 404 otherwise. */
  staticDir?: string;
  /** Most rooms that may exist at once. Default 1000. */
  maxRooms?: number;
  /** Most WebSocket connections at once; beyond it a socket gets `server-full` and is closed. Default 2000. */
  maxConnections?: number;
  /** How often sockets are pinged; a socket that did not answer the previous ping is dropped. Default 15000. */
  pingIntervalMs?: number;
  /** Token-bucket refill rate per connection, in frames per second. Default 40. */
  ratePerSecond?: number;
  /** Token-bucket capacity per connection: the largest burst accepted at once. Default 80. */
  rateBurst?: number;
  /** A connection that has this many frames rate-limited without pausing is closed (1008). Default 200. */
  maxRateLimited?: number;
  /** A socket whose unsent output exceeds this many bytes is not reading and is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** A socket that stays outside every room this long is closed, so idle sockets cannot fill the server. Default 60000. */
  joinTimeoutMs?: number;
  /** STUN/TURN servers to hand each member when it joins (see ice.ts). Default: none, no ice frame. */
  ice?: IceSettings;
  /** Certificate and key (PEM): serve https and wss instead of http and ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The clock for TURN credential expiry, in milliseconds. Default Date.now. */
  now?: () => number;
  /** Where unexpected internal errors are reported. Default console.error. */
  onInternalError?: (error: unknown) => void;
}

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
}

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

interface Connection {
  readonly ws: WebSocket;
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
  /** When the TURN credential last handed to this member expires (Unix seconds). */
  iceExpires: number | undefined;
}

interface Room {
  readonly size: RoomSize;
  readonly members: Map<string, Connection>;
  /**
   * The members present when the room first filled up: the tabs form their roster then, so from
   * that moment a seat freed by a closed tab is kept for its member, not given to a newcomer
   * (whom the others would ignore anyway). Forgotten with the room when its last member leaves.
   */
  seated: ReadonlySet<string> | null;
}

export function createSignalingServer(options: SignalingServerOptions = {}): SignalingServer {
  const maxRooms = options.maxRooms ?? 1000;
  const maxConnections = options.maxConnections ?? 2000;
  const pingIntervalMs = options.pingIntervalMs ?? 15_000;
  const ratePerSecond = options.ratePerSecond ?? 40;
  const rateBurst = options.rateBurst ?? 80;
  const maxRateLimited = options.maxRateLimited ?? 200;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const joinTimeoutMs = options.joinTimeoutMs ?? 60_000;
  const now = options.now ?? Date.now;
  const onInternalError = options.onInternalError ?? ((e: unknown) => console.error('signaling server:', e));

  const rooms = new Map<string, Room>();
  const connections = new Set<Connection>();
  const counters = { framesReceived: 0, signalsRelayed: 0, internalErrors: 0 };
  const errorsSent: Partial<Record<ErrorCode, number>> = {};

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
    guard(() => (serveStatic ? serveStatic(req, res) : notFound(req, res)));
  };
  const httpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createServer(onRequest);
  httpServer.on('clientError', (_err, socket) => socket.destroy());

  // ---- WebSocket upgrade on SIGNALING_PATH only ----
  // ws's hard cap is a little above MAX_FRAME_BYTES so that a moderately oversize frame reaches
  // us and its sender learns why (`too-large`) before we close with 1009. Anything above the hard
  // cap is cut off by ws itself with a bare 1009 close, without buffering it.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 * MAX_FRAME_BYTES, perMessageDeflate: false });
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
  wss.on('connection', (ws: WebSocket) => {
    guard(() => {
      const conn: Connection = {
        ws,
        nonce: toHex(randomBytes(16)),
        outsideSince: Date.now(),
        room: undefined,
        peer: undefined,
        alive: true,
        tokens: rateBurst,
        lastRefill: Date.now(),
        rateLimited: 0,
        iceExpires: undefined,
      };
      ws.on('error', () => {}); // ws closes the socket itself after a protocol error (e.g. 1009)
      if (connections.size >= maxConnections) {
        sendError(conn, 'server-full', 'The signaling server has too many connections right now. Try again in a minute.');
        ws.close(CLOSE_CODES.serverFull, 'server full');
        return;
      }
      connections.add(conn);
      ws.on('pong', () => { conn.alive = true; });
      ws.on('message', (data, isBinary) => guard(() => onFrame(conn, data, isBinary)));
      ws.on('close', () => guard(() => {
        connections.delete(conn);
        leave(conn);
      }));
      send(conn, { type: 'challenge', nonce: conn.nonce });
    });
  });

  function takeToken(conn: Connection): boolean {
    const now = Date.now();
    const refill = ((now - conn.lastRefill) / 1000) * ratePerSecond;
    conn.lastRefill = now;
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
    if (bytes > MAX_FRAME_BYTES) {
      sendError(conn, 'too-large', `A frame was ${bytes} bytes; the limit is ${MAX_FRAME_BYTES}. Closing this connection; reconnect and send smaller frames.`);
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
    if (frame.type === 'join') join(conn, frame);
    else if (frame.type === 'signal') relay(conn, frame.to, frame.data);
    else if (frame.type === 'ping') send(conn, { type: 'pong' });
    else {
      leave(conn);
      // A later join on this socket signs a fresh nonce, never one already used.
      send(conn, { type: 'challenge', nonce: conn.nonce });
    }
  }

  // ---- the protocol ----
  function join(conn: Connection, frame: Extract<ClientFrame, { type: 'join' }>): void {
    const { room: roomId, peer, size, sig } = frame;
    if (conn.room !== undefined) {
      sendError(conn, 'already-joined', `This connection already joined room ${conn.room}. Send leave first, or open a new connection.`);
      return;
    }
    const message = signedBytes(JOIN_DOMAIN, joinPayload(conn.nonce, roomId, peer, size));
    if (!verify(fromHex(sig), message, fromHex(peer))) {
      sendError(conn, 'bad-signature', "The join signature does not verify for this peer key and this connection's challenge nonce. Sign the join with the key named by peer, using the nonce this connection received.");
      return;
    }
    let room = rooms.get(roomId);
    if (room === undefined) {
      if (rooms.size >= maxRooms) {
        sendError(conn, 'too-many-rooms', 'The signaling server has too many rooms open right now. Try again later.');
        return;
      }
      room = { size, members: new Map(), seated: null };
      rooms.set(roomId, room);
    } else if (room.size !== size) {
      sendError(conn, 'size-mismatch', `Room ${roomId} is for ${room.size} members, but this join asked for ${size}. Use a link with the same size as the others.`);
      return;
    }
    const previous = room.members.get(peer);
    if (previous !== undefined) {
      // The same member is back (a reloaded tab): the new socket takes over its seat at once.
      previous.room = undefined;
      previous.peer = undefined;
      previous.outsideSince = Date.now();
      sendError(previous, 'replaced', 'This member joined again from another connection (a reload?), which replaced this one.');
      previous.ws.close(CLOSE_CODES.replaced, 'replaced');
    } else if (room.members.size >= room.size) {
      sendError(conn, 'room-full', `Room ${roomId} is full: it has ${room.members.size} of ${room.size} members. Start a new room.`);
      return;
    } else if (room.seated !== null && !room.seated.has(peer)) {
      sendError(conn, 'room-full', `Room ${roomId} already met with its ${room.size} members and this key is not one of them; the free seat is kept for the member who left. Start a new room.`);
      return;
    }
    room.members.set(peer, conn);
    if (room.seated === null && room.members.size === room.size) room.seated = new Set(room.members.keys());
    conn.room = roomId;
    conn.peer = peer;
    conn.outsideSince = undefined;
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
    if (sendText(target, text)) counters.signalsRelayed++;
  }

  function leave(conn: Connection): void {
    const { room: roomId, peer } = conn;
    if (roomId === undefined || peer === undefined) return;
    conn.room = undefined;
    conn.peer = undefined;
    conn.outsideSince = Date.now();
    const room = rooms.get(roomId);
    if (room === undefined || room.members.get(peer) !== conn) return;
    room.members.delete(peer);
    if (room.members.size === 0) rooms.delete(roomId);
    else broadcast(room, conn, { type: 'peer-left', peer });
  }

  // ---- heartbeat: drop sockets that did not answer the previous ping ----
  const heartbeat = setInterval(() => {
    for (const conn of connections) {
      guard(() => {
        if (!conn.alive) {
          conn.ws.terminate();
          return;
        }
        if (conn.outsideSince !== undefined && Date.now() - conn.outsideSince > joinTimeoutMs) {
          sendError(conn, 'not-joined', `This connection joined no room for ${Math.round(joinTimeoutMs / 1000)} s and is being closed. Reconnect when you are ready to join.`);
          conn.ws.close(CLOSE_CODES.policy, 'no join');
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
  }, pingIntervalMs);
  heartbeat.unref();

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
