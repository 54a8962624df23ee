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
  /** Names of the members going, in member order. */
  readonly going: readonly string[];
}

/** One line of the transcript, the story of the room in the members' voices. */
export interface TranscriptLine {
  /** Milliseconds since the page loaded. */
  readonly at: number;
  readonly text: string;
  /** Which kind of event: for styling and for tests. */
  readonly kind: 'request' | 'decision' | 'view' | 'evidence' | 'claim' | 'roster' | 'info';
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
  readonly proposals: readonly ProposalView[];
  readonly decision: DecisionView | null;
  readonly decisions: readonly DecisionView[];
  readonly transcript: readonly TranscriptLine[];
  readonly malicious: { readonly enabled: boolean; readonly strategy: Strategy };
  /** Own requests not yet decided. */
  readonly pendingOwn: number;
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
  /** Start a new round of proposals. */
  newRound(): void;
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
