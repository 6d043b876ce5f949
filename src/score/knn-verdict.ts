/**
 * The knn verdict on the compiled kernels alone, without TensorFlow.js: the Detector's compiled engine
 * (src/api/engines.ts) for a knn run when no details are asked and the addon is built. The verdict needs only R's
 * first block (folded as inference.ts folds it; src/run/open-knn.ts reads it), the epoch's memory and two kernels: the
 * pooled first-block conv (native/pooled.c) and the memory products as a 1×1 conv (native/conv.c). The numbers equal
 * the TensorFlow.js engine's to float rounding (the rows' lengths are summed in another order).
 */
import { CellPooling } from '../config';
import { AloccError } from '../errors';
import { largeFloats, NativeKernels, rowProducts } from '../kernels/addon';
import { fromFloat16InPlace } from './float16';
import { meanOfLargest, poolSide, QUERY_MULTIPLE, unitFeatureRows } from './nearest';

/** What the compiled verdict needs of a run at an epoch. */
export interface CompiledKnnRun {
  /** R's first block, BatchNorm folded in: filter [kh, kw, ci, co] and bias, LeakyReLU's slope. */
  block: { filter: Float32Array; bias: Float32Array; alpha: number; kh: number; kw: number; ci: number; co: number };
  /** The memory: `images` rows of `features`; `read` fills exactly images × features half floats, verified. */
  memory: { images: number; features: number; file: string; read(target: Uint8Array): void };
  /** Side of the square pictures R takes. */
  side: number;
  cellPooling: CellPooling;
  neighbours: number;
}

/**
 * The knn distance of each of `count` pictures (HWC, [0, 1], the run's size and channels, concatenated); with
 * `pooled`, each picture's pooled first block as the kernel wrote it (count × features, before the rows' scaling),
 * which the anomaly maps reuse (src/score/cell-search.ts) instead of running the conv again.
 */
export type KnnScorer = (pixels: Float32Array, count: number, pooled?: Float32Array) => Float32Array;

/** The compiled knn verdict of `run`; the memory is read on the first call's first pass. */
export function compiledKnnScorer(native: NativeKernels, run: CompiledKnnRun): KnnScorer {
  const { block, memory, side } = run;
  const { images: m, features: f } = memory;
  const pool = 2 * poolSide(Math.ceil(side / 2));
  const withMax = run.cellPooling === 'mean-max';
  const cells = Math.floor(side / pool) ** 2;
  if (cells * block.co * (withMax ? 2 : 1) !== f) throw new AloccError(`${memory.file}: ${f} features an image do not match R's first block; retrain`);
  // The memory's half floats are read into the upper half of its place in the kernels' array and widened there.
  const readBank = (heap: Float32Array) => {
    const bank = heap.subarray(0, m * f);
    memory.read(new Uint8Array(bank.buffer, bank.byteOffset + 2 * m * f, 2 * m * f));
    fromFloat16InPlace(bank);
  };
  const chunk = makeChunkScorer(native, readBank, { m, f, block, pool, withMax, side, k: Math.min(run.neighbours, m) });
  const per = side * side * block.ci;
  return (pixels, count, pooled) => {
    const out = new Float32Array(count);
    for (let start = 0; start < count; start += CHUNK) {
      const n = Math.min(CHUNK, count - start);
      out.set(chunk(pixels.subarray(start * per, (start + n) * per), n, pooled?.subarray(start * f, (start + n) * f)), start);
    }
    return out;
  };
}

/** Pictures per pass: as the TensorFlow.js path's batches. */
const CHUNK = 256;

/**
 * One pass over up to CHUNK pictures in one Float32Array the kernels address by offset, laid out as [bank | filter |
 * bias | pictures | features | features transposed | products]. It is sized for the pictures of the first pass (one,
 * for a cold single score) and regrown once if a later pass is larger; the bank is read into it once.
 */
function makeChunkScorer(
  native: NativeKernels,
  readBank: (heap: Float32Array) => void,
  shape: { m: number; f: number; block: CompiledKnnRun['block']; pool: number; withMax: boolean; side: number; k: number },
) {
  const { m, f, block, pool, withMax, side, k } = shape;
  const { kh, kw, ci, co } = block;
  const per = side * side * ci;
  const fixed = m * f + block.filter.length + co;
  let heap = new Float32Array(0);
  let q = 0; // pictures the heap holds room for, a multiple of QUERY_MULTIPLE (the products' fast path)
  const at = (n: number) => ({ x: fixed, y: fixed + n * per, qt: fixed + n * per + n * f, out: fixed + n * per + 2 * n * f });
  const grow = (n: number) => {
    const size = Math.ceil(n / QUERY_MULTIPLE) * QUERY_MULTIPLE;
    const next = largeFloats(at(size).out + m * size);
    if (q === 0) {
      readBank(next);
      next.set(block.filter, m * f);
      next.set(block.bias, m * f + block.filter.length);
    } else {
      next.set(heap.subarray(0, fixed));
    }
    heap = next;
    q = size;
  };
  const pad = Math.floor((kh - 1) / 2); // 'same' at stride 1, as tfjs pads: the extra row and column go below and right
  const padW = Math.floor((kw - 1) / 2);
  grow(1);
  return (pixels: Float32Array, n: number, pooled?: Float32Array): Float32Array => {
    if (n > q) grow(n);
    const o = at(q);
    heap.set(pixels, o.x);
    native.pooledConv(heap, Int32Array.from([n, side, side, ci, kh, kw, co, pad, padW, pool, o.x, m * f, m * f + block.filter.length, o.y, withMax ? 1 : 0]), block.alpha);
    // Unit rows (the normalisation the TensorFlow.js engine uses too), written transposed as the products' filter:
    // qt[j][i] = y[i][j]; columns past n stay 0.
    pooled?.set(heap.subarray(o.y, o.y + n * f));
    unitFeatureRows(heap.subarray(o.y, o.y + n * f), n, f, withMax ? 2 : 1);
    heap.fill(0, o.qt, o.out);
    for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) heap[o.qt + j * q + i] = heap[o.y + i * f + j];
    // Products of every memory row with every picture.
    rowProducts(native, heap, 0, m, f, o.qt, q, o.out);
    return meanOfLargest(heap.subarray(o.out, o.out + m * q), m, q, n, k).map((mean) => 1 - mean);
  };
}
