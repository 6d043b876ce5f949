import * as tf from '@tensorflow/tfjs';
import { ImageSet, pickRows } from '../data/source';
import { active, largeFloats, rowProducts } from '../kernels/addon';
import { buildFeatureMemory, cellSide, disposeFeatureMemory, FeatureMemory, FeatureSpace, firstBlockCells, memoryRows, spaceFirstBlock, valuesInPlace } from './feature-memory';
import { unitFeatureRows } from './nearest';
import { pooledPass, pooledPassScratch, PooledRowVisitor } from './pooled-pass';

export type { PooledRowVisitor } from './pooled-pass';
import { keepRow, lazyCoreset } from './lazy-coreset';

/**
 * Which training images the knn memory keeps at an epoch: a greedy k-centre coreset in R's features at that epoch.
 * Start from the first image; each next one is the image farthest (cosine distance) from every image kept so far.
 * It drops near-duplicates of the commonest shapes and keeps the rare normal ones, so an unusual but normal picture
 * finds its own kind among its k nearest (docs/research.md, "A coreset memory"). The distances are exact: on a
 * random projection to 128 dimensions the same rule lost most of its gain (digit 8: 0.962 against 0.978; digit 3
 * 0.970, below the sample's 0.971).
 */

/**
 * Candidates the coreset is chosen from at most (a seeded sample beyond it): their similarities take about
 * CORESET_CANDIDATES²/2 floats (134 MB at most) and CORESET_CANDIDATES²·features/2 multiply-adds an epoch.
 */
export const CORESET_CANDIDATES = 8192;

/** Columns per product: the compiled conv's fast path wants a multiple of the SIMD width (as featureDistances). */
const BLOCK = 512;

/**
 * The memory similarities() works in, kept between calls (a training run keeps one for all its epochs): an epoch's
 * ~125 MB (digit 1) allocated afresh costs about as much in page faults as the products themselves (bench/NOTES.md).
 */
export class CoresetWorkspace {
  private buffer = new Float32Array(0);

  /** `n` floats, reused: what a previous call left there is overwritten. */
  floats(n: number): Float32Array {
    if (this.buffer.length < n) {
      this.buffer = new Float32Array(0); // let the old one go before the new one is touched
      this.buffer = largeFloats(n); // on huge pages: ~125 MB for digit 1, first touched every run
    }
    return this.buffer.subarray(0, n);
  }
}

/** The cosine similarity of every pair of a set's images, read a row at a time. */
export interface Similarities {
  readonly count: number;
  /** Writes sim(r, c) for every c into `into` (count floats). */
  row(r: number, into: Float32Array): void;
}

/**
 * What similarities() returns: the pairs' similarities and each image's unit feature row (count × dims), both in the
 * workspace, so valid until its next use.
 */
export interface EmbeddedSet {
  sims: Similarities;
  features: Float32Array;
  dims: number;
}

/** Tile side of transposeInto: a tile's rows and columns stay in cache (BLOCK-strided writes one by one did not). */
const TILE = 16;

/** heap[to + j·stride + i] = heap[from + i·cols + j] for the [rows, cols] matrix at `from`, tile by tile. */
function transposeInto(heap: Float32Array, from: number, rows: number, cols: number, to: number, stride: number): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(rows, i0 + TILE);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(cols, j0 + TILE);
      for (let i = i0; i < i1; i++) {
        const row = from + i * cols;
        for (let j = j0; j < j1; j++) heap[to + j * stride + i] = heap[row + j];
      }
    }
  }
}

/**
 * Every pair's cosine similarity in `space`, kept as blocks of BLOCK columns. On the compiled kernels block b (columns
 * from s) holds the rows from s down only, written by the kernel where they stay: half the products, no copy and no
 * mirror (an epoch's matrix had cost more in copying and in fresh memory than in products; bench/NOTES.md). A row's
 * values above those blocks are read from the block holding its own column, by symmetry. Elsewhere TensorFlow.js
 * multiplies every row with every block. `pooled`, where given, sees each picture's raw pooled features when the compiled
 * pass embeds them (in R's space on the kernels), and nothing otherwise.
 */
export function similarities(space: FeatureSpace, set: ImageSet, workspace = new CoresetWorkspace(), pooled?: PooledRowVisitor): EmbeddedSet {
  const n = set.count;
  const native = active();
  const cells = firstBlockCells(space);
  const block = native && cells ? spaceFirstBlock(space) : undefined;
  // On the compiled kernels in R's space: the first block straight into the workspace (src/score/pooled-pass.ts),
  // normalised there by the rule denseFirstBlockFeatures applies, so the same rows as through tfjs.
  const parts = cells === 'mean-max' ? 2 : 1;
  const pool = cellSide(set.size);
  const f = block ? Math.floor(set.size / pool) ** 2 * block.co * parts : 0;
  // The kernels decline a block only for its shape (more output channels than they take), so on the first chunk.
  let memory: FeatureMemory | undefined;
  const dims = block ? f : (memory = buildFeatureMemory(space, set, 1)).dims;
  const starts = Array.from({ length: Math.ceil(n / BLOCK) }, (_, b) => b * BLOCK);
  const firstRow = (s: number) => (native ? s : 0);
  // [features | one block's rows, transposed | each block's products | the pass's inputs]: the layout the kernels
  // address by offset.
  const at: number[] = [];
  let size = n * dims + dims * BLOCK;
  for (const s of starts) {
    at.push(size);
    size += (n - firstRow(s)) * BLOCK;
  }
  const scratch = size;
  if (block) size += pooledPassScratch(block, set);
  const heap = workspace.floats(size);
  try {
    const passed = block && pooledPass(native!, heap, block, set, pool, parts === 2, 0, scratch, (start, count) => {
      const rows = heap.subarray(start * f, (start + count) * f);
      for (let i = 0; i < count; i++) pooled?.(start + i, rows.subarray(i * f, (i + 1) * f));
      unitFeatureRows(rows, count, f, parts);
    });
    if (!passed) heap.set(valuesInPlace((memory ??= buildFeatureMemory(space, set, 1)).bank), 0);
    const qt = n * dims;
    starts.forEach((s, b) => {
      const q = Math.min(BLOCK, n - s);
      heap.fill(0, qt, qt + dims * BLOCK);
      transposeInto(heap, s * dims, q, dims, qt, BLOCK);
      if (native) {
        rowProducts(native, heap, s * dims, n - s, dims, qt, BLOCK, at[b]);
      } else {
        const values = tf.tidy(() => {
          const filter = tf.tensor4d(heap.subarray(qt, qt + dims * BLOCK), [1, 1, dims, BLOCK]);
          return tf.conv2d(memory!.bank, filter, 1, 'valid').dataSync() as Float32Array;
        });
        heap.set(values, at[b]);
      }
    });
  } finally {
    disposeFeatureMemory(memory);
  }
  const row = (r: number, into: Float32Array) => {
    const own = Math.floor(r / BLOCK);
    starts.forEach((s, b) => {
      const q = Math.min(BLOCK, n - s);
      if (r >= firstRow(s)) {
        const from = at[b] + (r - firstRow(s)) * BLOCK;
        into.set(heap.subarray(from, from + q), s);
      } else {
        // Columns s.. of row r (r above the block's first row): sim(c, r), in column r of r's own block.
        const base = at[own] + (r - starts[own]) - firstRow(starts[own]) * BLOCK;
        for (let j = 0; j < q; j++) into[s + j] = heap[base + (s + j) * BLOCK];
      }
    });
  };
  return { sims: { count: n, row }, features: heap.subarray(0, n * dims), dims };
}

/**
 * Greedy k-centre over the similarities of `count` images: the rows of `m` images (all of them when count ≤ m),
 * sorted. Ties go to the lowest row, so one set of similarities gives one coreset.
 */
export function greedyCoreset(sims: Similarities, m: number): Uint32Array {
  const count = sims.count;
  if (count <= m) return Uint32Array.from({ length: count }, (_, i) => i);
  const nearest = new Float32Array(count).fill(Infinity); // each image's distance to the closest one kept
  const row = new Float32Array(count);
  const chosen = new Uint32Array(m);
  let next = 0;
  for (let c = 0; c < m; c++) {
    chosen[c] = next;
    sims.row(next, row);
    next = keepRow(row, nearest);
  }
  return chosen.sort();
}

/** A coreset: its images, in the order of the set, and their unit feature rows in the space it was chosen in. */
export interface Coreset {
  images: ImageSet;
  /** images.count × dims floats. */
  features: Float32Array;
  dims: number;
}

/**
 * The coreset of `m` images of `set` in `space` (at least one image): chosen among all of them, or among a seeded
 * sample of CORESET_CANDIDATES when there are more; every image is kept when the set has no more than `m`. Pass the
 * same workspace to every call of a run. `pooled` sees the candidates' raw pooled features (rows of `set`), as
 * similarities() shows them.
 */
export function coreset(space: FeatureSpace, set: ImageSet, m: number, seed: number, workspace?: CoresetWorkspace, pooled?: PooledRowVisitor): Coreset {
  if (set.count <= m) {
    const memory = buildFeatureMemory(space, set, 1);
    try {
      return { images: set, features: valuesInPlace(memory.bank).slice(), dims: memory.dims };
    } finally {
      disposeFeatureMemory(memory);
    }
  }
  const sampled = set.count <= CORESET_CANDIDATES ? undefined : memoryRows(set.count, CORESET_CANDIDATES, seed);
  const candidates = sampled ? (pickRows(set, sampled) as ImageSet) : set;
  const visit = pooled && sampled ? (r: number, raw: Float32Array) => pooled(sampled[r], raw) : pooled;
  // On the compiled kernels in R's space, only the rows the greedy reads (./lazy-coreset.ts); else the whole matrix.
  const lazy = lazyCoreset(space, candidates, m, workspace ?? new CoresetWorkspace(), visit);
  const { rows, features, dims } = lazy ?? (({ sims, features, dims }) => ({ rows: greedyCoreset(sims, m), features, dims }))(similarities(space, candidates, workspace, visit));
  const kept = new Float32Array(rows.length * dims);
  rows.forEach((r, k) => kept.set(features.subarray(r * dims, (r + 1) * dims), k * dims));
  return { images: pickRows(candidates, rows) as ImageSet, features: kept, dims };
}
