/**
 * Raw pixels in the map cells (TrainConfig.cellPixelWeight). The network's cells (R's first block, the rotation
 * net's second block) are unit length and round away what a pasted patch or a coloured scar changes most plainly: a
 * colour, an exact stroke. Each map cell therefore also holds its own pixels,
 *
 *   [network parts (unit length together) | V · the cell's pixels / √values]
 *
 * searched by Euclidean distance, a cell's distance being half its squared distance to the nearest memory cell:
 * (1 − cos of the network parts) + V² · (the pixels' mean squared difference) / 2. With V = 0 there is no pixel part
 * and the distance is 1 − cos, as runs of run-file version 10 and earlier. docs/research.md, "Raw pixels in the map
 * cells".
 *
 * Both engines search by the largest product. Each memory cell's vector is extended by one value, −|m|²/2, and each
 * query's by 1: the largest product q·m − |m|²/2 is then the nearest memory cell in Euclidean distance, and the
 * distance is |q|²/2 minus it. No TensorFlow.js here: the compiled engine's maps come through this file.
 */
import type { TrainConfig } from '../config';
import { mapCellSide } from './map-geometry';

/**
 * Most pixel values a cell keeps: a larger cell is averaged over P×P pixel squares first. 64 keeps 28×28's 4×4 grey
 * cells whole (16 values) and 64×64's 8×8 colour cells at 4×4×3 = 48 (192 every pixel would triple the search,
 * under 150 maps a second; averaged, the emoji keep about two thirds of the gain, docs/research.md).
 */
export const PIXEL_CELL_VALUES = 64;

/** How a run's map cells take their pixels. */
export interface CellPixels {
  /** V (> 0). */
  weight: number;
  /** The cell's side in pixels. */
  cell: number;
  /** Pixels averaged over pool × pool squares (a divisor of `cell`). */
  pool: number;
  channels: number;
  /** Values per cell: (cell / pool)² · channels. */
  values: number;
}

/** The smallest divisor P of `cell` that leaves at most PIXEL_CELL_VALUES values a cell (P = cell leaves `channels`). */
export function pixelPool(cell: number, channels: number): number {
  for (let p = 1; p < cell; p++) if (cell % p === 0 && (cell / p) ** 2 * channels <= PIXEL_CELL_VALUES) return p;
  return cell;
}

/** The pixel part of a run's map cells for pictures of side × side × channels; undefined where its weight is 0. */
export function cellPixelsOf(train: Pick<TrainConfig, 'cellPixelWeight'>, side: number, channels: number): CellPixels | undefined {
  const weight = train.cellPixelWeight;
  if (!(weight > 0)) return undefined;
  const cell = mapCellSide(side);
  const pool = pixelPool(cell, channels);
  return { weight, cell, pool, channels, values: (cell / pool) ** 2 * channels };
}

/**
 * The pixel parts of n pictures (HWC in [0, 1], concatenated) into `out` at `at`: [n][rows][cols][values], each
 * cell's pooled pixels (row-major within the cell, channels last) times weight / √values. Pixels beyond whole cells
 * are left out, as the network's cells leave them.
 */
export function writePixelCells(pixels: Float32Array, n: number, side: number, px: CellPixels, out: Float32Array, at: number): void {
  const { cell, pool, channels: c, values } = px;
  const grid = Math.floor(side / cell);
  const inner = cell / pool;
  const k = px.weight / Math.sqrt(values) / (pool * pool);
  // Where pixel row y and column x add in a picture's cells (each pixel read once, in order: a scatter-add, 6× faster
  // than gathering each value's pool × pool square, which took 0.38 s of 1,000 maps at 64×64×3).
  const rowAt = Int32Array.from({ length: grid * cell }, (_, y) => Math.floor(y / cell) * grid * values + Math.floor((y % cell) / pool) * inner * c);
  const colAt = Int32Array.from({ length: grid * cell }, (_, x) => Math.floor(x / cell) * values + Math.floor((x % cell) / pool) * c);
  const perPicture = grid * grid * values;
  out.fill(0, at, at + n * perPicture);
  for (let q = 0; q < n; q++) {
    const o = at + q * perPicture;
    for (let y = 0; y < grid * cell; y++) {
      const from = (q * side + y) * side * c, row = o + rowAt[y];
      for (let x = 0; x < grid * cell; x++) {
        const to = row + colAt[x], p = from + x * c;
        for (let ch = 0; ch < c; ch++) out[to + ch] += pixels[p + ch];
      }
    }
  }
  for (let i = at, end = at + n * perPicture; i < end; i++) out[i] *= k;
}
