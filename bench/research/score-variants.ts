/**
 * Candidate novelty scores computed from an image x and R's reconstruction R(x), for choosing the default score
 * (docs/research.md). Plain loops over pixels in [0, 1]: every one is larger for more novel images.
 *
 * Why these exist: the BCE that R trains on is dominated by how much ink a digit has (BCE(R(x), x) ≥ H(x), the
 * pixels' own entropy), so a thin '1' scores "normal" under any R. KL, ink-normalised and binarised errors take that
 * floor away in different ways.
 */

import { inkNormalisedError, klError, mseError } from '../../src/score/pair-scores';

export { inkNormalisedError, klError, mseError };

/** Keras' epsilon, as in src/models/losses.ts: probabilities are clipped to [EPS, 1 - EPS] before the log. */
const EPS = 1e-7;

/** BCE(R(x), x), mean over pixels, in plain JS (the product computes it as a tensor: reconstructionLossPerImage). */
export function bceError(x: Float32Array, r: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const q = Math.min(1 - EPS, Math.max(EPS, r[i]));
    s -= x[i] * Math.log(q) + (1 - x[i]) * Math.log(1 - q);
  }
  return s / x.length;
}

/** Scores one image: x and r are its `side × side` pixels and their reconstruction. */
export type PairScore = (x: Float32Array, r: Float32Array, side: number) => number;

function clip(p: number): number {
  return p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
}

/** Mean absolute error over pixels. */
export const l1Error: PairScore = (x, r) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(r[i] - x[i]);
  return s / x.length;
};

/** Share of pixels on the wrong side of 0.5 after binarising both images. */
export const binarisedError: PairScore = (x, r) => {
  let wrong = 0;
  for (let i = 0; i < x.length; i++) if (x[i] > 0.5 !== r[i] > 0.5) wrong++;
  return wrong / x.length;
};

/** Pixels that differ after binarising, over the pixels inked in x or R(x) (1 − IoU of the two strokes). */
export const strokeMismatch: PairScore = (x, r) => {
  let union = 0, wrong = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i] > 0.5, b = r[i] > 0.5;
    if (a || b) union++;
    if (a !== b) wrong++;
  }
  return union > 0 ? wrong / union : 0;
};

/**
 * Largest mean squared error over any `window × window` patch (stride 1): a novel digit's error concentrates where
 * its stroke differs, which a mean over the whole image dilutes.
 */
export function localMaxError(window: number): PairScore {
  return (x, r, side) => {
    // Summed-area table of the squared error, so each window costs four look-ups.
    const w = side + 1;
    const table = new Float64Array(w * w);
    for (let y = 0; y < side; y++) {
      let row = 0;
      for (let c = 0; c < side; c++) {
        row += (r[y * side + c] - x[y * side + c]) ** 2;
        table[(y + 1) * w + c + 1] = table[y * w + c + 1] + row;
      }
    }
    const k = Math.min(window, side);
    let best = 0;
    for (let y = 0; y + k <= side; y++) {
      for (let c = 0; c + k <= side; c++) {
        const sum = table[(y + k) * w + c + k] - table[y * w + c + k] - table[(y + k) * w + c] + table[y * w + c];
        if (sum > best) best = sum;
      }
    }
    return best / (k * k);
  };
}

export interface ScoreVariant {
  name: string;
  label: string;
  description: string;
  score: PairScore;
}

export const SCORE_VARIANTS: ScoreVariant[] = [
  { name: 'bce', label: 'BCE', description: 'BCE(R(x), x), mean over pixels (current default)', score: bceError },
  { name: 'kl', label: 'KL', description: 'BCE(R(x), x) − H(x): zero for a perfect reconstruction', score: klError },
  { name: 'mse', label: 'MSE', description: 'mean squared error', score: mseError },
  { name: 'l1', label: 'L1', description: 'mean absolute error', score: l1Error },
  { name: 'inkNorm', label: 'MSE/ink', description: '‖R(x) − x‖² / ‖x‖²', score: inkNormalisedError },
  { name: 'binary', label: 'binary', description: 'share of pixels whose side of 0.5 differs', score: binarisedError },
  { name: 'stroke', label: '1−IoU', description: 'binarised mismatch over the union of the strokes', score: strokeMismatch },
  { name: 'local4', label: 'max 4×4', description: 'largest mean squared error over 4×4 patches', score: localMaxError(4) },
  { name: 'local7', label: 'max 7×7', description: 'largest mean squared error over 7×7 patches', score: localMaxError(7) },
];

/** Every variant over `count` images (concatenated `side × side` pixels and their reconstructions), by name. */
export function scoreVariants(
  inputs: Float32Array, reconstructions: Float32Array, count: number, side = 28, variants: ScoreVariant[] = SCORE_VARIANTS,
): Record<string, Float64Array> {
  const per = side * side;
  if (inputs.length < count * per || reconstructions.length < count * per) {
    throw new RangeError(`scoreVariants: need ${count * per} pixels, got ${inputs.length} inputs and ${reconstructions.length} reconstructions`);
  }
  const out: Record<string, Float64Array> = {};
  for (const v of variants) out[v.name] = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const x = inputs.subarray(i * per, (i + 1) * per);
    const r = reconstructions.subarray(i * per, (i + 1) * per);
    for (const v of variants) out[v.name][i] = v.score(x, r, side);
  }
  return out;
}
