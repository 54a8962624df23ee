import { beforeAll, describe, expect, it } from 'vitest';
import { Adversary } from '../core/adversaries.ts';
import { Cluster } from '../core/harness.ts';
import { signBody, type PrePrepareBody, type Proof, type StatusBody } from '../core/messages.ts';
import { fingerprint, fromHex, generateKeyPair, toHex } from '../crypto/ed25519.ts';
import { bytesFromJson, bytesToJson, normalizeRosterFingerprint, proofFile, verifyProofFile } from './proof-file.ts';
import { rosterFingerprint } from '../app/roster.ts';

// A real proof: an equivocating primary with real Ed25519 keys, caught by an honest member.
let c: Cluster;
let proof: Proof;
let keys: string[];
let valid: { fileName: string; text: string };
const NOW = Date.UTC(2025, 4, 1, 12, 30);

beforeAll(() => {
  c = new Cluster(4, {
    real: true,
    wrap: (replica, m, cluster) =>
      m.index === 0
        ? new Adversary('equivocate', { replica, secretKey: m.secretKey, suite: cluster.suite, roster: cluster.roster })
        : replica,
  });
  c.request(1, { kind: 'propose', place: 'Thai Palace', time: '12:30' });
  c.run(10_000);
  const evidence = c.evidence(1);
  expect(evidence.length).toBeGreaterThan(0);
  expect(evidence[0]!.member).toBe(0);
  proof = evidence[0]!.proof;
  keys = c.roster.keys.map(toHex);
  valid = proofFile({ room: c.roster.room, keys, member: 0, memberName: 'Mallory', proof, now: NOW });
});

type FileJson = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The valid file, changed by `edit`, as text. */
function tampered(edit: (file: FileJson) => void): string {
  const file = JSON.parse(valid.text) as FileJson;
  edit(file);
  return JSON.stringify(file, null, 2);
}

function reasonOf(text: string, options?: { expectRosterFingerprint?: string }): string {
  const result = verifyProofFile(text, options);
  expect(result.ok).toBe(false);
  return result.ok ? '' : result.reason;
}

function flipHex(hex: string, at: number): string {
  const byte = parseInt(hex.slice(at * 2, at * 2 + 2), 16) ^ 0x01;
  return hex.slice(0, at * 2) + byte.toString(16).padStart(2, '0') + hex.slice(at * 2 + 2);
}

/** A message the liar (member 0) really signed, for crafting proofs that fail for one reason only. */
function signedByLiar(body: Partial<PrePrepareBody>) {
  const base = proof.a.body as PrePrepareBody;
  return bytesToJson(signBody(c.suite, c.members[0]!.secretKey, { ...base, ...body }));
}

describe('a proof file made from a real equivocation', () => {
  it('is self-describing JSON with the roster, its fingerprint and both signed messages', () => {
    const file = JSON.parse(valid.text) as FileJson;
    expect(file).toMatchObject({
      format: 'byzantine-lunch-proof',
      version: 1,
      room: 'test-room',
      n: 4,
      roster: keys,
      rosterFingerprint: rosterFingerprint('test-room', 4, keys),
      member: 0,
      memberKey: keys[0],
      memberName: 'Mallory',
      slot: 'pre-prepare/0/0/1',
      createdAt: '2025-05-01T12:30:00.000Z',
    });
    expect(file['what']).toMatch(/Member 0 .*signed two different pre-prepare messages for the same slot.*anyone can check both signatures against the roster below/);
    expect(file['first'].sig).toEqual({ $bytes: toHex(proof.a.sig) });
    expect(file['second'].body.digest).toEqual({ $bytes: toHex((proof.b.body as PrePrepareBody).digest) });
    expect(valid.fileName).toBe('proof-test-room-member0-pre-prepare-0-0-1.json');
  });

  it('verifies, and the summary says who lied and how', () => {
    const result = verifyProofFile(valid.text);
    expect(result).toMatchObject({
      ok: true,
      member: 0,
      memberKey: keys[0],
      slot: 'pre-prepare/0/0/1',
      room: 'test-room',
      rosterFingerprint: rosterFingerprint('test-room', 4, keys),
    });
    if (!result.ok) return;
    expect(result.summary).toBe(
      `Valid proof: member 0 (key fingerprint ${fingerprint(fromHex(keys[0]!))}, called "Mallory" in the file) signed two different ` +
        'pre-prepare messages for view 0, sequence 1 in room test-room. Both signatures verify under the strict Ed25519 rule.',
    );
  });

  it('verifies without a member name, and with the expected roster fingerprint typed any way', () => {
    const plain = proofFile({ room: c.roster.room, keys, member: 0, proof, now: NOW });
    expect(JSON.parse(plain.text)).not.toHaveProperty('memberName');
    const stated = rosterFingerprint('test-room', 4, keys);
    expect(verifyProofFile(plain.text, { expectRosterFingerprint: stated })).toMatchObject({ ok: true, member: 0 });
    expect(verifyProofFile(plain.text, { expectRosterFingerprint: stated.replace(/ /g, '').toUpperCase() })).toMatchObject({ ok: true });
  });

  it('refuses to make a file from an inconsistent input', () => {
    expect(() => proofFile({ room: 'test-room', keys, member: 1, proof, now: NOW })).toThrow(/not about member 1/);
    expect(() => proofFile({ room: 'test-room', keys, member: 7, proof, now: NOW })).toThrow(/not in the roster/);
    expect(() => proofFile({ room: 'test-room', keys, member: 0, proof, now: NaN })).toThrow(/valid date/);
  });
});

describe('a tampered or broken proof file is rejected with a fitting reason', () => {
  it('a flipped byte in a signature', () => {
    const text = tampered((f) => (f['first'].sig.$bytes = flipHex(f['first'].sig.$bytes, 10)));
    expect(reasonOf(text)).toMatch(/signature on the first message does not verify under member 0's key/);
  });

  it('a changed digest in one message', () => {
    const text = tampered((f) => (f['second'].body.digest.$bytes = flipHex(f['second'].body.digest.$bytes, 0)));
    expect(reasonOf(text)).toMatch(/signature on the second message does not verify/);
  });

  it('the member index changed', () => {
    expect(reasonOf(tampered((f) => (f['member'] = 1)))).toMatch(/member key in the file is not roster key 1/);
  });

  it('the member index and key changed together, to blame an honest member', () => {
    const text = tampered((f) => {
      f['member'] = 2;
      f['memberKey'] = keys[2];
    });
    expect(reasonOf(text)).toMatch(/first message is from member 0, not from member 2/);
  });

  it('a roster key replaced', () => {
    const other = toHex(generateKeyPair().publicKey);
    expect(reasonOf(tampered((f) => (f['roster'][2] = other)))).toMatch(/roster fingerprint in the file .* does not match its room and roster/);
  });

  it("the liar's roster key replaced, with the fingerprint recomputed to match", () => {
    const other = toHex(generateKeyPair().publicKey);
    const text = tampered((f) => {
      f['roster'][0] = other;
      f['memberKey'] = other;
      f['rosterFingerprint'] = rosterFingerprint(f['room'], f['n'], f['roster']);
    });
    expect(reasonOf(text)).toMatch(/neither signature verifies under member 0's key/);
  });

  it('the roster fingerprint changed', () => {
    const text = tampered((f) => (f['rosterFingerprint'] = '0000 1111 2222 3333'));
    expect(reasonOf(text)).toMatch(/roster fingerprint in the file \(0000 1111 2222 3333\) does not match its room and roster/);
  });

  it('the room changed', () => {
    expect(reasonOf(tampered((f) => (f['room'] = 'other-room')))).toMatch(/does not match its room and roster/);
  });

  it('the two messages made identical', () => {
    expect(reasonOf(tampered((f) => (f['second'] = f['first'])))).toMatch(/does not hold: the two messages are the same/);
  });

  it('messages for different slots, both really signed by the liar', () => {
    const text = tampered((f) => (f['second'] = signedByLiar({ seq: 2 })));
    expect(reasonOf(text)).toMatch(/not for the same slot/);
  });

  it('a message from another room, really signed by the liar', () => {
    const text = tampered((f) => (f['second'] = signedByLiar({ room: 'elsewhere' })));
    expect(reasonOf(text)).toMatch(/second message is for room "elsewhere", not room "test-room"/);
  });

  it('a slot in the file that is not the messages’ slot', () => {
    expect(reasonOf(tampered((f) => (f['slot'] = 'pre-prepare/0/0/2')))).toMatch(/messages are for slot "pre-prepare\/0\/0\/1", but the file says/);
  });

  it('a message of a kind that has no slot', () => {
    const status = signBody<StatusBody>(c.suite, c.members[0]!.secretKey, { t: 'status', room: 'test-room', from: 0, view: 0, executed: 0 });
    const text = tampered((f) => (f['second'] = bytesToJson(status)));
    expect(reasonOf(text)).toMatch(/second message is not a valid signed message: its type "status" is not one a member can be proven to equivocate on/);
  });

  it('a message with a field of the wrong shape', () => {
    const text = tampered((f) => (f['first'].body.digest.$bytes = f['first'].body.digest.$bytes.slice(0, 20)));
    expect(reasonOf(text)).toMatch(/first message is not a valid signed message: body\.digest must be 32 bytes\./);
  });

  it('bytes not written as {"$bytes": hex}', () => {
    expect(reasonOf(tampered((f) => (f['first'].sig.$bytes = 'XYZ')))).toMatch(/first message could not be read: sig is not \{"\$bytes"/);
    expect(reasonOf(tampered((f) => (f['first'].sig.extra = 1)))).toMatch(/could not be read/);
  });

  it('a wrong format or version', () => {
    expect(reasonOf(tampered((f) => (f['format'] = 'byzantine-lunch-identity')))).toMatch(/not a Byzantine Lunch proof file: its format is "byzantine-lunch-identity"/);
    expect(reasonOf(tampered((f) => delete f['format']))).toMatch(/its format is missing/);
    expect(reasonOf(tampered((f) => (f['version'] = 2)))).toMatch(/version "2"; this verifier reads version 1 only/);
  });

  it('not JSON, or a truncated file', () => {
    expect(reasonOf('hello')).toMatch(/not JSON/);
    expect(reasonOf(valid.text.slice(0, Math.floor(valid.text.length / 2)))).toMatch(/not JSON .*truncated/);
    expect(reasonOf('[1, 2]')).toMatch(/not a Byzantine Lunch proof file/);
    expect(reasonOf('null')).toMatch(/not a Byzantine Lunch proof file/);
  });

  it('a malformed roster or header', () => {
    expect(reasonOf(tampered((f) => (f['n'] = 5)))).toMatch(/n must be 3f\+1/);
    expect(reasonOf(tampered((f) => (f['n'] = 256)))).toMatch(/n must be at most 255/);
    expect(reasonOf(tampered((f) => f['roster'].pop()))).toMatch(/roster lists 3 keys but the file says n = 4/);
    expect(reasonOf(tampered((f) => (f['roster'][1] = f['roster'][1].toUpperCase())))).toMatch(/roster\.1 must be 64 lowercase hex digits/);
    expect(reasonOf(tampered((f) => (f['roster'][3] = f['roster'][1])))).toMatch(/Roster key 3 .* appears more than once/);
    expect(reasonOf(tampered((f) => (f['roster'][3] = '00'.repeat(32))))).toMatch(/Roster key 3 .* not an acceptable Ed25519 public key/);
    expect(reasonOf(tampered((f) => (f['member'] = 9)))).toMatch(/names member 9, but the roster has members 0 to 3/);
    expect(reasonOf(tampered((f) => (f['comment'] = 'trust me')))).toMatch(/field it should not have: "comment"/);
    expect(reasonOf(tampered((f) => delete f['second']))).toMatch(/the field "second" is missing/);
    expect(reasonOf(tampered((f) => (f['createdAt'] = 'yesterday')))).toMatch(/createdAt must be an ISO date/);
  });

  it('a roster fingerprint other than the one expected', () => {
    const stated = rosterFingerprint('test-room', 4, keys);
    expect(reasonOf(valid.text, { expectRosterFingerprint: 'ab12 cd34 ef56 7890' })).toBe(
      `The file's roster does not match the roster you expected (ab12 cd34 ef56 7890): the file says ${stated}.`,
    );
    expect(reasonOf(valid.text, { expectRosterFingerprint: 'lunch' })).toMatch(/not 16 hex digits/);
  });

  it('never throws, whatever it is given', () => {
    for (const input of [undefined, 42, '', '{}', '"x"', '['.repeat(5000), 'x'.repeat(1024 * 1024 + 1)]) {
      expect(() => verifyProofFile(input as string)).not.toThrow();
      expect(verifyProofFile(input as string).ok).toBe(false);
    }
    let deep: unknown = { $bytes: '00' };
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(reasonOf(tampered((f) => (f['first'] = { body: deep, sig: f['first'].sig })))).toMatch(/nests too deeply/);
  });

  it('shows control characters from the file escaped, never as they are', () => {
    const reason = reasonOf(tampered((f) => (f['format'] = '\u001b[2Jevil\u009b')));
    expect(reason).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});

describe('bytes in JSON', () => {
  it('round-trips nested data with Uint8Arrays', () => {
    const value = { a: new Uint8Array([0, 1, 255]), b: [1, 'x', { c: new Uint8Array(0) }], d: null, e: true };
    const json = bytesToJson(value);
    expect(json).toEqual({ a: { $bytes: '0001ff' }, b: [1, 'x', { c: { $bytes: '' } }], d: null, e: true });
    expect(bytesFromJson(JSON.parse(JSON.stringify(json)))).toEqual({ ok: true, value });
  });

  it('refuses what JSON cannot carry faithfully', () => {
    expect(() => bytesToJson({ a: undefined })).toThrow(/undefined/);
    expect(() => bytesToJson({ $bytes: 'ab' })).toThrow(/\$bytes/);
    expect(() => bytesToJson(new Map())).toThrow();
    expect(() => bytesToJson(Infinity)).toThrow();
  });

  it('keeps a "__proto__" key a plain field', () => {
    const decoded = bytesFromJson(JSON.parse('{"__proto__": {"polluted": 1}}'));
    expect(decoded.ok).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(decoded.ok ? decoded.value : null)).toBe(Object.prototype);
  });

  it('normalizes a typed roster fingerprint', () => {
    expect(normalizeRosterFingerprint(' AB12cd34-EF56:7890 ')).toBe('ab12 cd34 ef56 7890');
    expect(normalizeRosterFingerprint('ab12 cd34')).toBeNull();
  });
});
