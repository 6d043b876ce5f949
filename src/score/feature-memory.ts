import * as tf from '@tensorflow/tfjs';
import { CellPooling, TrainConfig } from '../config';
import { floatsOf, ImageSet } from '../data/source';
import { deriveSeed, mulberry32 } from '../data/random';
import { fromFloat16, fromFloat16InPlace } from './float16';
import { nativePooledConv } from '../kernels/native';
import { MEMORY_BN, MEMORY_CONV, MEMORY_LRELU, meanOfLargest, poolSide, QUERY_MULTIPLE, unitFeatureRows } from './nearest';


/** Images [n, s, s, c] in [0, 1] → unit-length feature rows [n, f]. Pure in its weights; runs inside a tidy. */
export type FeatureSpace = (x: tf.Tensor4D) => tf.Tensor2D;

/** The memory images' features, ready to be searched; holds one tensor (the bank). */
export interface FeatureMemory {
  /** Unit-length features of the memory images, one per row, as a conv input [1, images, 1, features]. */
  bank: tf.Tensor4D;
  /** Images in the bank. */
  images: number;
  /** Features per image. */
  dims: number;
  /** Nearest images averaged over. */
  k: number;
  features: FeatureSpace;
}

function unit(f: tf.Tensor2D): tf.Tensor2D {
  return tf.div(f, tf.add(tf.norm(f, 2, 1, true), 1e-12)) as tf.Tensor2D;
}

/** The first block folded for inference: BatchNorm folded into the conv's filter and bias, LeakyReLU's slope. */
export interface FoldedFirstBlock {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  alpha: number;
}

/**
 * The knn features of images x [n, s, s, c]: the first block (folded) applied at every pixel (stride 1, where R itself
 * takes every other one), summarised over cells of twice poolSide (28×28: 4×4 cells, a 7×7 grid), flattened, unit
 * length. Dense rather than R's own stride-2 output: each cell sees 16 filter positions instead of 4, so a stroke
 * shifted by a pixel changes the features less (docs/research.md, "Which epoch, and denser first-block features").
 * `cells`: 'mean' keeps each cell's mean (7×7×32 = 1,568 features); 'mean-max' also its maximum (3,136), the means and
 * the maxima each scaled to length 1/√2, so that a thin stroke or a sharp edge anywhere in a cell counts at its full
 * strength instead of being averaged away (docs/research.md, "Cell maxima and ten neighbours").
 */
export function denseFirstBlockFeatures(x: tf.Tensor4D, block: FoldedFirstBlock, cells: CellPooling): tf.Tensor2D {
  const n = x.shape[0];
  const withMax = cells === 'mean-max';
  const pooled = pooledFirstBlock(x, block, cellSide(x.shape[1]), withMax);
  // The one normalisation both engines use (nearest.ts): the compiled engine runs it over its own buffer.
  const rows = pooled.dataSync().slice() as Float32Array;
  const f = rows.length / n;
  unitFeatureRows(rows, n, f, withMax ? 2 : 1);
  return tf.tensor2d(rows, [n, f]);
}

/** The side in pixels of the knn features' cells for pictures of side `imageSide` (28: 4, 64: 8). */
export function cellSide(imageSide: number): number {
  return 2 * poolSide(Math.ceil(imageSide / 2));
}

/**
 * The first block (folded) at every pixel, pooled over p×p cells: [n, h/p, w/p, co], or with the maxima
 * [n, 2, h/p, w/p, co]. The compiled kernel does conv, LeakyReLU and pooling in one pass (bench/NOTES.md); tfjs's
 * ops elsewhere.
 */
export function pooledFirstBlock(x: tf.Tensor4D, block: FoldedFirstBlock, p: number, withMax: boolean): tf.Tensor {
  return nativePooledConv(x, block.filter, block.bias, block.alpha, p, withMax) ?? tfjsPooledConv(x, block, p, withMax);
}

/** nativePooledConv's result with tfjs's ops: [n, h/p, w/p, co], or with the maxima [n, 2, h/p, w/p, co]. */
function tfjsPooledConv(x: tf.Tensor4D, block: FoldedFirstBlock, p: number, withMax: boolean): tf.Tensor {
  const y = tf.fused.conv2d({ x, filter: block.filter, bias: block.bias, strides: 1, pad: 'same', activation: 'leakyrelu', leakyreluAlpha: block.alpha });
  const means = tf.avgPool(y, p, p, 'valid');
  return withMax ? tf.stack([means, tf.maxPool(y, p, p, 'valid')], 1) : means;
}

const rSpaces = new WeakMap<tf.LayersModel, Map<CellPooling, FeatureSpace>>();
const spaceCells = new WeakMap<FeatureSpace, CellPooling>();
const spaceNets = new WeakMap<FeatureSpace, tf.LayersModel>();

/**
 * R's first block with its weights now, BatchNorm (inference statistics) folded into the conv with tfjs's float32
 * ops: y = conv(x, W·s) + (b − mean)·s + β with s = γ/√(var + ε). Runs inside the caller's tidy.
 */
function foldFirstBlock(r: tf.LayersModel): FoldedFirstBlock {
  const conv = r.getLayer(MEMORY_CONV);
  const bn = r.getLayer(MEMORY_BN);
  const { epsilon } = bn.getConfig() as { epsilon: number };
  const { alpha } = r.getLayer(MEMORY_LRELU).getConfig() as { alpha: number };
  const [kernel, bias] = conv.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
  const [gamma, beta, mean, variance] = bn.getWeights() as tf.Tensor1D[];
  const scale = tf.div(gamma, tf.sqrt(tf.add(variance, epsilon)));
  const shift = tf.add(tf.mul(tf.sub(bias ?? tf.zeros(mean.shape), mean), scale), beta) as tf.Tensor1D;
  return { filter: tf.mul(kernel, scale) as tf.Tensor4D, bias: shift, alpha };
}

/**
 * R's feature space (denseFirstBlockFeatures with `cells`) with R's weights as they are at each call (foldFirstBlock).
 * The same function for the same R and cells, so callers can tell a memory in R's space (firstBlockCells).
 */
export function rFeatureSpace(r: tf.LayersModel, cells: CellPooling): FeatureSpace {
  let spaces = rSpaces.get(r);
  if (!spaces) rSpaces.set(r, (spaces = new Map()));
  let space = spaces.get(cells);
  if (!space) {
    space = (x) => denseFirstBlockFeatures(x, foldFirstBlock(r), cells);
    spaces.set(cells, space);
    spaceCells.set(space, cells);
    spaceNets.set(space, r);
  }
  return space;
}

/** The folded first block an R feature space embeds with now, as plain arrays (for the compiled kernels), or undefined for any other space. */
export function spaceFirstBlock(space: FeatureSpace): { filter: Float32Array; bias: Float32Array; alpha: number; kh: number; kw: number; ci: number; co: number } | undefined {
  const r = spaceNets.get(space);
  if (!r) return undefined;
  return tf.tidy(() => {
    const { filter, bias, alpha } = foldFirstBlock(r);
    const [kh, kw, ci, co] = filter.shape;
    return { filter: filter.dataSync() as Float32Array, bias: bias.dataSync() as Float32Array, alpha, kh, kw, ci, co };
  });
}

/**
 * The knn verdict's feature space for a run's networks: one home, so that training, scoring and eval's untrained
 * control embed pictures alike.
 */
export function featureSpaceOf(nets: { r: tf.LayersModel }, train: Pick<TrainConfig, 'cellPooling'>): FeatureSpace {
  return rFeatureSpace(nets.r, train.cellPooling);
}

/** The cells of an R feature space made by rFeatureSpace, or undefined for any other space (pixels, a probe's). */
export function firstBlockCells(space: FeatureSpace): CellPooling | undefined {
  return spaceCells.get(space);
}

/**
 * Most values a raw-pixel feature row keeps: 64×64×3 pictures are taken as they are; larger ones are averaged over
 * k×k cells first, so the baseline's bank of 4,096 pictures stays under 270 MB (at 256×256×3 it would be 3.2 GB).
 */
export const MAX_PIXEL_FEATURES = 64 * 64 * 3;

/** Raw pixels, unit length: the network-free baseline eval reports beside the knn score. */
export const pixelSpace: FeatureSpace = (x) => {
  const [n, h, w, c] = x.shape;
  const k = Math.ceil(Math.sqrt((h * w * c) / MAX_PIXEL_FEATURES));
  const pixels = k > 1 ? tf.avgPool(x, k, k, 'valid') : x;
  return unit(pixels.reshape([n, -1]) as tf.Tensor2D);
};

/**
 * Which training images the memory keeps: all of them up to `max`, else a seeded sample of `max` (sorted), so that
 * scoring time and disk stay bounded however large the folder (docs/research.md compares a greedy coreset).
 */
export function memoryRows(count: number, max: number, seed: number): Uint32Array {
  if (max <= 0 || count <= max) return Uint32Array.from({ length: count }, (_, i) => i);
  // Partial Fisher-Yates: the first `max` of a seeded permutation.
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const rand = mulberry32(deriveSeed(seed, 3) || 1);
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(rand() * (count - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, max).sort();
}

/** The pictures of `set` as tensors [b, s, s, c] in [0, 1], `size` at a time (the caller disposes each). */
export function* batchesOf(set: ImageSet, size = 128): Generator<tf.Tensor4D> {
  for (let start = 0; start < set.count; start += size) {
    const n = Math.min(size, set.count - start);
    yield tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]);
  }
}

/** Embeds every image of `set` in `space`; the bank lives on the backend. */
export function buildFeatureMemory(space: FeatureSpace, set: ImageSet, k: number, batchSize = 256): FeatureMemory {
  if (!Number.isInteger(k) || k < 1) throw new Error(`buildFeatureMemory: k must be a positive integer, got ${k}`);
  if (set.count < 1) throw new Error('buildFeatureMemory: no images');
  const parts: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < set.count; start += batchSize) {
      const n = Math.min(batchSize, set.count - start);
      parts.push(tf.tidy(() => space(tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]))));
    }
    const dims = parts[0].shape[1];
    const bank = tf.tidy(() => tf.concat(parts).reshape([1, set.count, 1, dims]) as tf.Tensor4D);
    return { bank, images: set.count, dims, k: Math.min(k, set.count), features: space };
  } finally {
    tf.dispose(parts);
  }
}

/** A memory from a saved bank (rows of unit features), as training stored it. */
export function memoryFromBank(space: FeatureSpace, rows: Float32Array, images: number, k: number): FeatureMemory {
  if (images < 1 || rows.length % images !== 0) throw new Error(`memoryFromBank: ${rows.length} values are not ${images} rows`);
  const dims = rows.length / images;
  return { bank: tf.tensor4d(rows, [1, images, 1, dims]), images, dims, k: Math.min(k, images), features: space };
}

/** The parts of the wasm backend that let a tensor be written where it lives (tfjs-backend-wasm 4.x). */
interface WasmTensorMaker {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
}

/**
 * A memory from a saved bank of half floats that `fill` writes (the file's bytes, `images`×`dims`×2 of them). On
 * wasm the bytes go straight into the tensor's own memory and are widened there, in place; elsewhere through a
 * float32 copy. Cold `alocc score` spent ~400 ms on a 4,096-image bank's three intermediate copies (bench/NOTES.md).
 */
export function memoryFromHalfBank(space: FeatureSpace, images: number, dims: number, k: number, fill: (bytes: Uint8Array) => void): FeatureMemory {
  const shape = [1, images, 1, dims];
  const count = images * dims;
  let bank: tf.Tensor4D;
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown as WasmTensorMaker;
    const info = backend.makeOutput(shape, 'float32');
    try {
      const values = backend.typedArrayFromHeap(info);
      fill(new Uint8Array(values.buffer, values.byteOffset + 2 * count, 2 * count));
      fromFloat16InPlace(values);
    } catch (err) {
      backend.disposeData(info.dataId);
      throw err;
    }
    bank = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
  } else {
    const halves = new Uint16Array(count);
    fill(new Uint8Array(halves.buffer));
    bank = tf.tensor4d(fromFloat16(halves), shape as [number, number, number, number]);
  }
  return { bank, images, dims, k: Math.min(k, images), features: space };
}

/** The bank's rows, to save. */
export function bankRows(memory: FeatureMemory): Float32Array {
  return memory.bank.dataSync() as Float32Array;
}

export function disposeFeatureMemory(memory: FeatureMemory | undefined): void {
  memory?.bank.dispose();
}

/**
 * Mean cosine distance (1 − cos) from each image of `x` [n, s, s, c] to its k nearest memory images: 0 for an image
 * equal to k memory images, up to 2. See featureDistances.
 */
export function memoryDistances(memory: FeatureMemory, x: tf.Tensor4D): tf.Tensor1D {
  const q = tf.tidy(() => memory.features(x));
  try {
    return tf.tensor1d(featureDistances(memory, q));
  } finally {
    q.dispose();
  }
}

/**
 * memoryDistances from the queries' features q [n, f] (unit rows in the memory's space). A 1×1 convolution computes
 * all the dot products at once (the compiled conv kernels run it; a matMul on wasm is several times slower), with the
 * bank as its input and the queries as its filter: the kernels stream the input once and keep the filter in cache.
 * The k largest of each query's column are then picked in one pass over the result where it lies (tfjs' slice,
 * transpose and topk of it cost ~2 s CPU per 10,000 images, more than the products).
 */
export function featureDistances(memory: FeatureMemory, q: tf.Tensor2D): Float32Array {
  const [n, f] = q.shape;
  const padded = Math.ceil(n / QUERY_MULTIPLE) * QUERY_MULTIPLE;
  const cos = tf.tidy(() => {
    const filter = tf.concat([tf.transpose(q), tf.zeros([f, padded - n])], 1).reshape([1, 1, f, padded]) as tf.Tensor4D;
    return tf.conv2d(memory.bank, filter, 1, 'valid'); // [1, images, 1, padded]: row i holds image i's products
  });
  try {
    return meanOfLargest(valuesInPlace(cos), memory.images, padded, n, memory.k).map((mean) => 1 - mean);
  } finally {
    cos.dispose();
  }
}

/**
 * A float32 tensor's values: on wasm a view of the backend's own memory (no copy; valid until the next allocation
 * there), elsewhere dataSync's copy.
 */
export function valuesInPlace(t: tf.Tensor): Float32Array {
  if (tf.getBackend() === 'wasm') return (tf.backend() as unknown as WasmTensorMaker).typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}
