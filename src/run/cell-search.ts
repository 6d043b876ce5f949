/**
 * The search over a run's memory cells that the anomaly maps, the local score and eval's local row all use: on the
 * compiled kernels where they are built (src/score/cell-search.ts: 0.12 s for 256 pictures at 28×28 where tfjs's ops
 * took 13.6 s, docs/performance.md), else with tfjs's ops (cell-search-tfjs.ts). No TensorFlow.js here: the compiled
 * engine's maps come through this file.
 */
import { ImageSet } from '../data/source';
import { active, loadNativeKernels } from '../kernels/addon';
import { rotationCellWeight } from '../score/cell-part';
import { cellPixelsOf } from '../score/cell-pixels';
import { compiledCellSearch } from '../score/cell-search';
import { mapGridSide } from '../score/map-geometry';
import { compiledRotationCells } from '../score/rotation-cells';
import { openKnnRun } from './open-knn';
import { openRotationNet } from './open-rotation';
import { MEMORY_IMAGES_FILE } from './paths';
import type { RunAtEpoch } from './select';
import { readVerified } from './verified';

/** What the maps and the local score need of a search over the memory's cells. */
export interface RunCellSearch {
  rows: number;
  cols: number;
  /** Each cell's distance to the nearest memory cell by the run's neighbourhood: [n·rows·cols]. */
  distances(pixels: Float32Array, count: number): Float32Array;
  /** The same from the compiled verdict's pooled first block, where it ran (the conv does not run twice). */
  distancesFromPooled?(pooled: Float32Array, count: number, pixels: () => Float32Array): Float32Array;
  /** Same-position distances of up to `probes` memory images against the memory without themselves. */
  leaveOneOut(probes: number): Float32Array;
  dispose(): void;
}

/** The run's stored memory images, verified against their checksum (OpenedRun.memoryImages without tfjs). */
export function memoryImagesOf(at: RunAtEpoch): ImageSet {
  const { run } = at;
  const bytes = readVerified(at.dir, MEMORY_IMAGES_FILE, { [MEMORY_IMAGES_FILE]: run.memoryImages.sha256 });
  // A view, not a copy: 50 MB at 64×64×3.
  return { pixels: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), count: run.memoryImages.count, size: run.config.model.inputSize, channels: run.config.model.channels };
}

/**
 * The compiled search, or null where the kernels are not built (or turned off, or decline the block), or where the
 * run searches any position (the compiled search is by position only).
 */
export function compiledRunCellSearch(at: RunAtEpoch, images: () => ImageSet): RunCellSearch | null {
  if (at.run.config.train.cellNeighbourhood !== 'position') return null;
  loadNativeKernels();
  const native = active();
  if (!native) return null;
  const knn = openKnnRun(at);
  // The rotation net's cells beside R's (TrainConfig.cellRotationWeight), at R's cell grid.
  const weight = rotationCellWeight(at.run.config.train);
  const cells = mapGridSide(knn.side);
  const { channels } = at.run.config.model;
  const part = weight > 0 ? compiledRotationCells(native, openRotationNet(at), knn.side, channels, cells, cells, weight) : undefined;
  // And the cells' own pixels (TrainConfig.cellPixelWeight).
  const pixels = cellPixelsOf(at.run.config.train, knn.side, channels);
  const search = compiledCellSearch(native, knn.block, knn.side, knn.cellPooling, images(), part, pixels);
  return search && { ...search, dispose: () => {} };
}
