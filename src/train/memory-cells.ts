/**
 * The maps' cell memory built from the coreset's own pass of R's first block over the training pictures, instead of
 * a second pass over the stored memory pictures (which are rows of the training pictures: src/api/train.ts picks
 * them with memoryRows). The calibration took 0.65 s of CPU an epoch at digit 1, about half of it pooling those 4,096
 * pictures again.
 *
 * The pass folds BatchNorm into the conv as the knn memory does (float32, feature-memory.ts), where the maps at load
 * fold it in double precision (inference.ts): the calibration's distances agree with those at load to float
 * rounding (test/run-cells.test.ts and test/cli/e2e.test.ts recompute them), not bit for bit.
 */
import { TrainConfig } from '../config';
import { floatsOf, ImageSet } from '../data/source';
import { active } from '../kernels/addon';
import type { PooledRowVisitor } from '../score/coreset';
import type { CellPart } from '../score/cell-part';
import type { CellPixels } from '../score/cell-pixels';
import { CellSearch, cellSearchMemory } from '../score/cell-search';
import { FeatureSpace, memoryRows, spaceFirstBlock } from '../score/feature-memory';

/** Memory pictures whose floats are made at once for the rotation net's and the pixel cells (12 MB at 64×64×3). */
const PART_CHUNK = 256;

export interface MemoryCellsFromPass {
  /** For the coreset: takes the raw pooled rows of the memory pictures among the training pictures it embeds. */
  visit: PooledRowVisitor;
  /** The search over every memory picture's cells, or null where the pass did not see them all (calibrate apart). */
  search(): CellSearch | null;
}

/**
 * Where the coreset's pass can stand in for the calibration's own: on the compiled kernels, the maps searching by
 * position, the memory a coreset of more training pictures than it keeps (so the pass runs), and the stored memory
 * pictures exactly the training pictures memoryRows picks. Else null.
 */
export function memoryCellsFromPass(
  train: Pick<TrainConfig, 'memoryCoreset' | 'memorySize' | 'seed' | 'cellNeighbourhood' | 'cellPooling'>,
  trainSet: ImageSet, memoryImages: ImageSet, space: FeatureSpace, part?: CellPart, pixels?: CellPixels,
): MemoryCellsFromPass | null {
  const native = active();
  if (!native || train.cellNeighbourhood !== 'position' || train.memoryCoreset <= 0 || trainSet.count <= train.memoryCoreset) return null;
  const rows = memoryRows(trainSet.count, train.memorySize, train.seed);
  const per = trainSet.size * trainSet.size * trainSet.channels;
  if (rows.length !== memoryImages.count || memoryImages.size !== trainSet.size || memoryImages.channels !== trainSet.channels) return null;
  // The same pictures, byte for byte (a caller's job may hold any memory pictures): a few MB compared once an epoch.
  for (let k = 0; k < rows.length; k++) {
    const a = trainSet.pixels.subarray(rows[k] * per, (rows[k] + 1) * per);
    const b = memoryImages.pixels.subarray(k * per, (k + 1) * per);
    for (let p = 0; p < per; p++) if (a[p] !== b[p]) return null;
  }
  const block = spaceFirstBlock(space);
  if (!block) return null;
  const memoryIndex = new Int32Array(trainSet.count).fill(-1);
  rows.forEach((row, k) => (memoryIndex[row] = k));
  const memory = cellSearchMemory(native, block, trainSet.size, train.cellPooling, rows.length, part, pixels);
  let added = 0;
  return {
    visit(row, raw) {
      const k = memoryIndex[row];
      if (k < 0) return;
      memory.addPooled(k, raw);
      added++;
    },
    search() {
      if (added !== rows.length) return null;
      // The rotation net's cells (cell-part.ts) and the pixel cells (cell-pixels.ts) are not in R's pass: from the
      // memory pictures.
      for (let start = 0; memory.needsPictures && start < memoryImages.count; start += PART_CHUNK) {
        const n = Math.min(PART_CHUNK, memoryImages.count - start);
        memory.addPartCells(start, floatsOf(memoryImages, start, n), n);
      }
      return memory.search;
    },
  };
}
