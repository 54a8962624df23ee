import { describe, expect, it } from 'vitest';
import { applyLunch, initialLunch } from '../core/lunch.ts';
import { narrate, narrateMalice, narrateStep, type NarrationContext } from './transcript.ts';

const names = ['Ann', 'Bo', 'Cy', 'Di'];
const proposed = applyLunch(initialLunch(4), 2, { member: 2, counter: 1 }, { kind: 'propose', place: 'Thai Palace', time: '12:30' });

function ctx(claims = 1): NarrationContext {
  return { name: (m) => names[m]!, me: 1, n: 4, lunch: proposed.state, claimsAgainst: () => claims };
}

describe('narrate', () => {
  it('tells a vote by the place it is for', () => {
    const voted = applyLunch(proposed.state, 0, { member: 0, counter: 1 }, { kind: 'vote', proposal: { member: 2, counter: 1 }, choice: 'join' });
    const lines = narrate({
      kind: 'executed', seq: 2, view: 0, events: voted.events,
      requests: [{ member: 0, counter: 1, op: { kind: 'vote', proposal: { member: 2, counter: 1 }, choice: 'join' } }],
    }, ctx());
    expect(lines).toEqual([{ kind: 'request', text: 'Ann: “I am in for Thai Palace.”' }]);
  });

  it('tells a view change from this member’s side, and who keeps order after it', () => {
    expect(narrate({ kind: 'view', view: 0, changing: true, to: 1, why: 'primary-silent' }, ctx())[0]!.text).toBe('Bo: “I have not heard from Ann in time — let us change who keeps order.”');
    expect(narrate({ kind: 'view', view: 2, changing: false }, ctx())[0]!.text).toBe('Cy takes over as the one who keeps order (view 2).');
  });

  it('tells only the first claim against a member, and nothing for messages', () => {
    const claim = { kind: 'claim', accuser: 0, accused: 3, reason: 'x' } as const;
    expect(narrate(claim, ctx(1))).toHaveLength(1);
    expect(narrate(claim, ctx(2))).toEqual([]);
    expect(narrate({ kind: 'received', from: 0, type: 'commit', at: { view: 0, seq: 1, request: null, digest: null }, dropped: null }, ctx())).toEqual([]);
  });
});

describe('narrateStep', () => {
  it('says who vouched and who confirmed, and nothing when this tab heard neither', () => {
    const name = (m: number) => names[m]!;
    expect(narrateStep(4, [1, 2], [0, 1, 2], name)!.text).toBe('Step 4: Bo, Cy vouched for it; Ann, Bo, Cy confirmed it.');
    expect(narrateStep(4, [], [], name)).toBeNull();
  });
});

describe('narrateMalice', () => {
  it('tells turning malicious, changing strategy and turning honest, and nothing else', () => {
    const honest = { enabled: false, strategy: 'equivocate' };
    const lying = { enabled: true, strategy: 'equivocate' };
    expect(narrateMalice(honest, lying)!.text).toBe('This tab now acts maliciously: equivocate.');
    expect(narrateMalice(lying, { enabled: true, strategy: 'silent' })!.text).toBe('This tab now acts maliciously: silent.');
    expect(narrateMalice(lying, honest)!.text).toBe('This tab is honest again.');
    expect(narrateMalice(lying, lying)).toBeNull();
    expect(narrateMalice(honest, { enabled: false, strategy: 'silent' })).toBeNull();
  });
});
