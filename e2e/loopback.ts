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
