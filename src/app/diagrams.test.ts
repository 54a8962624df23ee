// The diagrams and the protocol panel's counts, fed effects directly. Each test names one way the
// panel's "Last decision" counts once disagreed with the protocol's count.
import { describe, expect, it } from 'vitest';
import type { Effect } from '../core/effects.ts';
import type { Wire } from '../core/messages.ts';
import { Diagrams, diagramLabel, phaseOf } from './diagrams.ts';

const N = 4;

/** Just the signed parts coordinatesOf reads; the diagrams look at nothing else. */
function wire(k: 'request' | 'pre-prepare' | 'prepare' | 'commit', at: { view?: number; seq?: number; member?: number; counter?: number; batch?: number }): Wire {
  const body = { view: at.view ?? 0, seq: at.seq ?? 1, from: at.member ?? 0, counter: at.counter ?? 1, digest: new Uint8Array(32).fill(at.batch ?? 1) };
  const parts = { request: { req: { body } }, 'pre-prepare': { pp: { body } }, prepare: { prepare: { body } }, commit: { commit: { body } } };
  return { k, ...parts[k] } as unknown as Wire;
}

const send = (to: number | 'all', message: Wire, retransmit = false): Effect => ({
  kind: 'send', to, type: message.k, message, bytes: new Uint8Array(), ...(retransmit ? { retransmit } : {}),
} as Effect);

const received = (from: number, type: 'request' | 'pre-prepare' | 'prepare' | 'commit', at: { view?: number; seq?: number; request?: string; digest?: string }): Effect => ({
  kind: 'received', from, type, at: { view: at.view ?? null, seq: at.seq ?? null, request: at.request ?? null, digest: at.digest ?? null }, dropped: null,
});

/** Member 1 of four, a backup, through one fault-free decision of sequence 1 (member 3's request). */
function oneDecision(d: Diagrams, seq = 1): void {
  const me = 1;
  const see = (e: Effect) => d.observe(e, me, N, 0, false);
  see(received(3, 'request', { request: `3:${seq}` }));
  see(received(0, 'pre-prepare', { view: 0, seq }));
  see(send('all', wire('prepare', { seq, member: me })));
  see(received(2, 'prepare', { view: 0, seq }));
  see(received(3, 'prepare', { view: 0, seq }));
  see(send('all', wire('commit', { seq, member: me })));
  see(received(0, 'commit', { view: 0, seq }));
  see(received(2, 'commit', { view: 0, seq }));
  d.close(seq, [`3:${seq}`], 'member 3 proposes');
}

/** This tab's share of the protocol's count: the arrows that start or end at member 1. */
const MINE = { request: 1, 'pre-prepare': 1, prepare: 3 + 2, commit: 3 + 3 };

describe('Diagrams', () => {
  it('counts a commit that arrives after its sequence number executed in that decision (cause: closing at execution)', () => {
    const d = new Diagrams();
    oneDecision(d);
    expect(d.lastCounts()).toEqual({ ...MINE, commit: MINE.commit - 1 });
    expect(d.observe(received(3, 'commit', { view: 0, seq: 1 }), 1, N, 5, false)).toBe(true);
    expect(d.lastCounts()).toEqual(MINE);
    expect(d.views([])[0]!.events).toHaveLength(Object.values(MINE).reduce((a, b) => a + b));
  });

  it('files a late message under its own decision, not the last one, and drops one whose decision is gone', () => {
    const d = new Diagrams();
    oneDecision(d, 1);
    oneDecision(d, 2);
    const last = d.lastCounts();
    d.observe(received(3, 'commit', { view: 0, seq: 1 }), 1, N, 5, false);
    expect(d.lastCounts()).toEqual(last);
    expect(d.views([])[0]!.events.filter((e) => e.type === 'commit')).toHaveLength(MINE.commit);
    // Below the last closed sequence number without a diagram here: it will never get one.
    d.observe(received(3, 'commit', { view: 0, seq: 0 }), 1, N, 5, false);
    oneDecision(d, 3);
    expect(d.lastCounts()).toEqual({ ...MINE, commit: MINE.commit - 1 });
  });

  it('draws a liar’s second, different message for one slot as an arrow of its own, and a repeat of either as a copy', () => {
    const d = new Diagrams();
    const see = (e: Effect) => d.observe(e, 1, N, 0, false);
    see(received(3, 'request', { request: '3:1' }));
    see(received(0, 'pre-prepare', { view: 0, seq: 1, digest: 'aaaa' }));
    see(received(0, 'pre-prepare', { view: 0, seq: 1, digest: 'bbbb' }));
    see(received(0, 'pre-prepare', { view: 0, seq: 1, digest: 'aaaa' }));
    d.close(1, ['3:1'], 'member 3 proposes');
    expect(d.lastCounts()['pre-prepare']).toBe(2);
  });

  it('leaves copies sent again out of the last decision, counting them in the totals and retransmissions (cause: the retransmission beat)', () => {
    const d = new Diagrams();
    const me = 1;
    const see = (e: Effect) => d.observe(e, me, N, 0, false);
    see(received(3, 'request', { request: '3:1' }));
    see(received(0, 'pre-prepare', { view: 0, seq: 1 }));
    see(send('all', wire('prepare', { seq: 1, member: me })));
    // The beat: this tab sends its prepare again, and others' copies arrive.
    see(send('all', wire('prepare', { seq: 1, member: me }), true));
    see(received(0, 'pre-prepare', { view: 0, seq: 1 }));
    see(received(3, 'request', { request: '3:1' }));
    see(received(2, 'prepare', { view: 0, seq: 1 }));
    see(received(2, 'prepare', { view: 0, seq: 1 }));
    see(received(3, 'prepare', { view: 0, seq: 1 }));
    see(send('all', wire('commit', { seq: 1, member: me })));
    see(received(0, 'commit', { view: 0, seq: 1 }));
    see(received(2, 'commit', { view: 0, seq: 1 }));
    d.close(1, ['3:1'], 'member 3 proposes');
    // Copies that arrive once the decision is closed are left out as well.
    d.observe(received(0, 'commit', { view: 0, seq: 1 }), me, N, 9, false);
    d.observe(received(3, 'commit', { view: 0, seq: 1 }), me, N, 9, false);
    d.observe(received(3, 'commit', { view: 0, seq: 1 }), me, N, 9, false);
    expect(d.lastCounts()).toEqual(MINE);
    expect(d.views([])[0]!.events).toHaveLength(Object.values(MINE).reduce((a, b) => a + b));
    expect(d.retransmissions()).toBe(N - 1);
    expect(d.totalCounts()).toEqual({ request: 2, 'pre-prepare': 2, prepare: 2 * (N - 1) + 3, commit: N - 1 + 5 });
  });

  it('takes a request passed on by another member as a copy of its author’s', () => {
    const d = new Diagrams();
    const primary = 0;
    const see = (e: Effect) => d.observe(e, primary, N, 0, false);
    see(received(3, 'request', { request: '3:1' }));
    // A backup that saw no pre-prepare for it in time passes it on (marked as sent again there).
    see(received(2, 'request', { request: '3:1' }));
    see(send('all', wire('pre-prepare', { seq: 1, member: primary })));
    d.close(1, ['3:1'], 'member 3 proposes');
    expect(d.lastCounts()).toEqual({ request: 1, 'pre-prepare': N - 1 });
    expect(d.totalCounts().request).toBe(2);
  });

  it('keeps a diagram bounded however many different late messages a liar makes up for it', () => {
    const d = new Diagrams();
    oneDecision(d);
    for (let view = 0; view < 1000; view++) d.observe(received(3, 'commit', { view, seq: 1 }), 1, N, 5, false);
    expect(d.views([])[0]!.events).toHaveLength(500);
    expect(Object.values(d.lastCounts()).reduce((a, b) => a + b)).toBe(500);
    expect(d.totalCounts().commit).toBe(MINE.commit - 1 + 1000);
  });

  it('marks a proven member’s arrows as a liar’s', () => {
    const d = new Diagrams();
    oneDecision(d);
    const events = d.views([0])[0]!.events;
    expect(events.filter((e) => e.malicious).every((e) => e.from === 0)).toBe(true);
    expect(events.filter((e) => e.from === 0).every((e) => e.malicious)).toBe(true);
  });
});

describe('phaseOf and diagramLabel', () => {
  it('draws view changes in one phase and everything else outside the normal case as other', () => {
    expect(['request', 'pre-prepare', 'prepare', 'commit', 'view-change', 'new-view', 'checkpoint'].map(phaseOf)).toEqual([
      'request', 'pre-prepare', 'prepare', 'commit', 'view-change', 'view-change', 'other',
    ]);
  });

  it('says what a sequence number did in people’s words', () => {
    const name = (m: number) => ['Ann', 'Bo'][m]!;
    expect(diagramLabel([], 0, name)).toBe('nothing (a filler after a view change)');
    expect(diagramLabel([{ kind: 'round-started', round: 2 }], 1, name)).toBe('a new round');
  });
});
