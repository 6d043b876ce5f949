import assert from 'node:assert/strict';

/**
 * Deterministic values in [-1, 1) (a linear congruential sequence), so every backend sees the same numbers: `size`
 * of them, or as many as a tensor of shape `size` holds.
 */
export function values(size: number | number[], seed: number): Float32Array {
  const n = typeof size === 'number' ? size : size.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Max |actual − expected| within `tolerance` × max |expected|; a reference of all zeros tests nothing and fails. */
export function assertClose(actual: Float32Array, expected: Float32Array, what: string, tolerance = 1e-4) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(scale > 0, `${what}: reference is all zeros, the case tests nothing`);
  assert.ok(worst <= tolerance * scale, `${what}: max |difference| ${worst} exceeds ${tolerance} × max |reference| ${scale}`);
}

/** A convolution case for the kernels' tests: input and filter shapes (NHWC, HWIO), strides, padding. */
export interface ConvCase {
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}
