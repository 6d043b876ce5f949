import * as tf from '@tensorflow/tfjs';
import { NoveltyScore } from './registry';
import { inkNormalisedError, klError, mseError, PairScore } from './pair-scores';
import { reconstructionLossPerImage } from '../train/losses';
import { FeatureMemory, memoryDistances } from './feature-memory';

/** The three per-image novelty signals alocc reports. */
export interface ImageScores {
  /** BCE between R(x) and x, mean over pixels: larger is more novel. The default score. */
  reconLoss: Float32Array;
  /** D(R(x)): D's belief that R's reconstruction is of the target class (the paper's score). */
  dOfR: Float32Array;
  /** D(x): D's belief that the image itself is of the target class. */
  dOfX: Float32Array;
  /** Every novelty score by name (bce is reconLoss). */
  novelty: Record<NoveltyScore, Float32Array>;
}

/** The scores computed on the CPU from x and R(x); bce comes from the same tensor op R trains on. */
const PAIR_SCORES: Record<Exclude<NoveltyScore, 'bce' | 'knn'>, PairScore> = { kl: klError, mse: mseError, ink: inkNormalisedError };

export interface ScoringNets {
  r: tf.LayersModel;
  d: tf.LayersModel;
  /** The run's training images in R's features, for the knn score; without it knn is NaN. */
  memory?: FeatureMemory;
}

/** Zeroed scores for `count` images (novelty.bce is reconLoss itself). */
export function emptyScores(count: number): ImageScores {
  const reconLoss = new Float32Array(count);
  return {
    reconLoss,
    dOfR: new Float32Array(count),
    dOfX: new Float32Array(count),
    novelty: { bce: reconLoss, kl: new Float32Array(count), mse: new Float32Array(count), ink: new Float32Array(count), knn: new Float32Array(count) },
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
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const [loss, dr, dx, rec, knn] = tf.tidy(() => {
      const x = tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, size, size, channels]);
      const y = nets.r.predict(x) as tf.Tensor4D;
      return [
        reconstructionLossPerImage(y, x),
        (nets.d.predict(y) as tf.Tensor).reshape([n]),
        (nets.d.predict(x) as tf.Tensor).reshape([n]),
        y,
        nets.memory ? memoryDistances(nets.memory, x) : tf.fill([n], NaN),
      ];
    });
    out.reconLoss.set(loss.dataSync(), start);
    out.dOfR.set(dr.dataSync(), start);
    out.dOfX.set(dx.dataSync(), start);
    out.novelty.knn.set(knn.dataSync(), start);
    const r = rec.dataSync() as Float32Array;
    if (reconstructions) reconstructions.set(r, start * per);
    for (let i = 0; i < n; i++) {
      const xi = pixels.subarray((start + i) * per, (start + i + 1) * per);
      const ri = r.subarray(i * per, (i + 1) * per);
      for (const [name, f] of Object.entries(PAIR_SCORES) as [keyof typeof PAIR_SCORES, PairScore][]) out.novelty[name][start + i] = f(xi, ri);
    }
    tf.dispose([loss, dr, dx, rec, knn]);
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
