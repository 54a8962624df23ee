// `npm run lab`: Byzantine Lunch across real (if simulated) networks. Four members, each a
// Chromium on its own host behind its own NAT router, an app host serving the built app over
// https, and a coturn host — all inside one private network namespace made here, so no packet of
// the lab can reach any real network. See topology.ts for the picture.
//
// Where the machine cannot do this (not root, no namespaces, no coturn/nftables/openssl/Chromium),
// it prints "lab skipped: <why>" and exits 0. LAB_REQUIRED=1 turns a skip into a failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canInstallWithApt, installWithApt } from '../apt.ts';
import { CHROMIUM_ENV, DEBIAN_HEADLESS_SHELL, chromiumForTests } from '../browser.ts';
import { APP_IP, MEMBERS, TURN_IP, buildTopology, destroyTopology, ns, sh } from './topology.ts';
import { LAB_INFO_ENV, type LabInfo } from './info.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const started = Date.now();

function log(line: string): void {
  console.log(`[lab] ${line}`);
}

function have(cmd: string, args: string[] = ['--version']): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function skip(why: string): never {
  console.log(`lab skipped: ${why}`);
  process.exit(process.env.LAB_REQUIRED === '1' ? 1 : 0);
}

/** The lab's own tools, by command, with the Debian package that has each. */
const TOOLS: readonly (readonly [command: string, args: string[], pkg: string])[] = [
  ['nft', ['--version'], 'nftables'],
  ['turnserver', ['--version'], 'coturn'],
  ['openssl', ['version'], 'openssl'],
];

/** As e2e/run.ts does for Chromium: as root, install what is missing rather than skip the lab. */
function installMissingTools(): void {
  if (process.env.BYZANTINE_LUNCH_NO_NETNS === '1' || !canInstallWithApt()) return;
  const missing = TOOLS.filter(([cmd, args]) => !have(cmd, args)).map(([, , pkg]) => pkg);
  if (!chromiumForTests()) missing.push('chromium-headless-shell');
  if (missing.length > 0 && !installWithApt(missing, log)) log('apt-get failed (see above)');
}

/** Why the lab cannot run here, or null. */
function unavailable(): string | null {
  if (process.env.BYZANTINE_LUNCH_NO_NETNS === '1') return 'BYZANTINE_LUNCH_NO_NETNS=1';
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces, NAT routers and coturn need root)';
  if (!have('ip', ['-V'])) return 'iproute2 (ip) is not installed';
  if (!have('unshare', ['-n', '-m', 'true'])) return 'unshare -n -m failed (no permission to create network namespaces here)';
  for (const [cmd, args, pkg] of TOOLS) if (!have(cmd, args)) return `${pkg} is not installed (apt-get install -y ${pkg})`;
  const browser = chromiumForTests();
  if (!browser || !existsSync(browser)) return `no Chromium at ${process.env[CHROMIUM_ENV] || DEBIAN_HEADLESS_SHELL} (apt-get install -y chromium-headless-shell)`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Outside: check, build, then run this same file again inside a private network namespace.
// ---------------------------------------------------------------------------------------------
if (process.env.LAB_INSIDE !== '1') {
  installMissingTools();
  const why = unavailable();
  if (why) skip(why);
  log('building the app (npm run build)');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) {
    console.error('[lab] npm run build failed');
    process.exit(1);
  }
  log('entering a private network namespace (unshare -n -m)');
  const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
  const r = spawnSync('unshare', ['-n', '-m', '--propagation', 'private', process.execPath, tsx, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, LAB_INSIDE: '1' },
  });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------------------------------------
// Inside the private namespace.
// ---------------------------------------------------------------------------------------------
const children: ChildProcess[] = [];
let work = '';
let cleaned = false;

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  // Anything still running on a lab host was started by the lab (a test may restart coturn).
  for (const name of [ns.app, ns.turn, ...MEMBERS.flatMap((n) => [ns.member(n), ns.router(n)])]) {
    try {
      for (const pid of sh('ip', ['netns', 'pids', name]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
    } catch {
      // no such namespace
    }
  }
  destroyTopology();
  if (work) rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

function startProcess(name: string, netns: string, cmd: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', netns, ...cmd], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code, signal) => {
    if (!cleaned && process.env.LAB_VERBOSE === '1') log(`${name} exited (${code ?? signal}); last lines:\n  ${lines.slice(-10).join('\n  ')}`);
  });
  (child as ChildProcess & { lines: string[] }).lines = lines;
  return child;
}

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function linesOf(c: ChildProcess): string[] {
  return (c as ChildProcess & { lines: string[] }).lines;
}

async function main(): Promise<number> {
  // Private copies of /run (for /run/netns) and of everything else mounted from here on.
  sh('mount', ['-t', 'tmpfs', 'lab-run', '/run']);
  sh('mkdir', ['-p', '/run/netns']);
  work = mkdtempSync(join(tmpdir(), 'byzantine-lunch-lab-'));

  log('building the network: public bridge, app host, TURN host, four NAT routers and member hosts');
  buildTopology();

  // A self-signed certificate for the app host, made now and thrown away afterwards.
  sh('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${APP_IP}`, '-addext', `subjectAltName=IP:${APP_IP}`,
    '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem'),
  ]);
  const secret = sh('openssl', ['rand', '-hex', '32']).trim();

  const turnConf = join(work, 'turnserver.conf');
  writeFileSync(turnConf, [
    `listening-ip=${TURN_IP}`, `relay-ip=${TURN_IP}`, 'listening-port=3478', 'min-port=49152', 'max-port=49999',
    'use-auth-secret', `static-auth-secret=${secret}`, 'realm=lab.invalid', 'fingerprint',
    'no-tls', 'no-dtls', 'no-cli', 'no-software-attribute', 'log-file=stdout', 'simple-log',
    `pidfile=${join(work, 'turnserver.pid')}`, '',
  ].join('\n'));
  const turnCmd = ['turnserver', '-c', turnConf];
  const turn = startProcess('coturn', ns.turn, turnCmd);
  await waitFor('coturn to listen on 3478', () => sh('ip', ['netns', 'exec', ns.turn, 'ss', '-Hlun', 'sport = :3478']).trim() !== '');

  const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
  const turnUrls = `turn:${TURN_IP}:3478?transport=udp,turn:${TURN_IP}:3478?transport=tcp`;
  const common = {
    HOST: '0.0.0.0', TLS_CERT: join(work, 'cert.pem'), TLS_KEY: join(work, 'key.pem'),
    ICE_TURN_URLS: turnUrls, ICE_TURN_SECRET: secret,
  };
  const apps = {
    relay: { port: 8443, env: { ...common, PORT: '8443', ICE_TRANSPORT_POLICY: 'relay' } },
    all: { port: 8444, env: { ...common, PORT: '8444', ICE_STUN_URLS: `stun:${TURN_IP}:3478`, ICE_TRANSPORT_POLICY: 'all' } },
    // The default: no ICE servers at all.
    noTurn: { port: 8445, env: { ...common, PORT: '8445', ICE_TURN_URLS: '', ICE_TURN_SECRET: '' } },
    // A secret that is not coturn's: every credential it mints is refused.
    badSecret: { port: 8446, env: { ...common, PORT: '8446', ICE_TURN_SECRET: `not-${secret}`, ICE_TRANSPORT_POLICY: 'relay' } },
  };
  const servers = Object.entries(apps).map(([name, a]) => startProcess(`app (${name})`, ns.app, [process.execPath, tsx, 'signaling-server/main.ts'], a.env));
  for (const s of servers) {
    await waitFor('the app server to start', () => linesOf(s).some((l) => l.includes('Open this link')) || s.exitCode !== null);
    if (s.exitCode !== null) throw new Error(`the app server stopped: ${linesOf(s).join('\n')}`);
  }
  log(`app: https://${APP_IP}:8443 (relay only) and :8444 (all candidates); TURN: ${turnUrls}`);

  const chromium = chromiumForTests()!;
  const wrappers = MEMBERS.map((n) => {
    const path = join(work, `chromium-m${n}`);
    writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${ns.member(n)} ${chromium} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  });
  const info: LabInfo = {
    urls: {
      relay: `https://${APP_IP}:${apps.relay.port}`, all: `https://${APP_IP}:${apps.all.port}`,
      noTurn: `https://${APP_IP}:${apps.noTurn.port}`, badSecret: `https://${APP_IP}:${apps.badSecret.port}`,
    },
    wrappers,
    turn: { netns: ns.turn, cmd: turnCmd, pidFile: join(work, 'turnserver.pid') },
  };
  const infoPath = join(work, 'lab.json');
  writeFileSync(infoPath, JSON.stringify(info));
  log(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s; running the scenarios`);

  const r = spawnSync('npx', ['playwright', 'test', '-c', 'e2e/lab/playwright.config.ts', ...process.argv.slice(2)], {
    cwd: ROOT, stdio: 'inherit', env: { ...process.env, [LAB_INFO_ENV]: infoPath },
  });
  if (turn.exitCode !== null && process.env.LAB_VERBOSE === '1') log(`coturn log:\n${linesOf(turn).join('\n')}`);
  return r.status ?? 1;
}

let status = 1;
try {
  status = await main();
} catch (e) {
  console.error(`[lab] ${e instanceof Error ? e.message : String(e)}`);
}
cleanup();
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; namespaces and processes removed`);
process.exit(status);
