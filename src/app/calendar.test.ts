import { describe, expect, it } from 'vitest';
import { calendarFileName, lunchCalendar } from './calendar.ts';

const base = {
  place: 'Taco Truck', time: '12:10', day: new Date(2026, 11, 1, 9, 30), going: ['James', 'Bryan', 'Rich'],
  uid: 'room-abc/round-1@byzantine-lunch', now: new Date(Date.UTC(2026, 11, 1, 8, 0, 5)),
};

describe('lunchCalendar', () => {
  it('makes one event at the decided local time, an hour long, with who is going', () => {
    const ics = lunchCalendar(base);
    expect(ics.endsWith('\r\n')).toBe(true);
    const lines = ics.split('\r\n');
    expect(lines).toContain('DTSTART:20261201T121000');
    expect(lines).toContain('DTEND:20261201T131000');
    expect(lines).toContain('DTSTAMP:20261201T080005Z');
    expect(lines).toContain('SUMMARY:Lunch: Taco Truck');
    expect(lines).toContain('DESCRIPTION:Agreed in Byzantine Lunch. Going: James\\, Bryan\\, Rich.');
    expect(lines.filter((l) => l === 'BEGIN:VEVENT')).toHaveLength(1);
  });

  it('escapes what RFC 5545 text needs and folds long lines without splitting a character', () => {
    const place = 'Café; “Le Bistro”, back room\nupstairs ' + 'é'.repeat(60);
    const ics = lunchCalendar({ ...base, place });
    expect(ics).toContain('LOCATION:Café\\; “Le Bistro”\\, back room\\nupstairs');
    for (const line of ics.split('\r\n')) expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(75);
    // Unfolding gives back the whole line.
    const unfolded = ics.replace(/\r\n /g, '');
    expect(unfolded).toContain(`LOCATION:Café\\; “Le Bistro”\\, back room\\nupstairs ${'é'.repeat(60)}\r\n`);
  });

  it('refuses a time that is not HH:MM', () => {
    expect(() => lunchCalendar({ ...base, time: '25:00' })).toThrow(RangeError);
    expect(() => lunchCalendar({ ...base, day: new Date(Number.NaN) })).toThrow(RangeError);
  });

  it('names the file after the place', () => {
    expect(calendarFileName('Taco Truck!')).toBe('lunch-taco-truck.ics');
    expect(calendarFileName('???')).toBe('lunch-decided.ics');
    expect(calendarFileName('Crème Brûlée')).toBe('lunch-creme-brulee.ics');
  });
});
