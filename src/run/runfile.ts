import { BATCHNORM_STATISTICS, ROTATION_AUGMENTS, CELL_NEIGHBOURHOODS, CELL_POOLINGS, DATASETS, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, MAX_INPUT_SIZE, MIN_INPUT_SIZE, RunConfig, NOVELTY_SCORES, BaseScore, RotationScore, scoresOfRun } from '../config';
import type { FolderReport } from '../data/folder';
import { CellCalibration, cellCalibrationProblem } from '../score/cell-scale';
import { EPOCH_CELLS_FILE } from './paths';

/** Losses of one batch, with where it fell in training. */
/** Plain numbers from one batch, recorded in the run file. */
export interface BatchLosses {
  /** BCE of D on real target images against 1. */
  dLossReal: number;
  /** BCE of D on R(x̃) against 0. */
  dLossFake: number;
  /** R's total loss, rAlpha·reconLoss + advLoss, from its last update on this batch. */
  gLoss: number;
  /** BCE between R(x̃) and x, mean over pixels. */
  reconLoss: number;
  /** BCE of D(R(x̃)) against 1: how well R fools D. */
  advLoss: number;
  /** The rotation net's cross-entropy, mean over its steps on this batch's pictures (runs with a rotation net). */
  rotationLoss?: number;
  /** Share of turns the rotation net told right in those steps, before each update. */
  rotationAccuracy?: number;
}

export interface BatchRecord extends BatchLosses {
  /** 1-based epoch. */
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  /** epoch - 1 + (batch + 1) / batchesPerEpoch: the x axis of the loss chart. */
  fractionalEpoch: number;
}

/** A score's mean, standard deviation (absent before run-file version 8) and threshold over the validation images. */
export interface ValidationScore {
  mean: number;
  threshold: number;
  sd?: number;
}

/** One completed epoch: its checkpoint exists and its files' checksums are below. */
export interface EpochRecord {
  /** 1-based epoch number; the checkpoint is in `epoch-<epoch>/`. */
  epoch: number;
  /** Means of the batch losses over the epoch. */
  mean: BatchLosses;
  /** Mean per-image reconstruction loss of R (inference mode) on the held-out validation images. */
  valReconLoss: number;
  /** Novelty threshold on the run's noveltyScore: the thresholdPercentile-th percentile over validation images. */
  threshold: number;
  /**
   * Every novelty score the run computes (config scoresOfRun): its mean, standard deviation and threshold on the
   * validation images. The sd is absent in epochs of run-file version 7 and earlier. knnRotation standardises with the
   * knn's and rotation's means and sds.
   */
  validation: Record<BaseScore, ValidationScore> & Partial<Record<RotationScore, ValidationScore>>;
  /** Share of the validation pictures' quarter turns the rotation net tells right (runs with a rotation net). */
  rotationAccuracy?: number;
  /** Seconds the whole epoch took: its batches, the knn memory's features, validation and the checkpoint. */
  wallSeconds: number;
  /** Training images per second over the whole epoch (wallSeconds). */
  imagesPerSecond: number;
  /**
   * The local score's validation mean and threshold and the anomaly maps' colour scale (src/score/cell-calibration.ts),
   * also in the epoch's checksummed cells.json, which is what score and eval read. Absent in epochs of run-file
   * version 6 and earlier, whose maps fall back to a calibration on the memory images.
   */
  cells?: CellCalibration;
  /** The knn memory saved with this epoch (memory.bin: `images` rows of `features` floats, R's features then). */
  memory: { images: number; features: number };
  /** SHA-256 (hex) of every file in the checkpoint folder, by path relative to it. */
  checksums: Record<string, string>;
}

/**
 * The run file version this alocc writes and reads. Version 1 (alocc 0.1) needed MNIST to score; version 2 stored its
 * knn memory in R's stride-2 features, which this version no longer computes. Versions 3 to 10 are read as 11
 * (runfile-io.ts): they lack settings whose values then were fixed, 6 lacks the epochs' cell calibration, 7 the
 * rotation net's settings (it had none) and the stored validation pictures, 8 knnRotation's cap (uncapped), 9 the
 * rotation net's cells in the maps (none), and 10 the pixels in the map cells (none).
 */
export const RUN_FILE_VERSION = 11;

/**
 * <run>/run.json: everything about a run, rewritten atomically after each epoch. With the checkpoints beside it, the
 * run folder is all that score and eval need: preprocessing, networks, the knn memory, thresholds.
 */
export interface RunFile {
  format: 'alocc-run';
  version: typeof RUN_FILE_VERSION;
  config: RunConfig;
  /** Backend label the run trained on, e.g. 'wasm'. */
  backend: string;
  createdAt: string;
  updatedAt: string;
  /** Number of training and validation images actually used. */
  trainImages: number;
  validationImages: number;
  /** The knn memory's images (memory-images.bin: bytes, the run's shape), a sample of the training images. */
  memoryImages: { count: number; sha256: string };
  /**
   * The validation images (validation-images.bin: bytes, the run's shape), from which every threshold and scale was
   * taken: eval's untrained control calibrates on them as training did. Absent in runs of file version 7 and earlier.
   */
  validationPictures?: { count: number; sha256: string };
  /** Folder runs: what was skipped and converted; null for built-in sets. */
  folder: FolderReport | null;
  epochs: EpochRecord[];
  batches: BatchRecord[];
  /** Epoch with the lowest validation reconstruction loss (the reference's rule): the one `score` and `eval` use by default. */
  bestEpoch: number | null;
}

/**
 * The checkpoint score and eval use: the epoch where R reconstructs the held-out validation images best (lowest mean
 * BCE), the ALOCC reference's rule, the first on a tie; null before the first epoch completes. Not the validation mean
 * of the verdict's own score: the knn distances of two epochs are measured in two different feature spaces, so their
 * means do not compare (that rule picked epoch 1 for every MNIST digit; docs/research.md, "Which epoch").
 */
export function pickBestEpoch(epochs: EpochRecord[]): number | null {
  let best: EpochRecord | null = null;
  for (const e of epochs) if (!best || e.valReconLoss < best.valReconLoss) best = e;
  return best ? best.epoch : null;
}

const EPOCH_NUMBER_FIELDS = ['valReconLoss', 'threshold', 'wallSeconds', 'imagesPerSecond'] as const;
const LOSS_FIELDS = ['dLossReal', 'dLossFake', 'gLoss', 'reconLoss', 'advLoss'] as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Widest base filter count accepted (the default is 16): D's last layer has 8× this many filters. */
const MAX_FILTERS = 256;
const MAX_NEIGHBOURS = 1000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, min: number, max = 2 ** 31 - 1) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** The first problem in the config of a run file; every field the code reads must be there and in range. */
function configProblem(config: unknown): string | null {
  if (!isObject(config) || !isObject(config.model) || !isObject(config.train) || !isObject(config.data) || !isObject(config.preprocessing)) {
    return "it lacks 'config.data', 'config.model', 'config.preprocessing' or 'config.train'";
  }
  const { model, train, data, preprocessing: pre } = config;
  if (!(DATASETS as readonly unknown[]).includes(data.source)) return `config.data.source ${JSON.stringify(data.source)} is not one of ${DATASETS.join(', ')}`;
  if (data.source === 'folder' ? typeof data.folder !== 'string' : !isCount(data.class, 0, 9)) {
    return data.source === 'folder' ? 'config.data.folder is not a path' : 'config.data.class is not a class 0-9';
  }
  const choices: [string, unknown, string[]][] = [
    ['resize', pre.resize, ['fill', 'cover', 'contain']],
    ['invert', pre.invert, ['auto', 'never']],
    ['fit', pre.fit, ['none', 'mnist', 'auto']],
  ];
  for (const [k, v, allowed] of choices) if (!allowed.includes(v as string)) return `config.preprocessing.${k} ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`;
  // Every version read (3 and 4 upgraded) records bce and cellPooling: a run without them would crash score.
  if (train.bce !== 'logits' && train.bce !== 'clipped') {
    return `config.train.bce ${JSON.stringify(train.bce)} is not 'logits' or 'clipped'`;
  }
  if (!(CELL_POOLINGS as readonly unknown[]).includes(train.cellPooling)) {
    return `config.train.cellPooling ${JSON.stringify(train.cellPooling)} is not one of ${CELL_POOLINGS.join(', ')}`;
  }
  if (!(BATCHNORM_STATISTICS as readonly unknown[]).includes(train.batchNormStatistics)) {
    return `config.train.batchNormStatistics ${JSON.stringify(train.batchNormStatistics)} is not one of ${BATCHNORM_STATISTICS.join(', ')}`;
  }
  if (!(CELL_NEIGHBOURHOODS as readonly unknown[]).includes(train.cellNeighbourhood)) {
    return `config.train.cellNeighbourhood ${JSON.stringify(train.cellNeighbourhood)} is not one of ${CELL_NEIGHBOURHOODS.join(', ')}`;
  }
  if (!(NOVELTY_SCORES as readonly unknown[]).includes(train.noveltyScore)) {
    return `config.train.noveltyScore ${JSON.stringify(train.noveltyScore)} is not one of ${NOVELTY_SCORES.join(', ')}`;
  }
  for (const [section, values, defaults] of [
    ['model', model, DEFAULT_MODEL_CONFIG],
    ['train', train, DEFAULT_TRAIN_CONFIG],
  ] as const) {
    for (const [k, d] of Object.entries(defaults)) {
      // rotationCap may be null (uncapped): checked on its own below.
      if (typeof d !== 'number' || k === 'rotationCap') continue;
      const v = values[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) return `config.${section}.${k} is not a finite number`;
    }
  }
  // The networks are built from these before any weight is checked: a huge width would allocate gigabytes.
  if (!isCount(model.inputSize, MIN_INPUT_SIZE, MAX_INPUT_SIZE)) return `config.model.inputSize is not a side from ${MIN_INPUT_SIZE} to ${MAX_INPUT_SIZE}`;
  if (model.channels !== 1 && model.channels !== 3) return 'config.model.channels is not 1 or 3';
  for (const k of ['dfDim', 'gfDim']) if (!isCount(model[k], 1, MAX_FILTERS)) return `config.model.${k} is not a width from 1 to ${MAX_FILTERS}`;
  for (const k of ['epochs', 'batchSize', 'rStepsPerBatch', 'localTopK']) if (!isCount(train[k], 1)) return `config.train.${k} is not a whole number >= 1`;
  for (const k of ['seed', 'limit', 'memorySize', 'memoryCoreset']) if (!isCount(train[k], 0)) return `config.train.${k} is not a whole number >= 0`;
  for (const k of ['rotationPasses']) if (!isCount(train[k], 0, 100)) return `config.train.${k} is not a whole number from 0 to 100`;
  if (!isCount(train.rotationBatchSize, 1)) return 'config.train.rotationBatchSize is not a whole number >= 1';
  if (!(ROTATION_AUGMENTS as readonly unknown[]).includes(train.rotationAugment)) return `config.train.rotationAugment ${JSON.stringify(train.rotationAugment)} is not one of ${ROTATION_AUGMENTS.join(', ')}`;
  for (const k of ['cellRotationWeight', 'cellPixelWeight']) if ((train[k] as number) < 0) return `config.train.${k} is below 0`;
  if (!isCount(train.rotationFilters, 1, MAX_FILTERS)) return `config.train.rotationFilters is not a width from 1 to ${MAX_FILTERS}`;
  if (train.rotationCap !== null && !(typeof train.rotationCap === 'number' && train.rotationCap > 0 && Number.isFinite(train.rotationCap))) {
    return 'config.train.rotationCap is neither null nor a number > 0';
  }
  if (!isCount(train.neighbours, 1, MAX_NEIGHBOURS)) {
    return `config.train.neighbours is not a whole number from 1 to ${MAX_NEIGHBOURS}`;
  }
  return null;
}

function lossesProblem(v: unknown, where: string): string | null {
  if (!isObject(v)) return `${where} is not an object`;
  for (const k of LOSS_FIELDS) if (typeof v[k] !== 'number') return `${where} lacks '${k}'`;
  return null;
}

/** The train config of a run whose config has passed configProblem. */
const config0 = (run: Record<string, unknown>) => (run.config as RunConfig).train;

/** Checks the shape of a parsed run file; returns the first problem found, or null. Never throws. */
export function runFileProblem(value: unknown): string | null {
  if (!isObject(value)) return 'not a JSON object';
  const run = value;
  if (run.format !== 'alocc-run') return "its 'format' is not 'alocc-run'";
  if (run.version !== RUN_FILE_VERSION) return `its version ${JSON.stringify(run.version)} is not supported (expected ${RUN_FILE_VERSION})`;
  const config = configProblem(run.config);
  if (config) return config;
  if (!Array.isArray(run.epochs) || !Array.isArray(run.batches)) return "it lacks the 'epochs' or 'batches' list";
  if (typeof run.backend !== 'string') return "its 'backend' is not a string";
  for (const k of ['trainImages', 'validationImages']) if (!isCount(run[k], 0)) return `its '${k}' is not a count`;
  const mem = run.memoryImages;
  if (!isObject(mem) || !isCount(mem.count, 1) || typeof mem.sha256 !== 'string' || !SHA256_HEX.test(mem.sha256)) return "its 'memoryImages' is not a count and a checksum";
  if (run.folder !== null && !isObject(run.folder)) return "its 'folder' is not an object or null";
  const val = run.validationPictures;
  if (val !== undefined && (!isObject(val) || !isCount(val.count, 0) || typeof val.sha256 !== 'string' || !SHA256_HEX.test(val.sha256))) return "its 'validationPictures' is not a count and a checksum";
  // Epochs are 1, 2, ... in order: resume continues after the last and loads epoch-<count>/.
  for (const [i, e] of (run.epochs as unknown[]).entries()) {
    if (!isObject(e) || e.epoch !== i + 1) return `epoch record ${i + 1} is missing or out of order`;
    for (const k of EPOCH_NUMBER_FIELDS) if (typeof e[k] !== 'number') return `epoch ${i + 1} lacks '${k}'`;
    const v = e.validation;
    const computed = scoresOfRun(config0(run));
    const ok = isObject(v) && computed.every((s) => isObject(v[s]) && typeof v[s].mean === 'number' && typeof v[s].threshold === 'number');
    if (!ok) return `epoch ${i + 1}'s validation scores are not a mean and threshold for each of ${computed.join(', ')}`;
    if (computed.includes('knnRotation') && !(['knn', 'rotation'] as const).every((s) => typeof (v[s] as Record<string, unknown>).sd === 'number' && ((v[s] as Record<string, number>).sd) > 0)) {
      return `epoch ${i + 1} lacks the validation sd of knn and rotation that knnRotation standardises with`;
    }
    if (!isObject(e.memory) || !isCount(e.memory.images, 1) || !isCount(e.memory.features, 1)) return `epoch ${i + 1} lacks its memory's size`;
    if (e.cells !== undefined) {
      const cells = cellCalibrationProblem(e.cells);
      if (cells) return `epoch ${i + 1}'s cell calibration ${cells}`;
      if (!isObject(e.checksums) || !(EPOCH_CELLS_FILE in e.checksums)) return `epoch ${i + 1} has a cell calibration but no checksum of ${EPOCH_CELLS_FILE}`;
    }
    const mean = lossesProblem(e.mean, `the mean losses of epoch ${i + 1}`);
    if (mean) return mean;
    const sums = e.checksums;
    if (!isObject(sums) || !Object.values(sums).every((h) => typeof h === 'string' && SHA256_HEX.test(h))) {
      return `epoch ${i + 1} has no valid checksums`;
    }
  }
  for (const [i, b] of (run.batches as unknown[]).entries()) {
    const problem = lossesProblem(b, `batch record ${i + 1}`);
    if (problem) return problem;
    const rec = b as Record<string, unknown>;
    for (const k of ['epoch', 'batch', 'fractionalEpoch']) if (typeof rec[k] !== 'number') return `batch record ${i + 1} lacks '${k}'`;
  }
  const best = run.bestEpoch;
  if (run.epochs.length === 0 ? best !== null : !(Number.isInteger(best) && (best as number) >= 1 && (best as number) <= run.epochs.length)) {
    return `bestEpoch ${JSON.stringify(best)} is not among its epochs`;
  }
  return null;
}
