/**
 * Where a picture is novel: the knn verdict's own features kept per cell instead of flattened, each cell's distance
 * to the nearest cells of the normal memory, upsampled to the picture and lightly smoothed (issue 23).
 *
 * Cell features: the verdict's dense first block pooled over its cells (feature-memory.ts, cellSide), per cell the
 * mean and, with 'mean-max', the maximum over the cell, each part scaled to length 1/√2 within the cell (the mean
 * alone to length 1). The verdict scales each part over the whole grid instead; per cell, a faint cell weighs as
 * much as a bright one, so that a stroke missing from a cell counts where it is missing. Distance: cosine, 1 − cos,
 * 0 for a cell equal to a memory cell, up to 2. Where the run's cells hold their own pixels too (cell-pixels.ts), the
 * distance is half the squared Euclidean distance instead, which is 1 − cos plus the pixels' part.
 *
 * Two neighbourhoods: 'pooled' (PatchCore): the nearest cell at any position of any memory image; 'position'
 * (PaDiM-like, without its Gaussian): the nearest cell at the same position. Cost of 'pooled': a memory of m images
 * with G cells each holds m·G cell rows (4,096 images × 49 cells × 64 features = 51 MB of float32 at 28×28), and a
 * picture costs G·m·G·f multiply-adds (0.63 G at 28×28); 'position' costs G times less. Measured on 2 vCPUs (wasm):
 * 257 ms a picture against 1,800 memory images pooled, 7.5 ms by position, and 5.6 s to build their cells
 * (bench/NOTES.md). Where the side is not a multiple of the cell side, the grid covers the cells' pixels only and
 * the map stretches it over the whole picture (28 and 64 are multiples).
 */
import * as tf from '@tensorflow/tfjs';
import { CellNeighbourhood, CellPooling } from '../config';
import { floatsOf, ImageSet } from '../data/source';
import { CellPart, partLengths, scaleCells } from './cell-part';
import { CellPixels, writePixelCells } from './cell-pixels';
import { cellSide, FoldedFirstBlock, pooledFirstBlock } from './feature-memory';
import { anomalyMapsFrom, SCALE_PROBES } from './map-geometry';
import type { AnomalyMap } from './map-geometry';

// The maps' geometry lives where the compiled engine can use it without tfjs; its callers still find it here.
export { anomalyMapsFrom, gaussianSmooth, SCALE_PROBES, upsampleGrid } from './map-geometry';
export type { AnomalyMap } from './map-geometry';
export { localScore } from './cell-scale';

export type { CellNeighbourhood };

/**
 * Cells of pictures [n, s, s, c] → features [n, rows, cols, f], unit length per cell as the module comment says;
 * with `part` (the rotation net's cells, cell-part.ts), R's cells and the part's concatenated at cell-part.ts's lengths;
 * with `pixels`, each cell's pixel part after them (cell-pixels.ts).
 */
export function cellFeatures(x: tf.Tensor4D, block: FoldedFirstBlock, cells: CellPooling, part?: CellPart, pixels?: CellPixels): tf.Tensor4D {
  return tf.tidy(() => {
    const withMax = cells === 'mean-max';
    const pooled = pooledFirstBlock(x, block, cellSide(x.shape[1]), withMax);
    const lengths = partLengths(part);
    const unit = (t: tf.Tensor, length: number) => tf.mul(tf.div(t, tf.add(tf.norm(t, 2, -1, true), 1e-12)), length);
    // [n, 2, rows, cols, co] → [n, rows, cols, 2·co]: each half unit, then both scaled by 1/√2.
    const own = withMax ? tf.unstack(pooled, 1).map((half) => unit(half, Math.SQRT1_2 * lengths.r)) : [unit(pooled, lengths.r)];
    const [n, rows, cols] = own[0].shape;
    if (part) {
      const extra = part.cells(x.dataSync() as Float32Array, n);
      scaleCells(extra, 0, n * rows * cols, part.dims, lengths.extra);
      own.push(tf.tensor4d(extra, [n, rows, cols, part.dims]));
    }
    if (pixels) {
      const values = new Float32Array(n * rows * cols * pixels.values);
      writePixelCells(x.dataSync() as Float32Array, n, x.shape[1], pixels, values, 0);
      own.push(tf.tensor4d(values, [n, rows, cols, pixels.values]));
    }
    return tf.concat(own, -1) as tf.Tensor4D;
  });
}

/**
 * Each query's distance to its nearest memory cell from their products [.., n, m]: 1 − the largest (cosine), or with
 * pixels half the smallest squared distance, (|q|² + |m|²)/2 − q·m, clamped at 0 against rounding (`qq` [.., n, 1] and
 * `mm` [.., 1, m]: the squared lengths). `exclude` [.., n, m] (or null): added before the search, large where a pair
 * may not count.
 */
function nearest(products: tf.Tensor, axis: number, pixels: boolean, qq: () => tf.Tensor, mm: () => tf.Tensor, exclude: tf.Tensor | null): tf.Tensor {
  if (!pixels) return tf.sub(1, tf.max(exclude ? tf.sub(products, exclude) : products, axis));
  const half = tf.sub(tf.div(tf.add(qq(), mm()), 2), products);
  return tf.relu(tf.min(exclude ? tf.add(half, exclude) : half, axis));
}

/** The memory images' cells, to be searched: [images·rows·cols, f] rows, image by image, row-major cells. */
export interface CellMemory {
  bank: tf.Tensor2D;
  images: number;
  rows: number;
  cols: number;
  dims: number;
  block: FoldedFirstBlock;
  cells: CellPooling;
  /** The rotation net's cells beside R's, where the run's maps read them. */
  part?: CellPart;
  /** The cells' own pixels, where the run's maps read them: distances are then Euclidean (cell-pixels.ts). */
  pixels?: CellPixels;
}

/** Embeds every image of `set` per cell (the run's memory images: opened.memoryImages()). */
export function buildCellMemory(block: FoldedFirstBlock, cells: CellPooling, set: ImageSet, opts: { batchSize?: number; part?: CellPart; pixels?: CellPixels } = {}): CellMemory {
  const { batchSize = 256, part, pixels } = opts;
  if (set.count < 1) throw new Error('buildCellMemory: no images');
  const parts: tf.Tensor4D[] = [];
  try {
    for (let start = 0; start < set.count; start += batchSize) {
      const n = Math.min(batchSize, set.count - start);
      // The pictures' tensor is freed here: training builds this memory every epoch (a leak per batch otherwise).
      const x = tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]);
      try {
        parts.push(cellFeatures(x, block, cells, part, pixels));
      } finally {
        x.dispose();
      }
    }
    const [, rows, cols, dims] = parts[0].shape;
    const bank = tf.tidy(() => tf.concat(parts).reshape([-1, dims]) as tf.Tensor2D);
    return { bank, images: set.count, rows, cols, dims, block, cells, part, pixels };
  } finally {
    tf.dispose(parts);
  }
}

/** Most products held at once while searching (64 M floats = 256 MB). */
const MAX_PRODUCTS = 1 << 26;

/**
 * Each cell's distance to its nearest memory cell, for pictures x [n, s, s, c]: [n·rows·cols], picture by picture,
 * row-major cells (1 − cos; with pixels half the squared distance).
 */
export function cellDistances(memory: CellMemory, x: tf.Tensor4D, neighbourhood: CellNeighbourhood = 'pooled'): Float32Array {
  const { rows, cols, dims, images } = memory;
  const grid = rows * cols;
  const q = cellFeatures(x, memory.block, memory.cells, memory.part, memory.pixels);
  const euclid = Boolean(memory.pixels);
  try {
    if (q.shape[1] !== rows || q.shape[2] !== cols || q.shape[3] !== dims) {
      throw new Error(`cellDistances: pictures give ${q.shape.slice(1).join('x')} cells, the memory ${rows}x${cols}x${dims}`);
    }
    const n = x.shape[0];
    if (neighbourhood === 'position') {
      return tf.tidy(() => {
        const byPosition = q.reshape([n, grid, dims]).transpose([1, 0, 2]); // [G, n, f]
        const bank = memory.bank.reshape([images, grid, dims]).transpose([1, 2, 0]); // [G, f, m]
        const qq = () => tf.sum(tf.square(byPosition), 2, true), mm = () => tf.sum(tf.square(bank), 1, true);
        return nearest(tf.matMul(byPosition, bank), 2, euclid, qq, mm, null).transpose().dataSync() as Float32Array; // [G, n] → [n, G]
      });
    }
    const flat = q.reshape([n * grid, dims]) as tf.Tensor2D;
    // The memory cells' squared lengths, once for every slice of queries (only the Euclidean search reads them).
    const bankSquares = euclid ? tf.tidy(() => tf.sum(tf.square(memory.bank), 1).reshape([1, -1])) : null;
    const out = new Float32Array(n * grid);
    const step = Math.max(1, Math.floor(MAX_PRODUCTS / (images * grid)));
    try {
      for (let start = 0; start < n * grid; start += step) {
        const size = Math.min(step, n * grid - start);
        const best = tf.tidy(() => {
          const slice = flat.slice([start, 0], [size, dims]);
          return nearest(tf.matMul(slice, memory.bank, false, true), 1, euclid, () => tf.sum(tf.square(slice), 1, true), () => bankSquares!, null);
        });
        out.set(best.dataSync(), start);
        best.dispose();
      }
    } finally {
      flat.dispose();
      bankSquares?.dispose();
    }
    return out;
  } finally {
    q.dispose();
  }
}

/** The anomaly maps of pictures x [n, s, s, c] against the memory's cells. */
export function anomalyMaps(memory: CellMemory, x: tf.Tensor4D, neighbourhood: CellNeighbourhood = 'pooled'): AnomalyMap[] {
  return anomalyMapsFrom(cellDistances(memory, x, neighbourhood), x.shape[0], memory.rows, memory.cols, x.shape[1]);
}

/**
 * Same-position cell distances of up to `probes` of the memory's own images, each against the memory without itself
 * (leave-one-out: against itself every distance is 0). The probes are evenly spaced over the memory, so the answer
 * depends on the memory alone: [probes·rows·cols], probe by probe, row-major cells.
 */
export function leaveOneOutCellDistances(memory: CellMemory, probes = SCALE_PROBES, chunk = 32): Float32Array {
  const { rows, cols, dims, images } = memory;
  if (images < 2) throw new Error('leaveOneOutCellDistances: a memory of one image has no other image to compare it with');
  const grid = rows * cols;
  const p = Math.min(probes, images);
  const picked = Array.from({ length: p }, (_, j) => Math.floor((j * images) / p));
  const out = new Float32Array(p * grid);
  const bank = tf.tidy(() => memory.bank.reshape([images, grid, dims]));
  try {
    const byPosition = tf.tidy(() => bank.transpose([1, 2, 0])); // [G, f, m]
    // The memory cells' squared lengths [G, 1, m], once for every chunk of probes (only the Euclidean search reads them).
    const bankSquares = memory.pixels ? tf.tidy(() => tf.sum(tf.square(byPosition), 1, true)) : null;
    try {
      for (let start = 0; start < p; start += chunk) {
        const ids = picked.slice(start, start + chunk);
        const best = tf.tidy(() => {
          const q = tf.gather(bank, tf.tensor1d(ids, 'int32')).transpose([1, 0, 2]); // [G, k, f]
          // A probe's own column kept out of the search: cosines are at most 1, so 4 off them does; a distance 1e9 up.
          const self = tf.mul(tf.oneHot(tf.tensor1d(ids, 'int32'), images), memory.pixels ? 1e9 : 4); // [k, m]
          return nearest(tf.matMul(q, byPosition), 2, Boolean(memory.pixels), () => tf.sum(tf.square(q), 2, true), () => bankSquares!, self).transpose(); // [k, G]
        });
        out.set(best.dataSync(), start * grid);
        best.dispose();
      }
    } finally {
      byPosition.dispose();
      bankSquares?.dispose();
    }
  } finally {
    bank.dispose();
  }
  return out;
}

export function disposeCellMemory(memory: CellMemory | undefined): void {
  memory?.bank.dispose();
}

