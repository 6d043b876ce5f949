/**
 * The rotation net's cells beside R's in the maps' search (TrainConfig.cellRotationWeight). R's first block is
 * nearly as good untrained as trained (docs/research.md), so the maps it gives are not what training earns; the
 * rotation net's second block, trained to tell quarter turns of the normal pictures, is. A cell's vector is
 *
 *   [R's cell parts (unit length together) | w · the rotation net's cell (unit)] / √(1 + w²)
 *
 * so its cosine with a memory cell is (cos_R + w²·cos_rot) / (1 + w²): a cell must be near one memory cell in both
 * views at once (two searches summed lost the image AUROC's gain, docs/research.md "Which cells locate defects").
 * Both engines' searches (cell-search.ts compiled, cell-map.ts on tfjs) take the part through this interface; the
 * part's raw cells come from rotation-cells.ts (compiled) or rotation-cells-tfjs.ts. No TensorFlow.js here.
 */
import type { TrainConfig } from '../config';

/** The weight of the rotation net's cells in a run's maps: 0 where it has none or leaves them out. */
export function rotationCellWeight(train: Pick<TrainConfig, 'rotationPasses' | 'cellRotationWeight'>): number {
  return train.rotationPasses > 0 ? train.cellRotationWeight : 0;
}

/** Blocks of the rotation net whose output the maps read: block 2 (7×7 at 28×28, 8×8 at 64×64: R's cell grids). */
export const ROTATION_CELL_BLOCKS = 2;

/** A second view of each cell, searched together with R's first-block cells. */
export interface CellPart {
  /** Features per cell. */
  dims: number;
  /** Its weight w (> 0). */
  weight: number;
  /** Raw (not yet unit) cells of n pictures (HWC in [0, 1], concatenated) at the search's grid: [n][rows][cols][dims]. */
  cells(pixels: Float32Array, n: number): Float32Array;
}

/** The lengths R's cell (all its parts together) and the extra part get in a cell vector of length 1. */
export function partLengths(part: Pick<CellPart, 'weight'> | undefined): { r: number; extra: number } {
  if (!part) return { r: 1, extra: 0 };
  const norm = Math.sqrt(1 + part.weight * part.weight);
  return { r: 1 / norm, extra: part.weight / norm };
}

/** Side of the rotation net's cell grid for pictures of `side` shrunk by `shrink`: halved (rounded up) per block. */
export function rotationCellSide(side: number, shrink: number): number {
  let s = Math.floor(side / shrink);
  for (let i = 0; i < ROTATION_CELL_BLOCKS; i++) s = Math.ceil(s / 2);
  return s;
}

/**
 * n maps [n][h][w][c] to [n][rows][cols][c], each output cell taking the map cell under its centre (the identity where
 * the grids agree, as at 28×28 and 64×64). Sides such as 48 give the rotation net a 6×6 grid against R's 8×8.
 */
export function resampleCells(maps: Float32Array, n: number, h: number, w: number, c: number, rows: number, cols: number): Float32Array {
  if (h === rows && w === cols) return maps.length === n * h * w * c ? maps : maps.slice(0, n * h * w * c);
  const out = new Float32Array(n * rows * cols * c);
  const ys = Int32Array.from({ length: rows }, (_, i) => Math.min(h - 1, Math.floor(((i + 0.5) * h) / rows)));
  const xs = Int32Array.from({ length: cols }, (_, j) => Math.min(w - 1, Math.floor(((j + 0.5) * w) / cols)));
  let o = 0;
  for (let q = 0; q < n; q++) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++, o += c) {
        const from = ((q * h + ys[i]) * w + xs[j]) * c;
        out.set(maps.subarray(from, from + c), o);
      }
    }
  }
  return out;
}

/**
 * A part's cells of `count` pictures (`per` floats each) at rows × cols, `chunk` pictures at a time: `maps` gives a
 * chunk's [n][grid][grid][dims] block outputs, each chunk resampled (resampleCells) into its place.
 */
export function cellsInChunks(
  pixels: Float32Array, count: number, per: number, chunk: number, grid: number, dims: number, rows: number, cols: number,
  maps: (pixels: Float32Array, n: number) => Float32Array,
): Float32Array {
  const out = new Float32Array(count * rows * cols * dims);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    out.set(resampleCells(maps(pixels.subarray(start * per, (start + n) * per), n), n, grid, grid, dims, rows, cols), start * rows * cols * dims);
  }
  return out;
}

/** Each of the `count` vectors of `dims` values at `at` in `v` scaled in place to length `length` (0 stays 0). */
export function scaleCells(v: Float32Array, at: number, count: number, dims: number, length: number): void {
  for (let p = at, end = at + count * dims; p < end; p += dims) {
    let sum = 0;
    for (let j = 0; j < dims; j++) sum += v[p + j] * v[p + j];
    const k = length / (Math.sqrt(sum) + 1e-12);
    for (let j = 0; j < dims; j++) v[p + j] *= k;
  }
}
