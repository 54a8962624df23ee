// Entry point of `npm start`: serves the built app from dist/ and the signaling WebSocket, then
// prints a link with a fresh room id to open in four tabs.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { randomBytes } from '../src/crypto/ed25519.ts';
import { describeIce, IceConfigError, parseIceEnv, type IceSettings } from './ice.ts';
import { createSignalingServer } from './server.ts';

const DEFAULT_PORT = 8787;
const DEFAULT_HOST = '127.0.0.1';

function fail(message: string, exitCode: number): never {
  console.error(message);
  process.exit(exitCode);
}

function readPort(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PORT;
  const text = raw.trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    fail(`PORT must be a whole number from 0 to 65535, but it is "${raw}". Example: PORT=8787 npm start`, 2);
  }
  return port;
}

function readHost(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') return DEFAULT_HOST;
  const host = raw.trim();
  const hostname = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
  if (isIP(host) === 0 && !hostname.test(host)) {
    fail(`HOST must be an IP address or a host name (for example 127.0.0.1, 0.0.0.0 or localhost), but it is "${raw}".`, 2);
  }
  return host;
}

function readIce(): IceSettings {
  try {
    return parseIceEnv(process.env);
  } catch (e) {
    if (e instanceof IceConfigError) fail(e.message, 2);
    throw e;
  }
}

/** TLS_CERT and TLS_KEY: paths of a PEM certificate (chain) and its key; both or neither. */
function readTls(): { cert: Buffer; key: Buffer } | undefined {
  const certPath = process.env.TLS_CERT?.trim() || undefined;
  const keyPath = process.env.TLS_KEY?.trim() || undefined;
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    fail(`Set both TLS_CERT and TLS_KEY (PEM files) to serve https, or neither to serve http. Only ${certPath ? 'TLS_CERT' : 'TLS_KEY'} is set.`, 2);
  }
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e);
      return fail(`${name}=${path} cannot be read: ${why}.`, 2);
    }
  };
  const cert = read('TLS_CERT', certPath);
  const key = read('TLS_KEY', keyPath);
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) fail(`TLS_CERT=${certPath} is not a PEM certificate (no "BEGIN CERTIFICATE" line).`, 2);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) fail(`TLS_KEY=${keyPath} is not a PEM private key (no "BEGIN … PRIVATE KEY" line).`, 2);
  return { cert, key };
}

/** A fresh room id: 10 characters of a-z 0-9, uniformly random. */
function newRoomId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = '';
  while (id.length < 10) {
    for (const byte of randomBytes(16)) {
      // 252 is the largest multiple of 36 below 256: rejecting the rest keeps every letter equally likely.
      if (byte < 252 && id.length < 10) id += alphabet[byte % 36];
    }
  }
  return id;
}

const port = readPort(process.env.PORT);
const host = readHost(process.env.HOST);
const distDir = fileURLToPath(new URL('../dist/', import.meta.url));
if (!existsSync(`${distDir}index.html`)) {
  fail('dist/ not found: run `npm run build` first (npm start does this)', 1);
}

const ice = readIce();
const tls = readTls();
let server: ReturnType<typeof createSignalingServer>;
try {
  server = createSignalingServer({ staticDir: distDir, ice, tls });
} catch (e) {
  // Node refuses a key that does not belong to the certificate, or a damaged PEM, here.
  fail(`TLS_CERT and TLS_KEY could not be used: ${e instanceof Error ? e.message : String(e)}`, 2);
}
let bound: { port: number; host: string };
try {
  bound = await server.listen(port, host);
} catch (e) {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    fail(`Port ${port} on ${host} is already in use. Stop the program using it, or set PORT to another port, e.g. PORT=8788 npm start`, 1);
  }
  fail(`Could not listen on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`, 1);
}

const wildcard = host === '0.0.0.0' || host === '::';
const linkHost = wildcard ? '127.0.0.1' : isIP(host) === 6 ? `[${host}]` : host;
console.log('Byzantine Lunch is running.');
const scheme = tls ? 'https' : 'http';
console.log(`Open this link in four tabs: ${scheme}://${linkHost}:${bound.port}/?room=${newRoomId()}`);
if (wildcard) {
  console.log(`(Listening on ${host} port ${bound.port}, all network interfaces: other devices can use this computer's address instead of 127.0.0.1.)`);
}
console.log(describeIce(ice));
if (!tls && wildcard) {
  console.log('Note: browsers on other machines need https for this app (TLS_CERT and TLS_KEY, or a reverse proxy); see "Lunch across networks" in the README.');
}

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) process.exit(130); // a second Ctrl-C: stop waiting
  stopping = true;
  console.log(`\nReceived ${signal}, shutting down.`);
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
