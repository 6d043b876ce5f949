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

export { combinedNovelty, scaleOf } from './combined-score';
export type { RotationCombination, ScoreScale } from './combined-score';

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
