import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, ModelConfig, NOVELTY_SCORES, NoveltyScore, RunConfig } from '../../src/config';
import { percentile, scoreImages } from '../../src/score/scorer';
import { createNets, runDirFor, saveEpochCheckpoint } from '../../src/train/checkpoint';
import { EpochRecord, RunFile } from '../../src/train/runfile';
import { writeRunFile } from '../../src/train/runfile-io';
import { readIdx } from './mnist-idx';

/** Narrow nets: the pure-JS cpu backend scores them many times faster than the default width; enough for field tests. */
export const SMALL_MODEL: Partial<ModelConfig> = { dfDim: 2, gfDim: 2 };

/**
 * An untrained run of `digit` with `epochs` checkpoints, as the trainer would leave it: the threshold is the 95th
 * percentile of the run's novelty score over a few training images of the digit, so verdicts are not all one way.
 */
export async function makeFakeRun(
  checkpointDir: string,
  digit: number,
  { epochs = 1, seed = 7, model = {}, score = DEFAULT_TRAIN_CONFIG.noveltyScore }: { epochs?: number; seed?: number; model?: Partial<ModelConfig>; score?: NoveltyScore } = {},
): Promise<RunFile> {
  const config: RunConfig = { model: { ...DEFAULT_MODEL_CONFIG, ...model }, train: { ...DEFAULT_TRAIN_CONFIG, digit, epochs, seed, noveltyScore: score } };
  const nets = createNets(config.model, config.train);
  const train = readIdx('train', 400);
  const per = 28 * 28;
  const mine: number[] = [];
  for (let i = 0; i < train.count && mine.length < 20; i++) if (train.labels[i] === digit) mine.push(i);
  const pixels = new Float32Array(mine.length * per);
  mine.forEach((img, k) => pixels.set(train.images.subarray(img * per, (img + 1) * per), k * per));
  const val = scoreImages(nets, pixels, mine.length);
  const runDir = runDirFor(checkpointDir, digit);
  const records: EpochRecord[] = [];
  const mean = (v: Float32Array) => v.reduce((a, b) => a + b, 0) / mine.length;
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
    trainImages: 18,
    validationImages: mine.length,
    epochs: records,
    batches: [],
    bestEpoch: epochs,
  };
  writeRunFile(runDir, run);
  return run;
}
