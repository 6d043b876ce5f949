import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { BUILT_IN_PREPROCESSING, DEFAULT_MODEL_CONFIG, ModelConfig, RunConfig, TrainConfig, NOVELTY_SCORES, NoveltyScore } from '../../src/config';
import { builtInTrainingImages, floatsOf } from '../../src/data/source';
import { sha256 } from '../../src/fsutil';
import { setBatchNormStatistics } from '../../src/models/batchnorm-statistics';
import { createNets, saveEpochCheckpoint } from '../../src/train/nets';
import { EPOCH_CELLS_FILE, EPOCH_MEMORY_FILE, MEMORY_IMAGES_FILE, runDirFor } from '../../src/run/paths';
import { calibrateRun } from '../../src/score/cell-calibration';
import { cellPixelsOf } from '../../src/score/cell-pixels';
import { EpochRecord, RUN_FILE_VERSION, RunFile } from '../../src/run/runfile';
import { writeRunFile } from '../../src/run/runfile-io';
import { bankRows, buildFeatureMemory, disposeFeatureMemory, memoryFromBank, rFeatureSpace } from '../../src/score/feature-memory';
import { fromFloat16, toFloat16 } from '../../src/score/float16';
import { percentile, scoreImages } from '../../src/score/scorer';
import { splitTraining } from '../../src/train/dataset';
import { KNN_TRAIN_CONFIG } from './run-file';

/** Training images of the digit a fake run splits into training and validation (90 % / 10 %). */
export const FAKE_RUN_IMAGES = 400;

/** Narrow nets: the pure-JS cpu backend scores them many times faster than the default width; enough for field tests. */
export const SMALL_MODEL: Partial<ModelConfig> = { dfDim: 2, gfDim: 2 };

/**
 * An untrained run of `digit` with `epochs` checkpoints, as the trainer would leave it: the run's split of its first
 * FAKE_RUN_IMAGES training images of the digit, the knn memory its training images, the threshold the 95th percentile
 * of the run's novelty score over its validation images, so verdicts are not all one way. `batchNormFromTraining`: the
 * R's BatchNorm statistics are those of the training images (as eval's untrained control takes them). `cells`: each
 * epoch carries its cell calibration as training stores it (cells.json and run.json's copy); without, the run is
 * like one of run-file version 6, whose maps fall back to the interim calibration.
 */
export async function makeFakeRun(
  checkpointDir: string,
  digit: number,
  { epochs = 1, seed = 7, model = {}, score = KNN_TRAIN_CONFIG.noveltyScore, settings = {}, batchNormFromTraining = false, cells = false }: { epochs?: number; seed?: number; model?: Partial<ModelConfig>; score?: NoveltyScore; settings?: Partial<TrainConfig>; batchNormFromTraining?: boolean; cells?: boolean } = {},
): Promise<RunFile> {
  const config: RunConfig = {
    data: { source: 'mnist', class: digit, folder: null },
    model: { ...DEFAULT_MODEL_CONFIG, ...model },
    preprocessing: { ...BUILT_IN_PREPROCESSING },
    train: { ...KNN_TRAIN_CONFIG, epochs, seed, noveltyScore: score, limit: FAKE_RUN_IMAGES, ...settings },
  };
  const nets = createNets(config.model, config.train);
  const { train, validation: held } = splitTraining(builtInTrainingImages(config.data), config.train);
  if (batchNormFromTraining) {
    // What eval's untrained control does to its networks: BatchNorm's statistics exactly those of the training images.
    const batches = () => [tf.tensor4d(floatsOf(train), [train.count, train.size, train.size, train.channels])];
    setBatchNormStatistics(nets.r, batches);
  }
  const built = buildFeatureMemory(rFeatureSpace(nets.r, config.train.cellPooling), train, config.train.neighbours);
  const bank = toFloat16(bankRows(built)); // stored in half precision, as training stores it
  const dims = built.dims;
  disposeFeatureMemory(built);
  const memory = memoryFromBank(rFeatureSpace(nets.r, config.train.cellPooling), fromFloat16(bank), train.count, config.train.neighbours);
  const val = scoreImages({ ...nets, memory }, floatsOf(held), held.count, held);
  disposeFeatureMemory(memory);
  const runDir = runDirFor(checkpointDir, `digit-${digit}`);
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, MEMORY_IMAGES_FILE), train.pixels);
  // As training calibrates (src/train/epoch-end.ts): with the cells' pixels where the run's maps read them.
  const calibration = cells ? calibrateRun(nets.r, config.train, train, held, undefined, cellPixelsOf(config.train, train.size, train.channels)) : undefined;
  const cellsFile: Record<string, Uint8Array> = calibration ? { [EPOCH_CELLS_FILE]: new TextEncoder().encode(JSON.stringify(calibration) + '\n') } : {};
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
      valReconLoss: validation.bce.mean,
      threshold: validation[config.train.noveltyScore]!.threshold,
      validation,
      wallSeconds: 1,
      imagesPerSecond: 100,
      ...(calibration ? { cells: calibration } : {}),
      memory: { images: train.count, features: dims },
      checksums: await saveEpochCheckpoint(runDir, epoch, nets, { [EPOCH_MEMORY_FILE]: new Uint8Array(bank.buffer), ...cellsFile }),
    });
  }
  nets.r.dispose();
  nets.d.dispose();
  const now = new Date().toISOString();
  const run: RunFile = {
    format: 'alocc-run',
    version: RUN_FILE_VERSION,
    config,
    backend: 'cpu',
    createdAt: now,
    updatedAt: now,
    trainImages: train.count,
    validationImages: held.count,
    memoryImages: { count: train.count, sha256: sha256(train.pixels) },
    folder: null,
    epochs: records,
    batches: [],
    bestEpoch: epochs,
  };
  writeRunFile(runDir, run);
  return run;
}
