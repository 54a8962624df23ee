import { describe, expect, it } from 'vitest';
import { stallLines, waitingFor, type StallFacts } from './stall.ts';

const four = (online: boolean[]): StallFacts['members'] =>
  ['James', 'Bryan', 'Rich', 'Chris'].map((name, i) => ({ name, online: online[i]! }));

const facts = (over: Partial<StallFacts> = {}): StallFacts => ({
  n: 4, q: 3, members: four([true, true, true, true]), pendingOwn: 0, replacing: null, ownWait: null, ...over,
});

describe('stall lines', () => {
  it('say nothing while the room can move and nothing waits', () => {
    expect(stallLines(facts())).toEqual([]);
    expect(stallLines(facts({ members: four([true, true, true, false]) }))).toEqual([]);
  });

  it('name who is missing for a quorum, in people\'s terms', () => {
    expect(stallLines(facts({ members: four([true, true, false, false]), pendingOwn: 1 }))).toEqual([
      'Needs 3 of 4 online — waiting for Rich or Chris',
    ]);
    expect(stallLines(facts({ members: four([true, false, false, false]) }))).toEqual([
      'Needs 3 of 4 online — waiting for 2 of Bryan, Rich and Chris',
    ]);
  });

  it('counts how many of the missing are needed', () => {
    expect(waitingFor(['Rich'], 1)).toBe('Rich');
    expect(waitingFor(['Rich', 'Chris'], 2)).toBe('Rich and Chris');
    expect(waitingFor(['Ana', 'Wei', 'Noor', 'Lena'], 3)).toBe('3 of Ana, Wei, Noor and Lena');
  });

  it('say whom a view change replaces, why, and who takes over', () => {
    const replacing = { name: 'Chris', next: 'James', why: 'nothing heard from Chris for 8 s' };
    expect(stallLines(facts({ replacing }))).toEqual([
      'Replacing Chris as primary (the member who puts requests in order): nothing heard from Chris for 8 s. James takes over once 3 of 4 agree.',
    ]);
  });

  it('say what this member\'s own request waits for, once it has waited a while', () => {
    const ownWait = { ms: 3500, primary: 'Chris', passedOn: false };
    expect(stallLines(facts({ pendingOwn: 1, ownWait }))).toEqual(['Your request has waited 3.5 s: Chris, the primary, has not passed it on yet.']);
    expect(stallLines(facts({ pendingOwn: 1, ownWait: { ...ownWait, passedOn: true } }))).toEqual([
      'Your request has waited 3.5 s for the others to confirm it.',
    ]);
    expect(stallLines(facts({ pendingOwn: 1, ownWait: { ...ownWait, ms: 500 } }))).toEqual([]);
    expect(stallLines(facts({ pendingOwn: 0, ownWait }))).toEqual([]);
  });
});
