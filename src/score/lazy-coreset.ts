/**
 * The coreset's greedy k-centre on the compiled kernels without the whole similarity matrix: the greedy reads only
 * the rows of the images it keeps (1,000 of ~6,000 at digit 1), so those rows are computed when they are wanted, a
 * batch at a time (speculated()): the wanted row and the next farthest images by the distances so far, which are the
 * likeliest next picks. On digit 1 the half matrix was ~3,000 rows' worth of products an epoch (the epoch's largest
 * single cost, 0.85 s of CPU on AVX-512, about twice that on AVX2); this computes ~1,100-1,300.
 *
 * The same coreset bit for bit: a row's values are the same dot products in the same order (native/gemm.c sums each
 * output over the features in order whatever its place in the tile, so sim(a, b) and sim(b, a) are equal), and the
 * greedy's loop is greedyCoreset's.
 */
import { ImageSet } from '../data/source';
import { active, NativeKernels, rowProducts } from '../kernels/addon';
import { cellSide, FeatureSpace, firstBlockCells, spaceFirstBlock } from './feature-memory';
import { unitFeatureRows } from './nearest';
import { pooledPass, pooledPassScratch, PooledRowVisitor } from './pooled-pass';

/**
 * One greedy k-centre step, shared with coreset.ts's greedyCoreset: folds a kept image's similarity `row` into each
 * image's distance to its nearest kept one (`nearest`, updated) and returns the farthest image, the lowest on a tie.
 */
export function keepRow(row: ArrayLike<number>, nearest: Float32Array): number {
  let far = 0;
  for (let i = 0; i < nearest.length; i++) {
    const d = 1 - row[i];
    if (d < nearest[i]) nearest[i] = d;
    if (nearest[i] > nearest[far]) far = i;
  }
  return far;
}

/**
 * Rows computed per product: two SIMD vectors' worth (the GEMM's fast path), at least 16. Which rows are speculated
 * changes only the cost: at digit 1 32 rows a product computed ~1,280 rows for 1,000 picks and 16 ~1,100, 5-7 %
 * less time on the baseline path's 4-lane vectors, −7 to +1 % on AVX2's, up to 7 % more on AVX-512's.
 */
const speculated = (native: NativeKernels) => Math.max(16, 2 * native.vectorWidth());

/**
 * The greedy coreset of `m` of `set`'s images in R's space `space` on the compiled kernels, with their unit feature
 * rows (set.count × dims, in the workspace); null where that space or the kernels are not there (use similarities()
 * and greedyCoreset); `workspace` is coreset.ts's CoresetWorkspace. `pooled` sees each image's raw pooled features, as similarities() shows them.
 */
export function lazyCoreset(space: FeatureSpace, set: ImageSet, m: number, workspace: { floats(n: number): Float32Array }, pooled?: PooledRowVisitor): { rows: Uint32Array; features: Float32Array; dims: number } | null {
  const native = active();
  const cells = firstBlockCells(space);
  const block = native && cells ? spaceFirstBlock(space) : undefined;
  if (!block) return null;
  const n = set.count;
  const parts = cells === 'mean-max' ? 2 : 1;
  const pool = cellSide(set.size);
  const f = Math.floor(set.size / pool) ** 2 * block.co * parts;
  const K = speculated(native!);
  // [features | the batch's rows, transposed | their products with every image | the pass's inputs]
  const qt = n * f;
  const out = qt + f * K;
  const scratch = out + n * K;
  const heap = workspace.floats(scratch + pooledPassScratch(block, set));
  const embedded = pooledPass(native!, heap, block, set, pool, parts === 2, 0, scratch, (start, count) => {
    const rows = heap.subarray(start * f, (start + count) * f);
    for (let i = 0; i < count; i++) pooled?.(start + i, rows.subarray(i * f, (i + 1) * f));
    unitFeatureRows(rows, count, f, parts);
  });
  if (!embedded) return null;

  if (n <= m) return { rows: Uint32Array.from({ length: n }, (_, i) => i), features: heap.subarray(0, n * f), dims: f };
  const known: (Float32Array | undefined)[] = new Array(n);
  const nearest = new Float32Array(n).fill(Infinity); // each image's distance to the closest one kept
  // The speculated images: the farthest ones not yet computed, farthest first, the lowest on a tie (a pick's row
  // does not depend on which others were computed with it, so this only decides how many products are wasted).
  const top = new Int32Array(K - 1);
  /** The rows of `wanted` and of the farthest images not yet computed, into `known`. */
  const computeRows = (wanted: number) => {
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (i === wanted || known[i]) continue;
      const d = nearest[i];
      if (count === top.length && !(d > nearest[top[count - 1]])) continue;
      let at = count < top.length ? count++ : count - 1;
      for (; at > 0 && d > nearest[top[at - 1]]; at--) top[at] = top[at - 1];
      top[at] = i;
    }
    const batch = [wanted, ...top.subarray(0, count)];
    heap.fill(0, qt, qt + f * K);
    batch.forEach((r, k) => {
      for (let j = 0; j < f; j++) heap[qt + j * K + k] = heap[r * f + j];
    });
    rowProducts(native!, heap, 0, n, f, qt, K, out);
    const rows = batch.map((r) => (known[r] = new Float32Array(n)));
    for (let i = 0, o = out; i < n; i++, o += K) for (let k = 0; k < rows.length; k++) rows[k][i] = heap[o + k];
  };
  const chosen = new Uint32Array(m);
  let next = 0;
  for (let c = 0; c < chosen.length; c++) {
    chosen[c] = next;
    if (!known[next]) computeRows(next);
    next = keepRow(known[next]!, nearest);
  }
  return { rows: chosen.sort(), features: heap.subarray(0, n * f), dims: f };
}
