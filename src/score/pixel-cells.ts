/**
 * The network-free baseline of the anomaly maps: the same cell search as src/score/cell-map.ts, on the raw pixels of
 * each cell instead of R's features. A cell is its cellSide×cellSide×channels pixel values; its distance to a memory
 * cell is their root-mean-square difference (0 to 1). Not cosine, as the network's cells use: an empty MNIST cell has
 * no direction, and two empty cells would be as far apart as any two. The neighbourhood rule is the run's ('position':
 * the memory's cells at the same position; 'pooled': at any position).
 */
import * as tf from '@tensorflow/tfjs';
import { CellNeighbourhood } from '../config';
import { floatsOf, ImageSet } from '../data/source';
import { cellSide } from './feature-memory';

/** Pictures [n, s, s, c] → raw cells [n, rows, cols, p·p·c], p = cellSide(s); pixels beyond whole cells are left out as the network's cells leave them. */
export function pixelCells(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, s, , c] = x.shape;
    const p = cellSide(s);
    const g = Math.floor(s / p);
    const whole = g * p === s ? x : x.slice([0, 0, 0, 0], [n, g * p, g * p, c]);
    return whole.reshape([n, g, p, g, p, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([n, g, g, p * p * c]) as tf.Tensor4D;
  });
}

export interface PixelCellMemory {
  /** [images·rows·cols, f]: image by image, row-major cells. */
  bank: tf.Tensor2D;
  images: number;
  rows: number;
  cols: number;
  dims: number;
}

/** The raw cells of every memory image (the run's stored memory images). */
export function buildPixelCellMemory(set: ImageSet): PixelCellMemory {
  if (set.count < 1) throw new Error('buildPixelCellMemory: no images');
  const bank = tf.tidy(() => {
    const cells = pixelCells(tf.tensor4d(floatsOf(set), [set.count, set.size, set.size, set.channels]));
    return cells.reshape([-1, cells.shape[3]]) as tf.Tensor2D;
  });
  const g = Math.floor(set.size / cellSide(set.size));
  return { bank, images: set.count, rows: g, cols: g, dims: bank.shape[1] };
}

/** Most squared distances held at once while searching any position (64 M floats = 256 MB). */
const MAX_PRODUCTS = 1 << 26;

/** |a − b|² from dot products and squared norms: a [.., n, f]·b [.., f, m], clamped at 0 against rounding. */
function squared(dots: tf.Tensor, qNorm: tf.Tensor, mNorm: tf.Tensor): tf.Tensor {
  return tf.relu(tf.sub(tf.add(qNorm, mNorm), tf.mul(dots, 2)));
}

/** Each cell's RMS distance to its nearest memory cell, for pictures x [n, s, s, c]: [n·rows·cols], as cellDistances. */
export function pixelCellDistances(memory: PixelCellMemory, x: tf.Tensor4D, neighbourhood: CellNeighbourhood): Float32Array {
  const { rows, cols, dims, images } = memory;
  const grid = rows * cols;
  const n = x.shape[0];
  const q = pixelCells(x);
  try {
    if (q.shape[1] !== rows || q.shape[3] !== dims) throw new Error(`pixelCellDistances: pictures give ${q.shape.slice(1).join('x')} cells, the memory ${rows}x${cols}x${dims}`);
    if (neighbourhood === 'position') {
      return tf.tidy(() => {
        const byPosition = q.reshape([n, grid, dims]).transpose([1, 0, 2]); // [G, n, f]
        const bank = memory.bank.reshape([images, grid, dims]).transpose([1, 2, 0]); // [G, f, m]
        const d2 = squared(tf.matMul(byPosition, bank), tf.sum(tf.square(byPosition), 2, true), tf.sum(tf.square(bank), 1, true));
        return tf.sqrt(tf.div(tf.min(d2, 2), dims)).transpose().dataSync() as Float32Array; // [n, G]
      });
    }
    const flat = q.reshape([n * grid, dims]) as tf.Tensor2D;
    const mNorm = tf.tidy(() => tf.sum(tf.square(memory.bank), 1).reshape([1, -1]));
    const out = new Float32Array(n * grid);
    const step = Math.max(1, Math.floor(MAX_PRODUCTS / (images * grid)));
    try {
      for (let start = 0; start < n * grid; start += step) {
        const size = Math.min(step, n * grid - start);
        const best = tf.tidy(() => {
          const part = flat.slice([start, 0], [size, dims]);
          const d2 = squared(tf.matMul(part, memory.bank, false, true), tf.sum(tf.square(part), 1, true), mNorm);
          return tf.sqrt(tf.div(tf.min(d2, 1), dims));
        });
        out.set(best.dataSync(), start);
        best.dispose();
      }
    } finally {
      tf.dispose([flat, mNorm]);
    }
    return out;
  } finally {
    q.dispose();
  }
}

export function disposePixelCellMemory(memory: PixelCellMemory | undefined): void {
  memory?.bank.dispose();
}
