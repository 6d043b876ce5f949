import * as tf from '@tensorflow/tfjs';
import { RunConfig, NoveltyScore } from '../config';
import { ImageSet } from '../data/source';
import { disposeFeatureMemory, FeatureMemory, FoldedFirstBlock, memoryFromHalfBank, featureSpaceOf } from '../score/feature-memory';
import { MEMORY_LRELU } from '../score/nearest';
import { InferenceNet, inferenceNet } from '../score/inference';
import { disposeScoringInference, firstBlock, ScoringInference, scoringInference } from '../score/scorer';
import { RotationCombination } from '../score/combined-score';
import { loadEpochModels } from './checkpoint';
import { memoryReader } from './open-knn';
import { combinationOf } from './open-rotation';
import { readVerified } from './verified';
import { MEMORY_IMAGES_FILE, VALIDATION_IMAGES_FILE } from './paths';
import { EpochRecord, RunFile } from './runfile';
import { preprocessingOf, RunAtEpoch, RunPreprocessing, runAtEpoch } from './select';


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
  /** The rotation net of this epoch, where the run trains one. */
  rotationNet?: tf.LayersModel;
  /** The validation scales knnRotation standardises with at this epoch, where the run has a rotation net. */
  combination?: RotationCombination;
  /** The knn memory of this epoch, as training saved it. */
  memory: FeatureMemory;
  /** R and D folded for scoring (their weights do not change once opened); folded on first use. */
  readonly inference: ScoringInference;
  /** R's first block folded, all a knn verdict needs (the same numbers as inference.r's); made on first use. */
  firstBlock(): FoldedFirstBlock;
  /** The memory's images (bytes, the run's shape), read and verified on first use: eval's raw-pixel baseline. */
  memoryImages(): ImageSet;
  /** The validation pictures (bytes, the run's shape), read and verified; null for runs that did not store them (file version 7 and earlier). */
  validationImages(): ImageSet | null;
  dispose(): void;
}

/**
 * Opens the run in `dir` at `epoch` (default: its best epoch), verifying every file against the run's checksums;
 * `at`: the run file as the caller has already read it.
 */
export function openRun(dir: string, opts: { epoch?: number; at?: RunAtEpoch } = {}): OpenedRun {
  const at = opts.at ?? runAtEpoch(dir, opts.epoch);
  const { run, epoch, record } = at;
  const nets = loadEpochModels(dir, run, epoch);
  let memory: FeatureMemory;
  try {
    const { images, features } = record.memory;
    memory = memoryFromHalfBank(featureSpaceOf(nets, run.config.train), images, features, run.config.train.neighbours, memoryReader(at));
  } catch (err) {
    nets.r.dispose();
    nets.d.dispose();
    nets.rotation?.dispose();
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
    ...(nets.rotation ? { rotationNet: nets.rotation, combination: combinationOf(record, run.config.train) } : {}),
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
    validationImages() {
      const stored = run.validationPictures;
      if (!stored) return null;
      const bytes = readVerified(dir, VALIDATION_IMAGES_FILE, { [VALIDATION_IMAGES_FILE]: stored.sha256 });
      return { pixels: new Uint8Array(bytes), count: stored.count, size, channels };
    },
    dispose() {
      nets.r.dispose();
      nets.d.dispose();
      nets.rotation?.dispose();
      disposeFeatureMemory(memory);
      disposeScoringInference(inference);
      blockNet?.dispose();
    },
  };
}

