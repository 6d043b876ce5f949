/**
 * knnRotation's combination, without TensorFlow.js (rotation-score.ts, which needs tfjs for the rotation net, re-exports
 * it): the knn distance and the rotation score each on its validation scale, summed, the rotation part capped (a
 * picture the rotation net cannot turn is as novel as it gets from that part: the knn distance carries the far tail;
 * docs/research.md, "Capping the rotation part"). The compiled engine
 * (src/api/compiled-engine.ts) combines with it as the TensorFlow.js engine does.
 */

/** Mean and standard deviation of a score over the validation pictures. */
export interface ScoreScale {
  mean: number;
  sd: number;
}

/** The validation scales the combined score standardises its two parts with, and the rotation part's cap. */
export interface RotationCombination {
  knn: ScoreScale;
  rotation: ScoreScale;
  /** The most the standardised rotation part adds (TrainConfig.rotationCap); null: no cap (runs of file version 8). */
  rotationCap: number | null;
}

/** Mean and (population) standard deviation of `values`; the sd is never 0, so a standardised score stays finite. */
export function scaleOf(values: ArrayLike<number>): ScoreScale {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / Math.max(1, values.length);
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  return { mean, sd: Math.max(Math.sqrt(sq / Math.max(1, values.length)), 1e-12) };
}

/** The combined score: (knn − its mean)/its sd + min((rotation − its mean)/its sd, cap), per picture. */
export function combinedNovelty(knn: ArrayLike<number>, rotation: ArrayLike<number>, scales: RotationCombination): Float32Array {
  const out = new Float32Array(knn.length);
  const cap = scales.rotationCap ?? Infinity;
  for (let i = 0; i < knn.length; i++) {
    out[i] = (knn[i] - scales.knn.mean) / scales.knn.sd + Math.min((rotation[i] - scales.rotation.mean) / scales.rotation.sd, cap);
  }
  return out;
}
