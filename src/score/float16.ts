/**
 * IEEE 754 half precision, for the knn memory on disk: a run keeps one bank of unit features per epoch (1,000 images ×
 * 3,136 floats at 28×28), and 16 bits a value halve a run folder for a relative error of at most 2^-11 per value,
 * far below the distances between neighbours. Training rounds the bank through this before it calibrates, so the
 * thresholds are those of the stored bank.
 */
import { active } from '../kernels/addon';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float to half-precision bits, rounding to nearest even; overflow to ±Infinity, NaN stays NaN. */
export function halfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: Infinity
  if (e <= 0) {
    if (e < -10) return sign; // too small: ±0
    // Subnormal: shift the implicit 1 in, round to nearest even.
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** Half-precision bits to a float (exact). */
export function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = halfBits(values[i]);
  return out;
}

export function fromFloat16(bits: Uint16Array): Float32Array {
  // A table of all 65,536 values makes decoding a load: a 6.4-million-value bank decodes in milliseconds.
  const table = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/**
 * Decodes the `count` half floats stored in the upper half of `buffer`'s bytes [byteOffset + 2·count, byteOffset +
 * 4·count) into float32s over the whole range, in place: value i is written to bytes [4i, 4i + 4), which only ever
 * overlaps halves before i, already read. Saves the bank a fresh array of its own (fresh memory is slow to touch).
 */
export function fromFloat16InPlace(out: Float32Array): void {
  const count = out.length;
  // The compiled kernels' F16C widening where loaded: a cold score's 4 M-value bank in a few ms instead of 60-120.
  const native = active();
  if (native) return native.widenHalves(out, Int32Array.of(count, 0));
  const halves = new Uint16Array(out.buffer, out.byteOffset + 2 * count, count);
  const t = halfTable();
  for (let i = 0; i < count; i++) out[i] = t[halves[i]];
}

let table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!table) {
    // Normal and infinite/NaN halves by moving bits (cold, halfValue's powers cost ~30 ms for the 65,536 entries);
    // zeros and subnormals, which float32 holds exactly but with another exponent, by value.
    table = new Float32Array(65536);
    const bits = new Uint32Array(table.buffer);
    for (let h = 0; h < 65536; h++) {
      const e = (h >>> 10) & 0x1f;
      const sign = (h & 0x8000) << 16;
      if (e === 0) table[h] = halfValue(h);
      else bits[h] = sign | ((e === 0x1f ? 0xff : e - 15 + 127) << 23) | ((h & 0x3ff) << 13);
    }
  }
  return table;
}
