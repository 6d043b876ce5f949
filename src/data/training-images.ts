/** A run's normal images, from a built-in set or a folder of the user's pictures, in the run's shape. */
import * as fs from 'fs';
import { RunConfig } from '../config';
import { UsageError } from '../errors';
import { FolderReport, loadImageFolder } from './folder';
import { builtInTrainingImages, ImageSet } from './source';

/** Refuses a --data that is not a folder, before any run folder is made. `asGiven` is the path as the user typed it. */
export function checkTrainingFolder(folder: string, asGiven: string | undefined): void {
  const stat = fs.statSync(folder, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`--data ${asGiven}: no such folder`);
  if (!stat.isDirectory()) throw new UsageError(`--data ${asGiven} is a file; name the folder that holds the training pictures`);
}

/**
 * The normal images in the run's shape, and for a folder what was done to its pictures. A folder's channels left to
 * the pictures (0) are settled by them: `channels` is what the run must record.
 */
export async function loadNormalImages(cfg: RunConfig, skipBad: boolean): Promise<{ all: ImageSet; channels: number; folder: FolderReport | null }> {
  if (cfg.data.source !== 'folder') return { all: builtInTrainingImages(cfg.data), channels: cfg.model.channels, folder: null };
  const loaded = await loadImageFolder(cfg.data.folder!, {
    size: cfg.model.inputSize,
    channels: cfg.model.channels === 0 ? 'auto' : (cfg.model.channels as 1 | 3),
    resize: cfg.preprocessing.resize,
    skipBad,
  });
  const folder: FolderReport = { ignoredFiles: loaded.ignored, skipped: loaded.skipped, ...loaded.converted };
  return { all: { pixels: loaded.pixels, count: loaded.count, size: cfg.model.inputSize, channels: loaded.channels }, channels: loaded.channels, folder };
}
