import { describe, expect, it } from 'vitest';
import { MAX_QR_TEXT, qrCode } from './qr.ts';

/** The dark cells a path draws, read back from its rectangles. */
function cells(path: string): Set<string> {
  const out = new Set<string>();
  for (const m of path.matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
    for (let i = 0; i < Number(m[3]); i++) out.add(`${Number(m[1]) + i},${m[2]}`);
  }
  return out;
}

describe('qrCode', () => {
  it('draws a square code with its three finder patterns and a quiet zone', () => {
    const { size, path } = qrCode('http://192.168.1.20:8080/#room=lunch-42&n=4');
    const dark = cells(path);
    const modules = size - 8;
    expect(modules % 4).toBe(1); // 21, 25, 29, … modules a side
    // A finder pattern's outer ring: the corners of a 7×7 square at three corners of the code.
    for (const [x, y] of [[4, 4], [4 + modules - 7, 4], [4, 4 + modules - 7]] as const) {
      for (const [dx, dy] of [[0, 0], [6, 0], [0, 6], [6, 6], [3, 3]] as const) expect(dark.has(`${x + dx},${y + dy}`)).toBe(true);
      expect(dark.has(`${x + 1},${y + 1}`)).toBe(false);
    }
    // Nothing in the quiet zone.
    for (const cell of dark) {
      const [x, y] = cell.split(',').map(Number) as [number, number];
      expect(x >= 4 && y >= 4 && x < size - 4 && y < size - 4).toBe(true);
    }
  });

  it('grows with the text and refuses what is too long or empty', () => {
    expect(qrCode('x'.repeat(300)).size).toBeGreaterThan(qrCode('x').size);
    expect(() => qrCode('')).toThrow(RangeError);
    expect(() => qrCode('x'.repeat(MAX_QR_TEXT + 1))).toThrow(RangeError);
  });
});
