// What `npm run bench` prints and writes: the table, the targets, the JSON and a small SVG chart.
import { DEFAULT_TIMING } from '../../src/core/replica.ts';
import type { FloorModel, Target } from './model.ts';
import { PHASES } from './model.ts';
import type { FloorPartsResult, RoomResult, ThroughputResult, UserLevelResult, ViewChangeResult } from './measure.ts';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  chromium: string;
  chromiumPath: string;
  playwright: string;
  networkNamespace: string;
  date: string;
  /** 1-minute load average when the bench started and ended: above `cores`, something else competed. */
  loadAverageAtStart: number;
  loadAverageAtEnd: number;
}

export interface CoreSection {
  available: boolean;
  /** Agreed requests per second with real signatures (the best suite), when the result says so. */
  requestsPerSecond: number | null;
  /** Per signature backend, when the result lists them. */
  suites: { suite: string; requestsPerSecond: number }[];
  result: unknown;
  error?: string;
}

export interface BenchResult {
  kind: 'byzantine-lunch-bench';
  version: 1;
  quick: boolean;
  machine: Machine;
  durationSeconds: number;
  floorParts: FloorPartsResult;
  floor: Record<number, FloorModel>;
  rooms: RoomResult[];
  userLevel: UserLevelResult;
  /** In a fresh room, then after the latency runs. */
  throughput: ThroughputResult[];
  viewChange: ViewChangeResult;
  core: CoreSection;
  targets: Target[];
}

const SILENCE_MS = DEFAULT_TIMING.primarySilence;

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

export function targetsOf(r: Omit<BenchResult, 'targets'>): Target[] {
  const out: Target[] = [];
  const room = (n: number) => r.rooms.find((x) => x.n === n);
  const four = room(4);
  if (four) {
    const ratio = four.latency.summary.p50 / four.latency.floor.ms;
    out.push({
      name: '4-tab p50 ≤ 1.5× floor',
      pass: ratio <= 1.5,
      ratio: ratio / 1.5,
      detail: `p50 ${f2(four.latency.summary.p50)} ms = ${f2(ratio)}× floor ${f2(four.latency.floor.ms)} ms (allowed 1.5×)`,
    });
  }
  const vc = r.viewChange;
  out.push({
    name: 'view change ≤ 2× its modelled floor',
    pass: vc.ratioIncluded <= 2,
    ratio: vc.ratioIncluded / 2,
    detail:
      `${f1(vc.ms)} ms = ${f2(vc.ratioIncluded)}× (timeout ${vc.model.timeoutMs} + vc floor ${f2(vc.model.floorMs)} = ${f1(vc.model.totalMs)} ms); ` +
      (vc.excessOverTimeoutMs >= 0
        ? `timeout excluded: ${f1(vc.excessOverTimeoutMs)} ms after the timeout = ${f1(vc.ratioExcluded)}× the vc floor`
        : `done ${f1(-vc.excessOverTimeoutMs)} ms before the request timeout would fire: the silence detector (${SILENCE_MS} ms since the primary was last heard) fired first`),
  });
  const ten = room(10);
  if (ten) {
    const ratio = ten.latency.summary.p50 / ten.latency.floor.ms;
    out.push({
      name: 'n=10 p50 ≤ 3× its floor',
      pass: ratio <= 3,
      ratio: ratio / 3,
      detail: `p50 ${f2(ten.latency.summary.p50)} ms = ${f2(ratio)}× floor ${f2(ten.latency.floor.ms)} ms (allowed 3×)`,
    });
  }
  const core = r.core;
  if (core.available && core.requestsPerSecond !== null) {
    const each = core.suites.length ? ` (${core.suites.map((x) => `${x.suite} ${f1(x.requestsPerSecond)}`).join(', ')})` : '';
    out.push({
      name: 'core ≥ 1,000 agreed requests/s (real signatures)',
      pass: core.requestsPerSecond >= 1000,
      ratio: core.requestsPerSecond / 1000,
      detail: `best ${f1(core.requestsPerSecond)} requests/s${each} = ${f2(core.requestsPerSecond / 1000)}× the 1,000 required`,
    });
  } else {
    out.push({
      name: 'core ≥ 1,000 agreed requests/s (real signatures)',
      pass: false,
      ratio: Number.NaN,
      detail: core.available ? 'the core bench gave no requests-per-second figure' : `core bench not available${core.error ? `: ${core.error}` : ''}`,
    });
  }
  for (const x of r.rooms) {
    const m = x.messages;
    const expected = PHASES.reduce((a, p) => a + m.expected[p], 0);
    const wire = PHASES.reduce((a, p) => a + m.measuredFromTotals[p], 0);
    const firsts = m.samples.map((s) => s.firstTime);
    const pass = m.firstTimeExact && (m.cleanSamples === 0 || m.exactFromTotals);
    out.push({
      name: `messages exactly the protocol's count, n=${x.n}`,
      pass,
      ratio: summarizeMedian(firsts) / expected,
      detail:
        `first sendings per request: ${compact(firsts)} of ${m.samples.length} (protocol ${expected})` +
        (m.cleanSamples > 0
          ? `; without retransmissions ${m.cleanSamples}/${m.samples.length} requests, by type ${PHASES.map((p) => `${p} ${m.measuredFromTotals[p]}/${m.expected[p]}`).join(', ')}`
          : `; every one of the ${m.samples.length} requests overlapped a retransmission (sent in all: median ${wire})`),
    });
  }
  const panelRooms = r.rooms.map((x) => {
    const shown = PHASES.reduce((a, p) => a + x.messages.measured[p], 0);
    return { n: x.n, shown, expected: PHASES.reduce((a, p) => a + x.messages.expected[p], 0), commit: x.messages.measured.commit, exact: x.messages.exact };
  });
  out.push({
    name: "the protocol panel's last-decision counts show exactly the protocol's count",
    pass: panelRooms.every((x) => x.exact),
    ratio: panelRooms.length ? Math.min(...panelRooms.map((x) => x.shown / x.expected)) : Number.NaN,
    detail: panelRooms.map((x) => `n=${x.n}: ${x.shown}/${x.expected} (commit ${x.commit})`).join('; ') + ' — lastCounts summed over tabs ÷ 2',
  });
  return out;
}

/** `all 27` when every value is the same, else the list. */
function compact(xs: readonly number[]): string {
  return xs.length > 1 && xs.every((x) => x === xs[0]) ? `all ${xs[0]}` : xs.join(',');
}

function summarizeMedian(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : Number.NaN;
}

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

function table(rows: string[][], rightFrom = 1): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => '  ' + r.map((cell, c) => pad(cell, widths[c]!, c >= rightFrom)).join('  ')).join('\n');
}

export function renderText(r: BenchResult): string {
  const out: string[] = [];
  const m = r.machine;
  out.push('');
  out.push(`Byzantine Lunch — bench (${r.quick ? 'quick' : 'full'} run, ${m.date}, ${f1(r.durationSeconds)} s)`);
  out.push(`machine: ${m.cpuModel}, ${m.cores} cores, ${f1(m.memoryGiB)} GiB; Linux ${m.kernel}; Node ${m.node}; Chromium ${m.chromium}; ${m.networkNamespace}`);
  out.push(`load average (1 min) at start ${f1(m.loadAverageAtStart)}, at end ${f1(m.loadAverageAtEnd)}${m.loadAverageAtStart > m.cores ? ' — the machine was busy with other work when the bench started' : ''}`);
  out.push('');
  out.push('Floor parts (measured in a tab)');
  const fp = r.floorParts;
  out.push(table([
    ['part', 'value'],
    [`data-channel RTT, ${fp.rtt.probes} probes`, `p50 ${f3(fp.rtt.p50)} ms, p99 ${f3(fp.rtt.p99)} ms, max ${f3(fp.rtt.max)} ms`],
    ['Ed25519 sign (noble), best of 5 batches', `${f3(fp.signMs)} ms/op (batches ${fp.batches.signMs.map(f3).join(', ')})`],
    ['Ed25519 verify (noble, strict)', `${f3(fp.verifyMs)} ms/op (batches ${fp.batches.verifyMs.map(f3).join(', ')})`],
    ['IndexedDB durable write (strict)', `${f3(fp.writeMs)} ms/op (batches ${fp.batches.writeMs.map(f3).join(', ')})`],
  ]));
  out.push('');
  out.push('Modelled floor of one agreed request (requester a backup: 4 one-way hops; 4 signs; verifies 1 + 2 + 2f + (2f+1); 3 durable writes)');
  for (const n of Object.keys(r.floor)) out.push(`  ${r.floor[Number(n)]!.formula}`);
  out.push('');
  out.push('Agreement latency (one request at a time, round-robin issuer; until executed in every tab)');
  out.push(table([
    ['n', 'requests', 'p50 ms', 'p99 ms', 'max ms', 'first tab p50', 'first/last 10% p50', 'floor ms', 'p50/floor', 'room RTT p50'],
    ...r.rooms.map((x) => [
      String(x.n), String(x.latency.requests), f2(x.latency.summary.p50), f2(x.latency.summary.p99), f2(x.latency.summary.max),
      f2(x.latency.firstTab.p50), `${f1(x.latency.trend.firstTenthP50)} / ${f1(x.latency.trend.lastTenthP50)}`, f2(x.latency.floor.ms), `${f2(x.latency.ratioP50)}×`, f3(x.latency.roomRtt.p50),
    ]),
  ]));
  out.push('');
  const u = r.userLevel;
  out.push(`User level, 4 tabs (propose; every tab joins as soon as the proposal executed there; decision shown in every tab), ${u.runs} runs:`);
  out.push(`  p50 ${f1(u.summary.p50)} ms, max ${f1(u.summary.max)} ms (proposal executed everywhere: p50 ${f1(u.proposalSummary.p50)} ms)`);
  out.push('');
  out.push('Throughput, 4 tabs, each keeping one request outstanding (a decline vote, issued the moment its previous one executed):');
  out.push(table([
    ['when', 'proposals in room', 'seconds', 'agreed req/s', 'seq/s', 'requests/seq', 'max batch'],
    ...r.throughput.map((t) => [t.label, String(t.proposalsBefore), String(t.seconds), f1(t.requestsPerSecond), f1(t.seqPerSecond), f2(t.batchMean), String(t.batchMax)]),
  ], 1));
  const vc = r.viewChange;
  out.push('');
  out.push(`View change, 4 tabs: primary (member ${vc.oldPrimary}) silent, a request from a backup executes in every honest tab after ${f1(vc.ms)} ms (view ${vc.newView})`);
  out.push(`  model: ${vc.model.formula}`);
  out.push(
    vc.excessOverTimeoutMs >= 0
      ? `  ratio: ${f2(vc.ratioIncluded)}× with the timeout; without it ${f1(vc.excessOverTimeoutMs)} ms = ${f1(vc.ratioExcluded)}× the vc floor`
      : `  ratio: ${f2(vc.ratioIncluded)}× with the timeout; it finished before the request timer fired, because the silence detector (${SILENCE_MS} ms since the primary was last heard) fired first`,
  );
  out.push('');
  out.push('Messages per agreed request (unbatched; panel lastCounts summed over tabs ÷ 2 | change in totalCounts ÷ 2 | protocol;');
  out.push('panel: medians over every request; totals: over the requests during which nothing was retransmitted; per request: copies sent again, and first sendings = sent − copies)');
  const rows: string[][] = [['n (clean/all)', ...PHASES, 'all', 'retransmitted', 'first sendings']];
  for (const x of r.rooms) {
    const mm = x.messages;
    const sum = (rec: Record<string, number>) => PHASES.reduce((a, p) => a + (rec[p] ?? 0), 0);
    rows.push([`${x.n} (${mm.cleanSamples}/${mm.samples.length})`, ...PHASES.map((p) => `${mm.measured[p]} | ${mm.measuredFromTotals[p]} | ${mm.expected[p]}`), `${sum(mm.measured)} | ${sum(mm.measuredFromTotals)} | ${sum(mm.expected)}`,
      compact(mm.samples.map((s) => s.retransmissions)), compact(mm.samples.map((s) => s.firstTime))]);
  }
  out.push(table(rows));
  out.push('');
  const c = r.core;
  const suites = c.suites.length ? c.suites.map((x) => `${x.suite} ${f1(x.requestsPerSecond)}`).join(', ') + ' agreed requests/s' : c.requestsPerSecond !== null ? `${f1(c.requestsPerSecond)} agreed requests/s` : 'ran; no requests/s figure found in its result';
  out.push(`Core alone (Node, n = 4, real signatures): ${c.available ? suites : `core bench not available${c.error ? ` (${c.error})` : ''}`}`);
  out.push('');
  out.push('Targets (reported, never asserted)');
  for (const x of r.targets) out.push(`  ${x.pass ? 'PASS' : 'MISS'}  ${x.name}: ${x.detail}`);
  out.push('');
  return out.join('\n');
}

// ---- SVG ----

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Series {
  label: string;
  color: string;
}

/** A grouped bar chart: groups × series, values on a linear axis from 0. */
function barChart(
  x: number, y: number, w: number, h: number, title: string, unit: string,
  groups: { label: string; values: number[] }[], series: Series[],
): string {
  const parts: string[] = [];
  const top = y + 28;
  const bottom = y + h - 34;
  const left = x + 48;
  const right = x + w - 10;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values.filter(Number.isFinite)));
  const nice = niceCeil(max);
  const scale = (v: number) => bottom - (Math.max(0, v) / nice) * (bottom - top);
  parts.push(`<text x="${x + w / 2}" y="${y + 16}" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (nice * i) / 4;
    const yy = scale(v);
    parts.push(`<line x1="${left}" x2="${right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 4}" y="${yy + 4}" text-anchor="end" font-size="10">${esc(fmtAxis(v))}</text>`);
  }
  parts.push(`<text x="${x + 10}" y="${(top + bottom) / 2}" font-size="10" transform="rotate(-90 ${x + 10} ${(top + bottom) / 2})" text-anchor="middle">${esc(unit)}</text>`);
  const gw = (right - left) / groups.length;
  const bw = Math.min(28, (gw - 12) / series.length);
  groups.forEach((g, gi) => {
    const gx = left + gi * gw + (gw - bw * series.length) / 2;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return;
      const yy = scale(v);
      const bx = gx + si * bw;
      parts.push(`<rect x="${bx}" y="${yy}" width="${bw - 2}" height="${Math.max(0, bottom - yy)}" fill="${series[si]!.color}"><title>${esc(`${g.label} ${series[si]!.label}: ${fmtAxis(v)} ${unit}`)}</title></rect>`);
      parts.push(`<text x="${bx + (bw - 2) / 2}" y="${yy - 3}" text-anchor="middle" font-size="9">${esc(fmtAxis(v))}</text>`);
    });
    parts.push(`<text x="${left + gi * gw + gw / 2}" y="${bottom + 14}" text-anchor="middle" font-size="11">${esc(g.label)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  let lx = left;
  for (const s of series) {
    parts.push(`<rect x="${lx}" y="${y + h - 14}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 14}" y="${y + h - 5}" font-size="10">${esc(s.label)}</text>`);
    lx += 18 + s.label.length * 6;
  }
  return parts.join('\n');
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtAxis(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

export function renderSvg(r: BenchResult): string {
  const W = 900;
  const H = 330;
  const latency = barChart(
    10, 40, 430, 280, 'Agreement latency vs modelled floor', 'ms',
    r.rooms.map((x) => ({ label: `n=${x.n}: p50 ${f1(x.latency.ratioP50)}× floor`, values: [x.latency.summary.p50, x.latency.summary.p99, x.latency.floor.ms] })),
    [{ label: 'p50', color: '#3b7dd8' }, { label: 'p99', color: '#9bbcec' }, { label: 'floor', color: '#e39b35' }],
  );
  const sum = (rec: Record<string, number>) => PHASES.reduce((a, p) => a + (rec[p] ?? 0), 0);
  const messages = barChart(
    460, 40, 430, 280, 'Messages per agreed request (n = 4, 7, 10)', 'messages',
    r.rooms.map((x) => ({ label: `n = ${x.n}`, values: [sum(x.messages.measured), sum(x.messages.measuredFromTotals), sum(x.messages.expected)] })),
    [{ label: 'panel (last decision)', color: '#3b9b5a' }, { label: 'sent (totals)', color: '#8fd19e' }, { label: 'protocol', color: '#aaa' }],
  );
  const title = `Byzantine Lunch bench — ${r.machine.cpuModel}, ${r.machine.cores} cores, Chromium ${r.machine.chromium}, ${r.machine.date.slice(0, 10)}${r.quick ? ' (quick)' : ''}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="12" fill="#444">${esc(title)}</text>`,
    latency,
    messages,
    '</svg>',
    '',
  ].join('\n');
}

