// "Add to calendar" for a decided lunch: an iCalendar (RFC 5545) event for the place and time.
// The time is the room's wall-clock "HH:MM" on the day of the decision, written as floating
// local time, so each coworker's calendar shows it at that hour wherever they are.

/** What an event is made from; `day` is the local date of the decision. */
export interface CalendarLunch {
  readonly place: string;
  /** "HH:MM", 24-hour, as the lunch rules require. */
  readonly time: string;
  readonly day: Date;
  /** Names of those going, in order. */
  readonly going: readonly string[];
  /** Unique per room and round, so importing twice updates one event instead of adding two. */
  readonly uid: string;
  /** When the file is made (for DTSTAMP). */
  readonly now: Date;
  /** How long lunch lasts, in minutes. */
  readonly minutes?: number;
}

/** The .ics text (CRLF line ends, long lines folded); throws a RangeError for a bad time or date. */
export function lunchCalendar(event: CalendarLunch): string {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(event.time);
  if (!match) throw new RangeError(`A lunch time must be HH:MM (24-hour), not ${JSON.stringify(event.time)}.`);
  if (Number.isNaN(event.day.getTime()) || Number.isNaN(event.now.getTime())) throw new RangeError('A calendar event needs valid dates.');
  const start = new Date(event.day.getFullYear(), event.day.getMonth(), event.day.getDate(), Number(match[1]), Number(match[2]));
  const end = new Date(start.getTime() + (event.minutes ?? 60) * 60_000);
  const going = event.going.length > 0 ? `Going: ${event.going.join(', ')}.` : '';
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Byzantine Lunch//lunch//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    'BEGIN:VEVENT',
    `UID:${text(event.uid)}`,
    `DTSTAMP:${utc(event.now)}`,
    `DTSTART:${local(start)}`,
    `DTEND:${local(end)}`,
    `SUMMARY:${text(`Lunch: ${event.place}`)}`,
    `LOCATION:${text(event.place)}`,
    `DESCRIPTION:${text(`Agreed in Byzantine Lunch. ${going}`.trim())}`,
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return lines.map(fold).join('\r\n') + '\r\n';
}

/** A file name for the download, e.g. `lunch-taco-truck.ics`. */
export function calendarFileName(place: string): string {
  const slug = place.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `lunch-${slug || 'decided'}.ics`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function local(d: Date): string {
  return `${pad(d.getFullYear(), 4)}${pad(d.getMonth() + 1)}${pad(d.getDate())}T${pad(d.getHours())}${pad(d.getMinutes())}00`;
}

function utc(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
}

/** RFC 5545 TEXT: backslash, semicolon, comma and line breaks escaped. */
function text(value: string): string {
  return value.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, '\\n');
}

/** Lines longer than 75 octets continue on the next line after one space, never inside a character. */
function fold(line: string): string {
  const encoder = new TextEncoder();
  const parts: string[] = [];
  let current = '';
  let size = 0;
  for (const ch of line) {
    const bytes = encoder.encode(ch).length;
    const limit = parts.length === 0 ? 75 : 74;
    if (size + bytes > limit) {
      parts.push(current);
      current = '';
      size = 0;
    }
    current += ch;
    size += bytes;
  }
  parts.push(current);
  return parts.join('\r\n ');
}
