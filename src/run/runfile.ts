import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, NOVELTY_SCORES, NoveltyScore, RunConfig } from '../config';
import { BatchLosses } from '../train/step';

/** Losses of one batch, with where it fell in training. */
export interface BatchRecord extends BatchLosses {
  /** 1-based epoch. */
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  /** epoch - 1 + (batch + 1) / batchesPerEpoch: the x axis of the loss chart. */
  fractionalEpoch: number;
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
  /** Every novelty score's mean and threshold on the validation images (absent in runs made before 0.2). */
  validation?: Record<NoveltyScore, { mean: number; threshold: number }>;
  /** Seconds the epoch's training took (checkpointing excluded). */
  wallSeconds: number;
  /** Training images per second over the epoch. */
  imagesPerSecond: number;
  /** SHA-256 (hex) of every file in the checkpoint folder, by path relative to it. */
  checksums: Record<string, string>;
}

/** checkpoints/digit-<d>/run.json: everything about a run, rewritten atomically after each epoch. */
export interface RunFile {
  format: 'alocc-run';
  version: 1;
  config: RunConfig;
  /** Backend label the run trained on, e.g. 'wasm'. */
  backend: string;
  createdAt: string;
  updatedAt: string;
  /** Number of training and validation images actually used. */
  trainImages: number;
  validationImages: number;
  epochs: EpochRecord[];
  batches: BatchRecord[];
  /** Epoch with the lowest validation mean of the run's noveltyScore: the one `score` and `eval` use by default. */
  bestEpoch: number | null;
}

/** An epoch's validation mean of `score` (older runs recorded only the reconstruction loss, i.e. bce). */
export function validationMean(e: EpochRecord, score: NoveltyScore): number {
  return e.validation?.[score]?.mean ?? e.valReconLoss;
}

/** Epoch with the lowest validation mean of `score`, or null before the first epoch completes. */
export function pickBestEpoch(epochs: EpochRecord[], score: NoveltyScore): number | null {
  let best: EpochRecord | null = null;
  for (const e of epochs) if (!best || validationMean(e, score) < validationMean(best, score)) best = e;
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
  if (!isObject(config) || !isObject(config.model) || !isObject(config.train)) return "it lacks 'config.model' or 'config.train'";
  const { model, train } = config;
  if (train.bce !== undefined && train.bce !== 'logits' && train.bce !== 'clipped') {
    return `config.train.bce ${JSON.stringify(train.bce)} is not 'logits' or 'clipped'`;
  }
  if (train.noveltyScore !== undefined && !(NOVELTY_SCORES as readonly unknown[]).includes(train.noveltyScore)) {
    return `config.train.noveltyScore ${JSON.stringify(train.noveltyScore)} is not one of ${NOVELTY_SCORES.join(', ')}`;
  }
  for (const [section, values, defaults] of [
    ['model', model, DEFAULT_MODEL_CONFIG],
    ['train', train, DEFAULT_TRAIN_CONFIG],
  ] as const) {
    for (const [k, d] of Object.entries(defaults)) {
      if (typeof d !== 'number') continue;
      const v = values[k];
      if (section === 'train' && k === 'neighbours' && v === undefined) continue; // runs from before the knn score
      if (typeof v !== 'number' || !Number.isFinite(v)) return `config.${section}.${k} is not a finite number`;
    }
  }
  // The networks are built from these before any weight is checked: a huge width would allocate gigabytes.
  if (model.inputSize !== DEFAULT_MODEL_CONFIG.inputSize || model.channels !== DEFAULT_MODEL_CONFIG.channels) {
    return `its images are ${model.inputSize}×${model.inputSize}×${model.channels}; this alocc handles 28×28 grey images only`;
  }
  for (const k of ['dfDim', 'gfDim']) if (!isCount(model[k], 1, MAX_FILTERS)) return `config.model.${k} is not a width from 1 to ${MAX_FILTERS}`;
  if (!isCount(train.digit, 0, 9)) return 'config.train.digit is not a digit 0-9';
  for (const k of ['epochs', 'batchSize', 'rStepsPerBatch']) if (!isCount(train[k], 1)) return `config.train.${k} is not a whole number >= 1`;
  for (const k of ['seed', 'limit']) if (!isCount(train[k], 0)) return `config.train.${k} is not a whole number >= 0`;
  if (train.neighbours !== undefined && !isCount(train.neighbours, 1, MAX_NEIGHBOURS)) {
    return `config.train.neighbours is not a whole number from 1 to ${MAX_NEIGHBOURS}`;
  }
  return null;
}

function lossesProblem(v: unknown, where: string): string | null {
  if (!isObject(v)) return `${where} is not an object`;
  for (const k of LOSS_FIELDS) if (typeof v[k] !== 'number') return `${where} lacks '${k}'`;
  return null;
}

/** Checks the shape of a parsed run file; returns the first problem found, or null. Never throws. */
export function runFileProblem(value: unknown): string | null {
  if (!isObject(value)) return 'not a JSON object';
  const run = value;
  if (run.format !== 'alocc-run') return "its 'format' is not 'alocc-run'";
  if (run.version !== 1) return `its version ${JSON.stringify(run.version)} is not supported (expected 1)`;
  const config = configProblem(run.config);
  if (config) return config;
  if (!Array.isArray(run.epochs) || !Array.isArray(run.batches)) return "it lacks the 'epochs' or 'batches' list";
  if (typeof run.backend !== 'string') return "its 'backend' is not a string";
  for (const k of ['trainImages', 'validationImages']) if (!isCount(run[k], 0)) return `its '${k}' is not a count`;
  // Epochs are 1, 2, ... in order: resume continues after the last and loads epoch-<count>/.
  for (const [i, e] of (run.epochs as unknown[]).entries()) {
    if (!isObject(e) || e.epoch !== i + 1) return `epoch record ${i + 1} is missing or out of order`;
    for (const k of EPOCH_NUMBER_FIELDS) if (typeof e[k] !== 'number') return `epoch ${i + 1} lacks '${k}'`;
    if (e.validation !== undefined) {
      const v = e.validation;
      // Runs from before the knn score have the other four only.
      const needed = NOVELTY_SCORES.filter((s) => s !== 'knn' || (isObject(v) && v.knn !== undefined) || (run.config as { train: { noveltyScore?: unknown } }).train.noveltyScore === 'knn');
      const ok = isObject(v) && needed.every((s) => isObject(v[s]) && typeof v[s].mean === 'number' && typeof v[s].threshold === 'number');
      if (!ok) return `epoch ${i + 1}'s validation scores are not a mean and threshold for each of ${needed.join(', ')}`;
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
