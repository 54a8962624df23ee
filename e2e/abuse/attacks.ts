// The attacks of issue 13 on the signaling server, each as one client on one machine would make
// it, from an attacker's own loopback address. Each keeps up its pressure for the given time,
// stops (closing everything it opened) and returns what it did and the checks its item calls for.
// `npm run abuse` runs them against the real server; abuse.test.ts runs short ones in `npm test`.
import { connect as tcpConnect, type Socket } from 'node:net';
import { generateKeyPair } from '../../src/crypto/ed25519.ts';
import { MAX_SIGNALING_FRAME_BYTES, SIGNALING_PATH } from '../../src/net/signaling-frames.ts';
import { connectMany, refusalOf, SignalingClient } from './client.ts';

/** Where and how long an attack runs. */
export interface AttackContext {
  /** The server's base URL, http://127.0.0.1:port. */
  base: string;
  /** Its signaling WebSocket URL. */
  url: string;
  /** How long the attack keeps up its pressure, ms. */
  durationMs: number;
  /** The attacker's source address. */
  address: string;
  /** Source address of the honest members an attack needs (a victim, a room it tries to block). */
  honestAddress: string;
  log: (line: string) => void;
}

/** One judged outcome, printed as PASS or MISS with its numbers. */
export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

/** What an attack did, in one line, and its checks. */
export interface AttackResult {
  summary: string;
  checks: Check[];
}

/** One attack of issue 13. */
export interface Attack {
  /** Short name, for the command line and the report. */
  id: string;
  /** The issue's item number(s). */
  item: string;
  title: string;
  run(ctx: AttackContext): Promise<AttackResult>;
}

// Allowances the fixed server is expected to meet. They are the harness's reading of issue 13,
// not numbers the server exports, so they live here, named once.
/** A slow member reads this fast (8 Mbit/s, the issue's example). */
export const SLOW_READER_BYTES_PER_SECOND = 1_000_000;
/** Relays per second the flooding member sends: just under the server's 40 frames/s per socket. */
export const FLOOD_RELAYS_PER_SECOND = 39;
/** Sockets a squatter tries to open: a little over the server's default global cap of 2,000. */
export const SQUAT_SOCKETS = 2_100;
/** Sockets and bad-signature joins per second of the join flood (the issue's measurement). */
export const BAD_JOIN_SOCKETS = 10;
export const BAD_JOINS_PER_SECOND = 35;
/** Requests with `Range: bytes=5-1` sent at once. */
export const BAD_RANGE_REQUESTS = 500;
/** Half-sent requests and silent connections opened from one address. */
export const SLOWLORIS_SOCKETS = 1_100;
/** Most of them one address may still hold when the attack ends (a per-address cap or a header timeout). */
export const SLOWLORIS_ALLOWANCE = 256;
/** Longest error text a client may get back, whatever it sent. */
export const MAX_ERROR_TEXT = 1_024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rand = () => Math.random().toString(36).slice(2, 10);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const counts = (m: Map<string, number>) => [...m].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';

function bump(m: Map<string, number>, key: string, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

// ---- item 4 -------------------------------------------------------------------------------------

/** A member floods a slower room-mate with maximal relays; the room-mate must not be dropped for it. */
export const relayFlood: Attack = {
  id: 'relay-flood',
  item: '4',
  title: `one member relays 64 KiB signals at ${FLOOD_RELAYS_PER_SECOND}/s to a room-mate reading at 8 Mbit/s`,
  async run(ctx) {
    const room = `flood-${rand()}`;
    const victim = await SignalingClient.connect(ctx.url, { localAddress: ctx.honestAddress });
    const attacker = await SignalingClient.connect(ctx.url, { localAddress: ctx.address });
    await victim.join(room);
    await attacker.join(room);
    victim.readAtMost(SLOW_READER_BYTES_PER_SECOND);
    const payload = 'x'.repeat(MAX_SIGNALING_FRAME_BYTES - 256);
    const started = Date.now();
    // A dropped victim that is not reading never sees its socket close; the server's answer to
    // the attacker (the victim is no longer in the room) tells when it was dropped.
    let droppedAfter: number | undefined;
    void attacker.next((f) => f.type === 'error' && f.code === 'unknown-peer', ctx.durationMs + 1_000).then((f) => {
      if (f !== null) droppedAfter = Date.now() - started;
    });
    let sent = 0;
    const timer = setInterval(() => {
      // Only what the attacker's own line can carry: a relay queued locally is not an attack.
      if (attacker.buffered > 4 * MAX_SIGNALING_FRAME_BYTES) return;
      attacker.signal(victim.peer, payload);
      sent++;
    }, 1000 / FLOOD_RELAYS_PER_SECOND);
    await Promise.race([sleep(ctx.durationMs), attacker.whenClosed()]);
    clearInterval(timer);
    const attackerFate = attacker.closeCode === undefined ? 'the attacker stayed connected' : `the attacker was closed (${attacker.closeCode})`;
    const limited = counts(attacker.errors);
    attacker.close();
    const kept = droppedAfter === undefined && victim.closeCode === undefined;
    victim.close();
    const secs = (ctx.durationMs / 1000).toFixed(0);
    return {
      summary: `${sent} relays of 64 KiB (${mb(sent * payload.length)} MiB) in ${secs} s; the victim read ${mb(victim.bytesIn)} MiB; ${attackerFate}; errors to the attacker: ${limited}`,
      checks: [{
        name: 'a slow member is not dropped for a room-mate\'s flood',
        pass: kept,
        detail: kept
          ? `the victim was still connected after ${secs} s of flood`
          : `the server dropped the victim after ${((droppedAfter ?? 0) / 1000).toFixed(1)} s of the flood it was sent`,
      }],
    };
  },
};

// ---- item 5 -------------------------------------------------------------------------------------

/** One address opens sockets and joins rooms until the server's global caps refuse it. */
export const squat: Attack = {
  id: 'squat',
  item: '5',
  title: `one address opens up to ${SQUAT_SOCKETS} sockets and joins them into rooms, to fill the global caps`,
  async run(ctx) {
    // Two members of a room that met before the attack; one comes back during it.
    const keptRoom = `kept-${rand()}`;
    const kept = [await SignalingClient.connect(ctx.url, { localAddress: ctx.honestAddress }), await SignalingClient.connect(ctx.url, { localAddress: ctx.honestAddress })];
    for (const k of kept) await k.join(keptRoom);

    const started = Date.now();
    // A few keys serve every room: one room per socket until the room cap, then second members.
    const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const rooms = 1000;
    const { clients, failures } = await connectMany(ctx.url, SQUAT_SOCKETS, {
      localAddress: ctx.address, parallel: 100, keyOf: (i) => keys[Math.floor(i / rooms) % keys.length]!,
    });
    const refused = new Map<string, number>();
    for (const [why, n] of failures) bump(refused, refusalOf(why), n);
    let joined = 0;
    for (let i = 0; i < clients.length; i += 100) {
      const batch = clients.slice(i, i + 100);
      const results = await Promise.all(batch.map((c, j) => c.join(`squat-${(i + j) % rooms}`)));
      for (const r of results) {
        if (r.ok) joined++;
        else bump(refused, r.code);
      }
    }
    const tookMs = Date.now() - started;
    ctx.log(`squat: ${clients.length} sockets open, ${joined} joined after ${(tookMs / 1000).toFixed(1)} s; holding`);

    // A squatter takes every seat that frees up, so the member who leaves meets a full server.
    let squatting = true;
    const refill = (async () => {
      while (squatting) {
        await SignalingClient.connect(ctx.url, { localAddress: ctx.address }).then((c) => clients.push(c), () => sleep(20));
      }
    })();
    kept[0]!.close();
    await sleep(500);
    const back = await SignalingClient.connect(ctx.url, { localAddress: ctx.honestAddress, key: kept[0]!.key }).then(
      (c) => c.join(keptRoom).then((r) => {
        c.close();
        return r.ok ? 'joined' : r.code;
      }),
      (e: unknown) => refusalOf(e),
    );
    await sleep(ctx.durationMs);
    squatting = false;
    await refill;
    for (const c of clients) c.close();
    kept[1]!.close();
    return {
      summary: `${clients.length} sockets open and ${joined} joined in ${(tookMs / 1000).toFixed(1)} s from ${ctx.address}, held ${(ctx.durationMs / 1000).toFixed(0)} s; refused: ${counts(refused)}`,
      checks: [{
        name: 'a room\'s member can rejoin while a stranger squats',
        pass: back === 'joined',
        detail: back === 'joined' ? 'it rejoined its room' : `it was refused: ${back}`,
      }],
    };
  },
};

// ---- item 6 -------------------------------------------------------------------------------------

/** Sockets sending joins whose signatures are well formed but wrong, so each costs a full verify. */
export const badSignatures: Attack = {
  id: 'bad-signatures',
  item: '6',
  title: `${BAD_JOIN_SOCKETS} sockets each send ${BAD_JOINS_PER_SECOND} joins/s with signatures that do not verify`,
  async run(ctx) {
    const { clients, failures } = await connectMany(ctx.url, BAD_JOIN_SOCKETS, { localAddress: ctx.address });
    // Signed over a nonce the server never sent: every point decodes, and the check fails only at the end.
    const frames = clients.map((c) => JSON.stringify(c.joinFrame(`join-flood-${rand()}`, 4, '0'.repeat(32))));
    let sent = 0;
    const timers = clients.map((c, i) => setInterval(() => {
      c.send(frames[i]!);
      sent++;
    }, 1000 / BAD_JOINS_PER_SECOND));
    await sleep(ctx.durationMs);
    for (const t of timers) clearInterval(t);
    await sleep(200);
    const answers = new Map<string, number>();
    for (const c of clients) for (const [code, n] of c.errors) bump(answers, code, n);
    const closed = clients.filter((c) => c.closeCode !== undefined).length;
    for (const c of clients) c.close();
    const refusedNote = failures.size ? `; ${[...failures.values()].reduce((a, b) => a + b, 0)} sockets refused` : '';
    return {
      summary: `${sent} bad joins sent on ${clients.length} sockets${refusedNote}; answers: ${counts(answers)}; ${closed} sockets closed by the server`,
      checks: [],
    };
  },
};

// ---- item 7 -------------------------------------------------------------------------------------

/** A raw HTTP exchange: what came back before the server closed the socket or the time ran out. */
interface RawResponse {
  /** The server closed the socket after its answer. */
  ended: boolean;
  /** The server refused or reset the connection (a per-address cap may do that): not left open. */
  refused: boolean;
  status: number;
  headers: string;
  body: Buffer;
}

function rawHttp(base: string, request: string, localAddress: string, timeoutMs: number): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = tcpConnect({ host: hostname, port: Number(port), localAddress });
    const finish = (ended: boolean, refused = false) => {
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = split < 0 ? all.toString('latin1') : all.subarray(0, split).toString('latin1');
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ ended, refused, status, headers: head, body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4) });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => finish(true));
    socket.on('error', () => finish(false, true));
    socket.write(request);
  });
}

const get = (range?: string) =>
  `GET / HTTP/1.1\r\nHost: abuse.invalid\r\n${range ? `Range: ${range}\r\n` : ''}Connection: close\r\n\r\n`;

/** How long one bad-Range answer may take before it counts as left open. */
const LEFT_OPEN_MS = 5_000;

/** Requests with broken and edge-case Range headers: each must get a complete, correct answer. */
export const badRanges: Attack = {
  id: 'bad-ranges',
  item: '7',
  title: `Range headers: bytes=0-0, bytes=-500, and waves of ${BAD_RANGE_REQUESTS} requests with bytes=5-1 at once`,
  async run(ctx) {
    const full = await rawHttp(ctx.base, get(), ctx.address, 5_000);
    if (!full.ended || full.status !== 200) throw new Error(`GET / did not answer 200 (status ${full.status})`);
    const page = full.body;
    // A server may serve ranges or ignore them (200, whole file); what it serves must be right.
    const cases: { range: string; ok: (r: RawResponse) => boolean; want: string }[] = [
      { range: 'bytes=0-0', want: '206 with the first byte, or 200 with the whole page', ok: (r) => (r.status === 206 && r.body.equals(page.subarray(0, 1))) || (r.status === 200 && r.body.equals(page)) },
      { range: 'bytes=-500', want: '206 with the last 500 bytes, or 200 with the whole page', ok: (r) => (r.status === 206 && r.body.equals(page.subarray(-500))) || (r.status === 200 && r.body.equals(page)) },
      { range: 'bytes=5-1', want: '200 with the whole page, or 416', ok: (r) => (r.status === 200 && r.body.equals(page)) || r.status === 416 },
    ];
    const wrong: string[] = [];
    for (const c of cases) {
      const r = await rawHttp(ctx.base, get(c.range), ctx.address, 3_000);
      if (!r.ended || !c.ok(r)) {
        const got = r.ended ? `${r.status} with ${r.body.length} bytes` : r.status ? `${r.status}, never completed` : 'no answer';
        wrong.push(`${c.range}: ${got} (want ${c.want})`);
      }
    }
    // Waves of bad ranges for the whole attack, so the bystanders are measured under it throughout.
    // Each answer gets a fixed grace, not what is left of the attack: on a loaded 2-core machine
    // 500 answers at once can take over a second, and slow is not the same as left open.
    const started = Date.now();
    let sent = 0;
    let open = 0;
    let refused = 0;
    do {
      const wave = await Promise.all(Array.from({ length: BAD_RANGE_REQUESTS }, () =>
        rawHttp(ctx.base, get('bytes=5-1'), ctx.address, LEFT_OPEN_MS)));
      sent += wave.length;
      open += wave.filter((r) => !r.ended && !r.refused).length;
      refused += wave.filter((r) => r.refused).length;
    } while (Date.now() - started < ctx.durationMs);
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    return {
      summary: `page of ${page.length} bytes; ${sent} bytes=5-1 requests in waves of ${BAD_RANGE_REQUESTS} over ${secs} s: ${sent - open - refused} answered and closed, ${refused} refused, ${open} left open`,
      checks: [
        { name: 'Range headers get correct answers', pass: wrong.length === 0, detail: wrong.length ? wrong.join('; ') : 'bytes=0-0, bytes=-500 and bytes=5-1 all answered correctly' },
        {
          name: 'a bad Range never leaves a response open',
          pass: open === 0,
          detail: open ? `${open} of ${sent} bytes=5-1 responses were left open (each waited ${LEFT_OPEN_MS / 1000} s)` : `none of ${sent} left open`,
        },
      ],
    };
  },
};

/** Many connections from one address: half send a WebSocket upgrade a header at a time, half send nothing. */
export const slowloris: Attack = {
  id: 'slowloris',
  item: '7',
  title: `${SLOWLORIS_SOCKETS} connections from one address: half-sent upgrade requests trickling a header every 5 s, and silent ones`,
  async run(ctx) {
    const { hostname, port } = new URL(ctx.base);
    const sockets: Socket[] = [];
    let connected = 0;
    let refused = 0;
    const closedBy = new Set<Socket>();
    await Promise.all(Array.from({ length: SLOWLORIS_SOCKETS }, (_, i) => new Promise<void>((resolve) => {
      const s = tcpConnect({ host: hostname, port: Number(port), localAddress: ctx.address });
      sockets.push(s);
      s.on('connect', () => {
        connected++;
        if (i % 2 === 0) s.write(`GET ${SIGNALING_PATH} HTTP/1.1\r\nHost: abuse.invalid\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
        resolve();
      });
      s.on('error', () => {
        refused++;
        resolve();
      });
      s.on('close', () => closedBy.add(s));
      s.resume();
    })));
    const started = Date.now();
    const trickle = setInterval(() => {
      sockets.forEach((s, i) => {
        if (i % 2 === 0 && !s.destroyed) s.write(`X-Slow-${rand()}: 1\r\n`);
      });
    }, 5_000);
    await sleep(ctx.durationMs);
    clearInterval(trickle);
    const held = sockets.filter((s) => !closedBy.has(s));
    const heldSlow = held.filter((s) => sockets.indexOf(s) % 2 === 0).length;
    for (const s of sockets) s.destroy();
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    return {
      summary: `${connected} connected, ${refused} refused; after ${secs} s the server still held ${held.length} (${heldSlow} half-sent upgrades, ${held.length - heldSlow} silent)`,
      checks: [{
        name: `one address holds at most ${SLOWLORIS_ALLOWANCE} idle or half-sent connections`,
        pass: held.length <= SLOWLORIS_ALLOWANCE,
        detail: `${held.length} of ${connected} still open after ${secs} s`,
      }],
    };
  },
};

// ---- item 8 -------------------------------------------------------------------------------------

/** A stranger claims a room name with the wrong size, sends oversize junk, and probes a full room. */
export const strangerFrames: Attack = {
  id: 'stranger-frames',
  item: '8',
  title: 'a stranger joins a room name first with size 10, sends 60,000-character junk fields, and knocks on a met room with a member away',
  async run(ctx) {
    const started = Date.now();
    const stranger = await SignalingClient.connect(ctx.url, { localAddress: ctx.address });
    const room = `sized-${rand()}`;
    await stranger.join(room, 10);
    const members = await Promise.all(Array.from({ length: 4 }, () => SignalingClient.connect(ctx.url, { localAddress: ctx.honestAddress })));
    const outcomes = new Map<string, number>();
    let inRoom = 0;
    for (const m of members) {
      const r = await m.join(room, 4);
      if (r.ok) inRoom++;
      bump(outcomes, r.ok ? 'joined' : r.code);
    }

    const junk = 'z'.repeat(60_000);
    const echo = await SignalingClient.connect(ctx.url, { localAddress: ctx.address });
    const frames: unknown[] = [
      { type: junk },
      { type: 'leave', [junk]: 1 },
      // Four long fields, within the frame limit together.
      { type: 'join', room: junk.slice(0, 15_000), peer: junk.slice(0, 15_000), size: junk.slice(0, 15_000), sig: junk.slice(0, 15_000) },
      { type: 'signal', to: junk, data: 1 },
      `{"type":"${junk}`,
      [junk],
    ];
    for (const f of frames) echo.send(f);
    await echo.next(() => false, 1_000);
    const echoed = echo.longestError;
    const echoErrors = [...echo.errors.values()].reduce((a, b) => a + b, 0);
    echo.close();

    // Occupancy: a room that has met (the four above, or four more if they were kept out).
    const extra: SignalingClient[] = [];
    const fullRoom = inRoom === 4 ? room : `full-${rand()}`;
    if (inRoom !== 4) {
      for (let i = 0; i < 4; i++) {
        const m = await SignalingClient.connect(ctx.url, { localAddress: ctx.honestAddress });
        await m.join(fullRoom);
        extra.push(m);
      }
    }
    // "Full" says nothing a stranger could not guess; a met room with a member away must not say
    // how many are still there.
    const away = (inRoom === 4 ? members : extra)[0]!;
    away.close();
    await sleep(200);
    const knocker = await SignalingClient.connect(ctx.url, { localAddress: ctx.address });
    const knock = await knocker.join(fullRoom, 4);
    const told = knocker.errorTexts.join(' ');
    const leaks = /\b3 (?:of|out of) 4\b|\bhas 3\b|\b3 (?:members?|present|here|joined)\b/i.test(told.replaceAll(fullRoom, ''));
    knocker.close();
    stranger.close();
    for (const m of [...members, ...extra]) m.close();
    await sleep(Math.max(0, ctx.durationMs - (Date.now() - started)));
    return {
      summary: `size-4 members after a size-10 claim: ${counts(outcomes)}; ${echoErrors} errors for ${frames.length} junk frames, longest ${echoed} characters; knocking on a met room with a member away: ${knock.ok ? 'let in' : knock.code}`,
      checks: [
        {
          name: 'a stranger\'s wrong-size join does not lock a room out',
          pass: inRoom === 4,
          detail: inRoom === 4 ? 'all four size-4 members joined' : `${inRoom} of 4 size-4 members joined; the rest got ${counts(outcomes)}`,
        },
        {
          name: `error texts stay under ${MAX_ERROR_TEXT} characters whatever was sent`,
          pass: echoErrors > 0 && echoed <= MAX_ERROR_TEXT,
          detail: echoErrors ? `longest error text ${echoed} characters for 60,000-character fields` : 'no error frames came back',
        },
        {
          name: 'a stranger does not learn how many are in a room',
          pass: !knock.ok && !leaks,
          detail: knock.ok ? 'the stranger was let into a room that had met' : `it was told: "${told.slice(0, 200)}"`,
        },
      ],
    };
  },
};

/** Every server-side attack, in the order the issue lists them. */
export const SERVER_ATTACKS: readonly Attack[] = [relayFlood, squat, badSignatures, badRanges, slowloris, strangerFrames];
