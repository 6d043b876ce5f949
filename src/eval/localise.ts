/**
 * `alocc eval --masks DIR`: where the run finds its test pictures novel, graded against the user's defect masks.
 * Every test picture gets its anomaly map (src/score/cell-map.ts) and its local score (the mean of its localTopK
 * largest cell distances), with the run's neighbourhood and calibration as `alocc score --maps` uses them; the same
 * search on raw pixel cells (src/score/pixel-cells.ts) is graded beside it, so the network's maps are compared with a
 * network-free baseline. The novel side's pictures are matched to masks by their path below the --novel folder
 * (src/data/masks.ts), the normal side's are intact.
 */
import { floatsOf, LabelledSet } from '../data/source';
import { decodeRawPixels } from '../data/decode';
import { readImageFile } from '../data/image-file';
import { readMasks } from '../data/masks';
import { UsageError } from '../errors';
import { OpenedRun } from '../run/open';
import * as tf from '@tensorflow/tfjs';
import type { CellNeighbourhood } from '../config';
import { localScore } from '../score/cell-scale';
import { anomalyMapsFrom } from '../score/map-geometry';
import { buildPixelCellMemory, disposePixelCellMemory, pixelCellDistances } from '../score/pixel-cells';
import { cellScorer } from './cell-scores';
import { LocalisationReport, localisationReport, ScoredPicture } from './localisation';

export interface LocalisationResult extends LocalisationReport {
  /** Which memory cells a cell is compared with (the run's). */
  neighbourhood: CellNeighbourhood;
  /** The image score is the mean of this many largest cell distances (the run's local score). */
  topK: number;
  /** The same numbers for the same cell search on raw pixel cells: no network at all. */
  baseline: LocalisationReport;
  /** Novel pictures whose mask was read. */
  masks: number;
  /** One line per mask left out, naming the file and what to do. */
  problems: string[];
}

/** Maps, local scores and the localisation numbers of a labelled folder test set, the run's and the baseline's. */
export async function localiseTestImages(opened: OpenedRun, test: LabelledSet, masksDir: string, novelDir?: string, batchSize = 64): Promise<LocalisationResult> {
  if (!test.files) throw new UsageError('--masks grades your own defective pictures: give --normal DIR --novel DIR with it');
  const files = test.files;
  const novel = Array.from({ length: test.count }, (_, i) => i).filter((i) => test.isNovel[i]);
  const targets = [];
  for (const i of novel) {
    const raw = await decodeRawPixels(readImageFile(files[i]), files[i]);
    targets.push({ file: files[i], width: raw.width, height: raw.height });
  }
  const outcomes = await readMasks(masksDir, targets, test.size, opened.preprocessing.resize, novelDir);
  const maskOf = new Map(novel.map((i, k) => [i, outcomes[k].mask]));
  const cells = cellScorer(opened);
  const { neighbourhood, topK } = cells.calibration;
  const pixelMemory = buildPixelCellMemory(opened.memoryImages());
  const pictures: ScoredPicture[] = [];
  const baseline: ScoredPicture[] = [];
  const scored = (map: { cells: Float32Array; map: Float32Array; size: number }, i: number): ScoredPicture => ({
    map: map.map, width: map.size, height: map.size, score: localScore(map.cells, topK), defective: Boolean(test.isNovel[i]), mask: maskOf.get(i),
  });
  try {
    for (let start = 0; start < test.count; start += batchSize) {
      const n = Math.min(batchSize, test.count - start);
      const x = floatsOf(test, start, n);
      cells.maps(x, n).forEach((m, k) => pictures.push(scored(m, start + k)));
      const t = tf.tensor4d(x, [n, test.size, test.size, test.channels]);
      const raw = pixelCellDistances(pixelMemory, t, neighbourhood);
      t.dispose();
      anomalyMapsFrom(raw, n, pixelMemory.rows, pixelMemory.cols, test.size).forEach((m, k) => baseline.push(scored(m, start + k)));
    }
  } finally {
    cells.dispose();
    disposePixelCellMemory(pixelMemory);
  }
  return {
    ...localisationReport(pictures),
    neighbourhood,
    topK,
    baseline: localisationReport(baseline),
    masks: outcomes.filter((o) => o.mask).length,
    problems: outcomes.flatMap((o) => (o.problem ? [o.problem.message] : [])),
  };
}
