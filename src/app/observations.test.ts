// Each strategy, played by a real Adversary against real replicas, leaves its trace in what the
// honest members observe; and no honest member is ever described as misbehaving.
import { describe, expect, it } from 'vitest';
import { Adversary, STRATEGIES, type Strategy } from '../core/adversaries.ts';
import type { Effect } from '../core/effects.ts';
import { Cluster } from '../core/harness.ts';
import type { LunchOp } from '../core/lunch.ts';
import { claimsAgainst, observedLines, silentFor, type ObservedKind } from './observed-lines.ts';
import { Observations, SILENT_AFTER_MS, misdeedOf } from './observations.ts';

const names = ['James', 'Bryan', 'Rich', 'Chris'];
const name = (i: number) => names[i] ?? `member ${i}`;

/** A room of four with `liar` playing `strategy`, every honest member observing, and a round played. */
function play(strategy: Strategy, liar: number, ms = 20_000) {
  const c = new Cluster(4, {
    wrap: (replica, m, cl) =>
      m.index === liar ? new Adversary(strategy, { replica, secretKey: m.secretKey, suite: cl.suite, roster: cl.roster }) : replica,
  });
  const seen = c.nodes.map((_, i) => new Observations(4, i, 0));
  let fed = 0;
  const feed = () => {
    for (; fed < c.effects.length; fed++) {
      const { at, effect } = c.effects[fed]!;
      seen[at]!.effect(effect, c.now);
    }
  };
  const run = (span: number) => {
    for (let t = 0; t < span; t += 100) {
      c.run(100);
      feed();
    }
  };
  const honest = [0, 1, 2, 3].filter((i) => i !== liar);
  run(500);
  const proposer = honest[0]!;
  c.request(proposer, { kind: 'propose', place: 'Noodle Bar', time: '13:00' });
  feed();
  run(1000);
  const vote: LunchOp = { kind: 'vote', proposal: { member: proposer, counter: 1 }, choice: 'join' };
  for (const m of honest) {
    c.request(m, vote);
    feed();
  }
  run(ms);
  const linesAt = (observer: number, member: number) => {
    const sight = seen[observer]!.members()[member]!;
    return observedLines(sight, { name, now: c.now, replacing: seen[observer]!.replacement() });
  };
  return { c, seen, honest, linesAt };
}

const kinds = (lines: { kind: ObservedKind }[]) => lines.map((l) => l.kind);

describe('what honest members observe of each strategy', () => {
  it('maps only refusals no honest member can cause to misdeeds', () => {
    expect(misdeedOf('bad-signature')).toBe('forged');
    expect(misdeedOf('not-cbor')).toBe('malformed');
    expect(misdeedOf('too-many-items')).toBe('oversized');
    expect(misdeedOf('bad-proof')).toBe('bad-proof');
    for (const benign of ['wrong-view', 'outside-window', 'header-mismatch', 'request-too-far-ahead', 'bad-state', 'toString', '__proto__']) {
      expect(misdeedOf(benign)).toBeNull();
    }
  });

  for (const strategy of STRATEGIES) {
    for (const role of ['primary', 'backup'] as const) {
      it(`${strategy} as ${role}: no honest member is described as misbehaving`, () => {
        const liar = role === 'primary' ? 0 : 2;
        const { honest, linesAt, seen, c } = play(strategy, liar, 12_000);
        for (const observer of honest) {
          for (const member of honest) {
            if (member === observer) continue;
            expect(linesAt(observer, member), `${name(member)} at ${name(observer)}`).toEqual([]);
            expect(silentFor(seen[observer]!.members()[member], true, false, c.now)).toBeNull();
          }
        }
      });
    }
  }

  it('forge: every honest member sees forged signatures arriving over the forger\'s link', () => {
    const { honest, linesAt } = play('forge', 2);
    for (const observer of honest) {
      const lines = linesAt(observer, 2);
      expect(kinds(lines)).toContain('forged');
      expect(lines.find((l) => l.kind === 'forged')!.text).toMatch(/^sent \d+ messages? with forged signatures$/);
    }
  });

  it('replay: old messages signed by others, and garbled bytes', () => {
    const { honest, linesAt } = play('replay', 2);
    for (const observer of honest) {
      const lines = linesAt(observer, 2);
      expect(kinds(lines)).toEqual(expect.arrayContaining(['replayed', 'malformed']));
      expect(lines.find((l) => l.kind === 'replayed')!.text).toMatch(/^resent \d+ old messages? signed by others$/);
    }
  });

  it('bloat: oversized messages', () => {
    const { honest, linesAt } = play('bloat', 0);
    for (const observer of honest) {
      const lines = linesAt(observer, 0);
      expect(lines.find((l) => l.kind === 'oversized')?.text).toMatch(/^sent \d+ oversized messages?$/);
    }
  });

  it('false-accuse: the accuser is named for accusing without proof, and its victims show an unproven claim', () => {
    const { honest, linesAt, seen } = play('false-accuse', 3);
    for (const observer of honest) {
      const lines = linesAt(observer, 3);
      expect(lines.find((l) => l.kind === 'accused')?.text).toMatch(/^accused (James|Bryan|Rich)(, \w+)*( and \w+)? without proof$/);
      expect(kinds(lines)).toContain('bad-proof');
      const victims = seen[observer]!.members().filter((m) => m.accusedBy.size > 0);
      expect(victims.length).toBeGreaterThan(0);
      for (const v of victims) expect(claimsAgainst(v, name)).toMatch(/^\d+ unproven claims? against \(by Chris\)$/);
    }
  });

  it('slow as primary: named with how long it kept requests waiting', () => {
    const { honest, linesAt } = play('slow', 0);
    for (const observer of honest) {
      const slow = linesAt(observer, 0).find((l) => l.kind === 'slow');
      expect(slow?.text).toMatch(/^as primary, kept requests waiting 3(\.\d)? s( \(\d+ times\))?$/);
    }
  });

  it('silent as primary: replaced, with how long it was silent, and no longer shown as connected', () => {
    const { honest, linesAt, seen, c } = play('silent', 0);
    for (const observer of honest) {
      const replaced = linesAt(observer, 0).find((l) => l.kind === 'replaced');
      expect(replaced?.text).toMatch(/^replaced as primary: silent for \d+(\.\d)? s$/);
      expect(silentFor(seen[observer]!.members()[0], true, false, c.now)).toBeGreaterThanOrEqual(SILENT_AFTER_MS);
    }
  });

  it('silent as backup: shown as silent, not connected', () => {
    const { honest, seen, c } = play('silent', 2);
    for (const observer of honest) expect(silentFor(seen[observer]!.members()[2], true, false, c.now)).toBeGreaterThanOrEqual(SILENT_AFTER_MS);
  });

  it('equivocate: nothing observed beyond the proof (the proof says it all)', () => {
    const { honest, linesAt } = play('equivocate', 2);
    for (const observer of honest) {
      expect(kinds(linesAt(observer, 2)).filter((k) => k !== 'replaced')).toEqual([]);
    }
  });
});

describe('a view change under way', () => {
  const received = (from: number, type: Extract<Effect, { kind: 'received' }>['type'], view: number | null, signer = from): Effect => ({
    kind: 'received', from, type, at: { view, seq: view === null ? null : 1, request: null, digest: null }, dropped: null, signer,
  });

  it('does not call an honest primary slow for a request a liar sent to the backups only', () => {
    // Chris (3) signs a request and sends it to Rich (2) alone; Rich passes it to the primary at
    // its next retransmission, 1.7 s later, and the primary orders it at once.
    const o = new Observations(4, 2, 0);
    const request: Effect = { kind: 'received', from: 3, type: 'request', at: { view: null, seq: null, request: '3:1', digest: null }, dropped: null, signer: 3 };
    o.effect(request, 350);
    o.effect(received(0, 'pre-prepare', 0), 2050);
    o.effect({ kind: 'executed', seq: 1, view: 0, requests: [{ member: 3, counter: 1, op: { kind: 'new-round' } }], events: [] }, 2060);
    expect(observedLines(o.members()[0]!, { name, now: 2100, replacing: null }).map((l) => l.kind)).not.toContain('slow');
  });

  it('blames a silent primary and says for how long, live', () => {
    const o = new Observations(4, 1, 0);
    o.effect(received(0, 'status', 0), 1000);
    o.effect(received(2, 'status', 0), 6000);
    o.effect({ kind: 'view', view: 0, changing: true, to: 1, why: 'primary-silent' }, 7000);
    const sight = o.members()[0]!;
    expect(o.replacement()).toMatchObject({ member: 0, view: 0, reason: { kind: 'silent', since: 1000 } });
    expect(observedLines(sight, { name, now: 9000, replacing: o.replacement() })).toEqual([{ kind: 'replacing', text: 'primary, silent for 8 s — being replaced' }]);
    o.effect({ kind: 'view', view: 1, changing: false }, 9500);
    expect(o.replacement()).toBeNull();
    expect(observedLines(o.members()[0]!, { name, now: 20_000, replacing: null })).toEqual([{ kind: 'replaced', text: 'replaced as primary: silent for 8.5 s' }]);
  });

  it('says who asked when the primary was heard from and held nothing', () => {
    const o = new Observations(4, 1, 0);
    o.effect(received(2, 'view-change', 1), 500);
    o.effect(received(3, 'view-change', 1), 600);
    o.effect(received(0, 'status', 0), 900);
    o.effect({ kind: 'view', view: 0, changing: true, to: 1, why: 'primary-silent' }, 1000);
    expect(o.replacement()?.reason).toEqual({ kind: 'asked', by: [2, 3] });
    expect(observedLines(o.members()[0]!, { name, now: 1000, replacing: o.replacement() })[0]!.text).toBe(
      'primary, Rich and Chris asked for a new primary — being replaced',
    );
  });

  it('blames a primary that let requests wait without passing anything on', () => {
    const o = new Observations(4, 1, 0);
    o.effect({ kind: 'send', to: 'all', type: 'request', message: { k: 'request', req: { body: { t: 'request', room: 'r', from: 1, counter: 1, op: { kind: 'new-round' } }, sig: new Uint8Array(64) } }, bytes: new Uint8Array() }, 1000);
    o.effect(received(0, 'status', 0), 4500);
    expect(o.ownWaiting(0)).toEqual({ since: 1000, passedOn: false });
    o.effect({ kind: 'view', view: 0, changing: true, to: 1, why: 'primary-silent' }, 5000);
    expect(o.replacement()?.reason).toEqual({ kind: 'held', since: 1000 });
  });

  it('keeps a bounded number of waiting requests', () => {
    const o = new Observations(4, 1, 0);
    for (let i = 0; i < 1000; i++) {
      o.effect({ kind: 'received', from: 2, type: 'request', at: { view: null, seq: null, request: `2:${i}`, digest: null }, dropped: null, signer: 2 }, i);
    }
    // The oldest went first: the first one still kept is recent.
    o.effect(received(0, 'status', 0), 4900);
    o.effect({ kind: 'view', view: 0, changing: true, to: 1, why: 'primary-silent' }, 5000);
    const reason = o.replacement()!.reason;
    expect(reason.kind === 'held' ? reason.since : -1).toBeGreaterThan(900);
  });

  it('ignores effects that name no member of the room', () => {
    const o = new Observations(4, 1, 0);
    o.effect({ kind: 'claim', accuser: 9, accused: 0, reason: '' }, 1);
    o.effect({ kind: 'received', from: 7, type: 'garbage', at: { view: null, seq: null, request: null, digest: null }, dropped: 'not-cbor' }, 1);
    expect(o.members().every((m) => m.accused.length === 0 && m.accusedBy.size === 0 && m.misdeeds.malformed === 0)).toBe(true);
  });
});
