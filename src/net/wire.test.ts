import { describe, expect, it } from 'vitest';
import { encode } from 'cborg';
import { decodeMessage, encodeMessage, MAX_FRAME_BYTES, HANDSHAKE_VERSION } from './wire.ts';

const key = 'ab'.repeat(32);
const hello = {
  t: 'hello', proto: HANDSHAKE_VERSION, room: 'r', from: key, to: key, size: 4, challenge: new Uint8Array(32),
} as const;

describe('wire', () => {
  it('round-trips a hello', () => {
    const out = decodeMessage(encodeMessage(hello));
    expect(out).toEqual({ ok: true, message: hello });
  });

  it('drops garbage, wrong shapes and oversize input with a reason', () => {
    expect(decodeMessage(new Uint8Array([0xff, 0x00])).ok).toBe(false);
    expect(decodeMessage(encode({ t: 'auth', sig: new Uint8Array(63) }))).toMatchObject({ ok: false, reason: 'bad-shape' });
    expect(decodeMessage(encode({ ...hello, extra: 1 }))).toMatchObject({ ok: false, reason: 'bad-shape' });
    expect(decodeMessage(encode({ t: 'nope' }))).toMatchObject({ ok: false, reason: 'bad-shape' });
    expect(decodeMessage(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({ ok: false, reason: 'too-large' });
  });

  it('recognises a hello from another protocol version', () => {
    expect(decodeMessage(encode({ ...hello, proto: HANDSHAKE_VERSION + 1 }))).toMatchObject({
      ok: false, reason: 'other-version', version: HANDSHAKE_VERSION + 1,
    });
  });

  it('never throws on random bytes', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const data = Uint8Array.from({ length: next() % 64 }, next);
      expect(decodeMessage(data).ok).toBe(false);
    }
  });
});
