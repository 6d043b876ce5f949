import * as path from 'path';
import { DataConfig } from '../config';
import { UsageError } from '../errors';

/** A run's files inside its folder; a run folder holds everything score and eval need, so it can be moved whole. */
export const RUN_FILE_NAME = 'run.json';
export const MEMORY_IMAGES_FILE = 'memory-images.bin';
/** The validation pictures (bytes, the run's shape): what every threshold and scale was calibrated on. */
export const VALIDATION_IMAGES_FILE = 'validation-images.bin';
export const EPOCH_MEMORY_FILE = 'memory.bin';
/** An epoch's cell calibration (src/score/cell-calibration.ts), as JSON. */
export const EPOCH_CELLS_FILE = 'cells.json';

/** <checkpoint-dir>/<name>. */
export function runDirFor(checkpointDir: string, name: string): string {
  return path.join(checkpointDir, checkRunName(name));
}

export function epochDirFor(runDir: string, epoch: number): string {
  return path.join(runDir, `epoch-${epoch}`);
}

export function runFilePath(runDir: string): string {
  return path.join(runDir, RUN_FILE_NAME);
}

/** A run's name is one folder name: letters, digits, '.', '_' and '-', not starting with '.' or '-' (an option). */
export function checkRunName(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new UsageError(`--name '${name}' is not a run name: use letters, digits, '.', '_' and '-' (up to 100, not starting with '.' or '-')`);
  }
  return name;
}

/** The run name used when --name is not given: digit-<d>, fashion-<c>, or the folder's own name. */
export function defaultRunName(data: DataConfig): string {
  if (data.source === 'mnist') return `digit-${data.class}`;
  if (data.source === 'fashion-mnist') return `fashion-${data.class}`;
  // Made a valid name (checkRunName): a folder called '-photos' or with a long name still trains without --name.
  const base = path.basename(path.resolve(data.folder!)).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]+/, '').slice(0, 100);
  return base || 'images';
}

/** The built-in data a default run name stands for (digit-<d>, fashion-<c>), or null for any other name. */
export function dataOfRunName(name: string): DataConfig | null {
  const digit = /^digit-(\d)$/.exec(name)?.[1];
  if (digit) return { source: 'mnist', class: Number(digit), folder: null };
  const fashion = /^fashion-(\d)$/.exec(name)?.[1];
  return fashion ? { source: 'fashion-mnist', class: Number(fashion), folder: null } : null;
}
