import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DatasetName, RunConfig } from '../config';
import { NoveltyScore } from '../score/registry';
import { Preprocessing } from '../data/decode';
import { ImageSet } from '../data/source';
import { AloccError } from '../errors';
import { disposeFeatureMemory, FeatureMemory, FoldedFirstBlock, MEMORY_LRELU, memoryFromHalfBank, rFeatureSpace } from '../score/feature-memory';
import { InferenceNet, inferenceNet } from '../score/inference';
import { disposeScoringInference, firstBlock, ScoringInference, scoringInference } from '../score/scorer';
import { loadEpochModels, readVerified, readVerifiedInto } from './checkpoint';
import { defaultRunName, EPOCH_MEMORY_FILE, epochDirFor, MEMORY_IMAGES_FILE, runDirFor, runFilePath } from './paths';
import { EpochRecord, RunFile } from './runfile';
import { howToTrain, readRunFile } from './runfile-io';

/** How pictures are prepared for a run's networks: its preprocessing at its model's size and channels. */
export type RunPreprocessing = Preprocessing;

export function preprocessingOf(config: RunConfig): RunPreprocessing {
  return { ...config.preprocessing, size: config.model.inputSize, channels: config.model.channels as 1 | 3 };
}

/** A run opened at one epoch: everything score and eval need, from the run folder alone. */
export interface OpenedRun {
  dir: string;
  run: RunFile;
  config: RunConfig;
  preprocessing: RunPreprocessing;
  epoch: number;
  record: EpochRecord;
  /** The verdict's score and its calibrated threshold at this epoch: novel when the score is above it. */
  score: NoveltyScore;
  threshold: number;
  r: tf.LayersModel;
  d: tf.LayersModel;
  /** The knn memory of this epoch, as training saved it. */
  memory: FeatureMemory;
  /** R and D folded for scoring (their weights do not change once opened); folded on first use. */
  readonly inference: ScoringInference;
  /** R's first block folded, all a knn verdict needs (the same numbers as inference.r's); made on first use. */
  firstBlock(): FoldedFirstBlock;
  /** The memory's images (bytes, the run's shape), read and verified on first use: eval's raw-pixel baseline. */
  memoryImages(): ImageSet;
  dispose(): void;
}

/** The run file of `dir`, with one line that says how to make it when there is none. */
export function readRun(dir: string): RunFile {
  if (!fs.existsSync(runFilePath(dir))) throw new AloccError(`no trained run at ${dir} (it has no ${path.basename(runFilePath(dir))}); ${howToTrain(dir)}`);
  return readRunFile(dir);
}

/** Opens the run in `dir` at `epoch` (default: its best epoch), verifying every file against the run's checksums. */
export function openRun(dir: string, opts: { epoch?: number } = {}): OpenedRun {
  const run = readRun(dir);
  if (run.bestEpoch === null) {
    throw new AloccError(`${dir} has no completed epoch yet; finish its training with --resume (alocc train ... --resume)`);
  }
  const epoch = opts.epoch ?? run.bestEpoch;
  const nets = loadEpochModels(dir, run, epoch); // says which epochs exist when `epoch` is not one of them
  const record = run.epochs.find((e) => e.epoch === epoch)!;
  let memory: FeatureMemory;
  try {
    const { images, features } = record.memory;
    const describe = (bytes: number) =>
      `${path.join(epochDirFor(dir, epoch), EPOCH_MEMORY_FILE)} holds ${bytes} bytes, not ${images}×${features} half floats; retrain`;
    memory = memoryFromHalfBank(rFeatureSpace(nets.r), images, features, run.config.train.neighbours, (bytes) =>
      readVerifiedInto(epochDirFor(dir, epoch), EPOCH_MEMORY_FILE, record.checksums, bytes, describe),
    );
  } catch (err) {
    nets.r.dispose();
    nets.d.dispose();
    throw err;
  }
  // Folding all of R and D costs ~50 ms of a cold `alocc score`; a knn verdict needs R's first block only.
  let inference: ScoringInference | undefined;
  let blockNet: InferenceNet | undefined;
  let memoryImages: ImageSet | undefined;
  const { inputSize: size, channels } = run.config.model;
  return {
    dir,
    run,
    config: run.config,
    preprocessing: preprocessingOf(run.config),
    epoch,
    record,
    score: run.config.train.noveltyScore,
    threshold: record.threshold,
    r: nets.r,
    d: nets.d,
    memory,
    get inference() {
      return (inference ??= scoringInference(nets.r, nets.d));
    },
    firstBlock() {
      return firstBlock(inference?.r ?? (blockNet ??= inferenceNet(nets.r, { through: MEMORY_LRELU })));
    },
    memoryImages() {
      if (!memoryImages) {
        const bytes = readVerified(dir, MEMORY_IMAGES_FILE, { [MEMORY_IMAGES_FILE]: run.memoryImages.sha256 });
        memoryImages = { pixels: new Uint8Array(bytes), count: run.memoryImages.count, size, channels };
      }
      return memoryImages;
    },
    dispose() {
      nets.r.dispose();
      nets.d.dispose();
      disposeFeatureMemory(memory);
      disposeScoringInference(inference);
      blockNet?.dispose();
    },
  };
}

/** How a command names its run: a folder, a name in the checkpoint folder, or a data set and class. */
export interface RunSelector {
  /** A run folder, named directly (`--model`). */
  model?: string;
  name?: string;
  digit?: number;
  dataset?: DatasetName;
  cls?: number;
  checkpointDir: string;
}

/** The run folder a command uses: the one named, else the only run in the checkpoint folder. */
export function resolveRunDir(sel: RunSelector): string {
  if (sel.model !== undefined) return sel.model;
  if (sel.name !== undefined) return runDirFor(sel.checkpointDir, sel.name);
  if (sel.digit !== undefined) return runDirFor(sel.checkpointDir, `digit-${sel.digit}`);
  if (sel.dataset !== undefined && sel.dataset !== 'folder' && sel.cls !== undefined) {
    return runDirFor(sel.checkpointDir, defaultRunName({ source: sel.dataset, class: sel.cls, folder: null }));
  }
  let names: string[] = [];
  try {
    names = fs.readdirSync(sel.checkpointDir).sort();
  } catch {
    // Reported below as "no run found".
  }
  const runs = names.filter((n) => fs.existsSync(runFilePath(path.join(sel.checkpointDir, n))));
  if (runs.length === 1) return path.join(sel.checkpointDir, runs[0]);
  if (runs.length === 0) throw new AloccError(`no trained run found in ${sel.checkpointDir}; train one with: alocc train --digit 1 (or --data <folder>)`);
  throw new AloccError(`${sel.checkpointDir} holds ${runs.length} runs (${runs.join(', ')}); choose one with --name NAME or --model DIR`);
}
