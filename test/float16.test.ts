// Half precision for the stored knn memory, against values worked out by hand from the IEEE 754 binary16 layout
// (sign 1, exponent 5 with bias 15, mantissa 10) and against a brute-force nearest half.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromFloat16, fromFloat16InPlace, halfBits, halfValue, toFloat16 } from '../src/score/float16';
import { loadNativeKernels, setNativeKernels } from '../src/kernels/addon';

/** The in-place widening's two paths: the compiled kernels' (F16C where the CPU has it) and JavaScript's table. */
const WIDENING_PATHS: [string, boolean][] = [['compiled', true], ['JavaScript', false]];
const nativeLoaded = loadNativeKernels().loaded;

test('known values encode to their binary16 bits and back', () => {
  const known: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [0.333251953125, 0x3555],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1 + 2 ** -10, 0x3c01],
  ];
  for (const [v, bits] of known) {
    assert.equal(halfBits(v), bits, `${v}`);
    assert.equal(Object.is(halfValue(bits), v) || halfValue(bits) === v, true, `${bits.toString(16)}`);
  }
  assert.equal(halfBits(70000), 0x7c00); // overflow → +Infinity
  assert.equal(halfBits(-Infinity), 0xfc00);
  assert.ok(Number.isNaN(halfValue(halfBits(NaN))));
  assert.equal(halfBits(2 ** -26), 0); // below half the smallest subnormal → 0
});

test('rounding is to the nearest half, ties to even', () => {
  // 1 + 2^-11 lies exactly between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01): to even.
  assert.equal(halfBits(1 + 2 ** -11), 0x3c00);
  // 1 + 3·2^-11 lies between 0x3c01 (odd) and 0x3c02 (even): to even.
  assert.equal(halfBits(1 + 3 * 2 ** -11), 0x3c02);
  // Brute force: for values across the range, no half is nearer than the one chosen.
  const halves = Array.from({ length: 0x7c00 }, (_, h) => halfValue(h));
  let seed = 5;
  for (let i = 0; i < 400; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const v = Math.fround((seed / 2 ** 32) * 2 ** (((seed >>> 3) % 30) - 20));
    const got = halfValue(halfBits(v));
    const best = halves.reduce((b, h) => (Math.abs(h - v) < Math.abs(b - v) ? h : b), halves[0]);
    assert.equal(Math.abs(got - v), Math.abs(best - v), `${v}: ${got} vs ${best}`);
  }
});

test('arrays round-trip within 2^-11 relative error', () => {
  const v = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.1);
  const back = fromFloat16(toFloat16(v));
  v.forEach((x, i) => assert.ok(Math.abs(back[i] - x) <= Math.abs(x) * 2 ** -11 + 2 ** -25, `${x} → ${back[i]}`));
});

test('the edges: subnormal ties, a carry into the exponent, overflow by rounding, tiny values, -Infinity', () => {
  // Subnormals are multiples of 2^-24; a value halfway between two goes to the even one.
  assert.equal(halfBits(2.5 * 2 ** -24), 0x0002);
  assert.equal(halfBits(3.5 * 2 ** -24), 0x0004);
  assert.equal(halfBits(2.25 * 2 ** -24), 0x0002);
  assert.equal(halfBits(2.75 * 2 ** -24), 0x0003);
  assert.equal(halfBits(2 ** -25), 0x0000, 'halfway between 0 and the smallest subnormal: to 0');
  assert.equal(halfBits(-(2 ** -25) * 1.5), 0x8001);
  // Far below the smallest subnormal (where a shift by 32 or more would wrap around): signed zero.
  for (const v of [1e-10, 2 ** -30, 2 ** -40, 1e-30, 2 ** -126]) {
    assert.equal(halfBits(v), 0x0000, `${v}`);
    assert.equal(halfBits(-v), 0x8000, `-${v}`);
  }
  // 2 − 2^-11 lies halfway between 0x3bff (2 − 2^-10, odd) and 2 (0x4000): the mantissa carries into the exponent.
  assert.equal(halfBits(2 - 2 ** -11), 0x4000);
  assert.equal(halfBits(-(1 - 2 ** -12)), 0xbc00);
  // 65520 lies halfway between 65504 (0x7bff, the largest half) and 65536: rounds up, past the largest, to Infinity.
  assert.equal(halfBits(65520), 0x7c00);
  assert.equal(halfBits(-65520), 0xfc00);
  assert.equal(halfBits(65519), 0x7bff);
  assert.equal(halfValue(0xfc00), -Infinity);
  assert.equal(halfValue(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfValue(0x7e00)));
  assert.deepEqual(Array.from(fromFloat16(Uint16Array.of(0xfc00, 0x7c00, 0x3c00, 0x0001))), [-Infinity, Infinity, 1, 2 ** -24]);
});

for (const [path, on] of WIDENING_PATHS) test(`fromFloat16InPlace (${path}) widens halves stored in the upper half of its own array, every value intact`, { skip: on && !nativeLoaded && 'addon not built' }, () => {
  setNativeKernels(on);
  // Hand-decoded binary16 values: 1, −2, 65504 (largest), 2^-24 (smallest subnormal), 0x3555 = 1365/4096, −0, ∞.
  const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000, 0x7c00];
  const expected = [1, -2, 65504, 2 ** -24, 1365 / 4096, -0, Infinity];
  // Repeated so that a write lands on halves not yet read if the decode ran in the wrong order or from the wrong half.
  const count = bits.length * 9;
  const buffer = new ArrayBuffer(4 * count + 8);
  const out = new Float32Array(buffer, 8, count); // an offset view, as a tensor on the wasm heap is
  const halves = new Uint16Array(buffer, 8 + 2 * count, count);
  for (let i = 0; i < count; i++) halves[i] = bits[i % bits.length];
  fromFloat16InPlace(out);
  for (let i = 0; i < count; i++) assert.ok(Object.is(out[i], expected[i % bits.length]), `value ${i}: ${out[i]}`);
  assert.deepEqual(Array.from(new Uint8Array(buffer, 0, 8)), [0, 0, 0, 0, 0, 0, 0, 0], 'nothing written before the view');
  setNativeKernels(true);
});

for (const [path, on] of WIDENING_PATHS) test(`fromFloat16InPlace (${path}) gives every one of the 65,536 halves the value fromFloat16's definition gives, at any length`, { skip: on && !nativeLoaded && 'addon not built' }, () => {
  setNativeKernels(on);
  try {
    // Lengths around the compiled path's eight-at-a-time step, and all 65,536 halves (odd length, so a tail remains).
    for (const count of [1, 7, 8, 9, 17, 65537]) {
      const out = new Float32Array(count);
      const halves = new Uint16Array(out.buffer, 2 * count, count);
      for (let i = 0; i < count; i++) halves[i] = (i * 40503) & 0xffff; // a permutation of 0..65535 over 65,536 steps
      const want = fromFloat16(halves.slice());
      fromFloat16InPlace(out);
      for (let i = 0; i < count; i++) assert.ok(Object.is(out[i], want[i]), `length ${count}, value ${i} (0x${((i * 40503) & 0xffff).toString(16)}): ${out[i]} vs ${want[i]}`);
    }
  } finally {
    setNativeKernels(true);
  }
});

test('every one of the 65,536 half floats decodes to the value its sign, exponent and mantissa give', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, h) => h);
  const decoded = fromFloat16(all);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    const want = e === 0 ? sign * m * 2 ** -24 : e === 0x1f ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
    assert.ok(Object.is(decoded[h], want), `0x${h.toString(16)}: ${decoded[h]} vs ${want}`);
  }
});
