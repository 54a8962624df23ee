// Runs every interaction script in testdata/ (see script.ts and testdata/README.md).
// `npm test` only compares; UPDATE_GOLDEN=1 rewrites the expected output in place.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Effect } from './effects.ts';
import { makeRoster } from './harness.ts';
import { Replica } from './replica.ts';
import { describeEffect, parseScript, runScript } from './script.ts';
import { WAL_VERSION } from './wal.ts';

const dir = join(new URL('.', import.meta.url).pathname, 'testdata');
const scripts = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const update = process.env.UPDATE_GOLDEN === '1';

describe('interaction scripts', () => {
  it('exist', () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  for (const file of scripts) {
    it(file, () => {
      const path = join(dir, file);
      const text = readFileSync(path, 'utf8');
      const result = runScript(text);
      if (update && result.text !== text) writeFileSync(path, result.text);
      // A failed check fails the script even when its output was just rewritten.
      expect(result.failedChecks, `${file}: failed checks`).toEqual([]);
      if (!update) {
        // Block by block, so that a failure names the command whose output changed.
        for (const m of result.mismatches) {
          expect(m.actual.join('\n'), `${file}:${m.line}: ${m.command}`).toBe(m.expected.join('\n'));
        }
      }
    });
  }
});

describe('the script format', () => {
  it('reads a command, its separator and its output up to a blank line, keeping comments', () => {
    const { blocks, trailer } = parseScript('# a\ncluster n=4\n----\nout 1\nout 2\n\n# b\nstatus m0\n----\nok\n\n# end\n');
    expect(blocks.map((b) => [b.preamble, b.command, b.line, b.expected])).toEqual([
      [['# a'], 'cluster n=4', 2, ['out 1', 'out 2']],
      [['', '# b'], 'status m0', 8, ['ok']],
    ]);
    expect(trailer).toEqual(['', '# end']);
  });

  it('rewrites only the output, and a script run twice gives the same text', () => {
    const script = '# normal case\ncluster n=4\n----\nstale\n\nrequest m1 propose "Thai Palace" 12:30\n----\nstale\n';
    const once = runScript(script);
    expect(once.mismatches).toHaveLength(2);
    expect(once.text.split('\n').filter((l) => l.startsWith('#') || l.startsWith('request') || l.startsWith('cluster'))).toEqual([
      '# normal case', 'cluster n=4', 'request m1 propose "Thai Palace" 12:30',
    ]);
    const twice = runScript(once.text);
    expect(twice.mismatches).toEqual([]);
    expect(twice.text).toBe(once.text);
  });

  it('names the line of a command it cannot run', () => {
    expect(() => runScript('cluster n=4\n----\nok\n\nfly m1\n----\nok\n')).toThrow(/line 5: fly m1: unknown command/);
  });
});

describe('the printer', () => {
  it('ignores effect kinds and fields it does not know, so that new ones leave the golden files alone', () => {
    const messages = new Replica({ ...fake(), me: 1 }).request({ kind: 'propose', place: 'Thai Palace', time: '12:30' });
    const send = messages.find((e) => e.kind === 'send')!;
    const line = describeEffect(1, send, 'full');
    expect(line).toBe('m1: send request 1#1 propose "Thai Palace" 12:30 -> all');
    expect(describeEffect(1, { ...send, retransmit: true } as unknown as Effect, 'full')).toBe(line);
    expect(describeEffect(1, { kind: 'not-yet-invented', from: 0 } as unknown as Effect, 'full')).toBeNull();
    // A message taken in is the delivery line already; a refused one is a drop line.
    const at = { view: 0, seq: 1, request: null, digest: null };
    expect(describeEffect(1, { kind: 'received', from: 0, type: 'prepare', at, dropped: null }, 'full')).toBeNull();
    expect(describeEffect(1, { kind: 'received', from: 0, type: 'prepare', at, dropped: 'wrong-view' }, 'full')).toBe('m1: drop from m0 wrong-view');
    expect(describeEffect(1, { kind: 'persist', record: { v: WAL_VERSION, kind: 'start' } } as Effect, 'full')).toBeNull();
  });
});

/** A replica's configuration in a fake-crypto roster of four, but for `me`. */
function fake() {
  const { roster, suite, members } = makeRoster(4, false);
  return { roster, suite, secretKey: members[1]!.secretKey };
}
