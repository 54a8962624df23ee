// What the UI shows of a room, and what it may ask of it. Produced by src/app/room.ts from the
// replica's state; Svelte components render it and call the intents. No protocol logic here.
import type { Strategy } from '../core/adversaries.ts';
import type { Choice, RequestRef } from '../core/lunch.ts';
import type { NormalCaseKind } from '../core/messages.ts';
import type { ProofStory } from '../proof/explain.ts';
import type { ObservedLine } from './observed-lines.ts';

/** One member as the member list shows it. */
export interface MemberView {
  readonly index: number;
  /** Hex public key. */
  readonly id: string;
  readonly name: string;
  readonly fingerprint: string;
  readonly isMe: boolean;
  /** A verified data channel to this member is open (always true for this tab). */
  readonly connected: boolean;
  readonly primary: boolean;
  readonly provenFaulty: boolean;
  /** Accusations without proof made against this member (shown as claims only). */
  readonly claims: number;
  /** The claims against it in words, with who made them ("1 unproven claim against (by Chris)"), or null. */
  readonly claimedBy: string | null;
  /**
   * Connected, yet nothing has arrived from it for this long (ms): it is not taking part, whatever
   * its link says. Null when it is heard from, disconnected, or this tab.
   */
  readonly silentFor: number | null;
  /**
   * What this tab saw it do over its own link (observed-lines.ts): true here, but proof to
   * nobody else, unlike `provenFaulty`.
   */
  readonly observed: readonly ObservedLine[];
}

/** A proposal with its votes so far. */
export interface ProposalView {
  readonly ref: RequestRef;
  readonly round: number;
  readonly place: string;
  readonly time: string;
  readonly proposer: string;
  readonly join: number;
  readonly decline: number;
  /** Vote per member index: null when the member has not voted. */
  readonly votes: readonly (Choice | null)[];
  readonly myVote: Choice | null;
  /** True when it belongs to the current round and the round is undecided. */
  readonly open: boolean;
}

/** A round's decision: where, when and who is going. */
export interface DecisionView {
  readonly ref: RequestRef;
  readonly round: number;
  readonly place: string;
  readonly time: string;
  /** Names of the members going, in member order: the joins the decision was made of. */
  readonly going: readonly string[];
  /**
   * Names of the members who declined the decided proposal. Votes stop when the round is
   * decided, so this and `going` are read from one final set of votes and cannot contradict.
   */
  readonly declined: readonly string[];
}

/** One line of the transcript, the story of the room in the members' voices. */
export interface TranscriptLine {
  /**
   * Milliseconds since the page loaded, or null for a line rebuilt from this tab's stored records
   * after a reload: the records keep no times, and a made-up one would mislead.
   */
  readonly at: number | null;
  /** The event in the scene's voices, spoken by the member who sent the message behind it. */
  readonly text: string;
  /** The same event in the protocol's own terms (message kinds, sequence numbers, member indices). */
  readonly technical: string;
  /** Which kind of event: for styling and for tests. `vouch` is prepares, `confirm` commits. */
  readonly kind: 'request' | 'vouch' | 'confirm' | 'decision' | 'view' | 'evidence' | 'claim' | 'roster' | 'info';
}

/** A proof of equivocation, as the proof dialog shows it. */
export interface ProofView {
  readonly member: number;
  readonly slot: string;
  /** The two conflicting signed messages, as readable JSON. */
  readonly first: string;
  readonly second: string;
  /** The same two messages told in plain words, headline first (src/proof/explain.ts). */
  readonly story: ProofStory;
  /** Checked again in this tab when asked for. */
  readonly verdict: { ok: boolean; reason: string };
}

/** Everything the UI renders of a room; a new one after every change. */
export interface RoomView {
  /** gathering: waiting for n members to announce themselves; running: the roster is fixed. */
  readonly phase: 'gathering' | 'running';
  readonly size: number;
  /** Members announced so far (gathering) or the roster (running). */
  readonly members: readonly MemberView[];
  /** Read aloud to compare: covers the room id, n and the roster's keys. */
  readonly rosterFingerprint: string | null;
  readonly view: number;
  readonly viewChanging: boolean;
  readonly executed: number;
  readonly stable: number;
  readonly round: number;
  /** 2f + 1: joins that decide, and asks that end an undecided round. */
  readonly quorum: number;
  /** Names of the members who asked for a new round in this round, in member order. */
  readonly asked: readonly string[];
  /** This tab's member is among them. */
  readonly iAsked: boolean;
  readonly proposals: readonly ProposalView[];
  readonly decision: DecisionView | null;
  readonly decisions: readonly DecisionView[];
  readonly transcript: readonly TranscriptLine[];
  readonly malicious: { readonly enabled: boolean; readonly strategy: Strategy };
  /** Own requests not yet decided. */
  readonly pendingOwn: number;
  /** Why the lunch rules refused this member's last refused request, until it asks again; else null. */
  readonly refused: string | null;
  /** Why nothing moves, in people's terms (stall.ts); empty when nothing is held up. */
  readonly stall: readonly string[];
  /** This tab lost its records and is recovering: it vouches for nothing until that is safe. */
  readonly amnesia: boolean;
  /** A problem the user should know about (e.g. storage trouble), or null. */
  readonly problem: string | null;
  /** The messages behind recent agreed sequence numbers, newest last. */
  readonly diagrams: readonly DiagramView[];
  readonly panel: ProtocolPanelView;
}

/** What the UI may ask of a room. A request is signed and sent for agreement; nothing changes until it executes. */
export interface RoomIntents {
  /** Propose a place and time for lunch in the current round. */
  propose(place: string, time: string): void;
  /** Join or decline a proposal. */
  vote(proposal: RequestRef, choice: Choice): void;
  /**
   * Start a new round of proposals: at once after a decision, otherwise this member's ask, which
   * starts it when 2f + 1 members have asked.
   */
  newRound(): void;
  /**
   * Ask the room to call this member `name`. Throws an Error saying why when the name breaks the
   * rules every member applies, or when the room is not running yet (names come with seats).
   */
  rename(name: string): void;
  /** Turn this tab's malicious mode on or off, with the strategy it lies by. */
  setMalicious(enabled: boolean, strategy: Strategy): void;
  /** The proof that `member` equivocated, checked again in this tab, or null when there is none. */
  proof(member: number): ProofView | null;
  /** A proof as a self-describing file to download, or null when there is none. */
  proofFile(member: number): { fileName: string; text: string } | null;
}

/** Which phase a protocol message belongs to, for colouring the diagram. */
export type Phase = NormalCaseKind | 'view-change' | 'other';

/** One protocol message this tab sent or received. */
export interface MessageEventView {
  /** Milliseconds since the page loaded. */
  readonly at: number;
  readonly from: number;
  readonly to: number;
  /** The wire message kind (request, pre-prepare, prepare, commit, view-change, new-view, …). */
  readonly type: string;
  readonly phase: Phase;
  readonly view: number | null;
  readonly seq: number | null;
  /** Sent by a member that is acting maliciously (this tab) or proven faulty. */
  readonly malicious: boolean;
}

/** The messages behind one agreed sequence number, as this tab saw them; each message once, however often it was sent. */
export interface DiagramView {
  readonly seq: number;
  /** What was agreed, in words: "Bryan joins Thai Palace". */
  readonly label: string;
  readonly events: readonly MessageEventView[];
}

/** The protocol panel: where the protocol stands in this tab, and the messages it counted. */
export interface ProtocolPanelView {
  readonly view: number;
  readonly primary: string;
  readonly executed: number;
  readonly stable: number;
  /**
   * Messages by kind for the last agreed sequence number, each once: the arrows its diagram
   * draws. Copies sent again are left out (they are in the totals and the retransmissions), so
   * summed over the members and halved these are the protocol's own count.
   */
  readonly lastCounts: Readonly<Record<string, number>>;
  /** Messages by kind since this tab joined, sent and received, heartbeats, checkpoints and copies included. */
  readonly totalCounts: Readonly<Record<string, number>>;
  /** Dropped incoming messages by reason. */
  readonly drops: Readonly<Record<string, number>>;
  /** Messages this tab sent again unchanged (lost messages are recovered this way). */
  readonly retransmissions: number;
}
