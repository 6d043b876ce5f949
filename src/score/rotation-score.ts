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
  return rotationPass(net, pixels, count, size, channels, batchSize, true).novelty!;
}

/** Share of the 4·count turned pictures whose turn the rotation net names right, in inference mode. */
export function rotationAccuracy(net: tf.LayersModel, pixels: Float32Array, count: number, size: number, channels: number, batchSize = 256): number {
  return rotationPass(net, pixels, count, size, channels, batchSize, false).accuracy;
}

/**
 * Both from one pass of the net over the four turns: the trainer wants the validation pictures' scores and the
 * net's accuracy on them every epoch, and ran the net over them twice for it.
 */
export function rotationNoveltyAndAccuracy(net: tf.LayersModel, pixels: Float32Array, count: number, size: number, channels: number, batchSize = 256): { novelty: Float32Array; accuracy: number } {
  const { novelty, accuracy } = rotationPass(net, pixels, count, size, channels, batchSize, true);
  return { novelty: novelty!, accuracy };
}

/** The scores (with `scores`) and the accuracy of one pass, each from the same logits as on its own. */
function rotationPass(
  net: tf.LayersModel, pixels: Float32Array, count: number, size: number, channels: number, batchSize: number, scores: boolean,
): { novelty?: Float32Array; accuracy: number } {
  const per = size * size * channels;
  const novelty = scores ? new Float32Array(count) : undefined;
  let right = 0;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const [score, hits] = tf.tidy(() => {
      const x = tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, size, size, channels]);
      let sum: tf.Tensor1D = tf.zeros([n]);
      let hit: tf.Scalar = tf.scalar(0);
      for (let k = 0; k < TURNS; k++) {
        const logits = net.apply(quarterTurn(x, k), { training: false }) as tf.Tensor2D;
        if (scores) sum = tf.add(sum, tf.squeeze(tf.slice(tf.logSoftmax(logits), [0, k], [n, 1]), [1]));
        hit = tf.add(hit, tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), k), 'float32')));
      }
      return [tf.div(sum, -TURNS), hit];
    });
    try {
      novelty?.set(score.dataSync(), start);
      right += hits.dataSync()[0];
    } finally {
      tf.dispose([score, hits]);
    }
  }
  return { novelty, accuracy: right / Math.max(1, TURNS * count) };
}
