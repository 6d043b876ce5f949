/**
 * From a picture's cell distances to its anomaly map: bilinear between cell centres up to the picture's size, then a
 * Gaussian of half a cell. No TensorFlow.js here: the compiled engine's maps (src/api/maps.ts) never load it.
 *
 * Written as flat loops over precomputed tables: the first version (closures and array destructuring per pixel and
 * per tap) took 0.8 ms of a 28×28 map, more than the cells' search on the compiled kernels (docs/performance.md).
 */
import { poolSide } from './nearest';

/** Memory images whose cells fix a run's map scale (leaveOneOutCellDistances): enough for a 99th percentile of cells. */
export const SCALE_PROBES = 128;

/** Side in pixels of the maps' cells for pictures of side `imageSide` (feature-memory.ts's cellSide, without tfjs). */
export function mapCellSide(imageSide: number): number {
  return 2 * poolSide(Math.ceil(imageSide / 2));
}

/** Cells along each side of the maps' grid for pictures of side `imageSide` (28: 7, 64: 8). */
export function mapGridSide(imageSide: number): number {
  return Math.floor(imageSide / mapCellSide(imageSide));
}

/** For each output index along one axis: the two source cells either side of it and the second one's weight. */
function axisTable(from: number, to: number): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const i0 = new Int32Array(to), i1 = new Int32Array(to), w = new Float64Array(to);
  for (let i = 0; i < to; i++) {
    const c = Math.min(Math.max(((i + 0.5) * from) / to - 0.5, 0), from - 1);
    i0[i] = Math.floor(c);
    i1[i] = Math.min(i0[i] + 1, from - 1);
    w[i] = c - i0[i];
  }
  return { i0, i1, w };
}

/**
 * A rows×cols grid to a height×width map, bilinear between cell centres (half-pixel centres, edges clamped: the
 * border half-cells take the border cells' values).
 */
export function upsampleGrid(grid: ArrayLike<number>, rows: number, cols: number, height: number, width: number): Float32Array {
  const out = new Float32Array(height * width);
  const ys = axisTable(rows, height), xs = axisTable(cols, width);
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y] * cols, r1 = ys.i1[y] * cols, fy = ys.w[y];
    for (let x = 0; x < width; x++) {
      const c0 = xs.i0[x], c1 = xs.i1[x], fx = xs.w[x];
      const top = grid[r0 + c0] * (1 - fx) + grid[r0 + c1] * fx;
      const bottom = grid[r1 + c0] * (1 - fx) + grid[r1 + c1] * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** One pass of the separable blur along rows (step 1) or columns (step width), renormalised at the edges. */
function blurPass(src: ArrayLike<number>, dst: Float32Array, height: number, width: number, kernel: Float64Array, alongX: boolean): void {
  const radius = (kernel.length - 1) / 2;
  const [lines, length, step, lineStep] = alongX ? [height, width, 1, width] : [width, height, width, 1];
  for (let line = 0; line < lines; line++) {
    const base = line * lineStep;
    for (let p = 0; p < length; p++) {
      const lo = Math.max(0, p - radius), hi = Math.min(length - 1, p + radius);
      let sum = 0, weight = 0;
      for (let k = lo; k <= hi; k++) {
        const w = kernel[k - p + radius];
        sum += w * src[base + k * step];
        weight += w;
      }
      dst[base + p * step] = sum / weight;
    }
  }
}

/**
 * A Gaussian blur of standard deviation `sigma` pixels (separable, kernel to ±3σ), renormalised at the edges so
 * that a flat map stays flat; sigma 0 returns a copy.
 */
export function gaussianSmooth(map: ArrayLike<number>, height: number, width: number, sigma: number): Float32Array {
  if (!(sigma > 0)) return Float32Array.from(map);
  const radius = Math.ceil(3 * sigma);
  const kernel = Float64Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const across = new Float32Array(height * width);
  blurPass(map, across, height, width, kernel, true);
  const out = new Float32Array(height * width);
  blurPass(across, out, height, width, kernel, false);
  return out;
}

/** One picture's anomaly map: its cell distances and the map at the picture's size. */
export interface AnomalyMap {
  /** rows·cols cell distances, row-major. */
  cells: Float32Array;
  rows: number;
  cols: number;
  /** size·size, row-major: the cells upsampled and smoothed with σ = half a cell. */
  map: Float32Array;
  size: number;
}

/**
 * Upsampling and blur along one axis as one matrix, [to][from]: both are linear and act on each axis apart, so a map
 * is A_y · cells · A_xᵀ, equal to gaussianSmooth(upsampleGrid(…)) but for float rounding. At 64×64 from 8×8 cells
 * this is 37 K multiply-adds a map instead of 200 K for the blur alone (docs/performance.md).
 */
function axisMatrix(from: number, to: number, sigma: number): Float64Array {
  const out = new Float64Array(to * from);
  for (let r = 0; r < from; r++) {
    const unit = new Float32Array(from);
    unit[r] = 1;
    // Column r: the response to cell r alone, upsampled and blurred along this axis (a 1-pixel-wide map).
    const column = gaussianSmooth(upsampleGrid(unit, from, 1, to, 1), to, 1, sigma);
    for (let y = 0; y < to; y++) out[y * from + r] = column[y];
  }
  return out;
}

const matrices = new Map<string, Float64Array>();
function axisMatrixCached(from: number, to: number, sigma: number): Float64Array {
  const key = `${from}/${to}/${sigma}`;
  let m = matrices.get(key);
  if (!m) matrices.set(key, (m = axisMatrix(from, to, sigma)));
  return m;
}

/** The maps of n pictures from their cell distances ([n·rows·cols], picture by picture, row-major cells). */
export function anomalyMapsFrom(distances: Float32Array, n: number, rows: number, cols: number, size: number): AnomalyMap[] {
  const sigma = mapCellSide(size) / 2;
  const [ay, ax] = [axisMatrixCached(rows, size, sigma), axisMatrixCached(cols, size, sigma)];
  const across = new Float64Array(rows * size); // cells × A_xᵀ: [rows][size]
  return Array.from({ length: n }, (_, i) => {
    const cells = distances.slice(i * rows * cols, (i + 1) * rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let c = 0; c < cols; c++) sum += cells[r * cols + c] * ax[x * cols + c];
        across[r * size + x] = sum;
      }
    }
    const map = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let r = 0; r < rows; r++) sum += ay[y * rows + r] * across[r * size + x];
        map[y * size + x] = sum;
      }
    }
    return { cells, rows, cols, map, size };
  });
}
