// Installing what the tests need from Debian's packages, as `npm test` does for a newcomer run
// as root, so that a fresh machine runs the same tests CI does instead of skipping some.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Whether this process may install packages with apt-get (root, on Debian or Ubuntu). */
export function canInstallWithApt(): boolean {
  return process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
}

/**
 * `apt-get install -y` the packages (after one `apt-get update`), with apt's output shown.
 * Returns whether both steps succeeded; callers check for what they need afterwards.
 */
export function installWithApt(packages: readonly string[], log: (line: string) => void): boolean {
  log(`installing Debian's ${packages.join(', ')}: apt-get install -y ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-q'], ['install', '-y', '-q', ...packages]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.error || r.status !== 0) return false;
  }
  return true;
}
