import { AloccError, firstLine } from '../errors';
import { sampleWithoutReplacement, seededRandom } from './protocol';
import { ReferenceImages } from './scores';

/** One MNIST split as src/data/mnist.ts's loadMnist returns it. */
export interface MnistSplit {
  /** count × 784 pixels in [0, 1], row-major. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export type MnistLoader = (split: 'train' | 'test') => MnistSplit | Promise<MnistSplit>;

/**
 * src/data/mnist.ts's loadMnist, required when first used: that module comes from another branch, and the eval
 * command takes any loader of the same shape (tests pass their own).
 */
export const defaultMnistLoader: MnistLoader = (split) => {
  let mod: { loadMnist: MnistLoader };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../data/mnist');
  } catch (err) {
    throw new AloccError(`the MNIST loader (src/data/mnist) is not available: ${firstLine(err)}`);
  }
  return mod.loadMnist(split);
};

/** The first `limit` images of a split (all when limit is 0 or undefined). */
export function firstImages(set: MnistSplit, limit: number | undefined, side = 28): MnistSplit {
  if (!limit || limit >= set.count) return set;
  const per = side * side;
  return { images: set.images.subarray(0, limit * per), labels: set.labels.subarray(0, limit), count: limit };
}

/**
 * Up to `max` training-split images of `digit`, drawn with `seed`, to normalise the combined scores. Training labels
 * only pick the digit; no test image is involved. Some of these images may be ones R was trained on, which the source
 * line says.
 */
export function trainingReference(train: MnistSplit, digit: number, max: number, seed: number, side = 28): ReferenceImages | undefined {
  if (max <= 0) return undefined;
  const ofDigit: number[] = [];
  for (let i = 0; i < train.count; i++) if (train.labels[i] === digit) ofDigit.push(i);
  if (ofDigit.length === 0) return undefined;
  const picked = sampleWithoutReplacement(ofDigit, max, seededRandom(seed ^ 0x5eed)).sort();
  const per = side * side;
  const images = new Float32Array(picked.length * per);
  picked.forEach((img, k) => images.set(train.images.subarray(img * per, (img + 1) * per), k * per));
  return {
    images,
    count: picked.length,
    source: `MNIST training-split images of digit ${digit} (drawn with seed ${seed}; some may be images R trained on; no test images)`,
  };
}
