import { describe, expect, it } from 'vitest';
import { batchDigest, signBody, type AnyBody, type Proof, type RequestBody, type Signed } from '../core/messages.ts';
import { InsecureSimulationSuite } from '../core/suite.ts';
import { explainProof } from './explain.ts';

const suite = new InsecureSimulationSuite();
const key = new Uint8Array(32).fill(7);
const room = 'lunch';
const NAMES = ['James', 'Bryan', 'Rich', 'Chris'];
const name = (m: number) => NAMES[m] ?? `member ${m}`;
const sign = <B extends AnyBody>(body: B) => signBody(suite, key, body);
const propose = (from: number, counter: number, place: string, time: string): Signed<RequestBody> =>
  sign<RequestBody>({ t: 'request', room, from, counter, op: { kind: 'propose', place, time } });

describe('explainProof', () => {
  it('tells an equivocating leader in one sentence, with the places when the tab saw the batches', () => {
    const taco = [propose(0, 1, 'Taco Truck', '12:10')];
    const sushi = [propose(0, 1, 'Sushi', '12:30')];
    const pp = (batch: Signed<RequestBody>[]) => sign({ t: 'pre-prepare', room, from: 2, view: 0, seq: 5, digest: batchDigest(batch) } as const);
    const proof = { a: pp(taco), b: pp(sushi) } as Proof;
    const byDigest = new Map([[batchDigest(taco).join(), taco], [batchDigest(sushi).join(), sushi]]);
    const story = explainProof(proof, { name, batch: (d) => byDigest.get(d.join()) });
    expect(story.headline).toBe(
      'Rich, leading the room, put two different things forward as step 5: James: “How about Taco Truck at 12:10?” and ' +
        'James: “How about Sushi at 12:30?”, and signed both.',
    );
    expect(story.first).toContain('Taco Truck');
    expect(story.second).toContain('Sushi');
    expect(story.why).toMatch(/anyone can check this proof/);
    // Without the batches it still says what happened, with short fingerprints.
    const bare = explainProof(proof, { name });
    expect(bare.headline).toMatch(/^Rich, leading the room, put two different things forward as step 5: proposal [0-9a-f]{8} and proposal [0-9a-f]{8}, and signed both\.$/);
  });

  it('has words for every kind of slot', () => {
    const d = (x: number) => new Uint8Array(32).fill(x);
    const pairs: [AnyBody, AnyBody, RegExp][] = [
      [{ t: 'prepare', room, from: 3, view: 1, seq: 2, digest: d(1) }, { t: 'prepare', room, from: 3, view: 1, seq: 2, digest: d(2) }, /^Chris vouched for two different proposals as step 2/],
      [{ t: 'commit', room, from: 3, view: 1, seq: 2, digest: d(1) }, { t: 'commit', room, from: 3, view: 1, seq: 2, digest: d(2) }, /^Chris confirmed two different proposals as step 2/],
      [{ t: 'checkpoint', room, from: 1, seq: 16, digest: d(1) }, { t: 'checkpoint', room, from: 1, seq: 16, digest: d(2) }, /^Bryan reported two different lunch plans after step 16/],
      [
        { t: 'request', room, from: 0, counter: 4, op: { kind: 'propose', place: 'Pho', time: '12:00' } },
        { t: 'request', room, from: 0, counter: 4, op: { kind: 'new-round' } },
        /^James made two different requests under one number \(#4\) — “How about Pho at 12:00\?” and “Let’s start a new round” — and signed both\.$/,
      ],
    ];
    for (const [a, b, headline] of pairs) {
      const story = explainProof({ a: sign(a), b: sign(b) } as Proof, { name });
      expect(story.headline).toMatch(headline);
      expect(story.first).not.toBe(story.second);
    }
  });
});
