/**
 * R's first block, folded, over a set of pictures on the compiled kernels (native/pooled.c: conv, LeakyReLU and the
 * cells' pooling in one pass), written straight into a caller's buffer: what denseFirstBlockFeatures computes through
 * tfjs tensors, without them. The coreset embedded its ~6,000 candidates (digit 1) through tfjs tensors at ~0.7 s of
 * CPU an epoch, of which the kernel itself was 0.25 s (the rest: a fold, a copy out and a tensor back per batch, and
 * the concatenation).
 */
import { ImageSet } from '../data/source';
import type { NativeKernels } from '../kernels/addon';

/** A folded first block as plain arrays: filter [kh, kw, ci, co], bias [co], LeakyReLU's slope. */
export interface CompiledFirstBlock {
  filter: Float32Array;
  bias: Float32Array;
  alpha: number;
  kh: number;
  kw: number;
  ci: number;
  co: number;
}

/**
 * Sees a picture's first block, pooled, as the kernel wrote it (before the rows are made unit length): `row` of the
 * set, `raw` valid during the call only. How the trainer builds the maps' cell memory from the coreset's pass.
 */
export type PooledRowVisitor = (row: number, raw: Float32Array) => void;

/** Pictures per kernel call. */
const CHUNK = 256;

/** Floats pooledPass stages its inputs in: the filter, the bias and a chunk of pictures. */
export function pooledPassScratch(block: CompiledFirstBlock, set: ImageSet): number {
  return block.filter.length + block.co + CHUNK * set.size * set.size * set.channels;
}

/**
 * The pooled first block of every picture of `set` into heap[at ..] (count × f floats, the kernel's layout: a
 * picture's cell means [cells][co], then with `withMax` its maxima), over cells of `pool` pixels, staging its inputs
 * at heap[scratch ..] (pooledPassScratch floats). After each chunk, `chunkDone(start, n)` sees its rows as the
 * kernel wrote them. False where the kernels decline the block.
 */
export function pooledPass(
  native: NativeKernels, heap: Float32Array, block: CompiledFirstBlock, set: ImageSet, pool: number, withMax: boolean,
  at: number, scratch: number, chunkDone: (start: number, n: number) => void,
): boolean {
  const { kh, kw, ci, co } = block;
  const side = set.size;
  const per = side * side * set.channels;
  const f = Math.floor(side / pool) ** 2 * co * (withMax ? 2 : 1);
  const biasAt = scratch + block.filter.length;
  const xAt = biasAt + co;
  heap.set(block.filter, scratch);
  heap.set(block.bias, biasAt);
  for (let start = 0; start < set.count; start += CHUNK) {
    const n = Math.min(CHUNK, set.count - start);
    const src = set.pixels.subarray(start * per, (start + n) * per);
    for (let i = 0; i < src.length; i++) heap[xAt + i] = src[i] / 255; // as floatsOf
    const params = [n, side, side, ci, kh, kw, co, Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2), pool, xAt, scratch, biasAt, at + start * f, withMax ? 1 : 0];
    if (!native.pooledConv(heap, Int32Array.from(params), block.alpha)) return false;
    chunkDone(start, n);
  }
  return true;
}
