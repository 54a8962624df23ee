// What a lunch room needs from its tab: who this member is, the mesh of its verified peers, its
// storage, and whom to tell of changes. Session wires the browser's versions in; tests wire fakes.
import type { RoomStore } from '../storage/room-store.ts';

/** The verified peers of this tab, as the mesh knows them. */
export interface RoomPeers {
  /** Verified peers right now (hex keys). */
  verified(): string[];
  /** Send bytes to a verified peer. */
  send(id: string, bytes: Uint8Array): void;
}

/** What a room needs from the tab: who this member is, its peers and its storage. */
export interface RoomOptions {
  room: string;
  size: 4 | 7 | 10;
  me: { id: string; secretKey: Uint8Array };
  peers: RoomPeers;
  store: RoomStore;
  /**
   * The identity was imported from a file: in a room it has no records for, it may still have
   * signed things before, so it starts as a member that lost its records.
   */
  restoredFromFile?: boolean;
  /** Told whenever the RoomView may have changed. */
  onChange(): void;
  /** Told of every agreed sequence number as it executes here (for measurements). */
  onExecuted?(seq: number, requests: string[]): void;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}
