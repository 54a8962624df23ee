import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody, type PrepareBody } from '../core/messages.ts';
import { ed25519Suite, generateKeyPair, toHex } from '../crypto/ed25519.ts';
import { proofFile } from '../proof/proof-file.ts';
import { rosterFingerprint } from '../app/roster.ts';
import { USAGE, parseArgs, run } from './verify-proof.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let validPath: string;
let tamperedPath: string;
let fingerprint: string;

/** The CLI as a person runs it: a separate node process, through tsx. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/tools/verify-proof.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, npm_config_roster: undefined },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  // Member 2 of a sorted four-member roster signs two different prepares for view 0, sequence 1.
  const pairs = Array.from({ length: 4 }, () => generateKeyPair()).sort((a, b) => toHex(a.publicKey).localeCompare(toHex(b.publicKey)));
  const keys = pairs.map((p) => toHex(p.publicKey));
  const room = 'lunch-42';
  const prepare = (fill: number) =>
    signBody<PrepareBody>(ed25519Suite, pairs[2]!.secretKey, { t: 'prepare', room, from: 2, view: 0, seq: 1, digest: new Uint8Array(32).fill(fill) });
  const file = proofFile({ room, keys, member: 2, proof: { a: prepare(1), b: prepare(2) }, now: Date.UTC(2025, 0, 1) });
  fingerprint = rosterFingerprint(room, 4, keys);
  dir = mkdtempSync(join(tmpdir(), 'verify-proof-'));
  validPath = join(dir, file.fileName);
  writeFileSync(validPath, file.text);
  const broken = JSON.parse(file.text);
  broken.second.body.seq = 2;
  tamperedPath = join(dir, 'tampered.json');
  writeFileSync(tamperedPath, JSON.stringify(broken));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run verify-proof, as a child process', () => {
  it('says VALID and exits 0 for a valid proof', () => {
    const { code, stdout } = cli(validPath);
    expect(stdout).toMatch(/^VALID: member 2 \(key fingerprint [0-9a-f ]+\) signed two different prepare messages for view 0, sequence 1 in room lunch-42\./);
    expect(stdout).toContain(`Roster fingerprint in the file: ${fingerprint}; compare it with the one your tab shows.`);
    expect(code).toBe(0);
  });

  it('says INVALID with the reason and exits 1 for a tampered proof', () => {
    const { code, stdout } = cli(tamperedPath, '--roster', fingerprint);
    expect(stdout).toMatch(/^INVALID: The proof does not hold: the two messages are not for the same slot\./);
    expect(stdout).toContain(`Roster fingerprint in the file: ${fingerprint}`);
    expect(code).toBe(1);
  });

  it('says clearly that a file is missing, and exits 2', () => {
    const { code, stdout, stderr } = cli(join(dir, 'nope.json'));
    expect(stdout).toBe('');
    expect(stderr).toContain(`Cannot read ${join(dir, 'nope.json')}: there is no such file.`);
    expect(code).toBe(2);
  });
});

describe('the CLI, in process', () => {
  it('checks the roster fingerprint it is given', () => {
    expect(run([validPath, '--roster', fingerprint.toUpperCase()])).toMatchObject({ code: 0 });
    const mismatch = run(['--', validPath, '--roster=ab12 cd34 ef56 7890']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.out[0]).toBe(`INVALID: The file's roster does not match the roster you expected (ab12 cd34 ef56 7890): the file says ${fingerprint}.`);
  });

  it('answers usage errors with exit code 2 and a usage line', () => {
    for (const argv of [[], ['a.json', 'b.json'], ['--bogus', validPath], [validPath, '--roster'], [validPath, '--roster', 'lunch']]) {
      const result = run(argv);
      expect(result.code).toBe(2);
      expect(result.err).toContain(USAGE);
    }
    expect(run(['--help'])).toEqual({ code: 0, out: [USAGE], err: [] });
    expect(run([dir]).code).toBe(2);
  });

  it('rejects a file over 1 MiB without reading it as a proof', () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, ' '.repeat(1024 * 1024 + 1));
    const result = run([big]);
    expect(result.code).toBe(1);
    expect(result.out[0]).toMatch(/^INVALID: The file is 1048577 bytes; a proof file is at most 1 MiB/);
  });

  it('picks up --roster that npm kept for itself when it was given without --', () => {
    expect(parseArgs([validPath], { npm_config_roster: 'ab12cd34ef567890' })).toEqual({ file: validPath, roster: 'ab12cd34ef567890' });
    expect(parseArgs([validPath, 'ab12 cd34 ef56 7890'], { npm_config_roster: 'true' })).toEqual({ file: validPath, roster: 'ab12 cd34 ef56 7890' });
    expect(parseArgs([validPath, 'other.json'], { npm_config_roster: 'true' })).toEqual({ error: 'Name one proof file, not 2.' });
  });
});
