// Cell features by plain loops, the reference the cell maps' tests check against (cell-map, cell-calibration).
import * as tf from '@tensorflow/tfjs';
import { CellPooling } from '../../src/config';
import { ImageSet } from '../../src/data/source';
import { mulberry32 } from '../../src/data/random';
import { FoldedFirstBlock } from '../../src/score/feature-memory';
import type { NativeKernels } from '../../src/kernels/addon';

export const CO = 6;
export const ALPHA = 0.2;

/** A fixed random 5×5 first block, one input channel, CO outputs. */
export function block(): FoldedFirstBlock {
  const rand = mulberry32(5);
  const filter = Float32Array.from({ length: 25 * CO }, () => rand() * 2 - 1);
  const bias = Float32Array.from({ length: CO }, () => rand() * 0.4 - 0.2);
  return { filter: tf.tensor4d(filter, [5, 5, 1, CO]), bias: tf.tensor1d(bias), alpha: ALPHA };
}

/** Grey s×s pictures, bytes: smooth random blobs, so that cells differ from each other. */
export function pictures(count: number, s: number, seed: number): ImageSet {
  const rand = mulberry32(seed);
  const pixels = new Uint8Array(count * s * s);
  for (let i = 0; i < count; i++) {
    const [cx, cy, w] = [rand() * s, rand() * s, 3 + rand() * 6];
    for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) {
      pixels[i * s * s + y * s + x] = Math.round(255 * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * w * w)));
    }
  }
  return { pixels, count, size: s, channels: 1 };
}

/**
 * The cell features by plain loops: conv 5×5 'same' (zeros around), bias, LeakyReLU, then per p×p cell the mean
 * and the max per channel, each part unit length in the cell, scaled by 1/√2 ('mean-max').
 */
export function bruteCells(img: Float32Array, s: number, b: FoldedFirstBlock, p: number, cells: CellPooling): number[][] {
  const w = b.filter.dataSync(), bias = b.bias.dataSync();
  const act = new Float64Array(s * s * CO);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) for (let o = 0; o < CO; o++) {
    let v = bias[o];
    for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) {
      const yy = y + ky - 2, xx = x + kx - 2;
      if (yy >= 0 && yy < s && xx >= 0 && xx < s) v += img[yy * s + xx] * w[(ky * 5 + kx) * CO + o];
    }
    act[(y * s + x) * CO + o] = v > 0 ? v : ALPHA * v;
  }
  const out: number[][] = [];
  const g = Math.floor(s / p);
  for (let r = 0; r < g; r++) for (let c = 0; c < g; c++) {
    const mean = new Array(CO).fill(0), max = new Array(CO).fill(-Infinity);
    for (let y = r * p; y < (r + 1) * p; y++) for (let x = c * p; x < (c + 1) * p; x++) for (let o = 0; o < CO; o++) {
      mean[o] += act[(y * s + x) * CO + o] / (p * p);
      max[o] = Math.max(max[o], act[(y * s + x) * CO + o]);
    }
    const unit = (v: number[], scale: number) => {
      const norm = Math.hypot(...v);
      return v.map((e) => (e / norm) * scale);
    };
    out.push(cells === 'mean' ? unit(mean, 1) : [...unit(mean, Math.SQRT1_2), ...unit(max, Math.SQRT1_2)]);
  }
  return out;
}


/** The pooled first block (5×5, 'mean-max') of n 28×28 grey pictures as the knn verdict's kernel writes it (KnnScorer's `pooled`). */
export function pooledOf(native: NativeKernels, b: { filter: Float32Array; bias: Float32Array; alpha: number; co: number }, pixels: Float32Array, n: number): Float32Array {
  const f = 49 * 2 * b.co;
  const heap = new Float32Array(n * 784 + b.filter.length + b.co + n * f);
  heap.set(pixels.subarray(0, n * 784));
  heap.set(b.filter, n * 784);
  heap.set(b.bias, n * 784 + b.filter.length);
  const y = n * 784 + b.filter.length + b.co;
  if (!native.pooledConv(heap, Int32Array.from([n, 28, 28, 1, 5, 5, b.co, 2, 2, 4, 0, n * 784, n * 784 + b.filter.length, y, 1]), b.alpha)) throw new Error('pooledOf: the kernels declined the block');
  return heap.slice(y, y + n * f);
}

/** `v` scaled to length `length`. */
export function unitVector(v: number[], length: number): number[] {
  const norm = Math.hypot(...v);
  return v.map((e) => (e / norm) * length);
}

/** The block as the compiled search takes it (flat filter and bias; 5×5, one input channel, CO outputs). */
export function compiledBlockOf(b: FoldedFirstBlock): { filter: Float32Array; bias: Float32Array; alpha: number; kh: number; kw: number; ci: number; co: number } {
  return { filter: b.filter.dataSync() as Float32Array, bias: b.bias.dataSync() as Float32Array, alpha: b.alpha, kh: 5, kw: 5, ci: 1, co: CO };
}
