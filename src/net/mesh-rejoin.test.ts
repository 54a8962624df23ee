// What the mesh does when the signaling server says a peer (re)joined, over an in-memory stand-in
// for simple-peer: Node has no WebRTC, and only the mesh's own choices are under test here.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateKeyPair, toHex, type KeyPair } from '../crypto/ed25519.ts';

/** A pretend data channel: offers and answers carry a fake SDP naming the peer object. */
class FakePeer extends EventEmitter {
  static all: FakePeer[] = [];
  readonly n = FakePeer.all.length;
  other: FakePeer | null = null;
  destroyed = false;
  /** A page that is gone without closing: nothing sent to or from it arrives. */
  dead = false;

  constructor(options: { initiator?: boolean }) {
    super();
    FakePeer.all.push(this);
    if (options.initiator) setTimeout(() => this.emit('signal', { type: 'offer', sdp: sdpOf(this.n) }));
  }

  signal(d: { type?: string; sdp?: string }): void {
    if (this.destroyed) return;
    const other = FakePeer.all[Number(/a=x-fake:(\d+)/.exec(d.sdp ?? '')?.[1])];
    if (!other) return;
    this.other = other;
    if (d.type === 'offer') {
      setTimeout(() => this.emit('signal', { type: 'answer', sdp: sdpOf(this.n) }));
    } else if (d.type === 'answer') {
      setTimeout(() => {
        this.emit('connect');
        other.emit('connect');
      });
    }
  }

  send(data: Uint8Array): void {
    const other = this.other;
    if (this.destroyed) throw new Error('destroyed');
    if (!other || other.destroyed || this.dead || other.dead) return;
    const copy = new Uint8Array(data);
    setTimeout(() => other.emit('data', copy));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const other = this.other;
    if (other && !other.destroyed && !this.dead) setTimeout(() => other.emit('close'));
  }
}

function sdpOf(n: number): string {
  const hex = n.toString(16).padStart(2, '0').toUpperCase();
  return `v=0\r\na=fingerprint:sha-256 ${Array.from({ length: 32 }, () => hex).join(':')}\r\na=x-fake:${n}\r\n`;
}

vi.mock('simple-peer/simplepeer.min.js', () => ({ default: FakePeer }));
const { Mesh } = await import('./mesh.ts');
type MeshT = InstanceType<typeof Mesh>;

const meshes: MeshT[] = [];
afterEach(() => {
  for (const m of meshes.splice(0)) m.stop();
  FakePeer.all = [];
});

/** Two tabs' meshes, signals delivered between them; `reload` makes a new page for b's key. */
function pair() {
  const keys: [KeyPair, KeyPair] = [generateKeyPair(), generateKeyPair()];
  const ids = keys.map((k) => toHex(k.publicKey)) as [string, string];
  const current: MeshT[] = [];
  const make = (i: 0 | 1) => {
    const mesh = new Mesh({
      room: 'r', size: 4, me: { id: ids[i], secretKey: keys[i].secretKey },
      sendSignal: (to, data) => {
        const target = current[ids.indexOf(to)];
        setTimeout(() => target?.signal(ids[i], data));
      },
      onChange: () => {},
      rejoinProbeMs: 200,
    });
    current[i] = mesh;
    meshes.push(mesh);
    return mesh;
  };
  const a = make(0);
  make(1);
  return { ids, a, b: () => current[1]!, reloadB: () => make(1) };
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('mesh: a peer rejoining the signaling room', () => {
  it('keeps a working verified channel when only the peer\'s signaling socket came back', async () => {
    const { ids, a, b } = pair();
    a.roomJoined([]);
    b().roomJoined([ids[0]]);
    a.peerJoined(ids[1]);
    await until('verified both ways', () => a.verifiedPeers().length === 1 && b().verifiedPeers().length === 1);
    const peersBefore = FakePeer.all.length;

    // b's socket to the signaling server dropped and came back: the server announces it again.
    b().roomJoined([ids[0]]);
    a.peerJoined(ids[1]);
    await new Promise((r) => setTimeout(r, 400)); // past the probe's timeout
    expect(a.verifiedPeers()).toEqual([ids[1]]);
    expect(b().verifiedPeers()).toEqual([ids[0]]);
    expect(FakePeer.all.length).toBe(peersBefore);
    expect(FakePeer.all.filter((p) => p.destroyed)).toEqual([]);
  });

  it('starts over with a peer whose page is gone when it rejoins from a new page', async () => {
    const { ids, a, b, reloadB } = pair();
    a.roomJoined([]);
    b().roomJoined([ids[0]]);
    a.peerJoined(ids[1]);
    await until('verified both ways', () => a.verifiedPeers().length === 1 && b().verifiedPeers().length === 1);
    // b's page goes away without closing its channel, and a new page with the same key joins.
    for (const p of FakePeer.all) p.dead = true;
    b().stop();
    const reloaded = reloadB();
    reloaded.roomJoined([ids[0]]);
    a.peerJoined(ids[1]);
    await until('verified with the new page', () => a.verifiedPeers().length === 1 && reloaded.verifiedPeers().length === 1);
  });
});
