import * as tf from '@tensorflow/tfjs';
import { ImageSet, pickRows } from '../data/source';
import { active, rowProducts } from '../kernels/addon';
import { buildFeatureMemory, disposeFeatureMemory, FeatureSpace, memoryRows, valuesInPlace } from './feature-memory';

/**
 * Which training images the knn memory keeps at an epoch: a greedy k-centre coreset in R's features at that epoch.
 * Start from the first image; each next one is the image farthest (cosine distance) from every image kept so far.
 * It drops near-duplicates of the commonest shapes and keeps the rare normal ones, so an unusual but normal picture
 * finds its own kind among its k nearest (docs/research.md, "A coreset memory"). The distances are exact: on a
 * random projection to 128 dimensions the same rule lost most of its gain (digit 8: 0.962 against 0.978; digit 3
 * 0.970, below the sample's 0.971).
 */

/**
 * Candidates the coreset is chosen from at most (a seeded sample beyond it): their similarity matrix is
 * CORESET_CANDIDATES² floats (268 MB at most) and costs CORESET_CANDIDATES²·features multiply-adds an epoch.
 */
export const CORESET_CANDIDATES = 8192;

/** Columns per product: the compiled conv's fast path wants a multiple of the SIMD width (as featureDistances). */
const BLOCK = 512;

/**
 * The cosine similarity of every pair of images of `set` in `space`, [count × count] row-major. On the compiled
 * kernels each block of columns is multiplied with the rows from its own first one down only, in place in one array,
 * and mirrored: half the products, no copies. Elsewhere TensorFlow.js multiplies every row with every block.
 */
export function similarityMatrix(space: FeatureSpace, set: ImageSet): Float32Array {
  const n = set.count;
  const memory = buildFeatureMemory(space, set, 1);
  const f = memory.dims;
  const sims = new Float32Array(n * n);
  try {
    const native = active();
    // [bank | the block's rows, transposed | products]: the layout the kernels address by offset.
    const heap = new Float32Array(n * f + f * BLOCK + (native ? n * BLOCK : 0));
    heap.set(valuesInPlace(memory.bank), 0);
    for (let start = 0; start < n; start += BLOCK) {
      const q = Math.min(BLOCK, n - start);
      const qt = n * f;
      heap.fill(0, qt, qt + f * BLOCK);
      for (let i = 0; i < q; i++) for (let j = 0; j < f; j++) heap[qt + j * BLOCK + i] = heap[(start + i) * f + j];
      if (native) {
        // The rows from `start` on times the block.
        const out = qt + f * BLOCK;
        rowProducts(native, heap, start * f, n - start, f, qt, BLOCK, out);
        for (let i = start; i < n; i++) {
          const from = out + (i - start) * BLOCK;
          for (let j = 0; j < q; j++) {
            const v = heap[from + j];
            sims[i * n + start + j] = v;
            sims[(start + j) * n + i] = v;
          }
        }
      } else {
        const values = tf.tidy(() => {
          const filter = tf.tensor4d(heap.subarray(qt, qt + f * BLOCK), [1, 1, f, BLOCK]);
          return tf.conv2d(memory.bank, filter, 1, 'valid').dataSync() as Float32Array;
        });
        for (let i = 0; i < n; i++) sims.set(values.subarray(i * BLOCK, i * BLOCK + q), i * n + start);
      }
    }
  } finally {
    disposeFeatureMemory(memory);
  }
  return sims;
}

/**
 * Greedy k-centre over a similarity matrix `sims` [count × count]: the rows of `m` images (all of them when
 * count ≤ m), sorted. Ties go to the lowest row, so one matrix gives one coreset.
 */
export function greedyCoreset(sims: Float32Array, count: number, m: number): Uint32Array {
  if (count <= m) return Uint32Array.from({ length: count }, (_, i) => i);
  const nearest = new Float32Array(count).fill(Infinity); // each image's distance to the closest one kept
  const chosen = new Uint32Array(m);
  let next = 0;
  for (let c = 0; c < m; c++) {
    chosen[c] = next;
    const row = next * count;
    let far = 0;
    for (let i = 0; i < count; i++) {
      const d = 1 - sims[row + i];
      if (d < nearest[i]) nearest[i] = d;
      if (nearest[i] > nearest[far]) far = i;
    }
    next = far;
  }
  return chosen.sort();
}

/**
 * The coreset of `m` images of `set` in `space`: chosen among all of them, or among a seeded sample of
 * CORESET_CANDIDATES when there are more. Returns the images, in the order of `set`.
 */
export function coresetImages(space: FeatureSpace, set: ImageSet, m: number, seed: number): ImageSet {
  if (set.count <= m) return set;
  const candidates = pickRows(set, memoryRows(set.count, CORESET_CANDIDATES, seed)) as ImageSet;
  const rows = greedyCoreset(similarityMatrix(space, candidates), candidates.count, m);
  return pickRows(candidates, rows) as ImageSet;
}
