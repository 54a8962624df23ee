// STUN/TURN settings from the environment of `npm start`, and the short-lived TURN credentials
// the server hands each member. Nothing is configured by default: then the server sends no ICE
// servers and the tabs contact nobody but each other and this server.
//
// TURN uses coturn's shared-secret mode (`--use-auth-secret --static-auth-secret=…`, the "TURN
// REST API"): the username is `<expiry unix time>:<label>` and the password is
// base64(HMAC-SHA1(secret, username)). coturn recomputes the HMAC and refuses expired usernames, so
// the secret itself never reaches a browser and a leaked credential is good for one lifetime only.
import { createHmac } from 'node:crypto';
import type { IceServer, ServerFrame } from '../src/net/signaling-frames.ts';

export type IceFrame = Extract<ServerFrame, { type: 'ice' }>;

export interface IceSettings {
  stunUrls: string[];
  turnUrls: string[];
  /** coturn's static-auth-secret; set exactly when turnUrls is not empty. */
  turnSecret: string | undefined;
  /** Lifetime of each minted TURN credential. */
  ttlSeconds: number;
  transportPolicy: 'all' | 'relay';
}

export const DEFAULT_TURN_TTL_SECONDS = 3600;
const MIN_TTL = 60;
const MAX_TTL = 7 * 24 * 3600;
/** Characters of the member's peer id that go into its TURN username (for coturn's logs). */
export const TURN_LABEL_CHARS = 16;

export class IceConfigError extends Error {
  override name = 'IceConfigError';
}

const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)`;
const STUN_URL = new RegExp(`^stuns?:${HOST}(?::([0-9]{1,5}))?$`);
const TURN_URL = new RegExp(`^turns?:${HOST}(?::([0-9]{1,5}))?(?:\\?transport=(?:udp|tcp))?$`);

function splitList(raw: string | undefined): string[] {
  return (raw ?? '').split(/[\s,]+/).filter((s) => s !== '');
}

function checkUrls(name: string, raw: string | undefined, pattern: RegExp, example: string): string[] {
  const urls = splitList(raw);
  for (const url of urls) {
    const m = pattern.exec(url);
    const port = m?.[1] === undefined ? 1 : Number(m[1]);
    if (!m || port < 1 || port > 65535) {
      throw new IceConfigError(`${name} has "${url}", which is not a valid URL for it. Give a comma-separated list such as ${example}`);
    }
  }
  if (urls.length > 8) throw new IceConfigError(`${name} lists ${urls.length} URLs; at most 8 are allowed.`);
  return urls;
}

/**
 * Reads ICE_STUN_URLS, ICE_TURN_URLS, ICE_TURN_SECRET, ICE_TURN_TTL and ICE_TRANSPORT_POLICY.
 * Throws IceConfigError with a message that says what to fix.
 */
export function parseIceEnv(env: Readonly<Record<string, string | undefined>>): IceSettings {
  const stunUrls = checkUrls('ICE_STUN_URLS', env.ICE_STUN_URLS, STUN_URL, 'stun:turn.example.org:3478');
  const turnUrls = checkUrls('ICE_TURN_URLS', env.ICE_TURN_URLS, TURN_URL,
    'turn:turn.example.org:3478?transport=udp,turn:turn.example.org:3478?transport=tcp');
  const secret = env.ICE_TURN_SECRET?.trim() ? env.ICE_TURN_SECRET.trim() : undefined;
  if (turnUrls.length > 0 && secret === undefined) {
    throw new IceConfigError('ICE_TURN_URLS is set but ICE_TURN_SECRET is not. Set ICE_TURN_SECRET to the static-auth-secret coturn runs with (turnserver --use-auth-secret --static-auth-secret=…).');
  }
  if (secret !== undefined && turnUrls.length === 0) {
    throw new IceConfigError('ICE_TURN_SECRET is set but ICE_TURN_URLS is not. Set ICE_TURN_URLS to your TURN server, e.g. turn:turn.example.org:3478');
  }
  if (secret !== undefined && secret.length < 16) {
    throw new IceConfigError('ICE_TURN_SECRET is shorter than 16 characters. Use a long random secret, e.g. the output of: openssl rand -hex 32');
  }
  let ttlSeconds = DEFAULT_TURN_TTL_SECONDS;
  const ttlRaw = env.ICE_TURN_TTL?.trim();
  if (ttlRaw) {
    ttlSeconds = Number(ttlRaw);
    if (!/^\d+$/.test(ttlRaw) || ttlSeconds < MIN_TTL || ttlSeconds > MAX_TTL) {
      throw new IceConfigError(`ICE_TURN_TTL must be a whole number of seconds from ${MIN_TTL} to ${MAX_TTL}, but it is "${env.ICE_TURN_TTL}".`);
    }
    if (turnUrls.length === 0) throw new IceConfigError('ICE_TURN_TTL is set but ICE_TURN_URLS is not: it only applies to TURN credentials.');
  }
  const policyRaw = env.ICE_TRANSPORT_POLICY?.trim().toLowerCase() || 'all';
  if (policyRaw !== 'all' && policyRaw !== 'relay') {
    throw new IceConfigError(`ICE_TRANSPORT_POLICY must be "all" or "relay", but it is "${env.ICE_TRANSPORT_POLICY}".`);
  }
  if (policyRaw === 'relay' && turnUrls.length === 0) {
    throw new IceConfigError('ICE_TRANSPORT_POLICY=relay needs a TURN server: set ICE_TURN_URLS and ICE_TURN_SECRET too, or no peer can ever connect.');
  }
  return { stunUrls, turnUrls, turnSecret: secret, ttlSeconds, transportPolicy: policyRaw };
}

/** True when the settings name no server at all: the default, in which no ice frame is sent. */
export function iceIsEmpty(settings: IceSettings): boolean {
  return settings.stunUrls.length === 0 && settings.turnUrls.length === 0;
}

/** coturn's shared-secret credential for one member, valid until `expires` (Unix seconds). */
export function mintTurnCredential(secret: string, peer: string, nowMs: number, ttlSeconds: number): { username: string; credential: string; expires: number } {
  const expires = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expires}:${peer.slice(0, TURN_LABEL_CHARS)}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expires };
}

/** The ice frame for one member that joined, or null when nothing is configured. */
export function iceFrameFor(settings: IceSettings, peer: string, nowMs: number): IceFrame | null {
  if (iceIsEmpty(settings)) return null;
  const iceServers: IceServer[] = [];
  if (settings.stunUrls.length > 0) iceServers.push({ urls: settings.stunUrls });
  if (settings.turnUrls.length > 0 && settings.turnSecret !== undefined) {
    const { username, credential, expires } = mintTurnCredential(settings.turnSecret, peer, nowMs, settings.ttlSeconds);
    iceServers.push({ urls: settings.turnUrls, username, credential });
    return { type: 'ice', iceServers, iceTransportPolicy: settings.transportPolicy, expires };
  }
  return { type: 'ice', iceServers, iceTransportPolicy: settings.transportPolicy };
}

/** One line for the start-up banner saying which ICE servers the tabs will use. */
export function describeIce(settings: IceSettings): string {
  if (iceIsEmpty(settings)) return 'ICE: no STUN or TURN servers (tabs connect directly; fine on one machine or one network).';
  const parts: string[] = [];
  if (settings.stunUrls.length > 0) parts.push(`STUN ${settings.stunUrls.join(', ')}`);
  if (settings.turnUrls.length > 0) parts.push(`TURN ${settings.turnUrls.join(', ')} (credentials valid ${settings.ttlSeconds} s)`);
  const policy = settings.transportPolicy === 'relay' ? '; relay only' : '';
  return `ICE: ${parts.join('; ')}${policy}.`;
}
