/**
 * What a training tells besides its batches and epochs, as data (for programs) and as the line `alocc train` prints
 * for each (the same words, so a program's log reads like the CLI's).
 */
import { BackendInfo, describeBackend } from '../backend-choice';
import { RunConfig, NoveltyScore, stepBatchSize } from '../config';
import { scoreTitle } from '../score/registry';
import { describeData } from '../data/source';
import { FolderReport } from '../data/folder';

export type TrainInfo =
  /** The tfjs backend chosen, and why faster ones were skipped. */
  | { kind: 'backend'; backend: BackendInfo }
  /** A folder's pictures were read: how many, their shape, and what was converted, ignored or skipped. */
  | { kind: 'folder'; folder: string; pictures: number; size: number; channels: number; report: FolderReport }
  /** The run already has the epochs asked for; nothing is trained and the run is returned as it is. */
  | { kind: 'nothing-to-do'; runDir: string; epochs: number }
  /** Training continues a run after its last complete epoch. */
  | { kind: 'resuming'; runDir: string; afterEpoch: number }
  /** Training starts: the run's settings and the images it trains on, holds out and keeps in the knn memory (each epoch). */
  | { kind: 'start'; runDir: string; config: RunConfig; trainImages: number; validationImages: number; memoryImages: number }
  /** Training ended: the best epoch (lowest validation reconstruction loss), that loss, and the threshold on the run's score. */
  | { kind: 'done'; runDir: string; bestEpoch: number; valReconLoss: number; score: NoveltyScore; threshold: number };

/** The folder's line: picture count and shape, then only the conversions and omissions that happened. */
function folderLine(info: Extract<TrainInfo, { kind: 'folder' }>): string {
  const r = info.report;
  const notes = [
    `${info.pictures} picture(s) at ${info.size}×${info.size}×${info.channels}`,
    r.resized ? `${r.resized} resized` : '',
    r.colourToGrey ? `${r.colourToGrey} colour made grey` : '',
    r.greyToColour ? `${r.greyToColour} grey made colour` : '',
    r.ignoredFiles ? `${r.ignoredFiles} file(s) ignored (not a picture format)` : '',
    r.skipped.length ? `${r.skipped.length} unreadable skipped (--skip-bad; listed in run.json)` : '',
  ].filter(Boolean);
  return `${info.folder}: ${notes.join(', ')}`;
}

/** The line `alocc train` prints for `info` (without its newline). */
export function trainInfoLine(info: TrainInfo): string {
  switch (info.kind) {
    case 'backend':
      return describeBackend(info.backend);
    case 'folder':
      return folderLine(info);
    case 'nothing-to-do':
      return `${info.runDir} already has ${info.epochs} epoch(s); nothing to do (raise --epochs to train longer)`;
    case 'resuming':
      return `resuming ${info.runDir} after epoch ${info.afterEpoch}`;
    case 'start': {
      const t = info.config.train;
      return (
        `training on ${describeData(info.config.data)}: ${info.trainImages} images (${info.validationImages} held out, ${info.memoryImages} in the knn memory) for ` +
        `${t.epochs} epoch(s), batch ${stepBatchSize(info.trainImages, t.batchSize)}; checkpoints in ${info.runDir}`
      );
    }
    case 'done':
      return (
        `done: best epoch ${info.bestEpoch} (lowest validation reconstruction loss ${info.valReconLoss.toFixed(5)}; ` +
        `novelty threshold ${info.threshold.toFixed(5)} on the ${scoreTitle(info.score)}); run folder ${info.runDir}`
      );
  }
}
