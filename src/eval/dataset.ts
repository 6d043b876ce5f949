import { loadMnist } from '../data/mnist';
import { loadTrainingSplit } from '../train/dataset';
import { RunFile } from '../run/runfile';
import { ReferenceImages } from './scores';

/** One MNIST split as src/data/mnist.ts's loadMnist returns it. */
export interface MnistSplit {
  /** count × 784 pixels in [0, 1], row-major. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export type MnistLoader = (split: 'train' | 'test') => MnistSplit | Promise<MnistSplit>;

/** The MNIST loader eval uses unless a test passes its own. */
export const defaultMnistLoader: MnistLoader = loadMnist;

/** The first `limit` images of a split (all when limit is 0 or undefined). */
export function firstImages(set: MnistSplit, limit: number | undefined, side = 28): MnistSplit {
  if (!limit || limit >= set.count) return set;
  const per = side * side;
  return { images: set.images.subarray(0, limit * per), labels: set.labels.subarray(0, limit), count: limit };
}

/**
 * The run's own held-out validation images (at most `max`, the first ones): the images its threshold was calibrated
 * on. R never trained on them and no test image is involved, so combined scores normalised on them stay honest.
 */
export function validationReference(run: RunFile, max: number): ReferenceImages | undefined {
  if (max <= 0) return undefined;
  const { validation } = loadTrainingSplit(run.config);
  const count = Math.min(max, validation.count);
  const per = run.config.model.inputSize ** 2;
  return {
    images: validation.pixels.subarray(0, count * per),
    count,
    source: `the run's ${count} held-out validation images of digit ${run.config.train.digit} (not trained on; no test images)`,
  };
}
