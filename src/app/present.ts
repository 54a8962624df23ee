// What the UI shows of a room, computed from the replica's snapshot and what the tab keeps of
// its effects. Pure: room.ts gathers the inputs, this turns them into the RoomView.
import type { Strategy } from '../core/adversaries.ts';
import { tally, type LunchState } from '../core/lunch.ts';
import { checkProof, type Proof, type Roster } from '../core/messages.ts';
import { primaryOf, quorumFor } from '../core/quorum.ts';
import type { ReplicaSnapshot } from '../core/replica.ts';
import type { RoomRoster } from '../storage/room-store.ts';
import type { Diagrams } from './diagrams.ts';
import { ed25519Suite, toHex } from '../crypto/ed25519.ts';
import type { KeptLine } from './chronicle.ts';
import type { MemberView, ProofView, RoomView, TranscriptLine } from './room-view.ts';
import { shown, tell } from './transcript.ts';
import { explainProof } from '../proof/explain.ts';
import { claimsAgainst, heldSoFar, observedLines, replacementReason, silentFor } from './observed-lines.ts';
import type { MemberSight, Replacing } from './observations.ts';
import { stallLines } from './stall.ts';

/** Everything the room view is made of. */
export interface RoomFacts {
  readonly size: number;
  /** The roster's keys, or before it is fixed, the keys of this tab and its verified peers. */
  readonly keys: readonly string[];
  /** This tab's key. */
  readonly me: string;
  readonly roster: RoomRoster | null;
  /** The replica has started. */
  readonly running: boolean;
  readonly snap: ReplicaSnapshot | undefined;
  readonly verified: ReadonlySet<string>;
  /** Members' names and fingerprints, by key. */
  readonly names: { of(id: string): string; fingerprintOf(id: string): string };
  /** What the tab kept of its replica's effects (chronicle.ts). */
  readonly kept: {
    readonly claims: ReadonlyMap<number, number>;
    readonly lunch: LunchState;
    readonly transcript: readonly KeptLine[];
    readonly diagrams: Diagrams;
  };
  readonly malicious: { enabled: boolean; strategy: Strategy };
  readonly problem: string | null;
  /** Why the lunch rules refused this member's last refused request, or null. */
  readonly refused: string | null;
  /** What this tab saw of each member by roster index (observations.ts), read at `now`; absent before the replica runs. */
  readonly seen?: {
    readonly now: number;
    readonly members: readonly MemberSight[];
    readonly replacing: Replacing | null;
    /** This member's oldest waiting request: since when, and whether the primary passed anything on since. */
    readonly ownWaiting: { readonly since: number; readonly passedOn: boolean } | null;
  };
}

/** The RoomView of these facts. */
export function presentRoom(f: RoomFacts): RoomView {
  const { snap, size: n } = f;
  const { claims, lunch, transcript, diagrams } = f.kept;
  const nameAt = (i: number): string => {
    const id = f.keys[i];
    return id === undefined ? `member ${i}` : f.names.of(id);
  };
  // Observations are by roster index: before the roster is fixed there are none to show.
  const seen = f.roster && snap ? f.seen : undefined;
  const replacing = snap?.changing != null ? (seen?.replacing ?? null) : null;
  const members: MemberView[] = f.keys.map((id, index) => {
    const connected = id === f.me || f.verified.has(id);
    const sight = seen?.members[index];
    return {
      index,
      id,
      name: nameAt(index),
      fingerprint: f.names.fingerprintOf(id),
      isMe: id === f.me,
      connected,
      primary: snap !== undefined && primaryOf(snap.view, n) === index,
      provenFaulty: snap?.proven.includes(index) ?? false,
      claims: claims.get(index) ?? 0,
      claimedBy: claimsAgainst(sight, nameAt),
      silentFor: seen ? silentFor(sight, connected, id === f.me, seen.now) : null,
      observed: seen && sight ? observedLines(sight, { name: nameAt, now: seen.now, replacing }) : [],
    };
  });
  const names = (i: number) => members[i]?.name ?? `member ${i}`;
  const decisions = lunch.decisions.map((d) => {
    const p = lunch.proposals.find((x) => x.ref.member === d.proposal.member && x.ref.counter === d.proposal.counter)!;
    const declined = p.votes.flatMap((c, m) => (c === 'decline' ? [names(m)] : []));
    return { ref: d.proposal, round: d.round, place: p.place, time: p.time, going: d.joined.map(names), declined };
  });
  const me = f.roster?.me ?? -1;
  return {
    phase: f.roster && f.running ? 'running' : 'gathering',
    size: n,
    members,
    rosterFingerprint: f.roster?.fingerprint ?? null,
    view: snap?.view ?? 0,
    viewChanging: snap?.changing != null,
    executed: snap?.executedSeq ?? 0,
    stable: snap?.stable ?? 0,
    round: lunch.round,
    quorum: quorumFor(n).q,
    asked: lunch.asked.map(names),
    iAsked: lunch.asked.includes(me),
    proposals: lunch.proposals.map((p) => {
      const t = tally(lunch, p.ref);
      const decided = lunch.decisions.some((d) => d.round === p.round);
      return {
        ref: p.ref, round: p.round, place: p.place, time: p.time, proposer: names(p.proposer),
        join: t.join, decline: t.decline, votes: p.votes, myVote: me >= 0 ? (p.votes[me] ?? null) : null,
        open: p.round === lunch.round && !decided,
      };
    }),
    decision: decisions.find((d) => d.round === lunch.round) ?? null,
    decisions,
    transcript: transcript.filter((line) => shown(line.story)).map((line) => told(line, names, n)),
    malicious: f.malicious,
    pendingOwn: snap?.pendingOwn ?? 0,
    refused: f.refused,
    stall: seen && snap && f.running ? stallOf(n, snap, members, seen, replacing, names) : [],
    amnesia: snap?.amnesia ?? false,
    problem: f.problem,
    diagrams: diagrams.views(snap?.proven ?? [], names),
    panel: {
      view: snap?.view ?? 0,
      primary: snap ? names(primaryOf(snap.view, n)) : '',
      executed: snap?.executedSeq ?? 0,
      stable: snap?.stable ?? 0,
      lastCounts: diagrams.lastCounts(),
      totalCounts: diagrams.totalCounts(),
      drops: snap?.drops ?? {},
      retransmissions: diagrams.retransmissions(),
    },
  };
}

// A line is told again only when a name it could mention changed: the view is rebuilt on every
// change, and the transcript is its longest part.
const toldBefore = new WeakMap<KeptLine, { names: string; line: TranscriptLine }>();

/** A kept transcript line told with the names the members have now (a restored line included). */
function told(kept: KeptLine, name: (member: number) => string, n: number): TranscriptLine {
  const names = Array.from({ length: n }, (_, i) => name(i)).join('\n');
  const before = toldBefore.get(kept);
  if (before?.names === names) return before.line;
  const line = { at: kept.at, ...tell(kept.story, name, n) };
  toldBefore.set(kept, { names, line });
  return line;
}

/** The stall lines (stall.ts) of a running room: a member takes part when connected and heard from. */
function stallOf(
  n: number, snap: ReplicaSnapshot, members: readonly MemberView[], seen: NonNullable<RoomFacts['seen']>, replacing: Replacing | null,
  names: (member: number) => string,
): string[] {
  const primary = primaryOf(snap.view, n);
  const me = members.find((m) => m.isMe)?.index ?? -1;
  const r = replacing;
  return stallLines({
    n,
    q: quorumFor(n).q,
    members: members.map((m) => ({ name: m.name, online: m.connected && m.silentFor === null })),
    pendingOwn: snap.pendingOwn,
    replacing: r && {
      name: names(r.member),
      next: names(primaryOf(snap.changing ?? r.view + 1, n)),
      why: replacementReason(r.reason, names(r.member), heldSoFar(r, seen.members[r.member], seen.now), names),
    },
    ownWait: seen.ownWaiting && primary !== me
      ? { ms: seen.now - seen.ownWaiting.since, primary: names(primary), passedOn: seen.ownWaiting.passedOn }
      : null,
  });
}

/**
 * A proof of equivocation as the proof dialog shows it, checked again in this tab. `nameOf`
 * names the other members the messages mention (a vote names the proposer); without it they
 * read as "member i".
 */
export function presentProof(
  member: number, proof: Proof, roster: Roster, name: string,
  nameOf: (member: number) => string = (i) => `member ${i}`,
): ProofView {
  const verdict = checkProof(ed25519Suite, roster, proof);
  const show = (x: unknown) => JSON.stringify(x, (_k, val) => (val instanceof Uint8Array ? toHex(val) : val), 2);
  return {
    member,
    slot: verdict.ok ? verdict.slot : '',
    first: show(proof.a),
    second: show(proof.b),
    // The accused is named as the caller names it, whatever `nameOf` says, so the headline and
    // the verdict agree.
    story: explainProof(proof, { name: (i) => (i === member ? name : nameOf(i)) }),
    verdict: verdict.ok
      ? { ok: true, reason: `Both signatures verify: ${name} signed two different messages for ${verdict.slot}.` }
      : { ok: false, reason: verdict.reason },
  };
}
