import * as fs from 'fs';
import { AloccError } from '../errors';
import { loadEpochModels, LoadedNets, runDirFor } from '../run/checkpoint';
import { buildFeatureMemory, FeatureMemory } from '../score/feature-memory';
import { loadTrainingSplit } from '../train/dataset';
import { EpochRecord, RunFile } from '../run/runfile';
import { readRunFile, runFilePath } from '../run/runfile-io';

/** The digit to use: the one asked for, or the only one trained in checkpointDir. */
export function resolveDigit(checkpointDir: string, digit: number | undefined): number {
  if (digit !== undefined) return digit;
  let names: string[] = [];
  try {
    names = fs.readdirSync(checkpointDir);
  } catch {
    // Reported below as "no run found".
  }
  const digits = names
    .map((n) => /^digit-(\d)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(runFilePath(`${checkpointDir}/${m[0]}`)))
    .map((m) => Number(m[1]));
  if (digits.length === 1) return digits[0];
  if (digits.length === 0) {
    throw new AloccError(`no trained model found in ${checkpointDir}; train one with: alocc train --digit 1`);
  }
  throw new AloccError(`${checkpointDir} holds runs for digits ${digits.join(', ')}; choose one with --digit`);
}

export interface ResolvedModel extends LoadedNets {
  /** The run's training images in R's features (the knn score). */
  memory: FeatureMemory;
  run: RunFile;
  runDir: string;
  record: EpochRecord;
}

/** Loads the checkpoint `score` and `eval` use: the best epoch by validation loss, or the one asked for. */
export function loadScoringModel(checkpointDir: string, digit: number, epoch?: number): ResolvedModel {
  const runDir = runDirFor(checkpointDir, digit);
  if (!fs.existsSync(runFilePath(runDir))) {
    throw new AloccError(
      `no trained model for digit ${digit}: ${runFilePath(runDir)} does not exist; train one with: alocc train --digit ${digit}` +
        (checkpointDir === 'checkpoints' ? '' : ` --checkpoint-dir ${checkpointDir}`),
    );
  }
  const run = readRunFile(runDir);
  const chosen = epoch ?? run.bestEpoch;
  if (chosen === null) {
    throw new AloccError(`${runDir} has no completed epoch yet; finish training with: alocc train --digit ${digit} --resume`);
  }
  const nets = loadEpochModels(runDir, run, chosen);
  let memory: FeatureMemory;
  try {
    memory = loadRunMemory(run, nets.r);
  } catch (err) {
    nets.r.dispose();
    nets.d.dispose();
    throw err;
  }
  return { ...nets, memory, run, runDir, record: run.epochs.find((e) => e.epoch === chosen)! };
}

/**
 * The knn score's memory for a run: its training images (rebuilt from MNIST exactly as the run split them; the
 * validation images stay out) in the features of R, which must be the run's R at the epoch being scored.
 */
export function loadRunMemory(run: RunFile, r: LoadedNets['r']): FeatureMemory {
  const { train } = loadTrainingSplit(run.config);
  return buildFeatureMemory(r, train.pixels, train.count, run.config.model.inputSize, run.config.train.neighbours);
}
