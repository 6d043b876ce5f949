import * as fs from 'fs';
import { AloccError, firstLine } from '../errors';
import { readFileOrExplain, writeFileAtomic } from '../fsutil';
import { refusal, RunAdvice } from './advice';
import { runFilePath } from './paths';
import { RUN_FILE_VERSION, RunFile, runFileProblem } from './runfile';

/** Reads and validates run.json; null when the run does not exist yet. */
export function readRunFileIfExists(runDir: string): RunFile | null {
  const file = runFilePath(runDir);
  if (!fs.existsSync(file)) return null;
  return readRunFile(runDir);
}

/** Reads and validates run.json, with one clear line for every way it can be wrong. */
export function readRunFile(runDir: string): RunFile {
  const file = runFilePath(runDir);
  if (!fs.existsSync(file)) throw refusal(`no training run found at ${file}`, { kind: 'create', runDir });
  const text = readFileOrExplain(file, 'run file').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AloccError(`${file} is not valid JSON (${firstLine(err)}); delete the folder and retrain`);
  }
  const old = parsed as { format?: unknown; version?: unknown; config?: { train?: { digit?: unknown } } };
  if (old?.format === 'alocc-run' && old.version === 1) {
    const digit = Number.isInteger(old.config?.train?.digit) ? (old.config!.train!.digit as number) : null;
    throw refusal(`${file} was made by alocc 0.1, whose runs need MNIST to score`, { kind: 'retrain-0.1', runDir, digit });
  }
  if (old?.format === 'alocc-run' && old.version === 2) {
    const data = (parsed as { config?: { data?: Extract<RunAdvice, { kind: 'retrain' }>['data'] } }).config?.data;
    throw refusal(`${file} was made by an earlier alocc (run file version 2), whose knn memory is in features this version no longer computes`, { kind: 'retrain', runDir, data });
  }
  upgradeOlderVersions(parsed);
  const problem = runFileProblem(parsed);
  if (problem) throw new AloccError(`${file} is not an alocc run file (version ${RUN_FILE_VERSION}): ${problem}`);
  return parsed as RunFile;
}

/**
 * Versions 3 to 10 are read as 11, with the values their settings had before they existed: version 3 lacks
 * config.train.memoryCoreset (its knn memory is the stored sample, which memoryCoreset 0 means), versions 3 and 4 lack
 * config.train.cellPooling (their knn features are the cells' means), 3 to 5 lack config.train.batchNormStatistics
 * (their networks keep training's moving averages), 3 to 6 lack config.train.cellNeighbourhood and localTopK
 * (their maps compared cells by position; 3 is the local score's k) and their epochs' cell calibration (the maps then
 * fall back to a calibration on the memory images, src/api/maps.ts), and all five lack the rotation net's settings
 * (they had none: rotationPasses 0); all six lack rotationCap (version 8's knnRotation summed its parts uncapped: null);
 * all seven lack cellRotationWeight (their maps and stored cell calibrations read R's cells alone: 0), and all
 * eight lack cellPixelWeight (their maps read no pixels: 0).
 * Their checkpoints and memory files are what those settings made, so they score and map exactly as before.
 */
function upgradeOlderVersions(parsed: unknown): void {
  const run = parsed as { format?: unknown; version?: unknown; config?: { train?: Record<string, unknown> } };
  const train = run?.config?.train;
  const v = run?.version;
  if (run?.format !== 'alocc-run' || typeof v !== 'number' || v < 3 || v > 10 || typeof train !== 'object' || train === null) return;
  // A file that already names a field its version lacked is not one alocc wrote: left to be refused by its version.
  const lacked = [
    'cellPixelWeight',
    ...(v <= 9 ? ['cellRotationWeight'] : []),
    ...(v <= 8 ? ['rotationCap'] : []),
    ...(v <= 7 ? ['rotationPasses', 'rotationBatchSize', 'rotationLearningRate', 'rotationFilters', 'rotationAugment'] : []),
    ...(v <= 6 ? ['cellNeighbourhood', 'localTopK'] : []), ...(v <= 5 ? ['batchNormStatistics'] : []), ...(v <= 4 ? ['cellPooling'] : []), ...(v === 3 ? ['memoryCoreset'] : []),
  ];
  if (lacked.some((k) => k in train)) return;
  if (v === 3) train.memoryCoreset = 0;
  if (v <= 4) train.cellPooling = 'mean';
  if (v <= 5) train.batchNormStatistics = 'moving';
  if (v <= 6) {
    train.cellNeighbourhood = 'position';
    train.localTopK = 3;
  }
  if (v <= 7) {
    train.rotationPasses = 0;
    train.rotationBatchSize = 32;
    train.rotationLearningRate = 0.001;
    train.rotationFilters = 32;
    train.rotationAugment = 'none';
  }
  if (v <= 8) train.rotationCap = null;
  if (v <= 9) train.cellRotationWeight = 0;
  train.cellPixelWeight = 0;
  run.version = RUN_FILE_VERSION;
}

export function writeRunFile(runDir: string, run: RunFile): void {
  writeFileAtomic(runFilePath(runDir), JSON.stringify(run) + '\n');
}
