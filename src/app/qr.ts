// The room link as a QR code, so a coworker's phone can join by pointing its camera at a
// laptop's screen. The modules are drawn as one SVG path: no canvas, no image file, sharp at
// any size.
import qrcode from 'qrcode-generator';

/** A QR code as SVG: `path` draws the dark modules in a `size` × `size` box, quiet zone included. */
export interface QrCode {
  readonly size: number;
  readonly path: string;
}

/** Past this a code is too dense for a phone camera across a desk; room links are far shorter. */
export const MAX_QR_TEXT = 1000;
/** The blank border a reader needs around the code, in modules. */
const QUIET = 4;

/** The QR code (error correction M) for a link; a RangeError for text too long to scan well. */
export function qrCode(text: string): QrCode {
  if (text.length === 0 || text.length > MAX_QR_TEXT) throw new RangeError(`A QR code here holds 1 to ${MAX_QR_TEXT} characters, not ${text.length}.`);
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const parts: string[] = [];
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      // Runs of dark modules in a row become one rectangle: a third of the path's length.
      if (!qr.isDark(row, col)) continue;
      let run = 1;
      while (col + run < count && qr.isDark(row, col + run)) run++;
      parts.push(`M${col + QUIET} ${row + QUIET}h${run}v1h-${run}z`);
      col += run - 1;
    }
  }
  return { size: count + 2 * QUIET, path: parts.join('') };
}
