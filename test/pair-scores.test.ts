import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { inkNormalisedError, klError, mseError } from '../src/score/pair-scores';
import { reconstructionLossPerImage } from '../src/models/losses';

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

/** The reconstruction loss alocc computes (the tensor BCE R trains on), for one 28×28 image. */
function bceError(x: Float32Array, r: Float32Array): number {
  return tf.tidy(() => reconstructionLossPerImage(tf.tensor4d(r, [1, SIDE, SIDE, 1]), tf.tensor4d(x, [1, SIDE, SIDE, 1])).dataSync()[0]);
}

/** Mean pixel entropy, written out by hand: the floor of BCE for a perfect reconstruction. */
function entropy(x: Float32Array): number {
  let h = 0;
  for (const p of x) if (p > 0 && p < 1) h -= p * Math.log(p) + (1 - p) * Math.log(1 - p);
  return h / x.length;
}

test('a perfect reconstruction scores 0 on every error score except BCE, whatever the ink', () => {
  for (const img of [bar(2), bar(10)]) {
    for (const [name, score] of Object.entries({ kl: klError, mse: mseError, ink: inkNormalisedError })) {
      assert.ok(Math.abs(score(img, img)) < 1e-9, `${name} of a perfect reconstruction is ${score(img, img)}`);
    }
  }
});

test('BCE of a perfect reconstruction is the image entropy, so it grows with the grey ink; KL does not', () => {
  const thin = bar(2), thick = bar(10);
  assert.ok(Math.abs(bceError(thin, thin) - entropy(thin)) < 1e-5);
  // More soft-edged rows → more entropy → a higher BCE floor for a perfectly reconstructed image.
  const grey = thick.map((p) => (p === 1 ? 0.7 : p));
  assert.ok(bceError(grey, grey) > bceError(thin, thin) * 2);
  assert.equal(klError(grey, grey), 0);
});

test('KL equals the reconstruction loss minus the image entropy and is positive for a wrong reconstruction', () => {
  const x = bar(4);
  const r = x.map((p, i) => 0.1 + 0.8 * p + (i % 7 === 0 ? 0.05 : 0));
  const kl = klError(x, r);
  assert.ok(kl > 0);
  assert.ok(Math.abs(kl - (bceError(x, r) - entropy(x))) < 1e-5);
});

test('MSE and the ink-normalised error count what they say', () => {
  const x = new Float32Array(PER);
  const r = new Float32Array(PER);
  x.fill(1, 0, 10); // 10 inked pixels
  r.fill(1, 5, 15); // 5 shared, 5 missing, 5 extra
  assert.equal(mseError(x, r), 10 / PER);
  assert.equal(inkNormalisedError(x, r), 10 / 10);
});

test('ink-normalised error rates the same pixel error worse on a thin digit than on a heavy one', () => {
  const thin = bar(2), thick = bar(10);
  // The same three stroke pixels (inked in both bars) missing from the reconstruction.
  const miss = (img: Float32Array) => img.map((p, i) => (i === 10 * SIDE + 14 || i === 11 * SIDE + 14 || i === 12 * SIDE + 14 ? 0 : p));
  assert.equal(mseError(thin, miss(thin)), mseError(thick, miss(thick)));
  assert.ok(inkNormalisedError(thin, miss(thin)) > 3 * inkNormalisedError(thick, miss(thick)));
});
