// Why a WebRTC connection attempt to a peer failed, in words a person can act on. The mesh feeds
// in what it saw during the attempt — ICE candidate errors from the RTCPeerConnection, whether a
// relay (TURN) candidate was gathered here or arrived from the peer — and the configuration it
// used; this picks the likeliest cause.

export interface IceAttempt {
  /** `icecandidateerror` events: STUN/TURN error code (701: no answer) and the server's URL. */
  errors: { code: number; url: string }[];
  /** This side gathered a relay candidate, so its TURN server answered and accepted it. */
  localRelay: boolean;
  /** The peer sent a relay candidate. */
  remoteRelay: boolean;
}

export function newAttempt(): IceAttempt {
  return { errors: [], localRelay: false, remoteRelay: false };
}

export const CAUSES = {
  noTurn: 'cannot connect: no TURN server configured — peers on different networks need one',
  turnRefused: 'cannot connect: TURN credentials refused',
  turnUnreachable: 'cannot connect: TURN server unreachable',
  peerNoRelay: 'cannot connect: the other member got no relay address from the TURN server',
  noPath: 'cannot connect: no network path to this peer, even through the TURN server',
} as const;

function isTurn(url: string): boolean {
  return /^turns?:/i.test(url);
}

export function hasTurn(config: RTCConfiguration): boolean {
  return (config.iceServers ?? []).some((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).some(isTurn));
}

/** Codes by which a TURN server refuses credentials (RFC 8489, RFC 8656). */
const AUTH_CODES = new Set([401, 431, 441]);

/** The likeliest cause of a failed attempt. */
export function failureCause(config: RTCConfiguration, attempt: IceAttempt): string {
  if (!hasTurn(config)) return CAUSES.noTurn;
  if (!attempt.localRelay) {
    const turnErrors = attempt.errors.filter((e) => isTurn(e.url) || e.url === '');
    if (turnErrors.some((e) => AUTH_CODES.has(e.code))) return CAUSES.turnRefused;
    // 701 (no answer), other codes, or no answer yet when the attempt timed out.
    return CAUSES.turnUnreachable;
  }
  if (!attempt.remoteRelay) return CAUSES.peerNoRelay;
  return CAUSES.noPath;
}

/** Whether an SDP candidate line is a relay candidate. */
export function isRelayCandidate(candidate: string): boolean {
  return / typ relay( |$)/.test(candidate);
}
