// Small building blocks for the signaling server's budgets: the token bucket (shared with the
// tabs' per-link budget, src/net/budget.ts), and the key under which a remote address is accounted. Node only (the browser bundle
// shares src/net/signaling-frames.ts, never this file).
import { isIPv4, isIPv6 } from 'node:net';


/**
 * The key under which a remote address is counted against per-address limits: an IPv4 address
 * as itself (also when it arrives IPv4-mapped), an IPv6 address by its /64, since one host or
 * one home line commonly holds a whole /64 and could otherwise step around any per-address cap.
 */
export function addressKey(remote: string | undefined): string {
  if (remote === undefined || remote === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped) return mapped[1]!;
  if (isIPv4(remote)) return remote;
  if (!isIPv6(remote)) return 'unknown';
  const zoneless = remote.split('%')[0]!.toLowerCase();
  const [head = '', tail = ''] = zoneless.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const groups = zoneless.includes('::') ? [...headParts, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailParts] : headParts;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
