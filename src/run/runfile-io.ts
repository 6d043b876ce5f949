import * as fs from 'fs';
import * as path from 'path';
import { AloccError, firstLine } from '../errors';
import { readFileOrExplain, writeFileAtomic } from '../fsutil';
import { RunFile, runFileProblem } from './runfile';

export const RUN_FILE_NAME = 'run.json';

export function runFilePath(runDir: string): string {
  return path.join(runDir, RUN_FILE_NAME);
}

/** Reads and validates run.json; null when the run does not exist yet. */
export function readRunFileIfExists(runDir: string): RunFile | null {
  const file = runFilePath(runDir);
  if (!fs.existsSync(file)) return null;
  return readRunFile(runDir);
}

/** Reads and validates run.json, with one clear line for every way it can be wrong. */
export function readRunFile(runDir: string): RunFile {
  const file = runFilePath(runDir);
  if (!fs.existsSync(file)) {
    const digit = /digit-(\d)$/.exec(path.resolve(runDir))?.[1] ?? '<d>';
    throw new AloccError(`no training run found at ${file}; create one with: alocc train --digit ${digit}`);
  }
  const text = readFileOrExplain(file, 'run file').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AloccError(`${file} is not valid JSON (${firstLine(err)}); delete the folder and retrain`);
  }
  const problem = runFileProblem(parsed);
  if (problem) throw new AloccError(`${file} is not an alocc run file: ${problem}`);
  const run = parsed as RunFile;
  // Runs from before these options scored with the reconstruction loss and trained on clipped BCE.
  run.config.train.noveltyScore ??= 'bce';
  run.config.train.bce ??= 'clipped';
  // ... and had no knn score; 5 (the default) keeps a resumed old run's config equal to the one it is resumed with.
  run.config.train.neighbours ??= 5;
  return run;
}

export function writeRunFile(runDir: string, run: RunFile): void {
  writeFileAtomic(runFilePath(runDir), JSON.stringify(run) + '\n');
}
