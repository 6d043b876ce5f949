/**
 * Starting or resuming a run in its folder: the run's settings from what was asked and what the folder holds, the
 * checks that refuse a start that would lose or mix work, and the folder claimed for this process.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  BUILT_IN_PREPROCESSING, configDifferences, DataConfig, DatasetName, DEFAULT_FOLDER_SIZE, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG,
  FOLDER_PREPROCESSING, PreprocessingConfig, ROTATION_SCORES, RunConfig, TrainConfig,
} from '../config';
import { UsageError } from '../errors';
import { describeWriteError } from '../fsutil';
import { ImageSet } from '../data/source';
import { lockRun, tidyRunDir } from './folder';
import { runFilePath } from './paths';
import type { FolderReport } from '../data/folder';
import { refusal } from './advice';
import { RUN_FILE_VERSION, RunFile } from './runfile';

/** What a training asks of its run folder: the data, the run's shape and settings, and how to treat a run already there. */
export interface RunRequest extends Partial<TrainConfig> {
  /** Where the normal images come from: a built-in set and its class, or a folder. */
  data: { source: DatasetName; class?: number; folder?: string };
  /** The run's folder name in checkpointDir; default digit-<d>, fashion-<c> or the folder's name. */
  name?: string;
  /** Side the pictures are resized to (folders; built-in sets are 28). */
  size?: number;
  /** 1 grey, 3 colour; folders default to 3 if any training picture has colour. */
  channels?: 1 | 3;
  resize?: PreprocessingConfig['resize'];
  checkpointDir: string;
  /** Continue the run in checkpointDir from its last complete epoch. */
  resume?: boolean;
  /** Delete an existing run of this name and start over. */
  overwrite?: boolean;
}

/** Refuses to start when the run folder's state and the request disagree: nothing to resume, or a run in the way. */
export function checkStart(existing: RunFile | null, req: RunRequest, cfg: RunConfig, runDir: string, name: string): void {
  if (req.resume && !existing) {
    throw refusal(`nothing to resume: ${runFilePath(runDir)} does not exist`, { kind: 'start', data: cfg.data, name });
  }
  if (existing && !req.resume && !req.overwrite) {
    const epochs = Math.max(cfg.train.epochs, existing.epochs.length + 1);
    throw refusal(`${runDir} already holds a run of ${existing.epochs.length} epoch(s)`, {
      kind: 'resume',
      config: { ...existing.config, train: { ...existing.config.train, epochs } },
      name,
      checkpointDir: req.checkpointDir,
    });
  }
  if (existing && req.resume) {
    const differences = configDifferences(existing.config, cfg);
    if (differences.length) {
      throw refusal(`cannot resume ${runDir}: settings differ from the run's`, {
        kind: 'resume',
        config: { ...existing.config, train: { ...existing.config.train, epochs: cfg.train.epochs } },
        name,
        checkpointDir: req.checkpointDir,
        differences,
      });
    }
  }
}

const DEFAULT_TRAIN_CLASS = 1;
/** The run's data settings, from the request (a folder is recorded as an absolute path). */
export function dataConfigOf(req: RunRequest): DataConfig {
  const d = req.data;
  if (d.source === 'folder') return { source: 'folder', class: null, folder: path.resolve(d.folder ?? '') };
  return { source: d.source, class: d.class ?? DEFAULT_TRAIN_CLASS, folder: null };
}

/** Model and preprocessing from the request, the run being resumed, or the source's defaults. */
function shapeOf(req: RunRequest, data: DataConfig, saved: RunConfig | undefined): Pick<RunConfig, 'model' | 'preprocessing'> {
  const folder = data.source === 'folder';
  if (!folder && ((req.size !== undefined && req.size !== 28) || (req.channels !== undefined && req.channels !== 1))) {
    throw new UsageError(`--size and --channels apply to --data folders; ${data.source} images are 28×28 grey`);
  }
  const preprocessing = { ...(saved?.preprocessing ?? (folder ? FOLDER_PREPROCESSING : BUILT_IN_PREPROCESSING)) };
  if (req.resize !== undefined) preprocessing.resize = req.resize;
  const model = { ...(saved?.model ?? DEFAULT_MODEL_CONFIG) };
  if (!saved) {
    model.inputSize = folder ? (req.size ?? DEFAULT_FOLDER_SIZE) : 28;
    model.channels = folder ? (req.channels ?? 0) : 1; // 0: decided by the pictures
  } else {
    if (req.size !== undefined) model.inputSize = req.size;
    if (req.channels !== undefined) model.channels = req.channels;
  }
  return { model, preprocessing };
}

/**
 * The run's settings: those given, then (on resume, so `alocc train --digit d --resume` is enough) the saved run's,
 * then the defaults.
 */
export function runConfigFor(req: RunRequest, data: DataConfig, saved: RunConfig | undefined): RunConfig {
  const train: TrainConfig = { ...(saved?.train ?? DEFAULT_TRAIN_CONFIG) };
  for (const key of Object.keys(train) as (keyof TrainConfig)[]) {
    if (req[key] !== undefined) (train as unknown as Record<string, unknown>)[key] = req[key];
  }
  if (req.noveltyScore !== undefined && (ROTATION_SCORES as readonly string[]).includes(req.noveltyScore) && train.rotationPasses === 0 && req.rotationPasses === 0) {
    throw new UsageError(`--score ${req.noveltyScore} needs the rotation net; give --rotation-passes 1 or more, or another --score`);
  }
  const shape = shapeOf(req, data, saved);
  // A resumed run keeps its rotation net or its lack of one.
  if (!saved) settleRotationNet(train, req);
  return { data, ...shape, train };
}

/**
 * A new run whose verdict is not a rotation score (--score knn, --preset recon-knn) has no use for the rotation net:
 * it trains none unless --rotation-passes was typed.
 */
export function settleRotationNet(train: TrainConfig, req: Pick<RunRequest, 'rotationPasses'>): void {
  if (req.rotationPasses === undefined && !(ROTATION_SCORES as readonly string[]).includes(train.noveltyScore)) train.rotationPasses = 0;
}

/** Makes the run folder and locks it for this process, tidying what a killed training left; returns the release. */
export function claimRunDir(runDir: string): () => void {
  try {
    // Before any slow work: a checkpoint folder that cannot be made should fail now, not after the first epoch.
    fs.mkdirSync(runDir, { recursive: true });
  } catch (err) {
    throw describeWriteError(runDir, err);
  }
  const release = lockRun(runDir);
  try {
    tidyRunDir(runDir);
  } catch (err) {
    release();
    throw err;
  }
  return release;
}

/** A run file with no epochs yet. */
export function newRunFile(
  cfg: RunConfig, backend: string, train: ImageSet, validation: ImageSet, memory: RunFile['memoryImages'], folder: FolderReport | null, validationPictures?: RunFile['validationPictures'],
): RunFile {
  const now = new Date().toISOString();
  return {
    format: 'alocc-run',
    version: RUN_FILE_VERSION,
    config: cfg,
    backend,
    createdAt: now,
    updatedAt: now,
    trainImages: train.count,
    validationImages: validation.count,
    memoryImages: memory,
    ...(validationPictures ? { validationPictures } : {}),
    folder,
    epochs: [],
    batches: [],
    bestEpoch: null,
  };
}
