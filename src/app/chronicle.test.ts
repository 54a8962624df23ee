// The screen's record of a member's effects: what each effect adds to the transcript, the claims,
// the lunch and the diagrams, and whether the screen changed.
import { describe, expect, it } from 'vitest';
import type { Effect } from '../core/effects.ts';
import { applyLunch, initialLunch, type LunchState } from '../core/lunch.ts';
import { WAL_VERSION } from '../core/wal.ts';
import { Chronicle, requestIds, TRANSCRIPT_KEPT, type Moment } from './chronicle.ts';
import { shown, tell } from './transcript.ts';

const names = ['Ann', 'Bo', 'Cy', 'Di'];
const name = (m: number) => names[m]!;
const proposed = applyLunch(initialLunch(4), 2, { member: 2, counter: 1 }, { kind: 'propose', place: 'Thai Palace', time: '12:30' });

function moment(lunch: LunchState = initialLunch(4), at = 7): Moment {
  return { me: 1, at, liar: false, lunchNow: () => lunch };
}

describe('Chronicle', () => {
  it('closes the diagram of an execution, tells what it did and who vouched, and takes the lunch from the replica', () => {
    const c = new Chronicle(4);
    c.observe({ kind: 'received', from: 3, type: 'prepare', at: { view: 0, seq: 1, request: null, digest: 'aa' }, dropped: null }, moment());
    // A liar's prepare for another batch in the same slot is not vouching for this one.
    c.observe({ kind: 'received', from: 0, type: 'prepare', at: { view: 0, seq: 1, request: null, digest: 'bb' }, dropped: null }, moment());
    c.observe({ kind: 'received', from: 3, type: 'commit', at: { view: 0, seq: 1, request: null, digest: 'aa' }, dropped: null }, moment());
    const executed: Effect = {
      kind: 'executed', seq: 1, view: 0, requests: [{ member: 2, counter: 1, op: { kind: 'propose', place: 'Thai Palace', time: '12:30' } }],
      events: proposed.events,
    };
    expect(c.observe(executed, moment(proposed.state, 9))).toBe(true);
    expect(c.lunch).toBe(proposed.state);
    expect(c.transcript.filter((l) => shown(l.story)).map((l) => ({ at: l.at, ...tell(l.story, name, 4) })).map(({ at, kind, text }) => ({ at, kind, text }))).toEqual([
      { at: 9, kind: 'request', text: 'Cy: “Lunch, everyone! How about Thai Palace at 12:30?”' },
      { at: 9, kind: 'vouch', text: 'Di: “I heard step 1 the same way — I vouch for it.”' },
      { at: 9, kind: 'confirm', text: 'Di: “Enough of us vouched: step 1 stands.”' },
    ]);
    expect(c.diagrams.views([], name).map((d) => [d.seq, d.label])).toEqual([[1, 'Cy proposes Thai Palace']]);
    // Labelled with the names known when shown: a name that arrives later is used from then on.
    expect(c.diagrams.views([], (m) => `member ${m}`)[0]!.label).toBe('member 2 proposes Thai Palace');
  });

  it('adds the commit that completed the quorum, and later ones, to the step’s confirming line', () => {
    const c = new Chronicle(4);
    const commit = (from: number): Effect => ({ kind: 'received', from, type: 'commit', at: { view: 0, seq: 1, request: null, digest: 'aa' }, dropped: null });
    c.observe(commit(3), moment());
    c.observe({
      kind: 'executed', seq: 1, view: 0, requests: [{ member: 2, counter: 1, op: { kind: 'propose', place: 'Thai Palace', time: '12:30' } }],
      events: proposed.events,
    }, moment(proposed.state, 9));
    // The replica says what a message was after what it caused: here, the execution.
    expect(c.observe(commit(2), moment(proposed.state, 9))).toBe(true);
    c.observe(commit(0), moment(proposed.state, 30));
    const confirm = c.transcript.find((l) => l.story.kind === 'confirmed')!;
    expect(confirm.at).toBe(9);
    expect(tell(confirm.story, name, 4).text).toBe('Ann, Cy and Di: “Enough of us vouched: step 1 stands.”');
  });

  it('counts every claim but tells only the first against a member', () => {
    const c = new Chronicle(4);
    const claim: Effect = { kind: 'claim', accuser: 0, accused: 3, reason: 'made up' };
    expect(c.observe(claim, moment())).toBe(true);
    expect(c.observe(claim, moment())).toBe(true);
    expect(c.claims.get(3)).toBe(2);
    expect(c.transcript.map((l) => l.story.kind)).toEqual(['claim']);
  });

  it('adopts a transferred state, and reports no change for a write or a message of no diagram', () => {
    const c = new Chronicle(4);
    expect(c.observe({ kind: 'state', seq: 20, lunch: proposed.state }, moment())).toBe(true);
    expect(c.lunch).toBe(proposed.state);
    expect(c.observe({ kind: 'persist', record: { v: WAL_VERSION, kind: 'start' } }, moment())).toBe(false);
    expect(c.observe({ kind: 'received', from: 0, type: 'checkpoint', at: { view: null, seq: 20, request: null, digest: null }, dropped: null }, moment())).toBe(false);
  });

  it('keeps the last TRANSCRIPT_KEPT lines', () => {
    const c = new Chronicle(4);
    for (let i = 0; i < TRANSCRIPT_KEPT + 3; i++) c.say(i, { kind: 'restored', records: i });
    expect(c.transcript).toHaveLength(TRANSCRIPT_KEPT);
    expect(c.transcript[0]!.story).toEqual({ kind: 'restored', records: 3 });
  });

  it('keeps no time for what a restore re-executes: the records do not say when it happened', () => {
    const c = new Chronicle(4);
    c.observe({ kind: 'state', seq: 16, lunch: proposed.state }, { ...moment(), restored: true });
    c.observe({ kind: 'claim', accuser: 0, accused: 3, reason: 'x' }, moment(proposed.state, 12));
    expect(c.transcript.map((l) => l.at)).toEqual([null, 12]);
  });

  it('names requests as member:counter', () => {
    expect(requestIds([{ member: 2, counter: 5, op: { kind: 'new-round' } }])).toEqual(['2:5']);
  });
});
