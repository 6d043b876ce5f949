import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, ModelConfig, NOVELTY_SCORES, NoveltyScore, RunConfig } from '../../src/config';
import { percentile, scoreImages } from '../../src/score/scorer';
import { createNets, runDirFor, saveEpochCheckpoint } from '../../src/run/checkpoint';
import { EpochRecord, RunFile } from '../../src/run/runfile';
import { writeRunFile } from '../../src/run/runfile-io';
import { buildFeatureMemory, disposeFeatureMemory } from '../../src/score/feature-memory';
import { loadTrainingSplit } from '../../src/train/dataset';

/** Narrow nets: the pure-JS cpu backend scores them many times faster than the default width; enough for field tests. */
/** Training images of the digit a fake run splits into training and validation (90 % / 10 %). */
export const FAKE_RUN_IMAGES = 400;

export const SMALL_MODEL: Partial<ModelConfig> = { dfDim: 2, gfDim: 2 };

/**
 * An untrained run of `digit` with `epochs` checkpoints, as the trainer would leave it: the run's split of its first
 * FAKE_RUN_IMAGES training images of the digit, the threshold the 95th percentile of the run's novelty score over its
 * validation images (the knn score searching its training images), so verdicts are not all one way.
 */
export async function makeFakeRun(
  checkpointDir: string,
  digit: number,
  { epochs = 1, seed = 7, model = {}, score = DEFAULT_TRAIN_CONFIG.noveltyScore }: { epochs?: number; seed?: number; model?: Partial<ModelConfig>; score?: NoveltyScore } = {},
): Promise<RunFile> {
  const config: RunConfig = {
    model: { ...DEFAULT_MODEL_CONFIG, ...model },
    train: { ...DEFAULT_TRAIN_CONFIG, digit, epochs, seed, noveltyScore: score, limit: FAKE_RUN_IMAGES },
  };
  const nets = createNets(config.model, config.train);
  const { train, validation: held } = loadTrainingSplit(config);
  const memory = buildFeatureMemory(nets.r, train.pixels, train.count, 28, config.train.neighbours);
  const val = scoreImages({ ...nets, memory }, held.pixels, held.count);
  disposeFeatureMemory(memory);
  const runDir = runDirFor(checkpointDir, digit);
  const records: EpochRecord[] = [];
  const mean = (v: Float32Array) => v.reduce((a, b) => a + b, 0) / held.count;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    // Later epochs a little better, so the last is the best.
    const validation = Object.fromEntries(
      NOVELTY_SCORES.map((s) => [s, { mean: mean(val.novelty[s]) + (epochs - epoch) * 0.01, threshold: percentile(val.novelty[s], 95) }]),
    ) as EpochRecord['validation'];
    records.push({
      epoch,
      mean: { dLossReal: 0.7, dLossFake: 0.7, gLoss: 0.8, reconLoss: 0.69, advLoss: 0.7 },
      valReconLoss: validation!.bce.mean,
      threshold: validation![config.train.noveltyScore].threshold,
      validation,
      wallSeconds: 1,
      imagesPerSecond: 100,
      checksums: await saveEpochCheckpoint(runDir, epoch, nets),
    });
  }
  nets.r.dispose();
  nets.d.dispose();
  const now = new Date().toISOString();
  const run: RunFile = {
    format: 'alocc-run',
    version: 1,
    config,
    backend: 'cpu',
    createdAt: now,
    updatedAt: now,
    trainImages: train.count,
    validationImages: held.count,
    epochs: records,
    batches: [],
    bestEpoch: epochs,
  };
  writeRunFile(runDir, run);
  return run;
}
