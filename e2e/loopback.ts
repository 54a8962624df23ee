// Running a command inside a fresh network namespace that has only loopback, so that no traffic
// it makes can leave this machine. Shared by `npm run test:e2e`, `npm run bench` and `npm run abuse`.
import { spawnSync, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';

function quiet(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Why a loopback-only network namespace cannot be made here, or null when it can. */
export function loopbackNamespaceUnavailable(): string | null {
  if (process.env.BYZANTINE_LUNCH_NO_NETNS === '1') return 'BYZANTINE_LUNCH_NO_NETNS=1';
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!quiet('unshare', ['-n', 'true'])) return 'unshare -n failed (no permission to create network namespaces)';
  if (!quiet('unshare', ['-n', 'sh', '-c', 'ip link set lo up'])) return 'cannot bring up loopback (is iproute2 installed?)';
  return null;
}

/**
 * Runs `cmd` inside a new network namespace (`unshare -n`) whose loopback is up; the caller has
 * checked loopbackNamespaceUnavailable() first.
 */
export function runInLoopbackNamespace(cmd: string[], options: SpawnSyncOptions = {}): SpawnSyncReturns<Buffer | string> {
  return spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...cmd], { stdio: 'inherit', ...options });
}

/**
 * Runs `cmd` (with stdio inherited) in a loopback-only namespace when one can be made, else as
 * it is, after saying which; the environment variable `describeIn` tells the command which it
 * got. Returns its exit status (1 when it could not be started).
 */
export function runLoopbackOnlyIfPossible(
  cmd: string[], options: { cwd: string; env: NodeJS.ProcessEnv; describeIn: string; log: (line: string) => void },
): number {
  const env = { ...options.env };
  const why = loopbackNamespaceUnavailable();
  let r: SpawnSyncReturns<Buffer | string>;
  if (why === null) {
    options.log('running inside a new network namespace that has only loopback');
    env[options.describeIn] = 'loopback-only network namespace (unshare -n)';
    r = runInLoopbackNamespace(cmd, { cwd: options.cwd, env });
  } else {
    options.log(`running without a private network namespace: ${why}`);
    env[options.describeIn] = `no private network namespace (${why})`;
    r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: options.cwd, env, stdio: 'inherit' });
  }
  return r.error ? 1 : (r.status ?? 1);
}
