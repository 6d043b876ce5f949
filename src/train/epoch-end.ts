/**
 * What an epoch computes after its steps, before its checkpoint: R's BatchNorm statistics of the clean memory
 * pictures, the knn memory, the validation scores' means and thresholds, and the maps' cell calibration. At 28×28
 * these took about a fifth of an epoch (docs/performance.md, "The whole epoch against the step"), so each is timed as
 * a phase the trainer's events can report (bench/epoch-phases.ts prints them).
 */
import { NoveltyScore, RunConfig, scoresOfRun } from '../config';
import { scoreTitle } from '../score/registry';
import { AloccError } from '../errors';
import { setBatchNormStatistics } from '../models/batchnorm-statistics';
import { coreset, CoresetWorkspace, PooledRowVisitor } from '../score/coreset';
import { bankRows, batchesOf, buildFeatureMemory, disposeFeatureMemory, FeatureMemory, FeatureSpace, memoryFromBank, featureSpaceOf } from '../score/feature-memory';
import { fromFloat16, toFloat16 } from '../score/float16';
import { percentile, scoreImages } from '../score/scorer';
import { calibrateRun, calibrateSearch, CellCalibration, trainingCellPart } from '../score/cell-calibration';
import { cellPixelsOf } from '../score/cell-pixels';
import { memoryCellsFromPass } from './memory-cells';
import { combinedNovelty, rotationNoveltyAndAccuracy, scaleOf, ScoreScale } from '../score/rotation-score';
import { floatsOf, ImageSet, pickRows } from '../data/source';
import type { AloccNets } from './nets';

export type ValidationStats = Record<NoveltyScore, { mean: number; threshold: number; sd: number }>;

/** The after-step phases, in the order they run. */
export const EPOCH_END_PHASES = ['batchNormStatistics', 'memory', 'validation', 'calibration'] as const;
export type EpochEndPhase = (typeof EPOCH_END_PHASES)[number] | 'checkpoint';

/** A phase's cost: wall time, and the process's CPU time (every thread), which other load on the machine inflates less. */
export interface PhaseTime {
  wallSeconds: number;
  cpuSeconds: number;
}

/** Runs `work`, handing its wall and CPU seconds to `report`. */
export function timedPhase<T>(report: ((time: PhaseTime) => void) | undefined, work: () => T): T {
  if (!report) return work();
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const out = work();
  const used = process.cpuUsage(cpu);
  report({ wallSeconds: (performance.now() - wall) / 1000, cpuSeconds: (used.user + used.system) / 1e6 });
  return out;
}

/** timedPhase for work that ends in a promise. */
export async function timedPhaseAsync<T>(report: ((time: PhaseTime) => void) | undefined, work: () => Promise<T>): Promise<T> {
  if (!report) return work();
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const out = await work();
  const used = process.cpuUsage(cpu);
  report({ wallSeconds: (performance.now() - wall) / 1000, cpuSeconds: (used.user + used.system) / 1e6 });
  return out;
}

/** What the after-step work reads of a training job (trainer.ts's TrainingJob has it all). */
export interface EpochEndJob {
  config: RunConfig;
  nets: AloccNets;
  train: ImageSet;
  validation: ImageSet;
  memoryImages: ImageSet;
  events?: { phase?(epoch: number, name: EpochEndPhase, time: PhaseTime): void };
}

/** What the epoch's checkpoint and record keep of the after-step work. */
export interface EpochEnd {
  /** The knn memory's unit feature rows in half precision, as stored (memory.f16). */
  stored: Uint16Array;
  memory: { images: number; features: number };
  validation: ValidationStats;
  cells: CellCalibration;
  rotationAccuracy?: number;
}

/** What a run that failed during `epoch` still has. */
export function lastGood(epoch: number): string {
  return epoch > 1 ? `the checkpoint of epoch ${epoch - 1} is kept` : 'no epoch had completed, so there is no checkpoint';
}

/**
 * Mean, sd and threshold (the pct-th percentile) of every novelty score the run computes over the validation images,
 * the knn score searching `memory` (training images only, never validation ones). knnRotation is standardised with
 * the knn's and rotation's own validation means and sds, so its scale is set here, before its values exist. With a
 * rotation net, also its accuracy on the validation pictures' turns, from the same pass as its scores.
 */
function validationStats(job: EpochEndJob, memory: FeatureMemory): { stats: ValidationStats; rotationAccuracy?: number } {
  const { nets, validation: set, config } = job;
  const pct = config.train.thresholdPercentile;
  const pixels = floatsOf(set);
  const novelty = scoreImages({ ...nets, memory }, pixels, set.count, set).novelty;
  const scales = new Map<NoveltyScore, ScoreScale>();
  const scale = (name: NoveltyScore) => scales.get(name) ?? scales.set(name, scaleOf(novelty[name])).get(name)!;
  let accuracy: number | undefined;
  if (nets.rotation) {
    const rotation = rotationNoveltyAndAccuracy(nets.rotation.net, pixels, set.count, set.size, set.channels);
    novelty.rotation = rotation.novelty;
    accuracy = rotation.accuracy;
    novelty.knnRotation = combinedNovelty(novelty.knn, novelty.rotation, { knn: scale('knn'), rotation: scale('rotation'), rotationCap: config.train.rotationCap });
  }
  const stats = {} as ValidationStats;
  for (const name of scoresOfRun(config.train)) {
    const { mean, sd } = scale(name);
    stats[name] = { mean, sd, threshold: percentile(novelty[name], pct) };
  }
  return { stats, ...(accuracy === undefined ? {} : { rotationAccuracy: accuracy }) };
}

/** Most pictures R's BatchNorm layers after the first take their statistics from (setRStatistics). */
export const DEEPER_STATISTICS_PICTURES = 1024;

/**
 * R's BatchNorm statistics from `pictures` (the clean memory pictures): the first layer's from every one of them, the
 * deeper layers' from every k-th, at most DEEPER_STATISTICS_PICTURES. The knn verdict, the local score and the maps
 * read R's first block alone, so what they see is exact; the deeper layers serve the reconstruction's scores,
 * D(R(x)) and D's next steps (which take R's reconstructions in inference mode), and 1,024 pictures put each channel's
 * mean within 0.03 of a standard deviation even counting a picture as one value. Why: their convs were three
 * quarters of this phase's 1.2 s an epoch on the baseline instruction set (docs/performance.md).
 */
export function setRStatistics(r: AloccNets['r'], pictures: ImageSet): void {
  const every = Math.ceil(pictures.count / DEEPER_STATISTICS_PICTURES);
  const sample = every > 1 ? pickRows(pictures, Array.from({ length: Math.ceil(pictures.count / every) }, (_, i) => i * every)) : null;
  setBatchNormStatistics(r, () => batchesOf(pictures), sample ? () => batchesOf(sample) : undefined);
}

/**
 * This epoch's knn memory, as unit feature rows of R's features now: those of a greedy k-centre coreset of
 * memoryCoreset training images (src/score/coreset.ts, which embeds them while choosing), or of the stored sample
 * itself where memoryCoreset is 0.
 */
function memoryAtEpoch(job: EpochEndJob, space: FeatureSpace, workspace: CoresetWorkspace, pooled?: PooledRowVisitor): { features: Float32Array; images: number; dims: number } {
  const { memoryCoreset, seed, neighbours } = job.config.train;
  if (memoryCoreset > 0) {
    const { images, features, dims } = coreset(space, job.train, memoryCoreset, seed, workspace, pooled);
    return { features, images: images.count, dims };
  }
  const built = buildFeatureMemory(space, job.memoryImages, neighbours);
  try {
    return { features: bankRows(built), images: built.images, dims: built.dims };
  } finally {
    disposeFeatureMemory(built);
  }
}

/**
 * The after-step work of `epoch`, each phase timed to job.events.phase. Throws AloccError where a validation score or
 * the cell distances are not finite (a diverged run: nothing of the epoch is saved).
 */
export function epochEnd(job: EpochEndJob, epoch: number, workspace: CoresetWorkspace): EpochEnd {
  const { config, nets } = job;
  const phase = (name: EpochEndPhase) => (job.events?.phase ? (time: PhaseTime) => job.events!.phase!(epoch, name, time) : undefined);
  if (config.train.batchNormStatistics === 'pictures') {
    // Before anything is scored or saved: the knn memory, the thresholds and the checkpoint all see these statistics.
    // R's only: D's moving averages of real and fake batches are what D(R(x)) and D(x) were trained to read.
    timedPhase(phase('batchNormStatistics'), () => setRStatistics(nets.r, job.memoryImages));
  }
  // The bank is stored in half precision and calibrated as stored, so score and eval see the thresholds' bank.
  const space = featureSpaceOf(nets, config.train);
  // The maps' cell memory from the coreset's pass over the training pictures, where it can be (./memory-cells.ts).
  // The rotation net's cells beside R's in the maps, where the run's maps read them (TrainConfig.cellRotationWeight).
  const part = trainingCellPart(config.train, nets.rotation?.net, job.memoryImages.size);
  // And the cells' own pixels (TrainConfig.cellPixelWeight).
  const pixels = cellPixelsOf(config.train, job.memoryImages.size, job.memoryImages.channels);
  const memoryCells = timedPhase(phase('calibration'), () => memoryCellsFromPass(config.train, job.train, job.memoryImages, space, part, pixels));
  const { stored, images, dims } = timedPhase(phase('memory'), () => {
    const { features, dims, images } = memoryAtEpoch(job, space, workspace, memoryCells?.visit);
    return { stored: toFloat16(features), images, dims };
  });
  const { stats: validation, rotationAccuracy } = timedPhase(phase('validation'), () => {
    const memory = memoryFromBank(space, fromFloat16(stored), images, config.train.neighbours);
    try {
      return validationStats(job, memory);
    } finally {
      disposeFeatureMemory(memory);
    }
  });
  const bad = scoresOfRun(config.train).find((s) => !Number.isFinite(validation[s].mean) || !Number.isFinite(validation[s].threshold));
  if (bad) {
    // A NaN would be saved as null and make run.json unreadable; the previous epoch stays the last checkpoint.
    const what = bad === 'bce' ? 'reconstruction loss' : scoreTitle(bad);
    throw new AloccError(
      `training diverged: the validation ${what} is ${validation[bad].mean} after epoch ${epoch}; ${lastGood(epoch)}. ` +
        'Try a lower --lr',
    );
  }
  // The local score's threshold and the maps' colour scale, from the validation pictures (src/score/cell-calibration.ts).
  const cells = timedPhase(phase('calibration'), () => {
    const search = memoryCells?.search();
    return search ? calibrateSearch(search, config.train, job.validation) : calibrateRun(nets.r, config.train, job.memoryImages, job.validation, part, pixels);
  });
  if (!Number.isFinite(cells.local.threshold) || !Number.isFinite(cells.scale.cellThreshold)) {
    throw new AloccError(`training diverged: the validation pictures' cell distances are not finite after epoch ${epoch}; ${lastGood(epoch)}. Try a lower --lr`);
  }
  return { stored, memory: { images, features: dims }, validation, cells, ...(rotationAccuracy === undefined ? {} : { rotationAccuracy }) };
}
