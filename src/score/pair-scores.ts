/**
 * Novelty scores computed from an image x and R's reconstruction R(x) (pixels in [0, 1], any shape, concatenated
 * channels): every one is larger for more novel images. The BCE that R trains on is dominated by how much ink an image
 * has (BCE(R(x), x) ≥ H(x), the pixels' own entropy), so a thin '1' scores "normal" under any R; KL and the
 * ink-normalised error take that floor away (BCE itself is src/models/losses.ts'
 * reconstructionLossPerImage). Losing candidates live in bench/research/score-variants.ts.
 */

/** Keras' epsilon, as in src/models/losses.ts: probabilities are clipped to [EPS, 1 - EPS] before the log. */
const EPS = 1e-7;

/** Scores one image: x and r are its pixels and their reconstruction. */
export type PairScore = (x: Float32Array, r: Float32Array) => number;

function clip(p: number): number {
  return p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
}

/**
 * BCE(R(x), x) − H(x) = KL(x ‖ R(x)) per pixel, mean over pixels: 0 for a perfect reconstruction whatever the ink.
 * The target is clipped like the reconstruction so that R(x) = x gives exactly 0.
 */
export const klError: PairScore = (x, r) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const p = clip(x[i]);
    const q = clip(r[i]);
    s += p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));
  }
  return s / x.length;
};

/** Mean squared error over pixels. */
export const mseError: PairScore = (x, r) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (r[i] - x[i]) ** 2;
  return s / x.length;
};

/** ‖R(x) − x‖² / ‖x‖²: the share of the image's own energy R gets wrong. A blank image (‖x‖ = 0) scores its ‖R(x)‖². */
export const inkNormalisedError: PairScore = (x, r) => {
  let err = 0, ink = 0;
  for (let i = 0; i < x.length; i++) {
    err += (r[i] - x[i]) ** 2;
    ink += x[i] * x[i];
  }
  return ink > 0 ? err / ink : err;
};
