// The last few hundred things that happened in a run, for failure reports. Entries are stored
// raw and formatted only when printed: most runs never print theirs.
import type { Wire } from '../core/messages.ts';

export interface TraceEntry {
  t: number;
  node: number;
  member: number;
  what: string | { from: number; message: Wire | null };
}

class Ring {
  private readonly items: (TraceEntry | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = Array<TraceEntry | undefined>(capacity);
  }

  push(entry: TraceEntry): void {
    if (this.capacity <= 0) return;
    this.items[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  lines(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) {
      const entry = this.items[(this.next - this.count + i + this.capacity) % this.capacity];
      if (entry) out.push(formatEntry(entry));
    }
    return out;
  }
}

/**
 * Two rings: every event, and the key events only (faults, requests, executions, views,
 * evidence) — after a long quiet stretch the last few hundred events are all heartbeats, and
 * what matters happened earlier.
 */
export class Trace {
  private readonly all: Ring;
  private readonly key: Ring;

  constructor(
    capacity = 200,
    /** Called with every entry as it happens (for a verbose replay). */
    private readonly live?: (line: string) => void,
  ) {
    this.all = new Ring(capacity);
    this.key = new Ring(Math.min(capacity, 80));
  }

  /** A message arriving, or a drop: kept only in the full ring. */
  add(t: number, node: number, member: number, what: TraceEntry['what']): void {
    const entry = { t, node, member, what };
    this.all.push(entry);
    this.live?.(formatEntry(entry));
  }

  /** Something worth seeing even long after it happened. */
  note(t: number, node: number, member: number, what: string): void {
    const entry = { t, node, member, what };
    this.all.push(entry);
    this.key.push(entry);
    this.live?.(formatEntry(entry));
  }

  /** The stored entries, oldest first, formatted. */
  lines(): string[] {
    return this.all.lines();
  }

  keyLines(): string[] {
    return this.key.lines();
  }
}

export function formatEntry(e: TraceEntry): string {
  const who = `m${e.member}${e.node === e.member ? '' : `/node${e.node}`}`;
  const what = typeof e.what === 'string' ? e.what : `<- m${e.what.from} ${describeWire(e.what.message)}`;
  return `${String(e.t).padStart(7)} ms  ${who.padEnd(9)} ${what}`;
}

const short = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < 3 && i < b.length; i++) s += (b[i] as number).toString(16).padStart(2, '0');
  return s;
};

/** One line about a protocol message, enough to follow a run. */
export function describeWire(w: Wire | null): string {
  if (w === null) return 'garbage bytes';
  switch (w.k) {
    case 'request': {
      const b = w.req.body;
      return `request ${b.from}#${b.counter} ${JSON.stringify(b.op)}`;
    }
    case 'pre-prepare': {
      const b = w.pp.body;
      return `pre-prepare v${b.view} s${b.seq} d=${short(b.digest)} [${w.batch.map((r) => `${r.body.from}#${r.body.counter}`).join(' ')}]`;
    }
    case 'prepare': {
      const b = w.prepare.body;
      return `prepare v${b.view} s${b.seq} d=${short(b.digest)} by ${b.from}`;
    }
    case 'commit': {
      const b = w.commit.body;
      return `commit v${b.view} s${b.seq} d=${short(b.digest)} by ${b.from}`;
    }
    case 'view-change': {
      const b = w.vc.body;
      return `view-change to v${b.view} stable=${b.stable} prepared=[${b.prepared.map((p) => `s${p.pp.body.seq}@v${p.pp.body.view}`).join(' ')}] by ${b.from}`;
    }
    case 'new-view': {
      const b = w.nv.body;
      return `new-view v${b.view} V=${b.vcs.length} O=[${b.pps.map((p) => `s${p.body.seq}:${short(p.body.digest)}`).join(' ')}] by ${b.from}`;
    }
    case 'status':
      return `status v${w.status.body.view} executed=${w.status.body.executed} by ${w.status.body.from}`;
    case 'fetch':
      return `fetch s${w.seq}`;
    case 'committed':
      return `committed s${w.cert.pp.body.seq} v${w.cert.pp.body.view} commits=${w.cert.commits.length}`;
    case 'get-new-view':
      return `get-new-view v${w.view}`;
    case 'evidence':
      return `evidence against ${w.proof.a.body.from} (${w.proof.a.body.t})`;
    case 'accuse':
      return `accuse ${w.accuse.body.accused}: ${w.accuse.body.reason}`;
    default:
      // Kinds added to the wire later still show up by name.
      return String((w as { k: unknown }).k);
  }
}
