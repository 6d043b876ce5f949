import { RunConfig } from '../config';
import { BatchLosses } from './step';

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
  /** Novelty threshold on the reconstruction loss: the thresholdPercentile-th percentile over validation images. */
  threshold: number;
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
  /** Epoch with the lowest validation reconstruction loss: the one `score` and `eval` use by default. */
  bestEpoch: number | null;
}

/** Epoch with the lowest validation reconstruction loss, or null before the first epoch completes. */
export function pickBestEpoch(epochs: EpochRecord[]): number | null {
  let best: EpochRecord | null = null;
  for (const e of epochs) if (!best || e.valReconLoss < best.valReconLoss) best = e;
  return best ? best.epoch : null;
}

const EPOCH_NUMBER_FIELDS = ['epoch', 'valReconLoss', 'threshold', 'wallSeconds', 'imagesPerSecond'] as const;

/** Checks the shape of a parsed run file; returns the first problem found, or null. */
export function runFileProblem(value: unknown): string | null {
  const run = value as Partial<RunFile> | null;
  if (!run || typeof run !== 'object') return 'not a JSON object';
  if (run.format !== 'alocc-run') return "its 'format' is not 'alocc-run'";
  if (run.version !== 1) return `its version ${JSON.stringify(run.version)} is not supported (expected 1)`;
  const model = run.config?.model as unknown as Record<string, unknown> | undefined;
  const train = run.config?.train as unknown as Record<string, unknown> | undefined;
  if (!model || !train) return "it lacks 'config.model' or 'config.train'";
  for (const [k, v] of Object.entries({ ...model, ...train })) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return `config field '${k}' is not a finite number`;
  }
  for (const k of ['inputSize', 'channels', 'dfDim', 'gfDim']) {
    const v = model[k];
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 4096) return `config.model.${k} is not a sane size`;
  }
  if (!Array.isArray(run.epochs) || !Array.isArray(run.batches)) return "it lacks the 'epochs' or 'batches' list";
  for (const e of run.epochs) {
    for (const k of EPOCH_NUMBER_FIELDS) if (typeof e?.[k] !== 'number') return `an epoch record lacks '${k}'`;
    if (!e.checksums || typeof e.checksums !== 'object') return `epoch ${e.epoch} has no checksums`;
  }
  if (run.bestEpoch !== null && !run.epochs.some((e) => e.epoch === run.bestEpoch)) {
    return `bestEpoch ${run.bestEpoch} is not among its epochs`;
  }
  return null;
}
