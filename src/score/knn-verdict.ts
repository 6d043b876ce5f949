/**
 * The knn verdict on the compiled kernels alone, without TensorFlow.js: what `alocc score` runs for a knn run when no
 * `--details` are asked and the addon is built. Loading TensorFlow.js and building R and D took most of a cold
 * score; the verdict needs only R's first block (folded as inference.ts folds it), the epoch's memory and two
 * kernels: the pooled first-block conv (native/pooled.c) and the memory products as a 1×1 conv (native/conv.c).
 * The numbers equal the TensorFlow.js path's to float rounding (the rows' lengths are summed in another order).
 */
import * as path from 'path';
import { active, loadNativeKernels, NativeKernels, rowProducts } from '../kernels/addon';
import { AloccError } from '../errors';
import { EPOCH_MEMORY_FILE, epochDirFor } from '../run/paths';
import { RunFile } from '../run/runfile';
import { preprocessingOf, RunPreprocessing, runAtEpoch } from '../run/select';
import { readModelFiles, readVerifiedInto, WeightSpec } from '../run/verified';
import { foldBatchNorm } from './fold';
import { fromFloat16InPlace } from './float16';
import { MEMORY_BN, MEMORY_CONV, MEMORY_LRELU, meanOfLargest, poolSide, QUERY_MULTIPLE } from './nearest';

/** An opened run's knn verdict: its threshold, and the novelty of decoded pictures. */
export interface KnnVerdict {
  runDir: string;
  run: RunFile;
  epoch: number;
  threshold: number;
  preprocessing: RunPreprocessing;
  /** What runs it, for the line `score` prints. */
  label: string;
  /** The knn distance of each of `count` pictures (HWC, [0, 1], the run's size and channels, concatenated). */
  novelty(pixels: Float32Array, count: number): Float32Array;
}

/** The float32 weights whose names `keep` accepts, by name, from a model's manifest and bytes. */
function weightsByName(specs: WeightSpec[], data: Buffer, file: string, keep: (name: string) => boolean): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let at = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new AloccError(`${file}: weight ${s.name} is ${s.dtype}, not float32`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (at + 4 * n > data.length) throw new AloccError(`${file} does not match its weights file: it ends before ${s.name}`);
    if (keep(s.name)) out.set(s.name, new Float32Array(data.buffer.slice(data.byteOffset + at, data.byteOffset + at + 4 * n)));
    at += 4 * n;
  }
  return out;
}

/** The first block of R at `epochDir`, folded: filter [5, 5, channels, co] and bias, LeakyReLU's slope. */
function foldedFirstBlock(epochDir: string, checksums: Record<string, string>) {
  const { jsonFile, json, specs, data } = readModelFiles(epochDir, 'r', checksums);
  // The first block's conv and BatchNorm only (their names start with the conv's); the rest of R is not copied.
  const weights = weightsByName(specs, data, jsonFile, (name) => name.startsWith(`${MEMORY_CONV}`));
  const layers: { class_name: string; config: Record<string, unknown> }[] = json?.modelTopology?.model_config?.config?.layers ?? json?.modelTopology?.config?.layers ?? [];
  const config = (name: string) => {
    const layer = layers.find((l) => l.config?.name === name);
    if (!layer) throw new AloccError(`${jsonFile} has no layer ${name}: not an alocc R`);
    return layer.config;
  };
  const get = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new AloccError(`${jsonFile} lacks ${name}: not an alocc R`);
    return w;
  };
  const kernelSpec = specs.find((s) => s.name === `${MEMORY_CONV}/kernel`);
  if (!kernelSpec || kernelSpec.shape.length !== 4) throw new AloccError(`${jsonFile} lacks ${MEMORY_CONV}/kernel: not an alocc R`);
  const co = kernelSpec.shape[3];
  const bias = weights.get(`${MEMORY_CONV}/bias`) ?? new Float32Array(co);
  const bn = { gamma: weights.get(`${MEMORY_BN}/gamma`), beta: weights.get(`${MEMORY_BN}/beta`), moving_mean: get(`${MEMORY_BN}/moving_mean`), moving_variance: get(`${MEMORY_BN}/moving_variance`) };
  const folded = foldBatchNorm(get(`${MEMORY_CONV}/kernel`), bias, bn, config(MEMORY_BN).epsilon as number);
  return { ...folded, shape: kernelSpec.shape, alpha: config(MEMORY_LRELU).alpha as number };
}

/**
 * Opens the run's knn verdict at `epoch` (default: the best), or null where it does not apply: the run's verdict is
 * not knn, or the compiled kernels are not built or turned off (the caller then uses TensorFlow.js). Every file read
 * is verified against the run's checksums, as openRun does.
 */
export function openKnnVerdict(dir: string, opts: { epoch?: number } = {}): KnnVerdict | null {
  const { run, epoch, record } = runAtEpoch(dir, opts.epoch);
  if (run.config.train.noveltyScore !== 'knn') return null;
  loadNativeKernels();
  const native = active();
  if (!native) return null;
  const epochDir = epochDirFor(dir, epoch);
  const block = foldedFirstBlock(epochDir, record.checksums);
  const { images: m, features: f } = record.memory;
  const memoryFile = path.join(epochDir, EPOCH_MEMORY_FILE);
  // The memory's half floats are read into the upper half of its place in the kernels' array and widened there.
  const readBank = (heap: Float32Array) => {
    const bank = heap.subarray(0, m * f);
    readVerifiedInto(epochDir, EPOCH_MEMORY_FILE, record.checksums, new Uint8Array(bank.buffer, bank.byteOffset + 2 * m * f, 2 * m * f), (bytes) =>
      `${memoryFile} holds ${bytes} bytes, not ${m}×${f} half floats; retrain`,
    );
    fromFloat16InPlace(bank);
  };
  const pre = preprocessingOf(run.config);
  const [kh, kw, ci, co] = block.shape;
  const pool = 2 * poolSide(Math.ceil(pre.size / 2));
  const withMax = run.config.train.cellPooling === 'mean-max';
  const cells = Math.floor(pre.size / pool) ** 2;
  if (cells * co * (withMax ? 2 : 1) !== f || ci !== pre.channels) throw new AloccError(`${memoryFile}: ${f} features an image do not match R's first block; retrain`);
  const k = Math.min(run.config.train.neighbours, m);
  const label = `compiled kernels (${native.isa()}), no TensorFlow.js: the knn verdict needs R's first block only`;
  const chunk = makeChunkScorer(native, readBank, m, f, block, kh, kw, ci, co, pool, withMax, pre.size, k);
  return {
    runDir: dir,
    run,
    epoch,
    threshold: record.threshold,
    preprocessing: pre,
    label,
    novelty(pixels, count) {
      const out = new Float32Array(count);
      for (let start = 0; start < count; start += CHUNK) {
        const n = Math.min(CHUNK, count - start);
        out.set(chunk(pixels.subarray(start * pre.size * pre.size * ci, (start + n) * pre.size * pre.size * ci), n), start);
      }
      return out;
    },
  };
}

/** Pictures per pass: as the TensorFlow.js path's batches. */
const CHUNK = 256;

/**
 * One pass over up to CHUNK pictures in one Float32Array the kernels address by offset, laid out as [bank | filter |
 * bias | pictures | features | features transposed | products]. It is sized for the pictures of the first pass (one,
 * for a cold single score) and regrown once if a later pass is larger; the bank is read into it once.
 */
function makeChunkScorer(native: NativeKernels, readBank: (heap: Float32Array) => void, m: number, f: number, block: { filter: Float32Array; bias: Float32Array; alpha: number }, kh: number, kw: number, ci: number, co: number, pool: number, withMax: boolean, side: number, k: number) {
  const per = side * side * ci;
  const fixed = m * f + block.filter.length + co;
  let heap = new Float32Array(0);
  let q = 0; // pictures the heap holds room for, a multiple of QUERY_MULTIPLE (the products' fast path)
  const at = (n: number) => ({ x: fixed, y: fixed + n * per, qt: fixed + n * per + n * f, out: fixed + n * per + 2 * n * f });
  const grow = (n: number) => {
    const size = Math.ceil(n / QUERY_MULTIPLE) * QUERY_MULTIPLE;
    const next = new Float32Array(at(size).out + m * size);
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
  return (pixels: Float32Array, n: number): Float32Array => {
    if (n > q) grow(n);
    const o = at(q);
    heap.set(pixels, o.x);
    native.pooledConv(heap, Int32Array.from([n, side, side, ci, kh, kw, co, pad, padW, pool, o.x, m * f, m * f + block.filter.length, o.y, withMax ? 1 : 0]), block.alpha);
    // Unit rows, written transposed as the products' filter: qt[j][i] = y[i][j] / |y[i]|, or with the maxima each half
    // (means, maxima) over √2 times its own length, as denseFirstBlockFeatures; columns past n stay 0.
    heap.fill(0, o.qt, o.out);
    const parts = withMax ? 2 : 1;
    const len = f / parts;
    for (let i = 0; i < n; i++) {
      for (let h = 0; h < parts; h++) {
        const row = o.y + i * f + h * len;
        let sum = 0;
        for (let j = 0; j < len; j++) sum += heap[row + j] * heap[row + j];
        const norm = Math.fround(Math.fround(Math.sqrt(sum)) * Math.sqrt(parts)) + 1e-12;
        for (let j = 0; j < len; j++) heap[o.qt + (h * len + j) * q + i] = heap[row + j] / norm;
      }
    }
    // Products of every memory row with every picture.
    rowProducts(native, heap, 0, m, f, o.qt, q, o.out);
    return meanOfLargest(heap.subarray(o.out, o.out + m * q), m, q, n, k).map((mean) => 1 - mean);
  };
}
