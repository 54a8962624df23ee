// Wires one tab together: claims its identity, joins the room through the signaling server and
// keeps the verified mesh. It owns every timer and socket; the UI only renders `view()` and
// calls the intent methods.
import { PeerId, type ErrorCode } from '../../signaling-server/frames.ts';
import { SignalingClient, signalingUrl, type SignalingStatus } from '../net/signaling-client.ts';
import { Mesh, type PeerView } from '../net/mesh.ts';
import {
  IdentityError, browserIdentityEnv, claimIdentity, deleteIdentityRecord, requestPersistentStorage,
  type ClaimedIdentity, type CorruptRecord, type IdentityEnv, type PersistResult,
} from '../storage/identity.ts';
import type { RoomLink } from './link.ts';
import * as v from 'valibot';

export interface SessionView {
  readonly phase: 'starting' | 'running' | 'failed';
  /** A problem that stops this tab from taking part, with what to do about it. */
  readonly failure: { title: string; message: string } | null;
  readonly room: string;
  readonly size: number;
  readonly me: { id: string; name: string; fingerprint: string } | null;
  readonly corrupt: readonly CorruptRecord[];
  readonly storage: PersistResult | null;
  readonly signaling: SignalingStatus;
  readonly signalingDetail: string | null;
  readonly peers: readonly PeerView[];
}

const ROOM_REFUSALS: Partial<Record<ErrorCode, string>> = {
  'room-full': 'This room is full',
  'size-mismatch': 'This link disagrees with the room about its size',
  replaced: 'This member is open in another tab',
  'too-many-rooms': 'The server has no room for another room',
  'server-full': 'The server is full',
  'bad-signature': 'The server did not accept this tab’s key',
};

export class Session {
  private identity: ClaimedIdentity | null = null;
  private signaling: SignalingClient | null = null;
  private mesh: Mesh | null = null;
  private env: IdentityEnv | null = null;
  private state: {
    phase: SessionView['phase'];
    failure: SessionView['failure'];
    corrupt: readonly CorruptRecord[];
    storage: PersistResult | null;
    signaling: SignalingStatus;
    signalingDetail: string | null;
  } = { phase: 'starting', failure: null, corrupt: [], storage: null, signaling: 'connecting', signalingDetail: null };
  private readonly listeners = new Set<() => void>();

  constructor(readonly link: RoomLink) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  view(): SessionView {
    const id = this.identity;
    return {
      ...this.state,
      room: this.link.room,
      size: this.link.size,
      me: id ? { id: id.id, name: id.name, fingerprint: id.fingerprint } : null,
      peers: this.mesh?.peers() ?? [],
    };
  }

  async start(): Promise<void> {
    try {
      this.env = browserIdentityEnv();
      this.identity = await claimIdentity(this.env);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const title = e instanceof IdentityError && e.code === 'indexeddb-corrupt'
        ? 'Stored identities are damaged'
        : 'This tab cannot keep an identity';
      return this.fail(title, message);
    }
    const identity = this.identity;
    this.state.corrupt = identity.corrupt;
    this.state.phase = 'running';
    this.emit();
    void requestPersistentStorage().then((r) => this.update({ storage: r }));

    if (!v.is(PeerId, identity.id)) return this.fail('This tab’s key is unusable', 'The stored public key is not in the expected form.');
    this.mesh = new Mesh({
      room: this.link.room,
      me: { id: identity.id, secretKey: identity.secretKey, name: identity.name },
      sendSignal: (to, data) => this.signaling?.sendSignal(to, data),
      onChange: () => this.emit(),
    });
    const mesh = this.mesh;
    this.signaling = new SignalingClient({
      url: signalingUrl(location),
      room: this.link.room,
      size: this.link.size,
      peer: identity.id,
      secretKey: identity.secretKey,
      events: {
        joined: (peers) => mesh.roomJoined(peers),
        peerJoined: (peer) => mesh.peerJoined(peer),
        peerLeft: (peer) => mesh.peerLeft(peer),
        signal: (from, data) => mesh.signal(from, data),
        status: (status, detail) => this.update({ signaling: status, signalingDetail: detail ?? null }),
        fatal: (code, message) => {
          mesh.stop();
          this.fail(ROOM_REFUSALS[code] ?? 'The signaling server refused this tab', message);
        },
      },
    });
    this.signaling.start();
    addEventListener('pagehide', () => this.stop());
  }

  async rename(name: string): Promise<void> {
    if (!this.identity) return;
    await this.identity.rename(name);
    this.mesh?.rename(this.identity.name);
    this.emit();
  }

  async forgetCorrupt(key: string): Promise<void> {
    if (!this.env) return;
    await deleteIdentityRecord(this.env, key);
    this.update({ corrupt: this.state.corrupt.filter((c) => c.key !== key) });
  }

  stop(): void {
    this.signaling?.stop();
    this.mesh?.stop();
  }

  private fail(title: string, message: string): void {
    this.update({ phase: 'failed', failure: { title, message } });
  }

  private update(patch: Partial<Session['state']>): void {
    Object.assign(this.state, patch);
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
