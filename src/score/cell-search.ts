/**
 * The anomaly maps' same-position cell distances on the compiled kernels, without TensorFlow.js: what cell-map.ts's
 * cellFeatures, buildCellMemory, cellDistances(…, 'position') and leaveOneOutCellDistances compute with tfjs ops, to
 * float rounding. The tfjs ops spent 50 ms a 28×28 picture against 4,096 memory images on 2 vCPUs (a batched matMul
 * of [cells, n, f] by [cells, f, m] that wasm runs one slow product at a time), and 25 s building the memory and the
 * scale before the first map; this runs each position's products as one 1×1 conv of the compiled kernels
 * (native/conv.c) and the cells' features through the pooled conv the knn verdict uses (native/pooled.c).
 *
 * One Float32Array the kernels address by offset: [filter | bias | the memory by position, [cells][m][f] | pictures |
 * their pooled features | their extra part's cells | their pixel parts | one position's queries transposed | products |
 * their columns' maxima]. The memory is laid out by position once, so each position's rows are contiguous for the
 * products. A memory cell's f features are R's parts, then the extra part's (the rotation net's cells, cell-part.ts),
 * where the run has one, then its pixels and −|m|²/2 (cell-pixels.ts), where the run's maps read them.
 */
import { CellPooling } from '../config';
import { floatsOf, ImageSet } from '../data/source';
import { columnMaxima, largeFloats, NativeKernels, rowProducts } from '../kernels/addon';
import { CellPart, partLengths, scaleCells } from './cell-part';
import { CellPixels, writePixelCells } from './cell-pixels';
import type { CompiledKnnRun } from './knn-verdict';
import { poolSide, QUERY_MULTIPLE } from './nearest';

/** Pictures per pass: the products of a pass hold m × CHUNK floats (16 MB at 4,096 memory images). */
const CHUNK = 256;

export interface CellSearch {
  rows: number;
  cols: number;
  /**
   * Features per cell: the first block's channels, twice that with the cells' maxima, the extra part's, and with
   * pixels their values and one more (cell-pixels.ts).
   */
  dims: number;
  images: number;
  /**
   * Each cell's distance to the nearest memory cell at its position: [n·rows·cols], as cellDistances (1 − cosine;
   * with pixels, half the squared Euclidean distance).
   */
  distances(pixels: Float32Array, count: number): Float32Array;
  /**
   * The same from the pictures' pooled first block as the knn verdict's kernel wrote it (KnnScorer's `pooled`: the
   * same kernel on the same block, so the same numbers), without running the conv again; `pixels` gives the pictures
   * themselves, read only for the extra part's and the pixel part's cells.
   */
  distancesFromPooled(pooled: Float32Array, count: number, pixels: () => Float32Array): Float32Array;
  /**
   * Same-position distances of up to `probes` evenly spaced memory images against the memory without themselves,
   * as leaveOneOutCellDistances: [probes·rows·cols].
   */
  leaveOneOut(probes: number): Float32Array;
}

/**
 * The memory images' cells, laid out by position, and the search over them; null where the kernels decline the
 * block (more output channels than they take). `part`: the rotation net's cells beside R's (cell-part.ts); `pixels`:
 * the cells' own pixels (cell-pixels.ts).
 */
export function compiledCellSearch(
  native: NativeKernels, block: CompiledKnnRun['block'], side: number, cells: CellPooling, set: ImageSet, part?: CellPart, pixels?: CellPixels,
): CellSearch | null {
  const memory = cellSearchMemory(native, block, side, cells, set.count, part, pixels);
  for (let start = 0; start < set.count; start += CHUNK) {
    const n = Math.min(CHUNK, set.count - start);
    if (!memory.addPictures(start, floatsOf(set, start, n), n)) return null;
  }
  return memory.search;
}

/**
 * A cell search whose `images` memory pictures are added by the caller: as pixels (addPictures), or as their first
 * block already pooled with the same block by the compiled kernel (addPooled: the trainer's one pass over the
 * training pictures, src/train/epoch-end.ts). `search` is valid once every memory picture is in.
 */
export interface CellSearchMemory {
  /** Memory pictures start.. of n ≤ CHUNK pictures' pixels; false where the kernels decline the block. */
  addPictures(start: number, pixels: Float32Array, n: number): boolean;
  /**
   * Memory picture k from its pooled first block as the kernel wrote it (one picture's floats); with an extra part or
   * pixels (`needsPictures`), the rest of its cells comes from addPartCells.
   */
  addPooled(k: number, raw: Float32Array): void;
  /** Whether pooled memory pictures need addPartCells: the run's cells have an extra part or pixels. */
  needsPictures: boolean;
  /** The extra part's and the pixel part's cells of memory pictures start.. of n pictures' pixels (neither: nothing to do). */
  addPartCells(start: number, pixels: Float32Array, n: number): void;
  search: CellSearch;
}

export function cellSearchMemory(
  native: NativeKernels, block: CompiledKnnRun['block'], side: number, cells: CellPooling, images: number, part?: CellPart, px?: CellPixels,
): CellSearchMemory {
  const { kh, kw, ci, co } = block;
  const pool = 2 * poolSide(Math.ceil(side / 2)); // cell-map.ts's cellSide
  const [rows, cols] = [Math.floor(side / pool), Math.floor(side / pool)];
  const grid = rows * cols;
  const parts = cells === 'mean-max' ? 2 : 1;
  const e = part ? part.dims : 0; // the extra part's features per cell, after R's parts
  const v = px ? px.values : 0; // the pixel part's, after those
  const net = co * parts + e; // the network parts' (unit length together)
  const dims = net + (px ? v + 1 : 0); // and −|m|²/2 (1 in a query), cell-pixels.ts
  if (px && px.cell !== pool) throw new RangeError(`cell search: pixel cells of ${px.cell} pixels, the search's of ${pool}`);
  const m = images;
  const per = side * side * ci;
  const f = grid * co * parts; // one picture's pooled features
  const bankAt = block.filter.length + co;
  const xAt = bankAt + grid * m * dims;
  const yAt = xAt + CHUNK * per;
  const eAt = yAt + CHUNK * f; // the extra part's cells of the pictures at yAt: [CHUNK][grid][e]
  const pAt = eAt + CHUNK * grid * e; // the pixel part of the pictures at yAt: [CHUNK][grid][v]
  const qtAt = pAt + CHUNK * grid * v;
  const q = Math.ceil(CHUNK / QUERY_MULTIPLE) * QUERY_MULTIPLE;
  const outAt = qtAt + dims * q;
  const bestAt = outAt + m * q;
  const heap = largeFloats(bestAt + q); // 55 MB at 28×28 with 4,096 memory images: on huge pages, or its page faults cost 0.2 s
  heap.set(block.filter, 0);
  heap.set(block.bias, block.filter.length);
  const lengths = partLengths(part);
  const scale = (parts === 2 ? Math.SQRT1_2 : 1) * lengths.r;

  /** Pooled features of n ≤ CHUNK pictures at yAt, each cell's parts scaled to unit length (× 1/√2 with maxima). */
  const pooled = (pixels: Float32Array, n: number): boolean => {
    heap.set(pixels.subarray(0, n * per), xAt);
    const ok = native.pooledConv(heap, Int32Array.from([n, side, side, ci, kh, kw, co, Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2), pool, xAt, 0, block.filter.length, yAt, parts - 1]), block.alpha);
    if (ok) {
      unitCells(n);
      pictureCells(pixels, n);
    }
    return ok;
  };
  /** The extra part's cells of the n pictures, at eAt, each of length lengths.extra. */
  const partCells = (pixels: Float32Array, n: number) => {
    if (!part) return;
    const raw = part.cells(pixels.subarray(0, n * per), n);
    if (raw.length !== n * grid * e) throw new RangeError(`cell search: the extra part gave ${raw.length} values for ${n} pictures of ${grid}×${e}`);
    heap.set(raw, eAt);
    scaleCells(heap, eAt, n * grid, e, lengths.extra);
  };
  /** What the n pictures' cells hold beside R's pooled block: the extra part's at eAt, the pixel part at pAt. */
  const pictureCells = (pixels: Float32Array, n: number) => {
    partCells(pixels, n);
    if (px) writePixelCells(pixels, n, side, px, heap, pAt);
  };
  const unitCells = (n: number) => {
    for (let v = yAt, end = yAt + n * f; v < end; v += co) {
      let sum = 0;
      for (let j = 0; j < co; j++) sum += heap[v + j] * heap[v + j];
      const k = scale / (Math.sqrt(sum) + 1e-12);
      for (let j = 0; j < co; j++) heap[v + j] *= k;
    }
  };
  // The kernel writes a picture's means [cells][co], then its maxima: cell g's part h is at h·grid·co + g·co.
  const cellAt = (i: number, g: number, h: number) => yAt + i * f + h * grid * co + g * co;

  /** The n pictures' cells at yAt into the bank as memory pictures start.. */
  const toBank = (start: number, n: number) => {
    for (let i = 0; i < n; i++) {
      for (let g = 0; g < grid; g++) {
        for (let h = 0; h < parts; h++) {
          const from = cellAt(i, g, h), to = bankAt + (g * m + start + i) * dims + h * co;
          for (let j = 0; j < co; j++) heap[to + j] = heap[from + j];
        }
      }
    }
  };
  /**
   * The n pictures' extra cells at eAt and pixel parts at pAt into the bank as memory pictures start.., each row
   * then closed by −|m|²/2 where the cells have pixels (its network parts are in by now).
   */
  const partToBank = (start: number, n: number) => {
    for (let i = 0; i < n; i++) {
      for (let g = 0; g < grid; g++) {
        const row = bankAt + (g * m + start + i) * dims;
        heap.copyWithin(row + parts * co, eAt + (i * grid + g) * e, eAt + (i * grid + g + 1) * e);
        if (!px) continue;
        heap.copyWithin(row + net, pAt + (i * grid + g) * v, pAt + (i * grid + g + 1) * v);
        let sum = 0;
        for (let j = 0; j < net + v; j++) sum += heap[row + j] * heap[row + j];
        heap[row + net + v] = -sum / 2;
      }
    }
  };

  /**
   * Distances of the n pictures whose features are at yAt (from `pooled`, or copied there); `skip[i]`, where ≥ 0,
   * is a memory image picture i is not compared with.
   */
  const search = (n: number, out: Float32Array, at: number, skip?: Int32Array) => {
    const best = new Float64Array(n);
    const half = new Float64Array(n); // with pixels: each query cell's |q|²/2
    // The queries' columns padded for this pass's n only: a last, smaller pass multiplies no unused columns.
    const qn = Math.ceil(n / QUERY_MULTIPLE) * QUERY_MULTIPLE;
    for (let g = 0; g < grid; g++) {
      for (let i = 0; i < n; i++) {
        for (let h = 0; h < parts; h++) {
          const from = cellAt(i, g, h);
          for (let j = 0; j < co; j++) heap[qtAt + (h * co + j) * qn + i] = heap[from + j];
        }
        const from = eAt + (i * grid + g) * e;
        for (let j = 0; j < e; j++) heap[qtAt + (parts * co + j) * qn + i] = heap[from + j];
        if (!px) continue;
        // |q|² from the parts where they lie in a row (the transposed columns are a stride apart).
        let sum = 0;
        for (let h = 0; h < parts; h++) for (let j = 0, c = cellAt(i, g, h); j < co; j++) sum += heap[c + j] * heap[c + j];
        for (let j = 0; j < e; j++) sum += heap[from + j] * heap[from + j];
        const pixelsAt = pAt + (i * grid + g) * v;
        for (let j = 0; j < v; j++) {
          heap[qtAt + (net + j) * qn + i] = heap[pixelsAt + j];
          sum += heap[pixelsAt + j] * heap[pixelsAt + j];
        }
        heap[qtAt + (net + v) * qn + i] = 1;
        half[i] = sum / 2;
      }
      rowProducts(native, heap, bankAt + g * m * dims, m, dims, qtAt, qn, outAt);
      if (skip) for (let i = 0; i < n; i++) if (skip[i] >= 0) heap[outAt + skip[i] * qn + i] = -Infinity;
      columnMaxima(native, heap, outAt, m, qn, n, bestAt, best);
      // The largest q·m − |m|²/2 is the nearest cell; half the squared distance is |q|²/2 minus it (≥ 0 but for rounding).
      if (px) for (let i = 0; i < n; i++) out[at + i * grid + g] = Math.max(0, half[i] - best[i]);
      else for (let i = 0; i < n; i++) out[at + i * grid + g] = 1 - best[i];
    }
  };

  const cellSearch: CellSearch = {
    rows, cols, dims, images: m,
    distances(pixels, count) {
      const out = new Float32Array(count * grid);
      for (let start = 0; start < count; start += CHUNK) {
        const n = Math.min(CHUNK, count - start);
        if (!pooled(pixels.subarray(start * per, (start + n) * per), n)) throw new Error('cell search: the compiled kernels declined the first block');
        search(n, out, start * grid);
      }
      return out;
    },
    distancesFromPooled(features, count, pixels) {
      if (features.length !== count * f) throw new RangeError(`distancesFromPooled: ${features.length} values for ${count} pictures of ${f}`);
      const out = new Float32Array(count * grid);
      const all = part || px ? pixels() : null;
      for (let start = 0; start < count; start += CHUNK) {
        const n = Math.min(CHUNK, count - start);
        heap.set(features.subarray(start * f, (start + n) * f), yAt);
        unitCells(n);
        if (all) pictureCells(all.subarray(start * per, (start + n) * per), n);
        search(n, out, start * grid);
      }
      return out;
    },
    leaveOneOut(probes) {
      if (m < 2) throw new Error('leaveOneOut: a memory of one image has no other image to compare it with');
      const p = Math.min(probes, m);
      const picked = Int32Array.from({ length: p }, (_, j) => Math.floor((j * m) / p));
      const out = new Float32Array(p * grid);
      for (let start = 0; start < p; start += CHUNK) {
        const ids = picked.subarray(start, Math.min(p, start + CHUNK));
        // The probes' cells back from the bank into the features' place, then searched without themselves.
        ids.forEach((id, i) => {
          for (let g = 0; g < grid; g++) {
            const cell = bankAt + (g * m + id) * dims;
            for (let h = 0; h < parts; h++) heap.copyWithin(cellAt(i, g, h), cell + h * co, cell + (h + 1) * co);
            heap.copyWithin(eAt + (i * grid + g) * e, cell + parts * co, cell + net);
            heap.copyWithin(pAt + (i * grid + g) * v, cell + net, cell + net + v);
          }
        });
        search(ids.length, out, start * grid, ids);
      }
      return out;
    },
  };
  return {
    addPictures(start, pixels, n) {
      if (!pooled(pixels, n)) return false;
      toBank(start, n);
      partToBank(start, n);
      return true;
    },
    addPooled(k, raw) {
      if (raw.length !== f) throw new RangeError(`addPooled: ${raw.length} values for a picture of ${f}`);
      // unitCells and toBank in one pass, from the kernel's row straight into the bank (the same products, rounded
      // once each): the coreset's pass hands over 4,096 rows an epoch at digit 1.
      for (let g = 0; g < grid; g++) {
        for (let h = 0; h < parts; h++) {
          const from = h * grid * co + g * co, to = bankAt + (g * m + k) * dims + h * co;
          let sum = 0;
          for (let j = 0; j < co; j++) sum += raw[from + j] * raw[from + j];
          const scaleBy = scale / (Math.sqrt(sum) + 1e-12);
          for (let j = 0; j < co; j++) heap[to + j] = raw[from + j] * scaleBy;
        }
      }
    },
    needsPictures: Boolean(part || px),
    addPartCells(start, pixels, n) {
      if (!part && !px) return;
      for (let done = 0; done < n; done += CHUNK) {
        const k = Math.min(CHUNK, n - done);
        pictureCells(pixels.subarray(done * per, (done + k) * per), k);
        partToBank(start + done, k);
      }
    },
    search: cellSearch,
  };
}
