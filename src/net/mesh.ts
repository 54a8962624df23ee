// One simple-peer connection per pair of members, introduced by the signaling server and then
// verified over the data channel (see handshake.ts) before the peer counts as connected.
//
// Who initiates is decided by comparing peer ids, so both ends agree without talking (no glare).
// Every connection attempt carries a session id chosen by the initiator, so signals left over from
// an attempt that was abandoned (a reload, a retry) can never confuse the next one.
import SimplePeer, { type SignalData } from 'simple-peer/simplepeer.min.js';
import * as v from 'valibot';
import { fingerprint, fromHex, randomBytes, toHex } from '../crypto/ed25519.ts';
import { CHALLENGE_BYTES, dtlsFingerprint, signHandshake, verifyHandshake } from './handshake.ts';
import { HANDSHAKE_VERSION, decodeMessage, encodeMessage, type PeerMessage } from './wire.ts';
import { LINK_BURST_BYTES, LINK_BYTES_PER_SECOND, TokenBucket } from './budget.ts';
import { Reassembler, split } from './fragments.ts';
import { failureCause, isRelayCandidate, newAttempt, type IceAttempt } from './ice-status.ts';

export type LinkState = 'connecting' | 'verifying' | 'verified' | 'disconnected' | 'incompatible' | 'failed';

export interface PeerView {
  readonly id: string;
  readonly fingerprint: string;
  readonly state: LinkState;
  /** Why the link is not verified, in words a person can act on. */
  readonly detail: string | null;
}

export interface MeshOptions {
  room: string;
  /** The room size from the link; a peer whose link says otherwise is incompatible. */
  size: 4 | 7 | 10;
  me: { id: string; secretKey: Uint8Array };
  sendSignal(to: string, data: unknown): void;
  /** Default: no ICE servers at all, so nothing leaves the machine unless configured (see setRtcConfig). */
  rtcConfig?: RTCConfiguration;
  onChange(): void;
  /** How long an attempt may take before it is abandoned and retried. */
  attemptTimeoutMs?: number;
  /** A protocol message from a verified peer. */
  onMessage?(from: string, bytes: Uint8Array): void;
  /**
   * When a peer with a verified channel rejoins the signaling room, how long the channel has to
   * answer a ping before it is taken for dead and started over. Default 3000.
   */
  rejoinProbeMs?: number;
}

// What one signaling relay carries between two tabs. Only the SDP and candidate shapes that
// simple-peer itself produces are passed on to it.
const Envelope = v.strictObject({
  s: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)),
  d: v.union([
    v.object({ type: v.picklist(['offer', 'answer']), sdp: v.pipe(v.string(), v.maxLength(32 * 1024)) }),
    v.object({
      type: v.literal('candidate'),
      candidate: v.object({
        candidate: v.pipe(v.string(), v.maxLength(1024)),
        sdpMLineIndex: v.nullish(v.number()),
        sdpMid: v.nullish(v.pipe(v.string(), v.maxLength(64))),
      }),
    }),
    v.object({ renegotiate: v.literal(true) }),
    v.object({ transceiverRequest: v.object({ kind: v.string() }) }),
  ]),
});

interface Link {
  readonly id: string;
  readonly initiator: boolean;
  /** The peer is in the room according to the signaling server. */
  present: boolean;
  session: string | null;
  peer: SimplePeer | null;
  localDtls: string | null;
  remoteDtls: string | null;
  challenge: Uint8Array | null;
  state: LinkState;
  detail: string | null;
  retries: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  reassembler: Reassembler;
  /** What this peer may still deliver; the rest is dropped before decoding. */
  budget: TokenBucket;
  /** What ICE showed of the current attempt, to explain a failure. */
  ice: IceAttempt;
  /** Why the last attempt failed, kept on screen while the next one runs. */
  cause: string | null;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10_000;

export class Mesh {
  private readonly links = new Map<string, Link>();
  private nextFragmentId = 0;
  private readonly pings = new Map<string, () => void>();
  private nextPing = 0;
  /** Messages from peers that were dropped, by reason. */
  readonly dropped = new Map<string, number>();
  private stopped = false;
  private rtcConfig: RTCConfiguration;

  constructor(private readonly options: MeshOptions) {
    this.rtcConfig = options.rtcConfig ?? { iceServers: [] };
  }

  /** STUN/TURN servers for attempts from now on (the signaling server hands them out on join). */
  setRtcConfig(config: RTCConfiguration): void {
    this.rtcConfig = config;
  }

  /** The signaling server (re)admitted us; these peers are in the room. */
  roomJoined(peers: readonly string[]): void {
    for (const id of peers) {
      const link = this.linkFor(id);
      link.present = true;
      // Our own signaling reconnect does not disturb data channels that still work.
      if (link.state !== 'verified' && link.state !== 'incompatible') this.restart(link);
    }
  }

  /**
   * A peer (re)joined the room. Often only its signaling socket came back while our data channel
   * to it kept working, and tearing that down would cost the room a member for a reconnect: a
   * verified channel is kept while it answers a ping. One that does not leads to a page that is
   * gone, and is started over. (A reloaded page that initiates sends a new offer, which replaces
   * the old channel in signal().)
   */
  peerJoined(id: string): void {
    const link = this.linkFor(id);
    link.present = true;
    link.retries = 0;
    const peer = link.peer;
    if (link.state === 'verified' && peer !== null) {
      this.ping(id, this.options.rejoinProbeMs ?? 3000).catch(() => {
        if (link.peer === peer && link.state === 'verified' && link.present) this.restart(link);
      });
      return;
    }
    this.restart(link);
  }

  peerLeft(id: string): void {
    const link = this.links.get(id);
    if (!link) return;
    link.present = false;
    // A verified channel may outlive the peer's signaling socket; its own close event decides.
    if (link.state !== 'verified') this.abandon(link, 'disconnected', 'left the room');
  }

  signal(from: string, data: unknown): void {
    const parsed = v.safeParse(Envelope, data);
    if (!parsed.success) return this.count('bad-signal');
    const { s: session, d } = parsed.output;
    const link = this.linkFor(from);
    if (!link.initiator && 'type' in d && d.type === 'offer' && session !== link.session) {
      this.setState(link, 'connecting', this.retryDetail(link, null));
      this.open(link, session);
    }
    if (session !== link.session || !link.peer) return this.count('stale-signal');
    if ('sdp' in d) link.remoteDtls = dtlsFingerprint(d.sdp);
    if ('candidate' in d && isRelayCandidate(d.candidate.candidate)) link.ice.remoteRelay = true;
    try {
      link.peer.signal(d as SignalData);
    } catch {
      this.count('bad-signal');
    }
  }

  /**
   * Send a protocol message to one verified peer; false when there is no verified channel or the
   * message is larger than any peer accepts (a counted drop: a send never throws).
   */
  sendTo(id: string, bytes: Uint8Array): boolean {
    const link = this.links.get(id);
    if (!link || link.state !== 'verified') return false;
    const fragments = split(this.nextFragmentId++ >>> 0, bytes);
    if (fragments === null) {
      this.count('too-large-to-send');
      return false;
    }
    for (const f of fragments) {
      this.sendTo_(link, { t: 'frag', id: f.id, index: f.index, total: f.total, data: f.data });
    }
    return true;
  }

  /** One round trip over the data channel to a verified peer, in milliseconds. */
  ping(id: string, timeoutMs = 5000): Promise<number> {
    const link = this.links.get(id);
    if (!link || link.state !== 'verified') return Promise.reject(new Error('no verified channel to that peer'));
    const n = this.nextPing++ >>> 0;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(`${id}/${n}`);
        reject(new Error('ping timed out'));
      }, timeoutMs);
      this.pings.set(`${id}/${n}`, () => {
        clearTimeout(timer);
        resolve(performance.now() - started);
      });
      this.sendTo_(link, { t: 'ping', n });
    });
  }

  verifiedPeers(): string[] {
    return [...this.links.values()].filter((l) => l.state === 'verified').map((l) => l.id).sort();
  }

  peers(): PeerView[] {
    return [...this.links.values()]
      .map((l) => ({
        id: l.id,
        fingerprint: fingerprint(fromHex(l.id)),
        state: l.state,
        detail: l.detail,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  stop(): void {
    this.stopped = true;
    for (const link of this.links.values()) {
      clearTimeout(link.timer);
      link.peer?.destroy();
      link.peer = null;
    }
  }

  private linkFor(id: string): Link {
    let link = this.links.get(id);
    if (!link) {
      link = {
        id, initiator: this.options.me.id < id, present: false, session: null, peer: null,
        localDtls: null, remoteDtls: null, challenge: null,
        state: 'connecting', detail: null, retries: 0, timer: undefined, reassembler: new Reassembler(), budget: new TokenBucket(LINK_BYTES_PER_SECOND, LINK_BURST_BYTES, performance.now()),
        ice: newAttempt(), cause: null,
      };
      this.links.set(id, link);
      this.options.onChange();
    }
    return link;
  }

  /** Start over with this peer: the initiator opens a new session, the other side waits for it. */
  private restart(link: Link): void {
    this.close(link);
    this.setState(link, 'connecting', this.retryDetail(link, link.initiator ? null : 'waiting for its offer'));
    if (link.initiator) this.open(link, toHex(randomBytes(8)));
  }

  /** While a new attempt runs, the reason the last one failed stays on screen. */
  private retryDetail(link: Link, otherwise: string | null): string | null {
    return link.cause ? `${link.cause} — trying again` : otherwise;
  }

  private open(link: Link, session: string): void {
    if (this.stopped) return;
    this.close(link);
    link.session = session;
    const peer = new SimplePeer({
      initiator: link.initiator,
      trickle: true,
      config: this.rtcConfig,
    });
    link.peer = peer;
    link.ice = newAttempt();
    const config = this.rtcConfig;
    const current = () => link.peer === peer;
    let channelOpen = false;
    // simple-peer keeps its RTCPeerConnection in `_pc`; TURN errors only show up there.
    const pc = (peer as unknown as { _pc?: RTCPeerConnection })._pc;
    pc?.addEventListener('icecandidateerror', (e) => {
      const err = e as RTCPeerConnectionIceErrorEvent;
      if (current()) link.ice.errors.push({ code: err.errorCode, url: err.url ?? '' });
    });
    peer.on('signal', (d) => {
      if (!current()) return;
      const candidate = d.candidate as { candidate?: unknown } | undefined;
      if (typeof candidate?.candidate === 'string' && isRelayCandidate(candidate.candidate)) link.ice.localRelay = true;
      if (typeof d.sdp === 'string') link.localDtls = dtlsFingerprint(d.sdp);
      this.options.sendSignal(link.id, { s: session, d });
    });
    peer.on('connect', () => {
      if (!current()) return;
      channelOpen = true;
      link.challenge = randomBytes(CHALLENGE_BYTES);
      this.setState(link, 'verifying', null);
      this.sendTo_(link, {
        t: 'hello', proto: HANDSHAKE_VERSION, room: this.options.room, from: this.options.me.id, to: link.id,
        size: this.options.size, challenge: link.challenge,
      });
    });
    peer.on('data', (data) => {
      if (current()) this.receive(link, new Uint8Array(data));
    });
    peer.on('close', () => {
      if (current()) this.abandon(link, 'disconnected', 'connection closed');
    });
    peer.on('error', (e) => {
      if (!current()) return;
      const code = (e as { code?: string }).code;
      const ice = code === 'ERR_ICE_CONNECTION_FAILURE' || code === 'ERR_CONNECTION_FAILURE';
      if (ice && !channelOpen) {
        link.cause = failureCause(config, link.ice);
        this.abandon(link, 'disconnected', link.cause);
      } else {
        this.abandon(link, 'disconnected', link.state === 'verified' && ice ? 'connection lost (no network path any more)' : describeError(e));
      }
    });
    link.timer = setTimeout(() => {
      if (!current() || link.state === 'verified') return;
      // Not even a data channel: ICE found no working path. Say why, as far as we can tell.
      if (!channelOpen) {
        link.cause = failureCause(config, link.ice);
        this.abandon(link, 'disconnected', link.cause);
      } else {
        this.abandon(link, 'disconnected', 'connected, but the key check did not finish; retrying');
      }
    }, this.options.attemptTimeoutMs ?? 15_000);
  }

  private receive(link: Link, data: Uint8Array): void {
    if (!link.budget.take(performance.now(), data.length)) return this.count('over-budget');
    const decoded = decodeMessage(data);
    if (!decoded.ok) {
      if (decoded.reason === 'other-version') {
        this.abandon(link, 'incompatible',
          `runs protocol version ${String(decoded.version)}; this tab runs version ${HANDSHAKE_VERSION} — reload both tabs from the same link`);
      } else {
        this.count(decoded.reason);
      }
      return;
    }
    const msg = decoded.message;
    const { room, me } = this.options;
    switch (msg.t) {
      case 'hello': {
        if (msg.from !== link.id || msg.to !== me.id || msg.room !== room) {
          return this.abandon(link, 'failed', 'its hello names another member or room');
        }
        if (msg.size !== this.options.size) {
          return this.abandon(link, 'incompatible', `its link says the room has ${msg.size} members; this tab's says ${this.options.size} — use the same link`);
        }
        if (!link.localDtls || !link.remoteDtls) return this.abandon(link, 'failed', 'no DTLS fingerprint in the SDP');
        const sig = signHandshake(
          { room, signer: me.id, verifier: link.id, challenge: msg.challenge, signerDtls: link.localDtls, verifierDtls: link.remoteDtls },
          me.secretKey,
        );
        this.sendTo_(link, { t: 'auth', sig });
        this.options.onChange();
        return;
      }
      case 'auth': {
        if (!link.challenge || !link.localDtls || !link.remoteDtls || link.state !== 'verifying') return this.count('unexpected');
        const ok = verifyHandshake(
          { room, signer: link.id, verifier: me.id, challenge: link.challenge, signerDtls: link.remoteDtls, verifierDtls: link.localDtls },
          msg.sig,
        );
        if (!ok) return this.abandon(link, 'failed', 'could not prove it holds the key it claims');
        clearTimeout(link.timer);
        link.retries = 0;
        link.cause = null;
        this.setState(link, 'verified', null);
        return;
      }
      case 'ping':
        if (link.state !== 'verified') return this.count('unexpected');
        return this.sendTo_(link, { t: 'pong', n: msg.n });
      case 'pong': {
        const waiter = this.pings.get(`${link.id}/${msg.n}`);
        if (!waiter) return this.count('unexpected');
        this.pings.delete(`${link.id}/${msg.n}`);
        return waiter();
      }
      case 'frag': {
        if (link.state !== 'verified') return this.count('unexpected');
        const r = link.reassembler.add({ id: msg.id, index: msg.index, total: msg.total, data: msg.data });
        if (r.done) this.options.onMessage?.(link.id, r.bytes);
        else if (r.problem) this.count('bad-fragment');
        return;
      }
    }
  }

  private sendTo_(link: Link, message: PeerMessage): void {
    try {
      link.peer?.send(encodeMessage(message));
    } catch (e) {
      this.abandon(link, 'disconnected', describeError(e));
    }
  }

  /** Abandon the current attempt; the initiator tries again while the peer is in the room. */
  private abandon(link: Link, state: LinkState, detail: string): void {
    this.close(link);
    this.setState(link, state, detail);
    if (this.stopped || state === 'incompatible' || !link.initiator || !link.present) return;
    const delay = Math.min(RETRY_BASE_MS * 2 ** link.retries, RETRY_MAX_MS);
    link.retries++;
    link.timer = setTimeout(() => {
      if (link.peer === null && link.present) this.restart(link);
    }, delay);
  }

  private close(link: Link): void {
    clearTimeout(link.timer);
    const peer = link.peer;
    link.peer = null;
    link.session = null;
    link.localDtls = null;
    link.remoteDtls = null;
    link.challenge = null;
    link.reassembler = new Reassembler();
    peer?.destroy();
  }

  private setState(link: Link, state: LinkState, detail: string | null): void {
    link.state = state;
    link.detail = detail;
    this.options.onChange();
  }

  private count(reason: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }
}

function describeError(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  if (code === 'ERR_ICE_CONNECTION_FAILURE') return 'no network path to this peer (ICE failed)';
  if (code === 'ERR_CONNECTION_FAILURE') return 'connection failed';
  return e instanceof Error ? e.message : String(e);
}
