import { describe, expect, it } from 'vitest';
import { parseRoomLink, roomLinkSearch } from './link.ts';

const fresh = () => 'newroom';

describe('room link', () => {
  it('reads room and size', () => {
    expect(parseRoomLink('?room=abc&n=7', fresh)).toEqual({ ok: true, link: { room: 'abc', size: 7, generated: false } });
    expect(parseRoomLink('?room=abc', fresh)).toEqual({ ok: true, link: { room: 'abc', size: 4, generated: false } });
  });

  it('makes up a room when the link has none', () => {
    expect(parseRoomLink('', fresh)).toEqual({ ok: true, link: { room: 'newroom', size: 4, generated: true } });
  });

  it.each(['?room=a&n=5', '?room=a&n=', '?room=a&n=4.0', '?room=a&n=0x4', '?room=a%20b', `?room=${'x'.repeat(65)}`, '?room=%3Cscript%3E'])(
    'refuses %s with a message',
    (search) => {
      const r = parseRoomLink(search, fresh);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message.length).toBeGreaterThan(10);
    },
  );

  it('writes back what it reads', () => {
    for (const s of ['?room=abc', '?room=abc&n=10']) {
      const r = parseRoomLink(s, fresh);
      expect(r.ok && roomLinkSearch(r.link)).toBe(s);
    }
  });
});
