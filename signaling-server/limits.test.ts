import { describe, expect, test } from 'vitest';
import { TokenBucket } from '../src/net/budget.ts';
import { addressKey } from './limits.ts';

describe('addressKey', () => {
  test('IPv4 as itself, also IPv4-mapped; IPv6 by its /64; anything else as unknown', () => {
    expect(addressKey('127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('::ffff:127.0.0.3')).toBe('127.0.0.3');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
    expect(addressKey('not an address')).toBe('unknown');
  });
});

describe('TokenBucket', () => {
  test('spends its burst, refills at its rate, and never mints tokens from a clock that steps back', () => {
    const bucket = new TokenBucket(2, 3, 1000);
    expect([bucket.take(1000), bucket.take(1000), bucket.take(1000), bucket.take(1000)]).toEqual([true, true, true, false]);
    expect(bucket.msUntilToken(1000)).toBe(500);
    expect(bucket.take(1500)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(1600, 5)).toBe(false); // more than the burst can ever hold
    expect(bucket.full(10_000)).toBe(true);
  });
});
