// Scripted protocol tests: an interpreter for the interaction scripts in src/core/testdata/*.txt,
// in the style of etcd-io/raft's testdata (a command, a `----` line, the output it must give).
// The grammar and every command are described in src/core/testdata/README.md.
//
// To check the scripts:        nice npx vitest run src/core/script.test.ts
// To rewrite expected output:  UPDATE_GOLDEN=1 nice npx vitest run src/core/script.test.ts
// (then read the diff: the rewritten output is only right if the protocol behaved as it should).
//
// The interpreter drives a harness Cluster (fake crypto, fixed recovery nonces, virtual time), so
// a script replays identically. What it prints is a narrow, stable view of the effects: sends,
// executions, evidence, claims, view changes, state transfers and drops. Effect kinds it does not
// know are ignored and write-ahead records are never printed, so that new effects or fields do
// not change the golden files; only behaviour does.
//
// This file stays pure (no I/O; purity.test.ts reads it): reading and writing files is
// script.test.ts's job.
import { Adversary, STRATEGIES, type Strategy } from './adversaries.ts';
import type { Effect, ExecutedRequest } from './effects.ts';
import { Cluster, findDoubleSigning, findFork, type InFlight } from './harness.ts';
import type { LunchEvent, LunchOp } from './lunch.ts';
import { batchDigest, decodeWire, encodeWire, signBody, type AnyBody, type RequestOp, type Wire } from './messages.ts';
import type { Replica, Timing } from './replica.ts';

/** One command of a script with the comment lines above it and the output it is expected to give. */
export interface Block {
  /** Comment and blank lines before the command, verbatim. */
  readonly preamble: string[];
  readonly command: string;
  /** 1-based line of the command in the file, for error messages. */
  readonly line: number;
  readonly expected: string[];
}

/** The separator between a command and its expected output. */
export const SEPARATOR = '----';

/** Splits a script into blocks; comment lines after the last block come back as `trailer`. */
export function parseScript(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const blocks: Block[] = [];
  let preamble: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      continue;
    }
    const command = line;
    const at = i + 1;
    if (lines[i + 1] !== SEPARATOR) throw new Error(`line ${at}: "${command}" must be followed by a ${SEPARATOR} line`);
    i += 2;
    const expected: string[] = [];
    // Output runs to the first blank line: the printer never prints one.
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    i--;
    blocks.push({ preamble, command, line: at, expected });
    preamble = [];
  }
  return { blocks, trailer: preamble };
}

/** A script run: the script text with the actual output in place of the expected one. */
export interface ScriptResult {
  readonly text: string;
  /** One entry per block whose output differs from what the script expects. */
  readonly mismatches: { line: number; command: string; expected: string[]; actual: string[] }[];
  /** Output lines of failed `check` commands: a script that fails one fails even when regenerated. */
  readonly failedChecks: string[];
}

/** Runs a script from scratch and compares every block's output with the expected one. */
export function runScript(text: string): ScriptResult {
  const { blocks, trailer } = parseScript(text);
  const interpreter = new Interpreter();
  const out: string[] = [];
  const mismatches: ScriptResult['mismatches'][number][] = [];
  const failedChecks: string[] = [];
  for (const block of blocks) {
    let actual: string[];
    try {
      actual = interpreter.exec(block.command);
    } catch (e) {
      throw new Error(`line ${block.line}: ${block.command}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (actual.length === 0) actual = ['ok'];
    failedChecks.push(...actual.filter((l) => l.startsWith('FAILED')).map((l) => `line ${block.line}: ${l}`));
    if (actual.join('\n') !== block.expected.join('\n')) mismatches.push({ line: block.line, command: block.command, expected: block.expected, actual });
    out.push(...block.preamble, block.command, SEPARATOR, ...actual);
  }
  out.push(...trailer);
  return { text: out.join('\n') + '\n', mismatches, failedChecks };
}

// ---- arguments ----

/** Splits a command line into words; a double-quoted string (JSON syntax) is one word, also after `key=`. */
function words(line: string): string[] {
  return [...line.matchAll(/[^\s"]*"(?:[^"\\]|\\.)*"|\S+/g)].map((m) => m[0]);
}

function unquote(word: string): string {
  return word.startsWith('"') ? (JSON.parse(word) as string) : word;
}

/** A member named `m3` (or plain `3`). */
function member(word: string | undefined, n: number): number {
  const m = /^m?(\d+)$/.exec(word ?? '');
  const i = m ? Number(m[1]) : NaN;
  if (!(i >= 0 && i < n)) throw new Error(`"${word}" is not a member (m0..m${n - 1})`);
  return i;
}

function members(word: string, n: number): number[] {
  return word.split(',').map((w) => member(w, n));
}

function integer(word: string | undefined, what: string): number {
  if (word === undefined || !/^\d+$/.test(word)) throw new Error(`${what} must be a whole number, got "${word}"`);
  return Number(word);
}

/** Splits the `key=value` words whose key is in `keys` from the others (filters use `=` too). */
function options(args: string[], keys: readonly string[]): { positional: string[]; named: Map<string, string> } {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const a of args) {
    const m = /^([a-zA-Z-]+)=(.*)$/.exec(a);
    if (m && keys.includes(m[1]!)) named.set(m[1]!, unquote(m[2]!));
    else positional.push(a);
  }
  return { positional, named };
}

// ---- message filters ----

type Atom = { key: string; op: '=' | '<' | '>=' | '>' | '<='; values: string[]; negated: boolean };
/** Alternatives of conjunctions of atoms, with an optional exception of the same form. */
interface Filter {
  readonly any: Atom[][];
  readonly except: Atom[][];
}
const EVERYTHING: Filter = { any: [[]], except: [] };

function parseAlternatives(ws: string[]): Atom[][] {
  const alternatives: Atom[][] = [[]];
  for (const w of ws) {
    if (w === '|') {
      alternatives.push([]);
      continue;
    }
    const m = /^(!?)(from|to|type|view|seq)(=|<=|>=|<|>)(.+)$/.exec(w);
    if (!m) throw new Error(`"${w}" is not a filter (from=, to=, type=, view=, seq=, with <, >, <=, >= and a leading ! to negate)`);
    alternatives.at(-1)!.push({ negated: m[1] === '!', key: m[2]!, op: m[3] as Atom['op'], values: m[4]!.split(',') });
  }
  return alternatives;
}

function parseFilter(ws: string[]): Filter {
  const cut = ws.indexOf('except');
  if (cut < 0) return { any: parseAlternatives(ws), except: [] };
  return { any: parseAlternatives(ws.slice(0, cut)), except: parseAlternatives(ws.slice(cut + 1)) };
}

/** What a filter can ask about a message in flight; view and seq are absent when it has none. */
interface Facts {
  from: number;
  to: number;
  type: string;
  view?: number;
  seq?: number;
}

function facts(m: InFlight): Facts {
  const decoded = decodeWire(m.bytes);
  const f: Facts = { from: m.from, to: m.to, type: m.type };
  if (decoded.ok) Object.assign(f, viewAndSeq(decoded.message));
  return f;
}

function viewAndSeq(w: Wire): { view?: number; seq?: number } {
  switch (w.k) {
    case 'pre-prepare':
      return { view: w.pp.body.view, seq: w.pp.body.seq };
    case 'prepare':
      return { view: w.prepare.body.view, seq: w.prepare.body.seq };
    case 'commit':
      return { view: w.commit.body.view, seq: w.commit.body.seq };
    case 'view-change':
      return { view: w.vc.body.view };
    case 'new-view':
      return { view: w.nv.body.view };
    case 'status':
      return { view: w.status.body.view };
    case 'get-new-view':
      return { view: w.view };
    case 'checkpoint':
      return { seq: w.checkpoint.body.seq };
    case 'committed':
      return { view: w.cert.pp.body.view, seq: w.cert.pp.body.seq };
    case 'fetch':
    case 'get-state':
    case 'state':
      return { seq: w.seq };
    default:
      return {};
  }
}

function atomHolds(a: Atom, f: Facts): boolean {
  const actual = f[a.key as keyof Facts];
  let holds: boolean;
  if (actual === undefined) holds = false;
  else if (a.key === 'type') holds = a.values.includes(actual as string);
  else {
    const wanted = a.values.map((v) => (a.key === 'from' || a.key === 'to' ? Number(v.replace(/^m/, '')) : Number(v)));
    const x = actual as number;
    holds = wanted.some((w) => (a.op === '=' ? x === w : a.op === '<' ? x < w : a.op === '<=' ? x <= w : a.op === '>' ? x > w : x >= w));
  }
  return holds !== a.negated;
}

function matches(filter: Filter, f: Facts): boolean {
  const some = (alternatives: Atom[][]) => alternatives.some((all) => all.every((a) => atomHolds(a, f)));
  return some(filter.any) && !some(filter.except);
}

function filterText(filter: Filter): string {
  const alt = (alternatives: Atom[][]) =>
    alternatives.map((all) => (all.length === 0 ? 'all' : all.map((a) => `${a.negated ? '!' : ''}${a.key}${a.op}${a.values.join(',')}`).join(' '))).join(' | ');
  return filter.except.length > 0 ? `${alt(filter.any)} except ${alt(filter.except)}` : alt(filter.any);
}

// ---- printing ----

/**
 * How much a command prints. `full`: every delivery and every effect. `events`: no messages, only
 * what members did (executed, view, evidence, claim, state, drop). `quiet`: only the rare
 * milestones (view, evidence, claim, state).
 */
export type Detail = 'full' | 'events' | 'quiet';
const DETAILS: readonly Detail[] = ['full', 'events', 'quiet'];

const hex = (b: Uint8Array, bytes = 2): string => [...b.subarray(0, bytes)].map((x) => x.toString(16).padStart(2, '0')).join('');
const EMPTY_BATCH = hex(batchDigest([]));
const short = (digest: Uint8Array): string => (hex(digest) === EMPTY_BATCH ? 'empty' : hex(digest));
const ids = (xs: readonly { body: { from: number; counter: number } }[]): string => `[${xs.map((r) => `${r.body.from}#${r.body.counter}`).join(' ')}]`;
const names = (xs: readonly { body: { from: number } }[]): string => xs.map((x) => `m${x.body.from}`).join(',') || '-';

function describeOp(op: RequestOp): string {
  switch (op.kind) {
    case 'propose':
      return `propose ${JSON.stringify(op.place)} ${op.time}`;
    case 'vote':
      return `vote ${op.proposal.member}#${op.proposal.counter} ${op.choice}`;
    case 'recover':
      return 'recover';
    case 'name':
      return `name ${JSON.stringify(op.name)}`;
    default:
      return op.kind;
  }
}

/** A wire message in one line: names and numbers, never bytes (digests are cut to 4 hex digits). */
export function describeWire(w: Wire, sender?: number): string {
  // A signed part in someone else's name is worth saying (forgery, or a relayed message).
  const by = (from: number) => (sender !== undefined && from !== sender ? ` by m${from}` : '');
  switch (w.k) {
    case 'request': {
      const b = w.req.body;
      return `request ${b.from}#${b.counter} ${describeOp(b.op)}`;
    }
    case 'pre-prepare':
      return `pre-prepare${by(w.pp.body.from)} v${w.pp.body.view} s${w.pp.body.seq} ${short(w.pp.body.digest)} ${ids(w.batch)}`;
    case 'prepare':
      return `prepare${by(w.prepare.body.from)} v${w.prepare.body.view} s${w.prepare.body.seq} ${short(w.prepare.body.digest)}`;
    case 'commit':
      return `commit${by(w.commit.body.from)} v${w.commit.body.view} s${w.commit.body.seq} ${short(w.commit.body.digest)}`;
    case 'view-change': {
      const b = w.vc.body;
      const prepared = b.prepared.map((c) => `s${c.pp.body.seq} v${c.pp.body.view} ${short(c.pp.body.digest)}`).join(', ');
      return `view-change${by(b.from)} v${b.view} epoch ${b.epoch} stable s${b.stable} prepared [${prepared}]`;
    }
    case 'new-view': {
      const b = w.nv.body;
      const pps = b.pps.map((p) => `s${p.body.seq} ${short(p.body.digest)}`).join(', ');
      return `new-view${by(b.from)} v${b.view} votes ${names(b.vcs)} pre-prepares [${pps}]`;
    }
    case 'status':
      return `status${by(w.status.body.from)} v${w.status.body.view} executed s${w.status.body.executed}`;
    case 'fetch':
      return `fetch s${w.seq}`;
    case 'committed':
      return `committed s${w.cert.pp.body.seq} v${w.cert.pp.body.view} ${short(w.cert.pp.body.digest)} ${ids(w.cert.batch)} commits ${names(w.cert.commits)}`;
    case 'get-new-view':
      return `get-new-view v${w.view}`;
    case 'evidence':
      return `evidence against m${w.proof.a.body.from} (${w.proof.a.body.t})`;
    case 'accuse':
      return `accuse${by(w.accuse.body.from)} m${w.accuse.body.accused} ${JSON.stringify(w.accuse.body.reason)}`;
    case 'checkpoint':
      return `checkpoint${by(w.checkpoint.body.from)} s${w.checkpoint.body.seq} ${short(w.checkpoint.body.digest)}`;
    case 'get-state':
      return `get-state s${w.seq} chunk ${w.chunk}`;
    case 'state':
      return `state s${w.seq} chunk ${w.chunk + 1}/${w.chunks} proof ${names(w.proof)}`;
  }
}

function describeBytes(bytes: Uint8Array, sender: number): string {
  const d = decodeWire(bytes);
  return d.ok ? describeWire(d.message, sender) : `garbage (${bytes.length} bytes, ${d.reason})`;
}

function describeEvent(e: LunchEvent): string | null {
  switch (e.kind) {
    case 'decided':
      return `decided round ${e.round}: ${e.proposal.member}#${e.proposal.counter} ${JSON.stringify(e.place)} ${e.time} with ${e.joined.map((m) => `m${m}`).join(' ')}`;
    case 'round-started':
      return `round ${e.round} started`;
    case 'asked':
      return `round ${e.round}: a new round asked by ${e.asked.map((m) => `m${m}`).join(' ')}`;
    case 'renamed':
      return `m${e.member} renamed ${JSON.stringify(e.from)} -> ${JSON.stringify(e.name)}`;
    case 'ignored':
      return `ignored: ${e.reason}`;
    default:
      return null; // proposals and votes say nothing the request did not
  }
}

const describeRequest = (r: ExecutedRequest): string => `${r.member}#${r.counter} ${describeOp(r.op)}`;

/**
 * One effect in one line, or null when it is not shown at this detail (or is of a kind this
 * printer does not know, which keeps the golden files stable as effects are added).
 */
export function describeEffect(at: number, e: Effect, detail: Detail, hidden: ReadonlySet<string> = new Set()): string | null {
  const who = `m${at}:`;
  const kind = (e as { kind: string }).kind;
  switch (kind) {
    case 'send': {
      const s = e as Extract<Effect, { kind: 'send' }>;
      if (detail !== 'full' || hidden.has(s.type)) return null;
      const what = s.message === null ? `garbage (${s.bytes.length} bytes)` : describeWire(s.message, at);
      return `${who} send ${what} -> ${s.to === 'all' ? 'all' : `m${s.to}`}`;
    }
    case 'executed': {
      if (detail === 'quiet') return null;
      const x = e as Extract<Effect, { kind: 'executed' }>;
      const events = x.events.map(describeEvent).filter((d) => d !== null);
      return `${who} executed s${x.seq} v${x.view} [${x.requests.map(describeRequest).join(', ')}]${events.map((d) => `; ${d}`).join('')}`;
    }
    case 'evidence': {
      const x = e as Extract<Effect, { kind: 'evidence' }>;
      return `${who} proof that m${x.member} signed two bodies for ${x.slot}`;
    }
    case 'claim': {
      const x = e as Extract<Effect, { kind: 'claim' }>;
      return `${who} claim by m${x.accuser} against m${x.accused} (unproven): ${JSON.stringify(x.reason)}`;
    }
    case 'view': {
      const x = e as Extract<Effect, { kind: 'view' }>;
      // While changing, `view` is still the view being left: the target is in the VIEW-CHANGE.
      return x.changing ? `${who} leaving view ${x.view}` : `${who} view ${x.view}`;
    }
    case 'state': {
      const x = e as Extract<Effect, { kind: 'state' }>;
      return `${who} adopted the certified state at s${x.seq}`;
    }
    case 'received': {
      // What was taken in is the delivery line above; only a refusal says more.
      const x = e as Extract<Effect, { kind: 'received' }>;
      if (detail === 'quiet' || x.dropped === null) return null;
      return `${who} drop from m${x.from} ${x.dropped}`;
    }
    default:
      return null; // persist (never shown) and kinds this printer does not know
  }
}

// ---- the interpreter ----

const WRITABLE_TIMING = ['requestTimeout', 'heartbeatInterval', 'primarySilence', 'retransmitInterval', 'viewChangeTimeout', 'maxBatch', 'maxInFlight', 'checkpointInterval', 'logWindow'] as const;

/** Executes script commands one at a time against one cluster, returning each command's output lines. */
export class Interpreter {
  private c: Cluster | null = null;
  private detail: Detail = 'full';
  private readonly hidden = new Set<string>();
  private hold: Filter | null = null;
  private cut: Filter | null = null;
  /** The strategy each lying member runs; it survives restarts. */
  private readonly liars = new Map<number, Strategy>();
  /** Each member's honest replica, also when an adversary wraps it. */
  private replicas: Replica[] = [];
  /** The records of each member's earlier incarnations, kept when it is wiped. */
  private incarnations: unknown[][][] = [];
  private out: string[] = [];
  /** Messages that met a rule or a down member during the current command, by reason and type. */
  private readonly missed = new Map<string, Map<string, number>>();
  private pendingTime: string | null = null;

  /** Runs one command line and returns what it printed. */
  exec(line: string): string[] {
    this.out = [];
    this.missed.clear();
    this.pendingTime = null;
    const [name, ...args] = words(line);
    const command = this.commands[name ?? ''];
    if (!command) throw new Error(`unknown command "${name}" (known: ${Object.keys(this.commands).join(', ')})`);
    command(args);
    this.reportMissed();
    return this.out;
  }

  private get cluster(): Cluster {
    if (!this.c) throw new Error('no cluster yet: start with "cluster n=4"');
    return this.c;
  }

  private get n(): number {
    return this.cluster.nodes.length;
  }

  private readonly commands: Record<string, (args: string[]) => void> = {
    cluster: (args) => this.cmdCluster(args),
    show: (args) => {
      this.detail = this.parseDetail(args[0]);
    },
    hide: (args) => {
      if (args[0] === 'none') this.hidden.clear();
      else for (const t of args) this.hidden.add(t);
    },
    request: (args) => this.cmdRequest(args),
    deliver: (args) => this.cmdDeliver(args),
    lose: (args) => this.cmdLose(args),
    hold: (args) => {
      this.hold = args[0] === 'none' ? null : parseFilter(args);
    },
    cut: (args) => {
      this.cut = args[0] === 'none' ? null : parseFilter(args);
    },
    release: (args) => this.cmdRelease(args),
    down: (args) => {
      for (const m of args.flatMap((a) => members(a, this.n))) this.cluster.down.add(m);
    },
    up: (args) => {
      for (const m of args.flatMap((a) => members(a, this.n))) this.cluster.down.delete(m);
    },
    restart: (args) => this.cmdRestart(args, false),
    wipe: (args) => this.cmdRestart(args, true),
    lie: (args) => this.cmdLie(args),
    sign: (args) => this.cmdSign(args),
    tick: (args) => this.cmdTick(args),
    run: (args) => this.cmdRun(args),
    decide: (args) => this.cmdDecide(args),
    queue: () => this.cmdQueue(),
    status: (args) => this.cmdStatus(args),
    check: (args) => this.cmdCheck(args),
  };

  private parseDetail(word: string | undefined): Detail {
    if (!DETAILS.includes(word as Detail)) throw new Error(`detail must be one of ${DETAILS.join(', ')}, got "${word}"`);
    return word as Detail;
  }

  /** Runs `body` at the detail a command's `show=` asks for, or the script's current one. */
  private at(named: Map<string, string>, fallback: Detail, body: () => void): void {
    const saved = this.detail;
    this.detail = named.has('show') ? this.parseDetail(named.get('show')) : fallback;
    try {
      body();
    } finally {
      this.detail = saved;
    }
  }

  private print(line: string): void {
    if (this.pendingTime !== null) {
      this.out.push(this.pendingTime);
      this.pendingTime = null;
    }
    this.out.push(line);
  }

  private cmdCluster(args: string[]): void {
    const { positional, named } = options(args, ['n', ...WRITABLE_TIMING]);
    if (positional.length > 0) throw new Error(`unexpected "${positional[0]}"`);
    const timing: Partial<Timing> = {};
    for (const [key, value] of named) {
      if (key === 'n') continue;
      if (!(WRITABLE_TIMING as readonly string[]).includes(key)) throw new Error(`unknown cluster option "${key}"`);
      timing[key as (typeof WRITABLE_TIMING)[number]] = integer(value, key);
    }
    const n = integer(named.get('n') ?? '4', 'n');
    this.c = new Cluster(n, { timing });
    this.replicas = this.c.nodes as Replica[];
    this.incarnations = this.replicas.map(() => []);
    const f = (n - 1) / 3;
    this.print(`${n} members m0..m${n - 1}, f = ${f}, quorum ${2 * f + 1}; m0 is the primary of view 0`);
  }

  private cmdRequest(args: string[]): void {
    const m = member(args[0], this.n);
    const [kind, ...rest] = args.slice(1);
    let op: LunchOp;
    if (kind === 'propose') op = { kind, place: unquote(rest[0] ?? ''), time: rest[1] ?? '12:00' };
    else if (kind === 'vote') {
      const ref = /^(\d+)#(\d+)$/.exec(rest[0] ?? '');
      if (!ref || (rest[1] !== 'join' && rest[1] !== 'decline')) throw new Error('usage: request mX vote M#C join|decline');
      op = { kind, proposal: { member: Number(ref[1]), counter: Number(ref[2]) }, choice: rest[1] };
    } else if (kind === 'new-round') op = { kind };
    else if (kind === 'name') op = { kind, name: unquote(rest[0] ?? '') };
    else throw new Error('usage: request mX propose "Place" HH:MM | vote M#C join|decline | new-round | name "Name"');
    this.collect(m, this.cluster.nodes[m]!.request(op));
  }

  /**
   * Prints and queues what member `at` did. In full detail, the effects of a delivery are indented
   * under it, and a delivery of a hidden type is printed only when it caused something shown.
   */
  private collect(at: number, effects: Effect[], cause?: { line: string; type: string }): void {
    const lines = effects.map((e) => describeEffect(at, e, this.detail, this.hidden)).filter((l) => l !== null);
    const headed = cause !== undefined && this.detail === 'full' && (lines.length > 0 || !this.hidden.has(cause.type));
    if (headed) this.print(cause.line);
    for (const l of lines) this.print(headed ? `  ${l}` : l);
    this.cluster.collect(at, effects);
  }

  private deliverOne(m: InFlight): void {
    const line = `m${m.from} -> m${m.to} ${describeBytes(m.bytes, m.from)}`;
    this.collect(m.to, this.cluster.nodes[m.to]!.step(m.from, m.bytes), { line, type: m.type });
  }

  private miss(reason: string, m: InFlight): void {
    const byType = this.missed.get(reason) ?? new Map<string, number>();
    byType.set(m.type, (byType.get(m.type) ?? 0) + 1);
    this.missed.set(reason, byType);
  }

  private reportMissed(): void {
    for (const [reason, byType] of this.missed) {
      const parts = [...byType].sort(([a], [b]) => a.localeCompare(b)).map(([t, k]) => `${k} ${t}`);
      this.out.push(`(${reason}: ${parts.join(', ')})`);
    }
  }

  /**
   * Whether `m` may arrive now: a message from or to a down member is lost, then the cut rule
   * loses and the hold rule sets aside what they match (in that order, as the harness does).
   */
  private admit(m: InFlight): boolean {
    const c = this.cluster;
    if (c.down.has(m.from) || c.down.has(m.to)) {
      this.miss('lost, member down', m);
      return false;
    }
    if (this.cut && matches(this.cut, facts(m))) {
      this.miss('lost, cut', m);
      return false;
    }
    if (this.hold && matches(this.hold, facts(m))) {
      c.held.push(m);
      this.miss('held', m);
      return false;
    }
    return true;
  }

  /** Delivers the whole queue in order, and what it causes, until it is empty (the harness's deliverAll). */
  private drain(): void {
    const q = this.cluster.queue;
    while (q.length > 0) {
      const m = q.shift()!;
      if (this.admit(m)) this.deliverOne(m);
    }
  }

  private cmdDeliver(args: string[]): void {
    const { positional, named } = options(args, ['limit', 'show']);
    const filter = positional.length > 0 ? parseFilter(positional) : EVERYTHING;
    let limit = named.has('limit') ? integer(named.get('limit'), 'limit') : Infinity;
    this.at(named, this.detail, () => {
      const q = this.cluster.queue;
      // Messages that do not match stay queued, in order; what the delivered ones cause is
      // appended and delivered too if it matches.
      for (let i = 0; i < q.length && limit > 0; ) {
        const m = q[i]!;
        if (!matches(filter, facts(m))) {
          i++;
          continue;
        }
        q.splice(i, 1);
        if (!this.admit(m)) continue;
        limit--;
        this.deliverOne(m);
      }
    });
  }

  private cmdLose(args: string[]): void {
    const filter = args.length > 0 ? parseFilter(args) : EVERYTHING;
    const q = this.cluster.queue;
    for (let i = 0; i < q.length; ) {
      if (!matches(filter, facts(q[i]!))) i++;
      else this.miss('lost', q.splice(i, 1)[0]!);
    }
  }

  private cmdRelease(args: string[]): void {
    const { positional, named } = options(args, ['show']);
    const filter = positional.length > 0 ? parseFilter(positional) : EVERYTHING;
    const c = this.cluster;
    const released: InFlight[] = [];
    for (let i = 0; i < c.held.length; ) {
      if (matches(filter, facts(c.held[i]!))) released.push(...c.held.splice(i, 1));
      else i++;
    }
    this.at(named, this.detail, () => {
      // Released messages arrive now whatever the rules say; what they cause meets the rules again.
      for (const m of released) {
        if (c.down.has(m.from) || c.down.has(m.to)) this.miss('lost, member down', m);
        else this.deliverOne(m);
      }
      this.drain();
    });
  }

  private cmdRestart(args: string[], wiped: boolean): void {
    const c = this.cluster;
    const m = member(args[0], this.n);
    if (wiped) this.incarnations[m]!.push([...c.records[m]!]);
    const count = c.records[m]!.length;
    const effects = c.effects.length;
    const report = c.restart(m, wiped ? { records: [], lost: true } : {});
    this.replicas[m] = c.nodes[m] as Replica;
    this.wrap(m);
    const rejected = report.rejected.map((r) => `; record ${r.index} rejected: ${r.reason}`).join('');
    this.print(`m${m}: ${wiped ? 'restarted with its records wiped' : `restarted from ${count} records`}${report.amnesia ? ', lost records: recovering' : ''}${rejected}`);
    // The restore's effects are already collected (and queued) by the harness: only print them.
    for (const { at, effect } of c.effects.slice(effects)) {
      const l = describeEffect(at, effect, this.detail, this.hidden);
      if (l !== null) this.print(l);
    }
  }

  private wrap(m: number): void {
    const c = this.cluster;
    const strategy = this.liars.get(m);
    const replica = this.replicas[m]!;
    c.nodes[m] = strategy === undefined ? replica : new Adversary(strategy, { replica, secretKey: c.members[m]!.secretKey, suite: c.suite, roster: c.roster });
  }

  private cmdLie(args: string[]): void {
    const m = member(args[0], this.n);
    const strategy = args[1];
    if (strategy === 'honest') this.liars.delete(m);
    else if ((STRATEGIES as readonly string[]).includes(strategy ?? '')) this.liars.set(m, strategy as Strategy);
    else throw new Error(`strategy must be honest or one of ${STRATEGIES.join(', ')}`);
    this.wrap(m);
  }

  /** A message the member signs with its own key outside its replica (what a liar can do), put in flight. */
  private cmdSign(args: string[]): void {
    const c = this.cluster;
    const from = member(args[0], this.n);
    const { positional, named } = options(args.slice(2), ['view', 'seq', 'executed', 'counter', 'place', 'to']);
    if (positional.length > 0) throw new Error(`unexpected "${positional[0]}"`);
    const sign = <B extends AnyBody>(b: B) => signBody(c.suite, c.members[from]!.secretKey, b);
    const room = c.roster.room;
    const num = (key: string) => integer(named.get(key), key);
    let wire: Wire;
    switch (args[1]) {
      case 'pre-prepare':
        // Only an empty batch: enough to assign a slot to something other than what was vouched for.
        wire = { k: 'pre-prepare', pp: sign({ t: 'pre-prepare', room, from, view: num('view'), seq: num('seq'), digest: batchDigest([]) }), batch: [] };
        break;
      case 'status':
        wire = { k: 'status', status: sign({ t: 'status', room, from, view: num('view'), executed: num('executed') }) };
        break;
      case 'request':
        wire = { k: 'request', req: sign({ t: 'request', room, from, counter: num('counter'), op: { kind: 'propose', place: named.get('place') ?? 'Lie', time: '12:00' } }) };
        break;
      default:
        throw new Error('usage: sign mX pre-prepare view= seq= | status view= executed= | request counter= place= ; to=mA,mB');
    }
    const to = named.has('to') ? members(named.get('to')!, this.n) : [...Array(this.n).keys()].filter((i) => i !== from);
    for (const t of to) c.queue.push({ from, to: t, type: wire.k, bytes: encodeWire(wire) });
    this.print(`m${from}: signs ${describeWire(wire, from)} -> ${to.map((t) => `m${t}`).join(',')}`);
  }

  /** One step of virtual time: every member that is up ticks; nothing is delivered. */
  private tickAll(step: number): void {
    const c = this.cluster;
    c.now += step;
    this.pendingTime = `@${c.now}`;
    for (const node of c.nodes) if (!c.down.has(node.me)) this.collect(node.me, node.tick(c.now));
  }

  private cmdTick(args: string[]): void {
    const { positional, named } = options(args, ['show']);
    this.at(named, this.detail, () => this.tickAll(positional[0] ? integer(positional[0], 'ms') : 100));
    this.pendingTime = null;
  }

  private cmdRun(args: string[]): void {
    const { positional, named } = options(args, ['step', 'show']);
    const ms = integer(positional[0], 'ms');
    const step = named.has('step') ? integer(named.get('step'), 'step') : 100;
    this.at(named, this.detail, () => this.runFor(ms, step));
  }

  /** The harness's `run`: steps of ticks, each followed by delivering the whole queue. */
  private runFor(ms: number, step: number): void {
    const end = this.cluster.now + ms;
    while (this.cluster.now < end) {
      this.tickAll(step);
      this.drain();
    }
    this.pendingTime = null;
  }

  /** The harness's `decideEach`: requests "Place i" from the given members in turn, 300 ms apart. */
  private cmdDecide(args: string[]): void {
    const { positional, named } = options(args, ['count', 'show']);
    const from = members(positional[0] ?? '', this.n);
    const count = integer(named.get('count'), 'count');
    this.at(named, 'quiet', () => {
      for (let i = 0; i < count; i++) {
        const m = from[i % from.length]!;
        this.collect(m, this.cluster.nodes[m]!.request({ kind: 'propose', place: `Place ${i}`, time: '12:00' }));
        this.runFor(300, 100);
      }
    });
  }

  private cmdQueue(): void {
    const c = this.cluster;
    for (const m of c.queue) this.print(`queued m${m.from} -> m${m.to} ${describeBytes(m.bytes, m.from)}`);
    for (const m of c.held) this.print(`held m${m.from} -> m${m.to} ${describeBytes(m.bytes, m.from)}`);
    if (this.hold) this.print(`hold rule: ${filterText(this.hold)}`);
    if (this.cut) this.print(`cut rule: ${filterText(this.cut)}`);
  }

  private cmdStatus(args: string[]): void {
    const positional = args;
    const showDrops = positional.includes('drops');
    const which = positional.filter((p) => p !== 'drops').flatMap((p) => members(p, this.n));
    for (const m of which.length > 0 ? which : [...Array(this.n).keys()]) {
      const s = this.replicas[m]!.snapshot();
      const parts = [
        s.changing === null ? `view ${s.view}` : `view ${s.view} changing to ${s.changing}`,
        `executed s${s.executedSeq}`,
        `stable s${s.stable}`,
        `counters ${s.lastCounter.join(' ')}`,
        `proven ${s.proven.map((p) => `m${p}`).join(',') || '-'}`,
      ];
      if (s.amnesia) parts.push('lost records');
      if (s.pendingOwn > 0) parts.push(`own pending ${s.pendingOwn}`);
      const flags = [this.cluster.down.has(m) ? 'down' : '', this.liars.has(m) ? `lies: ${this.liars.get(m)}` : ''].filter(Boolean);
      this.print(`m${m}: ${parts.join(', ')}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`);
      if (showDrops) {
        const drops = Object.entries(s.drops).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`);
        this.print(`m${m}: drops and refusals: ${drops.join(', ') || '-'}`);
      }
    }
  }

  /** Assertions: a failed one prints a FAILED line, which fails the script even after regeneration. */
  private cmdCheck(args: string[]): void {
    const [what, ...rest] = args;
    const which = rest.length > 0 && what !== 'none-proven' ? rest.flatMap((a) => members(a, this.n)) : [...Array(this.n).keys()];
    const list = which.map((m) => `m${m}`).join(' ');
    switch (what) {
      case 'no-fork': {
        const fork = findFork(this.cluster, which);
        this.print(fork === null ? `ok: no fork among ${list}` : `FAILED: fork: ${fork}`);
        break;
      }
      case 'signed-once': {
        for (const m of which) {
          const found = findDoubleSigning(m, ...this.incarnations[m]!, this.cluster.records[m]!);
          const lives = this.incarnations[m]!.length + 1;
          this.print(found === null ? `ok: m${m} signed no slot twice (${lives} incarnation${lives > 1 ? 's' : ''})` : `FAILED: ${found}`);
        }
        break;
      }
      case 'none-proven': {
        // `but=mX`: the one member that may be proven faulty (the liar of the script).
        const { positional, named } = options(rest, ['but']);
        const but = named.has('but') ? member(named.get('but'), this.n) : null;
        const among = positional.length > 0 ? positional.flatMap((a) => members(a, this.n)) : [...Array(this.n).keys()];
        const proven = among.flatMap((m) => this.replicas[m]!.snapshot().proven.filter((p) => p !== but).map((p) => `m${m} proved m${p} faulty`));
        const who = among.map((m) => `m${m}`).join(' ');
        this.print(proven.length === 0 ? `ok: ${who} proved nobody${but === null ? '' : ` but m${but}`} faulty` : `FAILED: ${proven.join('; ')}`);
        break;
      }
      default:
        throw new Error('usage: check no-fork|signed-once [members] | check none-proven [members] [but=mX]');
    }
  }
}
