// What the simulator drives: anything that behaves like a replica from the outside. The real
// Replica is one; an adversary wrapper around a Replica is another; Twins are two of them with
// one key. The simulator never looks inside a node — it only feeds inputs and reads effects.
import type { Effect, ReplicaLike } from '../core/effects.ts';
import type { ReplicaConfig } from '../core/replica.ts';

export interface NodeSnapshot {
  view: number;
  changing: number | null;
  executedSeq: number;
  lastCounter: number[];
  lunchBytes: Uint8Array;
  proven: number[];
  pendingOwn: number;
  /** The replica's stable checkpoint (the core's Replica reports it; stand-ins may not). */
  stable?: number;
  /** True while the replica must not sign PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE or NEW-VIEW (records lost). */
  amnesia?: boolean;
  /** Sizes of what the node keeps in memory, by kind. */
  sizes?: Record<string, number>;
}

/** A node as the simulator drives it; its snapshot may be a stand-in's, with less in it. */
export type SimNode = ReplicaLike<NodeSnapshot>;

/** What a replica for one member is built from: the core's own config. */
export type NodeConfig = ReplicaConfig;

export type NodeFactory = (config: NodeConfig) => SimNode;

/**
 * Rebuilds a node after a restart from the write-ahead records it made durable (`lost`: its
 * storage was wiped; `nonce`: fresh for this restart, for a recovery if records turn out lost).
 * Returns the node and the effects the restore produced.
 */
export type NodeRestorer = (config: NodeConfig, records: readonly unknown[], options: { lost: boolean; nonce: Uint8Array }) => { node: SimNode; effects: Effect[]; rejected: readonly { index: number; reason: string }[]; amnesia: boolean };
