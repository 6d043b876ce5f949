import * as tf from '@tensorflow/tfjs';
import { NoveltyScore } from '../config';
import { inkNormalisedError, klError, mseError, PairScore } from './pair-scores';
import { reconstructionLossPerImage } from '../models/losses';
import { denseFirstBlockFeatures, featureDistances, FeatureMemory, firstBlockCells, FoldedFirstBlock, rFeatureSpace, valuesInPlace } from './feature-memory';
import { MEMORY_CONV } from './nearest';
import { InferenceNet, inferenceNet } from './inference';
import { combinedNovelty, RotationCombination, rotationNovelty } from './rotation-score';

/** Every per-image score alocc computes with R and D (RATED_SCORES names them): the five novelty scores and D's two. */
export interface ImageScores {
  /** BCE between R(x) and x, mean over pixels: larger is more novel (the 'bce' score). */
  reconLoss: Float32Array;
  /** D(R(x)): D's belief that R's reconstruction is of the target class (the paper's score). */
  dOfR: Float32Array;
  /** D(x): D's belief that the image itself is of the target class. */
  dOfX: Float32Array;
  /** Every novelty score by name (bce is reconLoss). */
  novelty: Record<NoveltyScore, Float32Array>;
}

/** The scores computed on the CPU from x and R(x); bce comes from the same tensor op R trains on. */
const PAIR_SCORES: Record<'kl' | 'mse' | 'ink', PairScore> = { kl: klError, mse: mseError, ink: inkNormalisedError };

export interface ScoringNets {
  r: tf.LayersModel;
  d: tf.LayersModel;
  /** The run's training images in R's features, for the knn score; without it knn is NaN. */
  memory?: FeatureMemory;
  /** R and D folded for inference (inference.ts), made once by whoever owns the weights; else made per call. */
  inference?: ScoringInference;
  /** The rotation net, for the rotation score; without it rotation and knnRotation are NaN. */
  rotationNet?: tf.LayersModel;
  /** The validation scales of knnRotation; without them knnRotation is NaN. */
  combination?: RotationCombination;
}

/** R and D as inference steps, for scoreImages. */
export interface ScoringInference {
  r: InferenceNet;
  d: InferenceNet;
}

/** R's first block as the folded network holds it (BatchNorm folded in, LeakyReLU fused): the knn features' weights. */
export function firstBlock(r: InferenceNet): FoldedFirstBlock {
  const step = r.steps[r.layers.findIndex((names) => names.includes(MEMORY_CONV))];
  if (step?.kind !== 'conv' || step.activation !== 'leakyrelu') throw new Error(`firstBlock: ${MEMORY_CONV} is not a conv with a fused LeakyReLU in the folded R`);
  return { filter: step.filter, bias: step.bias, alpha: step.alpha };
}

/** R and D folded for inference, with their weights as they are now; dispose them with disposeScoringInference. */
export function scoringInference(r: tf.LayersModel, d: tf.LayersModel): ScoringInference {
  const rNet = inferenceNet(r);
  try {
    return { r: rNet, d: inferenceNet(d) };
  } catch (err) {
    rNet.dispose();
    throw err;
  }
}

export function disposeScoringInference(nets: ScoringInference | undefined): void {
  nets?.r.dispose();
  nets?.d.dispose();
}

/** Zeroed scores for `count` images (novelty.bce is reconLoss itself). */
export function emptyScores(count: number): ImageScores {
  const reconLoss = new Float32Array(count);
  return {
    reconLoss,
    dOfR: new Float32Array(count),
    dOfX: new Float32Array(count),
    novelty: {
      bce: reconLoss,
      kl: new Float32Array(count),
      mse: new Float32Array(count),
      ink: new Float32Array(count),
      knn: new Float32Array(count),
      rotation: new Float32Array(count).fill(NaN),
      knnRotation: new Float32Array(count).fill(NaN),
    },
  };
}

/** Side and channels of the images a run's networks take. */
export interface ImageShape {
  size: number;
  channels: number;
}

/**
 * Scores `count` images of `shape` ([0, 1], HWC, concatenated) in batches, both networks in inference mode.
 * Optionally returns the reconstructions (for example grids).
 */
export function scoreImages(
  nets: ScoringNets,
  pixels: Float32Array,
  count: number,
  shape: ImageShape,
  batchSize = 256,
  reconstructions?: Float32Array,
): ImageScores {
  const { size, channels } = shape;
  const per = size * size * channels;
  const out = emptyScores(count);
  const inference = nets.inference ?? scoringInference(nets.r, nets.d);
  // The knn features come from R's folded first block when the memory is in R's feature space (always, for a run's R).
  const memory = nets.memory;
  const cells = memory && firstBlockCells(memory.features);
  const sharedFeatures = cells !== undefined && memory!.features === rFeatureSpace(nets.r, cells);
  try {
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const batch = pixels.subarray(start * per, (start + n) * per);
      out.novelty.knn.set(memory ? knnNovelty(memory, batch, n, shape, sharedFeatures ? firstBlock(inference.r) : undefined) : new Float32Array(n).fill(NaN), start);
      const [loss, d, rec] = tf.tidy(() => {
        const x = tf.tensor4d(batch, [n, size, size, channels]);
        const { output: y } = inference.r.run(x);
        // D is per image in inference mode, so one pass over [x; R(x)] gives D(x) and D(R(x)).
        const dBoth = inference.d.run(tf.concat([x, y])).output.reshape([2 * n]);
        return [reconstructionLossPerImage(y as tf.Tensor4D, x), dBoth, y];
      });
      try {
        out.reconLoss.set(loss.dataSync(), start);
        const dv = d.dataSync();
        out.dOfX.set(dv.subarray(0, n), start);
        out.dOfR.set(dv.subarray(n), start);
        // Read last, where it lies: nothing is allocated on the backend until it is used.
        const r = valuesInPlace(rec);
        if (reconstructions) reconstructions.set(r.subarray(0, n * per), start * per);
        for (let i = 0; i < n; i++) {
          const xi = pixels.subarray((start + i) * per, (start + i + 1) * per);
          const ri = r.subarray(i * per, (i + 1) * per);
          for (const [name, f] of Object.entries(PAIR_SCORES) as [keyof typeof PAIR_SCORES, PairScore][]) out.novelty[name][start + i] = f(xi, ri);
        }
      } finally {
        tf.dispose([loss, d, rec]);
      }
    }
  } finally {
    if (!nets.inference) disposeScoringInference(inference);
  }
  if (nets.rotationNet) out.novelty.rotation = rotationNovelty(nets.rotationNet, pixels, count, size, channels, batchSize);
  if (nets.rotationNet && nets.combination) out.novelty.knnRotation = combinedNovelty(out.novelty.knn, out.novelty.rotation, nets.combination);
  return out;
}

/**
 * The knn score of `count` images of `shape`: their mean distance to the k nearest memory images, the one knn path of
 * TensorFlow.js scoring (scoreImages takes it too). With `block`, R's folded first block (the memory must be in R's
 * feature space): the features without the rest of R or D, a fifth of scoreImages' arithmetic at 28×28; without it,
 * the memory's own feature space.
 */
export function knnNovelty(memory: FeatureMemory, pixels: Float32Array, count: number, shape: ImageShape, block?: FoldedFirstBlock, batchSize = 256): Float32Array {
  const cells = firstBlockCells(memory.features);
  if (block && !cells) throw new Error('knnNovelty: the memory is not in R\'s feature space');
  const features = (x: tf.Tensor4D) => (block ? denseFirstBlockFeatures(x, block, cells!) : memory.features(x));
  const { size, channels } = shape;
  const per = size * size * channels;
  const out = new Float32Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const q = tf.tidy(() => features(tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, size, size, channels])));
    try {
      out.set(featureDistances(memory, q), start);
    } finally {
      q.dispose();
    }
  }
  return out;
}

/** Value at percentile p (0-100) of `values`, linear interpolation between order statistics (numpy's default). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
