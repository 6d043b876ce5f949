/**
 * What the rotation net sees of a training picture (TrainConfig.rotationAugment): with 'flip-shift', each picture
 * mirrored left-right with probability ½ and shifted by up to an eighth of its side each way (the border reflected
 * in), before its four turns. Neither changes which way up a picture is, so the label stays true, and the net cannot
 * learn a few hundred pictures' turns by heart from their exact pixels.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../data/random';

/** Largest shift, in pixels, for pictures of side `size`. */
export function maxShift(size: number): number {
  return Math.floor(size / 8);
}

/** `x` ([n, s, s, c]) with each picture flipped and shifted as `rng` draws; a new tensor. */
export function flipShift(x: tf.Tensor4D, rng: Rng): tf.Tensor4D {
  const [n, s, , c] = x.shape;
  const m = maxShift(s);
  const flips: boolean[] = [];
  const boxes: number[] = [];
  for (let i = 0; i < n; i++) {
    flips.push(rng() < 0.5);
    const dy = Math.floor(rng() * (2 * m + 1));
    const dx = Math.floor(rng() * (2 * m + 1));
    // The crop of rows dy … dy + s − 1 of the padded picture (side s + 2m), as crop-and-resize's normalised box: with
    // corners on pixel centres and s samples, every sample falls on a pixel, so the crop is exact.
    const last = s + 2 * m - 1;
    boxes.push(dy / last, dx / last, (dy + s - 1) / last, (dx + s - 1) / last);
  }
  return tf.tidy(() => {
    const mirrored = tf.where(tf.tensor4d(flips.map(Number), [n, 1, 1, 1]).cast('bool').tile([1, s, s, c]), tf.reverse(x, 2), x);
    if (m === 0) return mirrored as tf.Tensor4D;
    const padded = tf.mirrorPad(mirrored, [[0, 0], [m, m], [m, m], [0, 0]], 'reflect');
    return tf.image.cropAndResize(padded, tf.tensor2d(boxes, [n, 4]), tf.range(0, n, 1, 'int32') as tf.Tensor1D, [s, s], 'bilinear');
  });
}
