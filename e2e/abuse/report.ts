// What `npm run abuse` prints: per attack what the bystanders and the server went through, how
// long the server took to recover, and the targets as PASS or MISS with their numbers.
import type { Check } from './attacks.ts';
import { summarizeWindow, type BystanderWindow } from './bystander.ts';
import type { ProcWindow } from './proc.ts';

/** The targets issue 13 sets for every attack. */
export const RELAY_P99_LIMIT_MS = 50;
export const RSS_LIMIT_BYTES = 300 * 2 ** 20;

/** How a recovery ended: after how long, and the last readings either way. */
export interface Recovery {
  recovered: boolean;
  seconds: number;
  /** What the last probe saw, in words. */
  detail: string;
}

/** One phase of the run (the baseline, an attack, the tabs) with everything measured in it. */
export interface PhaseResult {
  id: string;
  item: string;
  title: string;
  /** What the attack did, or why it could not run. */
  summary: string;
  bystanders: BystanderWindow;
  /** The server during the attack, and during the attack and recovery together (for its peak RSS). */
  server: ProcWindow;
  serverWithRecovery: ProcWindow;
  recovery: Recovery | null;
  checks: Check[];
  /** The machine's 1-minute load average when the phase ended. */
  loadAverage: number;
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const mib = (bytes: number) => `${f1(bytes / 2 ** 20)} MiB`;

/** The issue's three common targets for a phase, plus the phase's own checks. */
export function targetsOf(p: PhaseResult): Check[] {
  const b = summarizeWindow(p.bystanders);
  const rss = p.serverWithRecovery.peakRssBytes;
  // A slow relay through a mostly idle server is the machine's delay, not the server's: say which.
  const context = `; the server used ${f0((100 * p.server.cpuSeconds) / Math.max(p.server.seconds, 1e-9))} % of a core, machine load average ${f1(p.loadAverage)}`;
  return [
    { name: 'bystanders lose nothing', pass: b.lost === 0, detail: b.lost === 0 ? `${b.joins} joins and ${b.relays} relays, none lost` : `lost ${b.lostDetail}` },
    {
      name: `bystander relay p99 < ${RELAY_P99_LIMIT_MS} ms`,
      pass: b.relays > 0 && b.relayP99 < RELAY_P99_LIMIT_MS,
      detail: b.relays > 0 ? `p99 ${f1(b.relayP99)} ms over ${b.relays} relays (p50 ${f1(b.relayP50)} ms)${b.relayP99 < RELAY_P99_LIMIT_MS ? '' : context}` : 'no relay came back',
    },
    { name: 'server RSS < 300 MiB', pass: rss > 0 && rss < RSS_LIMIT_BYTES, detail: rss > 0 ? `peak ${mib(rss)}` : 'the server process could not be read' },
    ...p.checks,
  ];
}

/** The block printed for one phase. */
export function renderPhase(p: PhaseResult): string {
  const b = summarizeWindow(p.bystanders);
  const s = p.server;
  const lines = [`[item ${p.item}] ${p.id}: ${p.title}`];
  lines.push(`  attack:     ${p.summary}`);
  lines.push(
    `  bystanders: ${b.joins} joins (p50 ${f1(b.joinP50)} ms, max ${f0(b.joinMax)} ms), ${b.relays} relays (p50 ${f1(b.relayP50)} ms, p99 ${f1(b.relayP99)} ms); lost ${b.lostDetail}`,
  );
  lines.push(
    `  server:     RSS peak ${mib(p.serverWithRecovery.peakRssBytes)}; CPU ${f1(s.cpuSeconds)} s in ${f1(s.seconds)} s (${f0((100 * s.cpuSeconds) / Math.max(s.seconds, 1e-9))} % of a core, busiest 0.2 s ${f0(100 * s.peakCpuShare)} %); open fds peak ${s.peakFds}; machine load average ${f1(p.loadAverage)}`,
  );
  if (p.recovery) lines.push(`  recovery:   ${p.recovery.recovered ? `${f1(p.recovery.seconds)} s` : `none within ${f0(p.recovery.seconds)} s`} (${p.recovery.detail})`);
  for (const t of targetsOf(p)) lines.push(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.detail}`);
  return lines.join('\n');
}

/** The closing table: every target of every phase, and the count of misses. */
export function renderSummary(phases: PhaseResult[]): string {
  const rows = phases.flatMap((p) => targetsOf(p).map((t) => ({ p, t })));
  const misses = rows.filter((r) => !r.t.pass).length;
  const lines = [`Targets (reported, never asserted): ${rows.length - misses} PASS, ${misses} MISS`];
  for (const { p, t } of rows) lines.push(`  ${t.pass ? 'PASS' : 'MISS'}  [${p.item}] ${p.id}: ${t.name}${t.pass ? '' : ` — ${t.detail}`}`);
  return lines.join('\n');
}
