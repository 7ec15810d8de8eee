// Writing COPY text straight into a Buffer. Generated data sets are hundreds of MiB: built as
// JavaScript strings they cost several times more in garbage collection than in generation.

export const TAB = 9;
export const NEWLINE = 10;
export const SPACE = 32;
export const DOT = 46;
export const COLON = 58;
export const ZERO = 48;

/** "00".."99" as byte pairs. */
const DIGIT_PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');
const scratch = new Uint8Array(20);

/** Writes a non-negative integer (< 2^53) in decimal, two digits per division; returns the new offset. */
export function writeUint(buf: Buffer, off: number, v: number): number {
  if (v < 10) {
    buf[off] = ZERO + v;
    return off + 1;
  }
  let n = 20;
  while (v >= 100) {
    const q = Math.floor(v / 100);
    const p = (v - q * 100) * 2;
    scratch[--n] = DIGIT_PAIRS[p + 1];
    scratch[--n] = DIGIT_PAIRS[p];
    v = q;
  }
  if (v >= 10) {
    scratch[--n] = DIGIT_PAIRS[v * 2 + 1];
    scratch[--n] = DIGIT_PAIRS[v * 2];
  } else scratch[--n] = ZERO + v;
  while (n < 20) buf[off++] = scratch[n++];
  return off;
}

/** Writes an integer scaled by 100 as a decimal with two places ("1234" → "12.34"). */
export function writeCents(buf: Buffer, off: number, cents: number): number {
  const whole = Math.floor(cents / 100);
  const frac = cents - whole * 100;
  off = writeUint(buf, off, whole);
  buf[off++] = DOT;
  buf[off++] = DIGIT_PAIRS[frac * 2];
  buf[off++] = DIGIT_PAIRS[frac * 2 + 1];
  return off;
}

/** Writes an ASCII string (no tabs, newlines or backslashes: nothing to escape). */
export function writeAscii(buf: Buffer, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[off++] = s.charCodeAt(i);
  return off;
}
