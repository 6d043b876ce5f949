/** One valid run file of this alocc's version, for tests to vary: run.json as training writes it, minus the epochs. */
import { BUILT_IN_PREPROCESSING, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, RunConfig, TrainConfig } from '../../src/config';
import { RUN_FILE_VERSION, RunFile } from '../../src/run/runfile';

/**
 * The default recipe without the rotation net (what `--preset recon-knn` trains): the runs and networks tests build by
 * hand record no rotation part, so they say so rather than carry a default that needs one.
 */
export const KNN_TRAIN_CONFIG: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, noveltyScore: 'knn', rotationPasses: 0 };

/** An MNIST digit-1 run with no epoch yet; `train` and `parts` replace what they name. */
export function runFileFixture(train: Partial<TrainConfig> = {}, parts: Partial<Omit<RunFile, 'config'>> & { config?: Partial<RunConfig> } = {}): RunFile {
  const { config, ...rest } = parts;
  return {
    format: 'alocc-run',
    version: RUN_FILE_VERSION,
    config: {
      data: { source: 'mnist', class: 1, folder: null },
      model: { ...DEFAULT_MODEL_CONFIG },
      preprocessing: { ...BUILT_IN_PREPROCESSING },
      train: { ...KNN_TRAIN_CONFIG, ...train },
      ...config,
    },
    backend: 'wasm',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:01:00.000Z',
    trainImages: 100,
    validationImages: 10,
    memoryImages: { count: 90, sha256: 'b'.repeat(64) },
    folder: null,
    epochs: [],
    batches: [],
    bestEpoch: null,
    ...rest,
  };
}
