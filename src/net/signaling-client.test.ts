import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import { createSignalingServer, type SignalingServer, type SignalingServerOptions } from '../../signaling-server/server.ts';
import { SIGNALING_PATH, type ErrorCode } from './signaling-frames.ts';
import { generateKeyPair, toHex } from '../crypto/ed25519.ts';
import { parseIceEnv } from '../../signaling-server/ice.ts';
import { SignalingClient, type SignalingStatus } from './signaling-client.ts';

interface Probe {
  client: SignalingClient;
  id: string;
  events: string[];
  statuses: SignalingStatus[];
  fatal: { code: ErrorCode; message: string } | null;
  signals: { from: string; data: unknown }[];
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function probe(url: string, room: string, size: 4 | 7 | 10 = 4, extra: { hasVerifiedChannels?: () => boolean } = {}): Probe {
  const keys = generateKeyPair();
  const p: Probe = { client: null!, id: toHex(keys.publicKey), events: [], statuses: [], fatal: null, signals: [] };
  p.client = new SignalingClient({
    url, room, size, peer: p.id, secretKey: keys.secretKey, retryBaseMs: 20, ...extra,
    WebSocket: NodeWebSocket as unknown as new (url: string) => WebSocket,
    events: {
      joined: (peers) => p.events.push(`joined:${peers.length}`),
      peerJoined: (peer) => p.events.push(`peer-joined:${peer}`),
      peerLeft: (peer) => p.events.push(`peer-left:${peer}`),
      signal: (from, data) => p.signals.push({ from, data }),
      fatal: (code, message) => (p.fatal = { code, message }),
      status: (s) => p.statuses.push(s),
    },
  });
  p.client.start();
  cleanup.push(() => p.client.stop());
  return p;
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function startServer(port = 0, options: SignalingServerOptions = {}): Promise<{ server: SignalingServer; url: string; port: number }> {
  const server = createSignalingServer(options);
  const addr = await server.listen(port, '127.0.0.1');
  return { server, url: `ws://127.0.0.1:${addr.port}${SIGNALING_PATH}`, port: addr.port };
}

describe('signaling client', () => {
  it('joins with a signed challenge, relays, and rejoins after the server restarts', async () => {
    const first = await startServer();
    const a = probe(first.url, 'r1');
    await until('a joined', () => a.events.includes('joined:0'));
    const b = probe(first.url, 'r1');
    await until('b joined', () => b.events.includes('joined:1'));
    await until('a told of b', () => a.events.includes(`peer-joined:${b.id}`));
    a.client.sendSignal(b.id, { hello: 'b' });
    await until('b got the signal', () => b.signals.length === 1);
    expect(b.signals[0]).toEqual({ from: a.id, data: { hello: 'b' } });

    await first.server.close();
    await until('both offline', () => a.statuses.includes('offline') && b.statuses.includes('offline'));
    const second = await startServer(first.port);
    cleanup.push(() => second.server.close());
    await until('both back', () => a.statuses.at(-1) === 'joined' && b.statuses.at(-1) === 'joined');
    expect(second.server.stats().members).toBe(2);
    b.client.sendSignal(a.id, 'again');
    await until('a got the signal', () => a.signals.length === 1);
    expect(a.fatal).toBeNull();
  });

  it('reports a full room as final and stops retrying', async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    const members = [0, 1, 2, 3].map(() => probe(url, 'full'));
    await until('four joined', () => server.stats().members === 4);
    const fifth = probe(url, 'full');
    await until('fifth refused', () => fifth.fatal !== null);
    expect(fifth.fatal!.code).toBe('room-full');
    expect(fifth.fatal!.message).toContain('4 of 4');
    expect(members.every((m) => m.fatal === null)).toBe(true);
  });

  it('drops malformed frames from the server and counts them', async () => {
    // A hostile signaling server: garbage first, then a proper introduction.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => new Promise((r) => wss.close(r)));
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as { port: number }).port;
    wss.on('connection', (socket) => {
      socket.send('not json');
      socket.send(JSON.stringify({ type: 'joined', room: 'x', size: 5, peers: [] }));
      socket.send(JSON.stringify({ type: 'signal', from: 'nobody', data: 1 }));
      socket.send(JSON.stringify({ type: 'joined', room: 'x', size: 4, peers: [] }));
    });
    const p = probe(`ws://127.0.0.1:${port}`, 'x');
    await until('joined', () => p.events.includes('joined:0'));
    expect(p.client.dropped.get('bad-json')).toBe(1);
    expect(p.client.dropped.get('bad-frame')).toBe(2);
    expect(p.signals).toEqual([]);
  });

  it('hands the ICE servers from the server to the tab before it joins', async () => {
    const ice = parseIceEnv({ ICE_TURN_URLS: 'turn:10.0.0.1:3478', ICE_TURN_SECRET: 'client-test-secret-0123', ICE_TRANSPORT_POLICY: 'relay' });
    const server = createSignalingServer({ ice });
    const { port } = await server.listen(0, '127.0.0.1');
    cleanup.push(() => server.close());
    const keys = generateKeyPair();
    const seen: string[] = [];
    let config: RTCConfiguration | null = null;
    const client = new SignalingClient({
      url: `ws://127.0.0.1:${port}${SIGNALING_PATH}`, room: 'ice', size: 4, peer: toHex(keys.publicKey), secretKey: keys.secretKey,
      WebSocket: NodeWebSocket as unknown as new (url: string) => WebSocket,
      events: {
        joined: () => seen.push('joined'), peerJoined: () => {}, peerLeft: () => {}, signal: () => {}, fatal: () => {}, status: () => {},
        ice: (c) => {
          seen.push('ice');
          config = c;
        },
      },
    });
    client.start();
    cleanup.push(() => client.stop());
    await until('joined', () => seen.includes('joined'));
    expect(seen).toEqual(['ice', 'joined']);
    expect(config).toMatchObject({
      iceTransportPolicy: 'relay',
      iceServers: [{ urls: ['turn:10.0.0.1:3478'], username: expect.stringMatching(/^\d+:[0-9a-f]{16}$/), credential: expect.any(String) }],
    });
  });

  it('keeps a quiet connection alive with pings, and gives up a dead one and reconnects', async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    const keys = generateKeyPair();
    const statuses: string[] = [];
    const make = (target: string) => {
      const client = new SignalingClient({
        url: target, room: 'quiet', size: 4, peer: toHex(keys.publicKey), secretKey: keys.secretKey, retryBaseMs: 20, keepaliveMs: 40,
        WebSocket: NodeWebSocket as unknown as new (url: string) => WebSocket,
        events: { joined: () => {}, peerJoined: () => {}, peerLeft: () => {}, signal: () => {}, fatal: () => {}, status: (s, d) => statuses.push(d ? `${s}: ${d}` : s) },
      });
      client.start();
      cleanup.push(() => client.stop());
      return client;
    };
    make(url);
    await until('joined', () => statuses.includes('joined'));
    await new Promise((r) => setTimeout(r, 300));
    expect(statuses).toEqual(['connecting', 'joined']);

    // A server that accepts the socket and then says nothing at all, as a dead path looks.
    const mute = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => new Promise((r) => mute.close(r)));
    await new Promise((r) => mute.once('listening', r));
    let accepted = 0;
    mute.on('connection', () => accepted++);
    statuses.length = 0;
    make(`ws://127.0.0.1:${(mute.address() as { port: number }).port}`);
    await until('given up and reconnected', () => accepted >= 2, 3000);
    expect(statuses).toContain('offline: no answer from the signaling server');
  });

  it('treats a full server as passing: it waits, retries with backoff, and gets in once there is space', async () => {
    const { server, url } = await startServer(0, { maxConnectionsPerAddress: 1 });
    cleanup.push(() => server.close());
    const first = probe(url, 'cap');
    await until('first joined', () => first.events.includes('joined:0'));
    const second = probe(url, 'cap');
    await until('second refused twice', () => second.statuses.filter((s) => s === 'offline').length >= 2);
    expect(second.fatal).toBeNull();
    first.client.stop();
    await until('second joined', () => second.events.includes('joined:0'));
    expect(second.fatal).toBeNull();
    expect(second.client.dropped.get('server-error:server-full')).toBeGreaterThanOrEqual(2);
  });

  it('a link with another room size is another room: neither tab is refused', async () => {
    const { server, url } = await startServer();
    cleanup.push(() => server.close());
    const ten = probe(url, 'sized', 10);
    await until('ten joined', () => ten.events.includes('joined:0'));
    const four = probe(url, 'sized', 4);
    await until('four joined', () => four.events.includes('joined:0'));
    expect([ten.fatal, four.fatal]).toEqual([null, null]);
    expect(ten.events).toEqual(['joined:0']);
  });

  it('retries a refusal of any kind but replaced and room-full, and room-full too while it holds verified channels', async () => {
    // A server that refuses each join once with the given code, then lets it in.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => new Promise((r) => wss.close(r)));
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as { port: number }).port;
    const codes: ErrorCode[] = ['size-mismatch', 'bad-signature', 'busy', 'too-many-rooms', 'room-full'];
    let refusals = 0;
    wss.on('connection', (socket) => {
      socket.send(JSON.stringify({ type: 'challenge', nonce: '0'.repeat(32) }));
      socket.on('message', () => {
        const code = codes[refusals++];
        socket.send(JSON.stringify(code === undefined
          ? { type: 'joined', room: 'x', size: 4, peers: [] }
          : { type: 'error', code, message: `no: ${code}` }));
      });
    });
    const p = probe(`ws://127.0.0.1:${port}`, 'x', 4, { hasVerifiedChannels: () => true });
    await until('joined after every refusal', () => p.events.includes('joined:0'));
    expect(p.fatal).toBeNull();
    expect(refusals).toBe(codes.length + 1);
  });
});
