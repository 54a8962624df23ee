// Builds and serves the app exactly as `npm start` does (`vite build`, then the signaling server
// that also serves dist/), on a port of the bench's own.
import { spawn, spawnSync } from 'node:child_process';

export interface Served {
  /** e.g. http://127.0.0.1:8798 */
  baseUrl: string;
  /** The process group the server runs in (npx, tsx and the server itself), led by this pid. */
  group: number;
  stop(): void;
}

/** `vite build` in `root`, as `npm start` does first; throws with its output when it fails. */
export function build(root: string): void {
  const r = spawnSync('npx', ['vite', 'build'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    throw new Error(`npx vite build failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
}

/** Starts `tsx signaling-server/main.ts` as `npm start` does, and resolves once it prints its link. */
export function serve(root: string, port: number, host = '127.0.0.1', timeoutMs = 60_000): Promise<Served> {
  // Its own process group, so that stopping it also stops what npx started under it.
  const child = spawn('npx', ['tsx', 'signaling-server/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: host },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let stopped = false;
  const stop = () => {
    if (stopped || child.pid === undefined) return;
    stopped = true;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  return new Promise<Served>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the server printed no "Open this link" line within ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Open this link[^\n]*?(https?:\/\/[^/\s]+)\//.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ baseUrl: m[1]!, group: child.pid!, stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      stopped = true;
      reject(new Error(`the server exited (code ${code}) before it was ready:\n${output}`));
    });
  });
}
