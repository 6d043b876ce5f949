/**
 * The rotation net: a small classifier of its own, trained beside R and D to tell which of the four quarter turns was
 * applied to a normal picture (RotNet/GEOM's self-supervised task). A picture is novel when the net cannot tell
 * (src/score/rotation-score.ts). Its shape is the one measured in docs/research.md ("A rotation classifier beside R and
 * D"): 4 × [3×3 conv 'same' → BatchNorm → LeakyReLU 0.2 → 2×2 max-pool] with f, 2f, 4f, 8f filters (f =
 * config.train.rotationFilters, 8 by default; the probe's 32 ranked no better), global mean,
 * Dense(4) logits; pictures larger than 32×32 are average-pooled to at most 32×32 first, which is what keeps its step
 * cheaper than R's and D's at 64×64. A head on R's or D's trunk measured at or below the untrained networks.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from '../config';
import { seededInit } from './layers';

/** Quarter turns the net tells apart: 0, 90, 180 and 270 degrees. */
export const TURNS = 4;
/** Largest side the convolutions see. */
const MAX_SIDE = 32;

/** The factor a picture of `size` is average-pooled by before the blocks: the smallest giving a side ≤ 32. */
export function rotationShrink(size: number): number {
  return Math.max(1, Math.ceil(size / MAX_SIDE));
}

/**
 * The rotation net for the run's pictures, `filters` in its first block (2×, 4×, 8× in the next); seeded, so one seed
 * gives one network (and the untrained control).
 */
export function buildRotationNet(cfg: ModelConfig, seed: number, filters = 8): tf.LayersModel {
  const { inputSize: s, channels } = cfg;
  const input = tf.input({ shape: [s, s, channels], name: 'rot_input' });
  let x: tf.SymbolicTensor = input;
  const shrink = rotationShrink(s);
  if (shrink > 1) x = tf.layers.averagePooling2d({ poolSize: shrink, strides: shrink, name: 'rot_shrink' }).apply(x) as tf.SymbolicTensor;
  [1, 2, 4, 8].forEach((times, i) => {
    x = tf.layers.conv2d({ filters: filters * times, kernelSize: 3, padding: 'same', name: `rot_conv${i}`, kernelInitializer: seededInit(seed, 200 + i) }).apply(x) as tf.SymbolicTensor;
    // Momentum 0.9 (PyTorch's 0.1): the net makes 40-400 steps in a run, too few for Keras' 0.99 to forget its start.
    x = tf.layers.batchNormalization({ momentum: 0.9, name: `rot_conv${i}_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.leakyReLU({ alpha: 0.2, name: `rot_conv${i}_lrelu` }).apply(x) as tf.SymbolicTensor;
    // 'same' so that 28 → 14 → 7 → 4 → 2 keeps every pixel; at a side of 1 the pool leaves it as it is.
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `rot_pool${i}` }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.globalAveragePooling2d({ name: 'rot_mean' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: TURNS, name: 'rot_logits', kernelInitializer: seededInit(seed, 210) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'rotation' });
}

/** `x` (NHWC) turned by `k` quarter turns anticlockwise, as numpy's rot90 over the picture's axes. */
export function quarterTurn(x: tf.Tensor4D, k: number): tf.Tensor4D {
  // One transpose and one reverse at most (three of each for k = 3 cost a tenth of a rotation step at 28×28): a
  // quarter turn anticlockwise reverses the transposed rows, a half turn both axes, three quarters the transposed
  // columns. Pure permutations, so the same values as turning k times.
  const turns = ((k % TURNS) + TURNS) % TURNS;
  return tf.tidy(() => {
    if (turns === 0) return tf.clone(x);
    if (turns === 2) return tf.reverse(x, [1, 2]);
    return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), turns === 1 ? 1 : 2);
  });
}

/** The batch [x turned 0; x turned 1; x turned 2; x turned 3] and each row's turn. */
export function allTurns(x: tf.Tensor4D): { turned: tf.Tensor4D; turns: tf.Tensor1D } {
  const [n, side, w, channels] = x.shape;
  if (side !== w || x.dtype !== 'float32') throw new Error(`allTurns: square float32 pictures only, got ${x.dtype} [${x.shape.join(', ')}]`);
  return turnedRows(x.dataSync() as Float32Array, [n, side, w, channels], Int32Array.from({ length: n }, (_, i) => i));
}

/**
 * allTurns of rows `rows` of the square pictures `pixels` (NHWC, `shape`), gathered and turned in one pass here:
 * on wasm the gather, three reverses, two transposes and the concat were a tenth of a rotation step at 28×28 (Reverse
 * alone about 0.8 ms a call on 32 pictures). A pure permutation, so the values are allTurns'(gather(x, rows)) exactly.
 */
export function turnedRows(pixels: Float32Array, shape: readonly number[], rows: ArrayLike<number>): { turned: tf.Tensor4D; turns: tf.Tensor1D } {
  const [, s, , c] = shape;
  const m = rows.length;
  const picture = s * s * c;
  const out = new Float32Array(TURNS * m * picture);
  let o = 0;
  for (let k = 0; k < TURNS; k++) {
    for (let r = 0; r < m; r++) {
      const base = rows[r] * picture;
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          // out[i][j] = x[i][j], x[j][s−1−i], x[s−1−i][s−1−j], x[s−1−j][i] for k = 0 … 3 (numpy's rot90).
          const [a, b] = k === 0 ? [i, j] : k === 1 ? [j, s - 1 - i] : k === 2 ? [s - 1 - i, s - 1 - j] : [s - 1 - j, i];
          const from = base + (a * s + b) * c;
          for (let ch = 0; ch < c; ch++) out[o++] = pixels[from + ch];
        }
      }
    }
  }
  const turns = new Int32Array(TURNS * m);
  for (let i = 0; i < turns.length; i++) turns[i] = Math.floor(i / m);
  return { turned: tf.tensor4d(out, [TURNS * m, s, s, c]), turns: tf.tensor1d(turns, 'int32') };
}
