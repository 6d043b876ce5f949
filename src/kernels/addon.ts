/**
 * Loading the compiled addon (native/*.c, built by scripts/build-native.js at install time) and choosing its
 * instruction set and threads. No TensorFlow.js here: a knn verdict runs on the addon alone (src/score/knn-verdict.ts);
 * the tfjs kernels built on it are in native.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AloccError } from '../errors';

/** The compiled addon (native/*.c, built by scripts/build-native.js at install time). */
export interface NativeKernels {
  conv(op: number, heap: Float32Array, params: Int32Array, alpha?: number): void;
  columnSums(heap: Float32Array, params: Int32Array, scale: number): void;
  map(op: number, heap: Float32Array, params: Int32Array, alpha: number): void;
  channelAffine(heap: Float32Array, params: Int32Array): void;
  pooledConv(heap: Float32Array, params: Int32Array, alpha: number): boolean;
  rmsprop(heap: Float32Array, params: Int32Array, coefficients: Float32Array): void;
  upsample(heap: Float32Array, params: Int32Array): void;
  channelOp(op: number, heap: Float32Array, params: Int32Array): void;
  columnProductSums(heap: Float32Array, params: Int32Array): void;
  /** heap[values, values + n) ← the n IEEE half floats in the upper half of those floats' bytes (params [n, values]). */
  widenHalves(heap: Float32Array, params: Int32Array): void;
  /** A zeroed Float32Array of n floats on transparent huge pages (Linux; plain memory elsewhere). */
  hugeFloats(n: number): Float32Array<ArrayBuffer>;
  /** [rows, cols, stride, x, out]: out[c] = max over rows of x[r·stride + c]. Absent from addons built before it. */
  columnMax?(heap: Float32Array, params: Int32Array): void;
  /**
   * [t, side, channels, x, out]: out [t, ⌈side/2⌉, ⌈side/2⌉, channels] = x [t, side, side, channels] max-pooled 2×2 at
   * stride 2, tfjs's 'same' (the cell clipped at an odd side). Absent from addons built before it.
   */
  maxPool2?(heap: Float32Array, params: Int32Array): void;
  /**
   * [t, side, channels, x, dy, dx]: dx [t, side, side, channels], maxPool2's gradient: each output cell's dy at the
   * first maximum of its window (row-major, as tfjs's cpu MaxPoolGrad), zero elsewhere. Absent from addons built before it.
   */
  maxPool2Grad?(heap: Float32Array, params: Int32Array): void;
  /**
   * [rows, ch, x, gamma, beta, y, mean, variance] with eps: BatchNorm in training over rows of ch channels (ch
   * dividing 256), y and the batch's mean and biased variance (native/batchnorm.c). Absent from addons built before it.
   */
  batchNormTrain?(heap: Float32Array, params: Int32Array, eps: number): void;
  /** [rows, ch, x, dy, gamma, mean, variance, dx, dgamma, dbeta] with eps: its gradient. Absent before it. */
  batchNormTrainGrad?(heap: Float32Array, params: Int32Array, eps: number): void;
  setThreads(n: number): number;
  vectorWidth(): number;
  /** The instruction set the kernels run with now, those this CPU runs (best first), and a switch between them. */
  isa(): string;
  isas(): string[];
  setIsa(name: string): string;
}

export const ADDON_FILE = 'alocc_kernels.node';

/** Where the build script puts the addon: build/ at the package root, found from this file in src/ or dist/src/. */
export function addonPath(): string | null {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      const file = path.join(dir, 'build', ADDON_FILE);
      return fs.existsSync(file) ? file : null;
    }
  }
  return null;
}

export interface NativeStatus {
  loaded: boolean;
  /** Threads the kernels split each conv over (the calling thread included). */
  threads: number;
  /** Floats per SIMD register of the kernels in use (16: AVX-512, 8: AVX2, 4: the baseline, SSE2 or NEON). */
  vectorWidth: number;
  /** The instruction set of the kernels in use ('avx512', 'avx2', 'baseline'), and every one this CPU runs. */
  isa?: string;
  isas?: string[];
  /** Why it is not loaded. */
  reason?: string;
}

let addon: NativeKernels | null | undefined;
let status: NativeStatus = { loaded: false, threads: 0, vectorWidth: 0, reason: 'not loaded yet' };

/**
 * Loads the addon once. ALOCC_NATIVE=0 turns it off (the wasm kernels run instead); ALOCC_THREADS sets the thread
 * count, by default every core Node reports; ALOCC_ISA=avx512|avx2|baseline forces an instruction set, by default
 * the best this CPU runs. An ALOCC_ISA this CPU or build lacks is an AloccError, not a silent fallback.
 */
export function loadNativeKernels(): NativeStatus {
  if (addon !== undefined) return status;
  addon = null;
  if (process.env.ALOCC_NATIVE === '0') {
    status = { loaded: false, threads: 0, vectorWidth: 0, reason: 'ALOCC_NATIVE=0' };
    return status;
  }
  const file = addonPath();
  if (!file) {
    status = { loaded: false, threads: 0, vectorWidth: 0, reason: `build/${ADDON_FILE} not built (npm run build:native needs a C compiler)` };
    return status;
  }
  try {
    const loaded = require(file) as NativeKernels;
    const wanted = Number(process.env.ALOCC_THREADS ?? os.availableParallelism());
    const threads = loaded.setThreads(Number.isInteger(wanted) && wanted > 0 ? wanted : 1);
    addon = loaded;
    status = { loaded: true, threads, vectorWidth: loaded.vectorWidth(), isa: loaded.isa(), isas: loaded.isas() };
  } catch (err) {
    status = { loaded: false, threads: 0, vectorWidth: 0, reason: `${file} failed to load: ${(err as Error).message.split('\n')[0]}` };
  }
  const forced = process.env.ALOCC_ISA;
  if (addon && forced) {
    try {
      setNativeIsa(forced);
    } catch (err) {
      throw new AloccError(`ALOCC_ISA=${forced}: ${(err as Error).message}; unset ALOCC_ISA or pick one of those`);
    }
  }
  return status;
}

/**
 * Runs the compiled kernels with instruction set `name` from now on (tests compare every path the CPU runs);
 * throws where the CPU or the build lacks it.
 */
export function setNativeIsa(name: string): NativeStatus {
  if (!addon) throw new Error(`compiled kernels not loaded: ${status.reason}`);
  const isa = addon.setIsa(name);
  status = { ...status, isa, vectorWidth: addon.vectorWidth() };
  return nativeStatus();
}

export function nativeStatus(): NativeStatus {
  return { ...status, loaded: status.loaded && enabled };
}

let enabled = true;

/**
 * Turns the loaded addon off and on again in this process (benchmarks and tests compare it with the wasm kernels);
 * `threads` changes how many threads it splits each op over.
 */
export function setNativeKernels(on: boolean, threads?: number): NativeStatus {
  enabled = on;
  if (addon && threads != null) status = { ...status, threads: addon.setThreads(threads) };
  return nativeStatus();
}

/** The addon, when it is loaded and turned on. */
export function active(): NativeKernels | null {
  return enabled ? (addon ?? null) : null;
}


/**
 * heap[out .. out + rows·cols) = the products of `rows` rows of `dims` floats at heap[at ..] with the `cols` columns of
 * a [dims, cols] matrix at heap[filter ..]: a 1×1 conv of the rows as a [1, rows, 1, dims] picture, the matrix its
 * filter. How the knn search and the coreset's similarity matrix multiply on the addon; `cols` should be a multiple of
 * the SIMD width (the conv's fast path).
 */
/** Below this a buffer fits in a few 4 KB pages and huge pages buy nothing. */
const HUGE_FLOATS_MIN = (2 << 20) / 4;

/**
 * n zeroed floats for a large working buffer: on huge pages where the addon is loaded, since first touching a fresh
 * 16 MB Float32Array costs 60-70 ms of page faults in the 2-vCPU VM and 1.2 ms on 2 MB pages (native/addon-memory.c);
 * a plain Float32Array otherwise.
 */
export function largeFloats(n: number): Float32Array<ArrayBuffer> {
  return addon && n >= HUGE_FLOATS_MIN ? addon.hugeFloats(n) : new Float32Array(n);
}

export function rowProducts(native: NativeKernels, heap: Float32Array, at: number, rows: number, dims: number, filter: number, cols: number, out: number): void {
  native.conv(0, heap, Int32Array.from([1, rows, 1, dims, 1, 1, cols, rows, 1, 1, 1, 0, 0, at, filter, out, -1, 0]), 0);
}

/**
 * best[i] = the largest of column i's `rows` values in the [rows][stride] matrix at `at`, for i < n: the addon's
 * columnMax through heap[scratch, scratch + n) where it has one, else a loop here (addons built before it).
 */
export function columnMaxima(native: NativeKernels, heap: Float32Array, at: number, rows: number, stride: number, n: number, scratch: number, best: Float64Array): void {
  if (native.columnMax) {
    native.columnMax(heap, Int32Array.from([rows, n, stride, at, scratch]));
    for (let i = 0; i < n; i++) best[i] = heap[scratch + i];
    return;
  }
  best.fill(-Infinity, 0, n);
  for (let r = 0; r < rows; r++) {
    const row = at + r * stride;
    for (let i = 0; i < n; i++) if (heap[row + i] > best[i]) best[i] = heap[row + i];
  }
}
