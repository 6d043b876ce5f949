import { TrainConfig } from '../config';
import { splitValidation } from '../data/mnist';
import { ImageSet, pickRows } from '../data/source';
import { AloccError } from '../errors';

/**
 * The normal images a run trains on, split (seeded) into training and held-out validation sets after `limit` keeps
 * the first N. Pure in its inputs: the same images and settings give the same split.
 */
export function splitTraining(all: ImageSet, train: Pick<TrainConfig, 'limit' | 'validationFraction' | 'seed' | 'batchSize'>): { train: ImageSet; validation: ImageSet } {
  const { limit, validationFraction, seed } = train;
  const count = limit > 0 ? Math.min(limit, all.count) : all.count;
  const { trainIdx, valIdx } = splitValidation(count, validationFraction, seed);
  if (trainIdx.length < 2 || valIdx.length < 1) {
    throw new AloccError(
      `${count} normal image(s) leave too few to train and validate on; give at least 20` + (limit > 0 ? ` (--limit is ${limit})` : ''),
    );
  }
  return { train: pickRows(all, trainIdx), validation: pickRows(all, valIdx) };
}
