import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bceError, binarisedError, inkNormalisedError, klError, l1Error, localMaxError, mseError, scoreVariants, SCORE_VARIANTS,
  strokeMismatch,
} from '../src/eval/score-variants';

const SIDE = 28;
const PER = SIDE * SIDE;

/** A vertical bar `width` pixels wide with soft grey edges: a thin '1' (width 2) or a heavy stroke (width 10). */
function bar(width: number): Float32Array {
  const img = new Float32Array(PER);
  for (let y = 4; y < 24; y++) {
    for (let c = 14 - width / 2; c < 14 + width / 2; c++) img[y * SIDE + c] = 1;
    img[y * SIDE + 13 - width / 2] = 0.4;
    img[y * SIDE + 14 + width / 2] = 0.4;
  }
  return img;
}

function entropy(x: Float32Array): number {
  let h = 0;
  for (const p of x) if (p > 0 && p < 1) h -= p * Math.log(p) + (1 - p) * Math.log(1 - p);
  return h / x.length;
}

test('a perfect reconstruction scores 0 on every error score except BCE, whatever the ink', () => {
  for (const img of [bar(2), bar(10)]) {
    for (const v of SCORE_VARIANTS) {
      if (v.name === 'bce') continue;
      assert.ok(Math.abs(v.score(img, img, SIDE)) < 1e-9, `${v.name} of a perfect reconstruction is ${v.score(img, img, SIDE)}`);
    }
  }
});

test('BCE of a perfect reconstruction is the image entropy, so it grows with the grey ink; KL does not', () => {
  const thin = bar(2), thick = bar(10);
  assert.ok(Math.abs(bceError(thin, thin, SIDE) - entropy(thin)) < 1e-5);
  // More soft-edged rows → more entropy → a higher BCE floor for a perfectly reconstructed image.
  const grey = thick.map((p) => (p === 1 ? 0.7 : p));
  assert.ok(bceError(grey, grey, SIDE) > bceError(thin, thin, SIDE) * 2);
  assert.equal(klError(grey, grey, SIDE), 0);
});

test('KL equals BCE minus the image entropy and is positive for a wrong reconstruction', () => {
  const x = bar(4);
  const r = x.map((p, i) => 0.1 + 0.8 * p + (i % 7 === 0 ? 0.05 : 0));
  const kl = klError(x, r, SIDE);
  assert.ok(kl > 0);
  assert.ok(Math.abs(kl - (bceError(x, r, SIDE) - entropy(x))) < 1e-5);
});

test('MSE, L1, binarised and stroke mismatch count what they say', () => {
  const x = new Float32Array(PER);
  const r = new Float32Array(PER);
  x.fill(1, 0, 10); // 10 inked pixels
  r.fill(1, 5, 15); // 5 shared, 5 missing, 5 extra
  assert.equal(mseError(x, r, SIDE), 10 / PER);
  assert.equal(l1Error(x, r, SIDE), 10 / PER);
  assert.equal(binarisedError(x, r, SIDE), 10 / PER);
  assert.equal(strokeMismatch(x, r, SIDE), 10 / 15);
  assert.equal(inkNormalisedError(x, r, SIDE), 10 / 10);
});

test('ink-normalised error rates the same pixel error worse on a thin digit than on a heavy one', () => {
  const thin = bar(2), thick = bar(10);
  // The same three stroke pixels (inked in both bars) missing from the reconstruction.
  const miss = (img: Float32Array) => img.map((p, i) => (i === 10 * SIDE + 14 || i === 11 * SIDE + 14 || i === 12 * SIDE + 14 ? 0 : p));
  assert.equal(mseError(thin, miss(thin), SIDE), mseError(thick, miss(thick), SIDE));
  assert.ok(inkNormalisedError(thin, miss(thin), SIDE) > 3 * inkNormalisedError(thick, miss(thick), SIDE));
});

test('local max error finds concentrated error that the whole-image mean dilutes', () => {
  const x = new Float32Array(PER);
  const spread = new Float32Array(PER);
  const blob = new Float32Array(PER);
  for (let k = 0; k < 16; k++) spread[(k * 7 % SIDE) * SIDE + ((k * 11) % SIDE)] = 1; // 16 scattered pixels
  for (let y = 0; y < 4; y++) for (let c = 0; c < 4; c++) blob[(10 + y) * SIDE + 10 + c] = 1; // one 4×4 block
  assert.equal(mseError(x, spread, SIDE), mseError(x, blob, SIDE));
  assert.equal(localMaxError(4)(x, blob, SIDE), 1);
  assert.ok(localMaxError(4)(x, spread, SIDE) <= 2 / 16);
});

test('scoreVariants scores each image separately and refuses short inputs', () => {
  const a = bar(2), b = bar(10);
  const inputs = new Float32Array(2 * PER);
  inputs.set(a, 0);
  inputs.set(b, PER);
  const recons = new Float32Array(2 * PER);
  recons.set(a, 0); // image 0 perfect, image 1 reconstructed as blank
  const out = scoreVariants(inputs, recons, 2, SIDE);
  assert.deepEqual(Object.keys(out), SCORE_VARIANTS.map((v) => v.name));
  assert.equal(out.mse[0], 0);
  assert.equal(out.mse[1], mseError(b, new Float32Array(PER), SIDE));
  assert.throws(() => scoreVariants(inputs, recons, 3, SIDE), RangeError);
});
