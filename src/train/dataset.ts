import { RunConfig } from '../config';
import { gatherRows, loadMnistDigits, splitValidation } from '../data/mnist';
import { AloccError } from '../errors';
import { ImageSet } from './trainer';

/**
 * The target digit's MNIST training images, split (seeded) into training and held-out validation sets. Pure in the
 * config: eval rebuilds exactly the validation set a run was calibrated on.
 */
export function loadTrainingSplit(cfg: RunConfig): { train: ImageSet; validation: ImageSet } {
  const { digit, limit, validationFraction, seed } = cfg.train;
  const all = loadMnistDigits(digit, 'train');
  const count = limit > 0 ? Math.min(limit, all.count) : all.count;
  const { trainIdx, valIdx } = splitValidation(count, validationFraction, seed);
  if (trainIdx.length < 2 || valIdx.length < 1) {
    throw new AloccError(`--limit ${limit} leaves too few images to train and validate on; use at least 20`);
  }
  const per = cfg.model.inputSize * cfg.model.inputSize * cfg.model.channels;
  return {
    train: { pixels: gatherRows(all.images, per, trainIdx), count: trainIdx.length },
    validation: { pixels: gatherRows(all.images, per, valIdx), count: valIdx.length },
  };
}
