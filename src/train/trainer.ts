import * as tf from '@tensorflow/tfjs';
import { RunConfig, stepBatchSize, TrainConfig } from '../config';
import { AloccError } from '../errors';
import { ImageSet } from '../data/source';
import { CoresetWorkspace } from '../score/coreset';
import { mulberry32, shuffleInPlace } from '../data/random';
import { saveEpochCheckpoint, AloccNets } from './nets';
import { EPOCH_CELLS_FILE, EPOCH_MEMORY_FILE } from '../run/paths';
import { writeRunFile } from '../run/runfile-io';
import { BatchRecord, EpochRecord, pickBestEpoch, RunFile, BatchLosses } from '../run/runfile';
import { trainBatch } from './step';
import { rotationStep, rotationStepOnTurns, RotationTraining } from './rotation-step';
import { turnedRows } from '../models/rotation-net';
import { flipShift } from './rotation-augment';
import { epochEnd, EpochEndPhase, lastGood, PhaseTime, timedPhaseAsync } from './epoch-end';

export type { EpochEndPhase, PhaseTime } from './epoch-end';

/** What the trainer tells the outside world; the CLI turns it into a progress bar or log lines. */
export interface TrainingEvents {
  epochStart?(epoch: number, batches: number): void;
  batchEnd?(epoch: number, batch: number, losses: BatchLosses, imagesPerSecond: number): void;
  epochEnd?(record: EpochRecord, run: RunFile): void;
  /** The cost of one piece of an epoch's work after its steps (src/train/epoch-end.ts), for benchmarks. */
  phase?(epoch: number, name: EpochEndPhase, time: PhaseTime): void;
}

export interface TrainingJob {
  config: RunConfig;
  runDir: string;
  nets: AloccNets;
  /** Run file to extend (resume) or a fresh one with no epochs. */
  run: RunFile;
  train: ImageSet;
  validation: ImageSet;
  /**
   * The stored sample of training images (saved once in the run folder): the raw-pixel baseline's memory, and the knn
   * memory itself when config.train.memoryCoreset is 0.
   */
  memoryImages: ImageSet;
  events?: TrainingEvents;
  /** Polled between batches; true abandons the current epoch (completed ones stay saved). */
  shouldStop?: () => boolean;
}

/** Thrown when shouldStop() asked the run to end; the CLI maps it to exit code 130 or 143. */
export class TrainingInterrupted extends Error {
  constructor(readonly completedEpochs: number) {
    super('training interrupted');
  }
}

const LOSS_KEYS: (keyof BatchLosses)[] = ['dLossReal', 'dLossFake', 'gLoss', 'reconLoss', 'advLoss'];

/** Batches per epoch: the reference drops the last partial batch; a set smaller than one batch is one batch. */
export function batchesPerEpoch(count: number, batchSize: number): number {
  return Math.max(1, Math.floor(count / batchSize));
}

/** Distinct, reproducible seeds for the shuffle of each epoch and the noise of each step. */
function derivedSeed(seed: number, stream: number, index: number): number {
  // Never 0: tfjs treats a seed of 0 as 'no seed' and draws from Math.random.
  return ((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(stream, 0xc2b2ae35) + index) >>> 0) || 1;
}

/**
 * The rotation net's steps on one ALOCC batch: rotationPasses passes over its pictures in chunks of
 * rotationBatchSize, each pass in its own seeded order. Returns the mean loss and accuracy over the steps. Exported for
 * bench/bench.ts, which times it beside trainBatch without a TrainingJob.
 */
export function rotationSteps(
  rotation: RotationTraining,
  train: Pick<TrainConfig, 'rotationPasses' | 'rotationBatchSize' | 'rotationAugment'>,
  x: tf.Tensor4D,
  seed: number,
): { rotationLoss: number; rotationAccuracy: number } {
  const { rotationPasses, rotationBatchSize, rotationAugment } = train;
  const n = x.shape[0];
  const augment = mulberry32(derivedSeed(seed, 5, 0));
  const pixels = rotationAugment === 'flip-shift' || x.shape[1] !== x.shape[2] || x.dtype !== 'float32' ? null : (x.dataSync() as Float32Array);
  let loss = 0;
  let accuracy = 0;
  let steps = 0;
  for (let pass = 0; pass < rotationPasses; pass++) {
    const order = shuffleInPlace(Int32Array.from({ length: n }, (_, i) => i), mulberry32(derivedSeed(seed, 4, pass)));
    for (let start = 0; start < n; start += rotationBatchSize) {
      const rows = order.subarray(start, Math.min(n, start + rotationBatchSize));
      // Unaugmented, the chunk's rows are gathered and turned in one pass (turnedRows: the same values as gather then
      // allTurns, without wasm's slow Reverse); flip-shift draws on the gathered chunk.
      const chunk = pixels
        ? null
        : tf.tidy(() => {
            const picked = tf.gather(x, tf.tensor1d(rows, 'int32')) as tf.Tensor4D;
            return rotationAugment === 'flip-shift' ? flipShift(picked, augment) : picked;
          });
      try {
        const step = chunk ? rotationStep(rotation, chunk) : rotationStepOnTurns(rotation, () => turnedRows(pixels!, x.shape, rows));
        loss += step.rotationLoss;
        accuracy += step.rotationAccuracy;
        steps++;
      } finally {
        chunk?.dispose();
      }
    }
  }
  return { rotationLoss: loss / steps, rotationAccuracy: accuracy / steps };
}

async function trainEpoch(job: TrainingJob, epoch: number): Promise<{ mean: BatchLosses; batches: BatchRecord[]; images: number }> {
  const { config, nets, train, events } = job;
  const { seed } = config.train;
  const batchSize = stepBatchSize(train.count, config.train.batchSize);
  const { size, channels } = train;
  const per = size * size * channels;
  const n = batchesPerEpoch(train.count, batchSize);
  const perBatch = Math.min(batchSize, train.count);
  const order = Uint32Array.from({ length: train.count }, (_, i) => i);
  shuffleInPlace(order, mulberry32(derivedSeed(seed, 1, epoch)));

  events?.epochStart?.(epoch, n);
  const records: BatchRecord[] = [];
  const started = performance.now();
  for (let b = 0; b < n; b++) {
    if (job.shouldStop?.()) throw new TrainingInterrupted(epoch - 1);
    const batch = new Float32Array(perBatch * per);
    for (let k = 0; k < perBatch; k++) {
      const src = order[b * perBatch + k] * per;
      for (let p = 0; p < per; p++) batch[k * per + p] = train.pixels[src + p] / 255;
    }
    const x = tf.tensor4d(batch, [perBatch, size, size, channels]);
    let losses: BatchLosses;
    try {
      losses = trainBatch(nets, x, config.train, derivedSeed(seed, 2, (epoch - 1) * n + b));
      if (nets.rotation) losses = { ...losses, ...rotationSteps(nets.rotation, config.train, x, derivedSeed(seed, 3, (epoch - 1) * n + b)) };
    } finally {
      x.dispose();
    }
    const bad = [...LOSS_KEYS, ...(nets.rotation ? (['rotationLoss'] as const) : [])].find((k) => !Number.isFinite(losses[k]));
    if (bad) {
      throw new AloccError(
        `training diverged: ${bad} is ${losses[bad]} at epoch ${epoch}, batch ${b + 1}; ${lastGood(epoch)}. Try a lower --lr`,
      );
    }
    records.push({ epoch, batch: b, fractionalEpoch: epoch - 1 + (b + 1) / n, ...losses });
    const seconds = (performance.now() - started) / 1000;
    events?.batchEnd?.(epoch, b, losses, ((b + 1) * perBatch) / seconds);
    // Lets signal handlers run between batches: a synchronous loop would hold Ctrl-C until the epoch ends.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const keys: (keyof BatchLosses)[] = nets.rotation ? [...LOSS_KEYS, 'rotationLoss', 'rotationAccuracy'] : LOSS_KEYS;
  const mean = Object.fromEntries(
    keys.map((k) => [k, records.reduce((s, r) => s + r[k]!, 0) / records.length]),
  ) as unknown as BatchLosses;
  return { mean, batches: records, images: n * perBatch };
}

/**
 * Trains from the epoch after the run's last completed one up to config.train.epochs. After each epoch: validation
 * loss and threshold, an atomic checkpoint, then the run file (so run.json never names a checkpoint that is not whole).
 */
export async function runTraining(job: TrainingJob): Promise<RunFile> {
  const { config, run } = job;
  const first = run.epochs.length + 1;
  const workspace = new CoresetWorkspace();
  for (let epoch = first; epoch <= config.train.epochs; epoch++) {
    const epochStarted = performance.now();
    const result = await trainEpoch(job, epoch);
    if (job.shouldStop?.()) throw new TrainingInterrupted(epoch - 1);
    const end = epochEnd(job, epoch, workspace);
    const checksums = await timedPhaseAsync(job.events?.phase && ((time) => job.events!.phase!(epoch, 'checkpoint', time)), () =>
      saveEpochCheckpoint(job.runDir, epoch, job.nets, {
        [EPOCH_MEMORY_FILE]: new Uint8Array(end.stored.buffer, end.stored.byteOffset, end.stored.byteLength),
        [EPOCH_CELLS_FILE]: new TextEncoder().encode(JSON.stringify(end.cells) + '\n'),
      }),
    );
    // The whole epoch, so the figure a user reads includes what the knn memory, validation and checkpoint cost.
    const epochSeconds = (performance.now() - epochStarted) / 1000;
    const record: EpochRecord = {
      epoch,
      mean: result.mean,
      valReconLoss: end.validation.bce.mean,
      threshold: end.validation[config.train.noveltyScore].threshold,
      validation: end.validation,
      ...(end.rotationAccuracy === undefined ? {} : { rotationAccuracy: end.rotationAccuracy }),
      wallSeconds: epochSeconds,
      imagesPerSecond: result.images / epochSeconds,
      cells: end.cells,
      memory: end.memory,
      checksums,
    };
    run.epochs.push(record);
    run.batches.push(...result.batches);
    run.bestEpoch = pickBestEpoch(run.epochs);
    run.updatedAt = new Date().toISOString();
    writeRunFile(job.runDir, run);
    job.events?.epochEnd?.(record, run);
  }
  return run;
}
