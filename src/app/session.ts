// Wires one tab together: claims its identity, joins the room through the signaling server and
// keeps the verified mesh. It owns every timer and socket; the UI only renders `view()` and
// calls the intent methods.
import { PeerId, type ErrorCode } from '../net/signaling-frames.ts';
import { SignalingClient, signalingUrl, type SignalingStatus } from '../net/signaling-client.ts';
import { Mesh, type PeerView } from '../net/mesh.ts';
import {
  IdentityError, browserIdentityEnv, claimIdentity, deleteIdentityRecord, requestPersistentStorage,
  type ClaimedIdentity, type CorruptRecord, type IdentityEnv, type PersistResult,
} from '../storage/identity.ts';
import type { RoomLink } from './link.ts';
import * as v from 'valibot';
import { createRoomStore } from '../storage/room-store.ts';
import { exportIdentity, exportSealedIdentity, identityFileName, openIdentityFile, storeImportedIdentity } from '../storage/identity-file.ts';
import { fingerprint } from '../crypto/ed25519.ts';

// An identity brought back from a file may have signed things this browser has no record of.
const IMPORTED_PREFIX = 'byzantine-lunch.imported.';

function wasImported(id: string): boolean {
  try {
    return localStorage.getItem(IMPORTED_PREFIX + id) === '1';
  } catch {
    return false;
  }
}
import { LunchRoom } from './room.ts';
import { unseated } from './names.ts';
import { clock, installBenchHooks, type ExecutedMark } from './bench-hooks.ts';
import type { RoomView } from './room-view.ts';

/**
 * An identity file read and checked, not yet taken: what the person confirms before this tab
 * becomes that member (and the tab where it is open now stops taking part).
 */
export interface ImportPreview {
  readonly id: string;
  readonly name: string;
  readonly fingerprint: string;
  /** The identity this tab already has. */
  readonly isMe: boolean;
  /** This tab's name now, or null when it holds no seat in the room (a full room turned it away). */
  readonly current: string | null;
  /** The member is connected to this tab right now, so it is open in some other tab or browser. */
  readonly openElsewhere: boolean;
  /** A passphrase was given for a plain file, which opened without it. */
  readonly passphraseUnused: boolean;
  /** Store the identity for this tab to claim; the caller then reloads. */
  take(): Promise<void>;
}

/** What the UI shows of the tab around the room: its identity, its storage and its connections. */
export interface SessionView {
  /** starting: claiming an identity; running: in the room; failed: see `failure`. */
  readonly phase: 'starting' | 'running' | 'failed';
  /** A problem that stops this tab from taking part, with what to do about it. */
  readonly failure: { title: string; message: string } | null;
  readonly room: string;
  readonly size: number;
  /** `name` is the one the room agreed for this member's seat, or before the roster its `unseated` name. */
  readonly me: { id: string; name: string; fingerprint: string } | null;
  readonly corrupt: readonly CorruptRecord[];
  readonly storage: PersistResult | null;
  readonly signaling: SignalingStatus;
  readonly signalingDetail: string | null;
  readonly peers: readonly PeerView[];
  readonly lunch: RoomView | null;
}

const ROOM_REFUSALS: Partial<Record<ErrorCode, string>> = {
  'room-full': 'This room is full',
  'size-mismatch': 'This link disagrees with the room about its size',
  replaced: 'This member is open in another tab',
  'too-many-rooms': 'The server has no room for another room',
  'server-full': 'The server is full',
  'bad-signature': 'The server did not accept this tab’s key',
};

/** One tab's session: its identity, the signaling connection, the mesh and the lunch room. */
export class Session {
  private identity: ClaimedIdentity | null = null;
  private signaling: SignalingClient | null = null;
  private mesh: Mesh | null = null;
  private lunchRoom: LunchRoom | null = null;
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

  /** Be told of every change; returns the way to stop being told. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What the UI shows now. */
  view(): SessionView {
    const id = this.identity;
    const lunch = this.lunchRoom?.view() ?? null;
    const name = id ? (lunch?.members.find((m) => m.isMe)?.name ?? unseated(id.fingerprint)) : '';
    return {
      ...this.state,
      room: this.link.room,
      size: this.link.size,
      me: id ? { id: id.id, name, fingerprint: id.fingerprint } : null,
      peers: this.mesh?.peers() ?? [],
      lunch,
    };
  }

  /** The lunch room, once this tab has an identity; the UI calls its intents. */
  get room(): LunchRoom | null {
    return this.lunchRoom;
  }

  /** Claim an identity, join the room through the signaling server and start the lunch room. */
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
    const mesh = new Mesh({
      room: this.link.room,
      size: this.link.size,
      me: { id: identity.id, secretKey: identity.secretKey },
      sendSignal: (to, data) => this.signaling?.sendSignal(to, data),
      onChange: () => {
        this.lunchRoom?.peersChanged();
        this.emit();
      },
      onMessage: (from, bytes) => this.lunchRoom?.receive(from, bytes),
    });
    this.mesh = mesh;
    const store = createRoomStore(indexedDB);
    // Measurement hooks only when the link asks for them (`&bench=1`), for `npm run bench`.
    const bench = new URLSearchParams(location.search).get('bench') === '1';
    const marks: ExecutedMark[] = [];
    this.lunchRoom = new LunchRoom({
      room: this.link.room,
      size: this.link.size,
      me: { id: identity.id, secretKey: identity.secretKey },
      peers: {
        verified: () => mesh.verifiedPeers(),
        send: (id, bytes) => void mesh.sendTo(id, bytes),
      },
      store,
      restoredFromFile: wasImported(identity.id),
      onChange: () => this.emit(),
      onExecuted: bench ? (seq, requests) => marks.push({ seq, at: clock(), requests }) : undefined,
    });
    if (bench) installBenchHooks(this.lunchRoom, store, (id) => mesh.ping(id), marks);
    await this.lunchRoom.start();
    this.signaling = new SignalingClient({
      url: signalingUrl(location),
      room: this.link.room,
      size: this.link.size,
      peer: identity.id,
      secretKey: identity.secretKey,
      hasVerifiedChannels: () => mesh.verifiedPeers().length > 0,
      events: {
        joined: (peers) => mesh.roomJoined(peers),
        peerJoined: (peer) => mesh.peerJoined(peer),
        peerLeft: (peer) => mesh.peerLeft(peer),
        signal: (from, data) => mesh.signal(from, data),
        status: (status, detail) => this.update({ signaling: status, signalingDetail: detail ?? null }),
        ice: (config) => mesh.setRtcConfig(config),
        fatal: (code, message) => {
          mesh.stop();
          this.fail(ROOM_REFUSALS[code] ?? 'The signaling server refused this tab', message);
        },
      },
    });
    this.signaling.start();
    addEventListener('pagehide', () => this.stop());
  }

  /**
   * Ask the room to call this member `name`: names are part of the lunch state, so the change
   * shows in every tab once it is agreed (or is refused there, with the reason).
   */
  rename(name: string): void {
    this.lunchRoom?.rename(name);
  }

  /** This member's identity as a file to keep: a member whose key is lost is faulty for good. */
  exportIdentity(): { fileName: string; text: string } | null {
    const exportable = this.exportable();
    if (!exportable) return null;
    return { fileName: identityFileName(exportable), text: exportIdentity(exportable, Date.now()) };
  }

  /**
   * What an identity file holds: the key, and the name the room agreed for this member when it
   * sits in one (the stored name is only the browser's first default), so that an import in
   * another browser names the member as its coworkers know it.
   */
  private exportable(): { id: string; secretKey: Uint8Array; publicKey: Uint8Array; name: string } | null {
    const id = this.identity;
    if (!id) return null;
    const agreed = this.room?.view().members.find((m) => m.isMe)?.name;
    return { id: id.id, secretKey: id.secretKey, publicKey: id.publicKey, name: agreed ?? id.name };
  }

  /**
   * This member's identity as a file whose secret key is sealed under `passphrase`, so that a
   * copy left in a downloads folder or a chat is of no use without it.
   */
  async exportSealedIdentity(passphrase: string): Promise<{ fileName: string; text: string } | null> {
    const exportable = this.exportable();
    if (!exportable) return null;
    return { fileName: identityFileName(exportable), text: await exportSealedIdentity(exportable, Date.now(), passphrase) };
  }

  /**
   * Reads an exported identity file, for the person to confirm before this tab takes it (after a
   * reload): taking it makes the tab where that member is open now stop taking part, as the
   * signaling server keeps one connection per member. A sealed file needs its `passphrase`;
   * without it (or with a wrong one) the IdentityFileError says which.
   */
  async readIdentityFile(text: string, passphrase?: string): Promise<ImportPreview> {
    const env = this.env;
    if (!env) throw new Error('This tab has no identity storage.');
    const file = await openIdentityFile(text, passphrase);
    const me = this.identity;
    const seated = me !== null && this.state.failure === null;
    return {
      id: file.id,
      // The name the room agreed for the member, when this tab sits in its room, else the file's.
      name: this.room?.view().members.find((m) => m.id === file.id)?.name ?? file.name,
      fingerprint: fingerprint(file.publicKey),
      isMe: me?.id === file.id,
      // The room's agreed name for this tab's member: the stored one is only the first default.
      current: seated ? (this.room?.view().members.find((m) => m.isMe)?.name ?? me.name) : null,
      openElsewhere: this.mesh?.verifiedPeers().includes(file.id) ?? false,
      passphraseUnused: !file.sealed && typeof passphrase === 'string' && passphrase !== '',
      take: async () => {
        const imported = await storeImportedIdentity(env, file);
        try {
          localStorage.setItem(IMPORTED_PREFIX + imported.id, '1');
        } catch {
          // Without the mark the member may rejoin a room without knowing it forgot what it signed.
        }
      },
    };
  }

  /** Delete a stored identity record that could not be read. */
  async forgetCorrupt(key: string): Promise<void> {
    if (!this.env) return;
    await deleteIdentityRecord(this.env, key);
    this.update({ corrupt: this.state.corrupt.filter((c) => c.key !== key) });
  }

  /** Leave: stop the lunch room, the signaling connection and the mesh. */
  stop(): void {
    this.lunchRoom?.stop();
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
