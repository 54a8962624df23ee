import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import { ServerFrame } from '../src/net/signaling-frames.ts';
import { describeIce, iceFrameFor, IceConfigError, parseIceEnv, mintTurnCredential } from './ice.ts';

const SECRET = 'lab-secret-0123456789';
const PEER = '0123456789abcdef'.repeat(4);

describe('ICE settings from the environment', () => {
  test('nothing set: no servers, no frame', () => {
    const s = parseIceEnv({});
    expect(s).toEqual({ stunUrls: [], turnUrls: [], turnSecret: undefined, ttlSeconds: 3600, transportPolicy: 'all' });
    expect(iceFrameFor(s, PEER, 0)).toBeNull();
    expect(describeIce(s)).toMatch(/no STUN or TURN/);
    // Blank values count as unset.
    expect(parseIceEnv({ ICE_STUN_URLS: ' ', ICE_TURN_URLS: '', ICE_TURN_SECRET: '', ICE_TRANSPORT_POLICY: '' }).turnUrls).toEqual([]);
  });

  test('lists split on commas and spaces; every URL form of RFC 7064/7065 is accepted', () => {
    const s = parseIceEnv({
      ICE_STUN_URLS: 'stun:10.0.0.1, stuns:stun.example.org:5349',
      ICE_TURN_URLS: 'turn:turn.example.org:3478?transport=udp turn:[2001:db8::1]:3478?transport=tcp,turns:turn.example.org',
      ICE_TURN_SECRET: SECRET,
      ICE_TURN_TTL: '600',
      ICE_TRANSPORT_POLICY: 'RELAY',
    });
    expect(s.stunUrls).toEqual(['stun:10.0.0.1', 'stuns:stun.example.org:5349']);
    expect(s.turnUrls).toHaveLength(3);
    expect(s.ttlSeconds).toBe(600);
    expect(s.transportPolicy).toBe('relay');
    expect(describeIce(s)).toMatch(/relay only/);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a TURN URL among STUN URLs', { ICE_STUN_URLS: 'turn:x.org' }, /ICE_STUN_URLS has "turn:x.org"/],
    ['an http URL', { ICE_TURN_URLS: 'https://x.org', ICE_TURN_SECRET: SECRET }, /ICE_TURN_URLS has "https:\/\/x.org"/],
    ['a port out of range', { ICE_STUN_URLS: 'stun:x.org:70000' }, /not a valid URL/],
    ['an unknown transport', { ICE_TURN_URLS: 'turn:x.org?transport=sctp', ICE_TURN_SECRET: SECRET }, /not a valid URL/],
    ['TURN without a secret', { ICE_TURN_URLS: 'turn:x.org' }, /ICE_TURN_SECRET is not/],
    ['a secret without TURN', { ICE_TURN_SECRET: SECRET }, /ICE_TURN_URLS is not/],
    ['a short secret', { ICE_TURN_URLS: 'turn:x.org', ICE_TURN_SECRET: 'short' }, /shorter than 16/],
    ['a TTL that is not a number', { ICE_TURN_URLS: 'turn:x.org', ICE_TURN_SECRET: SECRET, ICE_TURN_TTL: '1h' }, /ICE_TURN_TTL must be/],
    ['a TTL too short', { ICE_TURN_URLS: 'turn:x.org', ICE_TURN_SECRET: SECRET, ICE_TURN_TTL: '5' }, /from 60/],
    ['an unknown policy', { ICE_TRANSPORT_POLICY: 'direct' }, /"all" or "relay"/],
    ['relay without TURN', { ICE_TRANSPORT_POLICY: 'relay', ICE_STUN_URLS: 'stun:x.org' }, /needs a TURN server/],
  ];
  for (const [what, env, message] of bad) {
    test(`refuses ${what} with a clear message`, () => {
      expect(() => parseIceEnv(env)).toThrow(IceConfigError);
      expect(() => parseIceEnv(env)).toThrow(message);
    });
  }
});

describe('TURN credentials (coturn shared-secret mode)', () => {
  test('username is expiry:peer-prefix, credential is base64 HMAC-SHA1 of it', () => {
    // The expected value comes from: printf %s '1700003600:0123456789abcdef' | openssl dgst -sha1 -hmac lab-secret-0123456789 -binary | base64
    const c = mintTurnCredential(SECRET, PEER, 1_700_000_000_500, 3600);
    expect(c).toEqual({ username: '1700003600:0123456789abcdef', credential: 'S+e3xN+Y7JZUpKfTW/K2aitKYuY=', expires: 1_700_003_600 });
  });

  test('each member and each moment gets its own credential', () => {
    const other = 'fedcba9876543210'.repeat(4);
    const a = mintTurnCredential(SECRET, PEER, 1_000_000, 600);
    expect(mintTurnCredential(SECRET, other, 1_000_000, 600).username).toBe('1600:fedcba9876543210');
    expect(mintTurnCredential(SECRET, PEER, 2_000_000, 600).credential).not.toBe(a.credential);
    expect(mintTurnCredential(`${SECRET}x`, PEER, 1_000_000, 600).credential).not.toBe(a.credential);
  });

  test('the ice frame carries STUN and TURN servers and passes the frame schema', () => {
    const s = parseIceEnv({ ICE_STUN_URLS: 'stun:10.0.0.1:3478', ICE_TURN_URLS: 'turn:10.0.0.1:3478?transport=udp', ICE_TURN_SECRET: SECRET });
    const frame = iceFrameFor(s, PEER, 1_700_000_000_000)!;
    expect(frame).toEqual({
      type: 'ice',
      iceServers: [
        { urls: ['stun:10.0.0.1:3478'] },
        { urls: ['turn:10.0.0.1:3478?transport=udp'], username: '1700003600:0123456789abcdef', credential: expect.any(String) },
      ],
      iceTransportPolicy: 'all',
      expires: 1_700_003_600,
    });
    expect(v.safeParse(ServerFrame, JSON.parse(JSON.stringify(frame))).success).toBe(true);
    // STUN only: no credentials, no expiry.
    const stun = iceFrameFor(parseIceEnv({ ICE_STUN_URLS: 'stun:10.0.0.1' }), PEER, 0)!;
    expect(stun).toEqual({ type: 'ice', iceServers: [{ urls: ['stun:10.0.0.1'] }], iceTransportPolicy: 'all' });
  });
});

describe('ice frame schema', () => {
  const ok = { type: 'ice', iceServers: [{ urls: ['turn:h:1'], username: 'u', credential: 'c' }], iceTransportPolicy: 'relay', expires: 5 };
  test('accepts a well-formed frame', () => {
    expect(v.safeParse(ServerFrame, ok).success).toBe(true);
    expect(v.safeParse(ServerFrame, { type: 'ice', iceServers: [], iceTransportPolicy: 'all' }).success).toBe(true);
  });
  const broken: [string, unknown][] = [
    ['an http URL', { ...ok, iceServers: [{ urls: ['http://h/'] }] }],
    ['a javascript: URL', { ...ok, iceServers: [{ urls: ['javascript:alert(1)'] }] }],
    ['a bare string for urls', { ...ok, iceServers: [{ urls: 'turn:h:1' }] }],
    ['no URLs', { ...ok, iceServers: [{ urls: [] }] }],
    ['an unknown policy', { ...ok, iceTransportPolicy: 'none' }],
    ['an extra field', { ...ok, extra: 1 }],
    ['an extra field in a server', { ...ok, iceServers: [{ urls: ['stun:h'], credentialType: 'oauth' }] }],
    ['a fractional expiry', { ...ok, expires: 1.5 }],
    ['too many servers', { ...ok, iceServers: Array.from({ length: 5 }, () => ({ urls: ['stun:h'] })) }],
    ['an oversize credential', { ...ok, iceServers: [{ urls: ['turn:h'], username: 'u', credential: 'x'.repeat(300) }] }],
  ];
  for (const [what, frame] of broken) {
    test(`refuses ${what}`, () => expect(v.safeParse(ServerFrame, frame).success).toBe(false));
  }
});
