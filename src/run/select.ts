/**
 * Choosing a run's epoch from its run file, and how its pictures are prepared: what every command that opens a run
 * does first, with no TensorFlow.js (the knn verdict runs without it).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DatasetName, RunConfig } from '../config';
import { Preprocessing } from '../data/decode';
import { AloccError } from '../errors';
import { refusal } from './advice';
import { defaultRunName, runDirFor, runFilePath } from './paths';
import { EpochRecord, RunFile } from './runfile';
import { readRunFile } from './runfile-io';

/** How pictures are prepared for a run's networks: its preprocessing at its model's size and channels. */
export type RunPreprocessing = Preprocessing;

export function preprocessingOf(config: RunConfig): RunPreprocessing {
  return { ...config.preprocessing, size: config.model.inputSize, channels: config.model.channels as 1 | 3 };
}

/** The run file of `dir`, refused with the advice to make it when there is none. */
export function readRun(dir: string): RunFile {
  if (!fs.existsSync(runFilePath(dir))) throw refusal(`no trained run at ${dir} (it has no ${path.basename(runFilePath(dir))})`, { kind: 'create', runDir: dir });
  return readRunFile(dir);
}

/** A run and its record at one epoch, from one reading of its run file. */
export interface RunAtEpoch {
  dir: string;
  run: RunFile;
  epoch: number;
  record: EpochRecord;
}

/** The run in `dir` and its record at `epoch` (default: its best epoch), or one line saying why there is none. */
export function runAtEpoch(dir: string, epoch?: number): RunAtEpoch {
  const run = readRun(dir);
  if (run.bestEpoch === null) {
    throw refusal(`${dir} has no completed epoch yet`, { kind: 'finish' });
  }
  const at = epoch ?? run.bestEpoch;
  const record = run.epochs.find((e) => e.epoch === at);
  if (!record) {
    const have = run.epochs.map((e) => e.epoch).join(', ') || 'none';
    throw new AloccError(`epoch ${at} has no checkpoint in ${dir} (completed epochs: ${have})`);
  }
  return { dir, run, epoch: at, record };
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
  if (sel.digit !== undefined) return runDirFor(sel.checkpointDir, defaultRunName({ source: 'mnist', class: sel.digit, folder: null }));
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
  if (runs.length === 0) throw refusal(`no trained run found in ${sel.checkpointDir}`, { kind: 'first-run' });
  throw new AloccError(`${sel.checkpointDir} holds ${runs.length} runs (${runs.join(', ')}); choose one with --name NAME or --model DIR`);
}
