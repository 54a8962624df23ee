// The server process as the kernel sees it: resident memory, CPU time and open descriptors, read
// from /proc, so the figures include everything the process costs (not just the JS heap).
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux architecture Node runs on

/** One reading of a process. */
export interface ProcSample {
  /** performance.now() when read. */
  at: number;
  /** User plus system CPU time since the process started, seconds. */
  cpuSeconds: number;
  rssBytes: number;
  /** Open file descriptors (sockets included). */
  fds: number;
}

/** Reads a process's CPU time, RSS and descriptor count; null once it has exited. */
export function readProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after its last ')' do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { at: performance.now(), cpuSeconds, rssBytes: Number(rss?.[1] ?? 0) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

/**
 * The process that runs `script` inside process group `group` (npx → sh → tsx → node): the
 * deepest one whose command line names it, which is the node process that runs the server.
 */
export function findScriptProcess(group: number, script: string): number {
  const inGroup: { pid: number; ppid: number }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== group) continue;
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(script)) continue;
      inGroup.push({ pid: Number(name), ppid: Number(fields[1]) });
    } catch {
      // exited while we looked
    }
  }
  const leaf = inGroup.find((p) => !inGroup.some((q) => q.ppid === p.pid));
  if (leaf === undefined) throw new Error(`no process runs ${script} in process group ${group}`);
  return leaf.pid;
}

/** What a watch saw between start and stop. */
export interface ProcWindow {
  seconds: number;
  cpuSeconds: number;
  /** The busiest sampling interval, as a share of one core (1 = 100 %). */
  peakCpuShare: number;
  peakRssBytes: number;
  peakFds: number;
  /** The last reading. */
  last: ProcSample | null;
}

/** Samples a process every few hundred milliseconds and keeps the totals and peaks of a window. */
export class ProcWatch {
  private first: ProcSample | null = null;
  private prev: ProcSample | null = null;
  private window: ProcWindow = ProcWatch.empty();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly pid: number, intervalMs = 200) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    this.restart();
  }

  private static empty(): ProcWindow {
    return { seconds: 0, cpuSeconds: 0, peakCpuShare: 0, peakRssBytes: 0, peakFds: 0, last: null };
  }

  private sample(): ProcSample | null {
    const s = readProc(this.pid);
    if (s === null) return null;
    if (this.prev !== null && s.at > this.prev.at) {
      this.window.peakCpuShare = Math.max(this.window.peakCpuShare, (s.cpuSeconds - this.prev.cpuSeconds) / ((s.at - this.prev.at) / 1000));
    }
    this.window.peakRssBytes = Math.max(this.window.peakRssBytes, s.rssBytes);
    this.window.peakFds = Math.max(this.window.peakFds, s.fds);
    this.window.last = s;
    this.prev = s;
    return s;
  }

  /** Starts a new window now. */
  restart(): void {
    this.window = ProcWatch.empty();
    this.prev = null;
    this.first = this.sample();
  }

  /** The window so far (it keeps running). */
  current(): ProcWindow {
    const s = this.sample();
    const w = { ...this.window };
    if (s !== null && this.first !== null) {
      w.seconds = (s.at - this.first.at) / 1000;
      w.cpuSeconds = s.cpuSeconds - this.first.cpuSeconds;
    }
    return w;
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.timer);
  }
}
