/**
 * The rotation scores (config ROTATION_SCORES). GEOM's score (Golan & El-Yaniv 2018) with the four quarter turns:
 * −(1/4)·Σₖ log p(k | the picture turned by k), in the rotation net (src/models/rotation-net.ts) in inference mode. A
 * picture of the normal class has an orientation the net has learned, so it names each turn confidently; a novel one's
 * turns are guesses. The combined score puts the knn distance and the rotation score each on its validation scale
 * (mean and standard deviation over the validation pictures at that epoch) and sums them: neither dominates by units,
 * and both were measured to help (docs/research.md, "A rotation classifier beside R and D").
 */
import * as tf from '@tensorflow/tfjs';
import { quarterTurn, TURNS } from '../models/rotation-net';

/** Mean and standard deviation of a score over the validation pictures. */
export interface ScoreScale {
  mean: number;
  sd: number;
}

/** The validation scales the combined score standardises its two parts with. */
export interface RotationCombination {
  knn: ScoreScale;
  rotation: ScoreScale;
}

/** GEOM's rotation score of `count` pictures ([0, 1], HWC, concatenated) of side `size` and `channels`. */
export function rotationNovelty(net: tf.LayersModel, pixels: Float32Array, count: number, size: number, channels: number, batchSize = 256): Float32Array {
  const per = size * size * channels;
  const out = new Float32Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const score = tf.tidy(() => {
      const x = tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, size, size, channels]);
      let sum: tf.Tensor1D = tf.zeros([n]);
      for (let k = 0; k < TURNS; k++) {
        const logp = tf.logSoftmax(net.apply(quarterTurn(x, k), { training: false }) as tf.Tensor2D);
        sum = tf.add(sum, tf.squeeze(tf.slice(logp, [0, k], [n, 1]), [1]));
      }
      return tf.div(sum, -TURNS);
    });
    try {
      out.set(score.dataSync(), start);
    } finally {
      score.dispose();
    }
  }
  return out;
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

/** The combined score: (knn − its mean)/its sd + (rotation − its mean)/its sd, per picture. */
export function combinedNovelty(knn: ArrayLike<number>, rotation: ArrayLike<number>, scales: RotationCombination): Float32Array {
  const out = new Float32Array(knn.length);
  for (let i = 0; i < knn.length; i++) {
    out[i] = (knn[i] - scales.knn.mean) / scales.knn.sd + (rotation[i] - scales.rotation.mean) / scales.rotation.sd;
  }
  return out;
}

/** Share of the 4·count turned pictures whose turn the rotation net names right, in inference mode. */
export function rotationAccuracy(net: tf.LayersModel, pixels: Float32Array, count: number, size: number, channels: number, batchSize = 256): number {
  const per = size * size * channels;
  let right = 0;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const hits = tf.tidy(() => {
      const x = tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, size, size, channels]);
      let sum: tf.Scalar = tf.scalar(0);
      for (let k = 0; k < TURNS; k++) sum = tf.add(sum, tf.sum(tf.cast(tf.equal(tf.argMax(net.apply(quarterTurn(x, k), { training: false }) as tf.Tensor2D, 1), k), 'float32')));
      return sum;
    });
    right += hits.dataSync()[0];
    hits.dispose();
  }
  return right / Math.max(1, TURNS * count);
}
