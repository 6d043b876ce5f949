/**
 * `alocc eval --masks DIR`: where the run finds its test pictures novel, graded against the user's defect masks.
 * Every test picture gets its anomaly map (src/score/cell-map.ts) and its local score (the largest cell distance);
 * the novel side's pictures are matched to masks by their path below the --novel folder (src/data/masks.ts), the
 * normal side's are intact.
 */
import { floatsOf, LabelledSet } from '../data/source';
import { decodeRawPixels } from '../data/decode';
import { readImageFile } from '../data/image-file';
import { readMasks } from '../data/masks';
import { UsageError } from '../errors';
import { OpenedRun } from '../run/open';
import * as tf from '@tensorflow/tfjs';
import { anomalyMaps, buildCellMemory, CellNeighbourhood, disposeCellMemory, localScore } from '../score/cell-map';
import { LocalisationReport, localisationReport, ScoredPicture } from './localisation';

export interface LocalisationResult extends LocalisationReport {
  /** Which memory cells a cell is compared with. */
  neighbourhood: CellNeighbourhood;
  /** Novel pictures whose mask was read. */
  masks: number;
  /** One line per mask left out, naming the file and what to do. */
  problems: string[];
}

/**
 * Maps, local scores and the localisation numbers of a labelled folder test set. 'position' by default: 35 times
 * cheaper than all positions, and better on centred pictures (bench/NOTES.md, anomaly maps).
 */
export async function localiseTestImages(
  opened: OpenedRun, test: LabelledSet, masksDir: string, novelDir?: string, neighbourhood: CellNeighbourhood = 'position', batchSize = 64,
): Promise<LocalisationResult> {
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
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  const pictures: ScoredPicture[] = [];
  try {
    for (let start = 0; start < test.count; start += batchSize) {
      const n = Math.min(batchSize, test.count - start);
      const x = tf.tensor4d(floatsOf(test, start, n), [n, test.size, test.size, test.channels]);
      const maps = anomalyMaps(memory, x, neighbourhood);
      x.dispose();
      maps.forEach((m, k) => {
        const i = start + k;
        pictures.push({ map: m.map, width: m.size, height: m.size, score: localScore(m.cells), defective: Boolean(test.isNovel[i]), mask: maskOf.get(i) });
      });
    }
  } finally {
    disposeCellMemory(memory);
  }
  return {
    ...localisationReport(pictures),
    neighbourhood,
    masks: outcomes.filter((o) => o.mask).length,
    problems: outcomes.flatMap((o) => (o.problem ? [o.problem.message] : [])),
  };
}
