import { describe, expect, test } from 'vitest';
import { CAUSES, failureCause, hasTurn, isRelayCandidate, newAttempt } from './ice-status.ts';

const turn: RTCConfiguration = { iceServers: [{ urls: ['turn:10.0.0.1:3478?transport=udp'], username: 'u', credential: 'c' }] };

describe('why a connection attempt failed', () => {
  test('without a TURN server, that is the likely cause', () => {
    expect(failureCause({ iceServers: [] }, newAttempt())).toBe(CAUSES.noTurn);
    expect(failureCause({}, newAttempt())).toBe(CAUSES.noTurn);
    expect(failureCause({ iceServers: [{ urls: 'stun:10.0.0.1' }] }, newAttempt())).toBe(CAUSES.noTurn);
    expect(hasTurn({ iceServers: [{ urls: 'turns:x.org' }] })).toBe(true);
  });

  test('TURN errors: refused credentials, no answer', () => {
    const refused = { ...newAttempt(), errors: [{ code: 401, url: 'turn:10.0.0.1:3478?transport=udp' }] };
    expect(failureCause(turn, refused)).toBe(CAUSES.turnRefused);
    const unreachable = { ...newAttempt(), errors: [{ code: 701, url: 'turn:10.0.0.1:3478?transport=udp' }] };
    expect(failureCause(turn, unreachable)).toBe(CAUSES.turnUnreachable);
    // No relay address and no error yet when the attempt timed out: the server did not answer.
    expect(failureCause(turn, newAttempt())).toBe(CAUSES.turnUnreachable);
    // A STUN server's error says nothing about TURN credentials.
    const stunOnly = { ...newAttempt(), errors: [{ code: 401, url: 'stun:10.0.0.2' }] };
    expect(failureCause(turn, stunOnly)).toBe(CAUSES.turnUnreachable);
  });

  test('with a relay address here, the peer side or the path is to blame', () => {
    expect(failureCause(turn, { ...newAttempt(), localRelay: true })).toBe(CAUSES.peerNoRelay);
    expect(failureCause(turn, { ...newAttempt(), localRelay: true, remoteRelay: true })).toBe(CAUSES.noPath);
  });

  test('relay candidates are recognised in SDP candidate lines', () => {
    expect(isRelayCandidate('candidate:1 1 udp 41885439 10.77.0.20 50000 typ relay raddr 10.77.0.101 rport 40000 generation 0')).toBe(true);
    expect(isRelayCandidate('candidate:1 1 udp 2122260223 10.78.1.10 40000 typ host generation 0')).toBe(false);
    expect(isRelayCandidate('candidate:1 1 udp 1686052607 10.77.0.101 40000 typ srflx raddr 10.78.1.10 rport 40000')).toBe(false);
  });
});
