import * as tf from '@tensorflow/tfjs';
import { active } from './addon';
import { into, offset, WasmHeapBackend } from './heap';

// The compiled kernels around the convolutions (native/ops.c): reductions, elementwise and per-channel ops,
// BatchNorm, upsampling and the optimiser's step, each on the wasm heap in place, each with tfjs's float32 rounding.

/**
 * out[c] = scale · Σ over rows of x[rows][c] on the addon, or null when it is not loaded (the caller falls back):
 * the bias and BatchNorm gradients' sums over batch and pixels.
 */
export function nativeColumnSums(backend: unknown, x: tf.TensorInfo, rows: number, outShape: number[], scale: number): tf.TensorInfo | null {
  const native = active();
  if (!native || x.dtype !== 'float32') return null;
  const b = backend as WasmHeapBackend;
  const cols = outShape.reduce((p, d) => p * d, 1);
  const out = b.makeOutput(outShape, 'float32');
  return into(b, out, () => native.columnSums(b.wasm.HEAPF32, Int32Array.from([rows, cols, offset(b, x), offset(b, out)]), scale));
}

const MAP = { leakyRelu: 0, leakyReluGrad: 1, squareGrad: 2 } as const;

function map(backend: WasmHeapBackend, op: number, a: tf.TensorInfo, b: tf.TensorInfo, alpha: number): tf.TensorInfo {
  const out = backend.makeOutput(a.shape, 'float32');
  const n = tf.util.sizeFromShape(a.shape);
  return into(backend, out, () => active()!.map(op, backend.wasm.HEAPF32, Int32Array.from([n, offset(backend, a), offset(backend, b), offset(backend, out)]), alpha));
}

/** LeakyRelu in one threaded pass (wasm's is a scalar loop); `fallback` without the addon. */
export function nativeLeakyRelu(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (!active() || x.dtype !== 'float32') return fallback(args);
    const { alpha } = args.attrs as unknown as { alpha: number };
    return map(args.backend as unknown as WasmHeapBackend, MAP.leakyRelu, x, x, alpha);
  };
}

/** The kernel behind LEAKY_RELU_GRADIENT: dx = x > 0 ? dy : alpha·dy. */
export const LEAKY_RELU_GRAD_KERNEL = 'AloccLeakyReluGrad';
export const leakyReluGradKernel: tf.KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { alpha } = args.attrs as unknown as { alpha: number };
  return map(args.backend as unknown as WasmHeapBackend, MAP.leakyReluGrad, x, dy, alpha);
};

/** The kernel behind Square's gradient on the addon: dx = dy·(x·2), tfjs's two multiplies in one threaded pass. */
export const SQUARE_GRAD_KERNEL = 'AloccSquareGrad';
export const squareGradKernel: tf.KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  return map(args.backend as unknown as WasmHeapBackend, MAP.squareGrad, x, dy, 0);
};

/**
 * Σ over all axes but the last of x·(y − mean) (mean: one value per channel) in one threaded pass on the addon, each
 * term rounded as tf.mul(x, tf.sub(y, mean)) rounds it and summed as the addon's Sum sums: the BatchNorm gradient's
 * second channel sum. A tensor of the active scope, or null where the addon does not serve the active backend.
 */
export function nativeChannelProductSums(x: tf.Tensor, y: tf.Tensor, mean: tf.Tensor): tf.Tensor1D | null {
  const native = active();
  const c = x.shape[x.rank - 1];
  if (!native || tf.getBackend() !== 'wasm' || [x, y, mean].some((t) => t.dtype !== 'float32') || !tf.util.arraysEqual(x.shape, y.shape) || mean.size !== c || x.size === 0) return null;
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const out = backend.makeOutput([c], 'float32');
  into(backend, out, () => native.columnProductSums(backend.wasm.HEAPF32, Int32Array.from([x.size / c, c, ...[x, y, mean, out].map((t) => offset(backend, t))])));
  return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor1D;
}

/**
 * Whether an elementwise op of these tensors (LeakyRelu's and Square's gradients of x and dy, the clipped RMSprop
 * update of a variable) can run as one pass on the addon: all float32, of one shape, on wasm.
 */
export function nativeElementwiseUsable(tensors: tf.Tensor[]): boolean {
  return active() != null && tf.getBackend() === 'wasm' && tensors.every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, tensors[0].shape));
}

/**
 * BatchNorm with given statistics (tfjs-layers' BatchNormalization, training or not, ends in FusedBatchNorm) in one
 * threaded pass on the addon: (x − mean)·m + offset per channel, with m = scale/√(variance + ε) computed once per
 * channel; wasm's own kernel takes a square root and a division for every element, on one thread (~26 ms of a training
 * step, bench/NOTES.md). Statistics that are not one value per channel of x's last axis go to `fallback`.
 */
export function nativeFusedBatchNorm(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, mean, variance, offset: shift, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { varianceEpsilon } = args.attrs as unknown as { varianceEpsilon: number };
    const native = active();
    if (!native || !x || !mean || !variance || x.dtype !== 'float32' || x.shape.length === 0) return fallback(args);
    const c = x.shape[x.shape.length - 1];
    const n = tf.util.sizeFromShape(x.shape);
    const perChannel = (t: tf.TensorInfo | undefined) => t == null || (t.dtype === 'float32' && tf.util.sizeFromShape(t.shape) === c);
    if (n === 0 || ![mean, variance, shift, scale].every(perChannel)) return fallback(args);
    const backend = args.backend as unknown as WasmHeapBackend;
    const out = backend.makeOutput(x.shape, 'float32');
    const coefficients = backend.makeOutput([3 * c], 'float32');
    try {
      // Read after both outputs are made: making one can grow, and so replace, the heap.
      const heap = backend.wasm.HEAPF32;
      const [m, v, k] = [mean, variance, coefficients].map((t) => offset(backend, t));
      const o = shift ? offset(backend, shift) : -1;
      const s = scale ? offset(backend, scale) : -1;
      for (let i = 0; i < c; i++) {
        heap[k + i] = heap[m + i];
        heap[k + c + i] = (s >= 0 ? heap[s + i] : 1) / Math.sqrt(heap[v + i] + varianceEpsilon);
        heap[k + 2 * c + i] = o >= 0 ? heap[o + i] : 0;
      }
      return into(backend, out, () => native.channelAffine(heap, Int32Array.from([n, c, offset(backend, x), k, offset(backend, out)])));
    } finally {
      backend.disposeData(coefficients.dataId);
    }
  };
}

/** channelOp's ops (native/kernels.h, from MAP_CHANNEL_MUL): x op v, or v op x where marked. */
const CHANNEL = { mul: 0, add: 1, sub: 2, subFrom: 3, div: 4, divInto: 5, spread: 6 } as const;
const CHANNEL_KERNELS = { Multiply: ['mul', 'mul'], Add: ['add', 'add'], Sub: ['sub', 'subFrom'], RealDiv: ['div', 'divInto'] } as const;

/**
 * Whether a tensor of shape `v` holds one value per channel of one of shape `x`: [c], [1, c], [1, 1, 1, c], … with c
 * x's last axis, and no more axes than x.
 */
function oneValuePerChannel(v: number[], x: number[]): boolean {
  const c = x[x.length - 1];
  return v.length > 0 && v.length <= x.length && c > 0 && v[v.length - 1] === c && v.slice(0, -1).every((d) => d === 1);
}

/** Whether `v` holds one value per channel of `x` and x is larger: a per-channel broadcast. */
function perChannelOf(v: tf.TensorInfo, x: tf.TensorInfo): boolean {
  return oneValuePerChannel(v.shape, x.shape) && tf.util.sizeFromShape(x.shape) > x.shape[x.shape.length - 1];
}

/**
 * Multiply, Add, Sub and RealDiv of a tensor and one value per channel (BatchNorm's statistics and gradients, the
 * spread of a reduction's gradient) in one threaded pass on the addon: the same float32 operation per element as
 * wasm's broadcasting kernel, without its per-element index arithmetic (0.42 ms against 0.17 ms for the same op
 * without broadcasting, 128×14×14×32). Everything else goes to `fallback`.
 */
export function nativeChannelBinary(kernel: keyof typeof CHANNEL_KERNELS, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const native = active();
    if (!native || a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const vFirst = perChannelOf(a, b);
    if (!vFirst && !perChannelOf(b, a)) return fallback(args);
    const [x, v] = vFirst ? [b, a] : [a, b];
    const backend = args.backend as unknown as WasmHeapBackend;
    const out = backend.makeOutput(x.shape, 'float32');
    const op = CHANNEL[CHANNEL_KERNELS[kernel][vFirst ? 1 : 0]];
    const c = x.shape[x.shape.length - 1];
    return into(backend, out, () => native.channelOp(op, backend.wasm.HEAPF32, Int32Array.from([tf.util.sizeFromShape(x.shape), c, offset(backend, x), offset(backend, v), offset(backend, out)])));
  };
}

/**
 * A tensor of `shape` whose every row of the last axis is `v` (of shape [1, …, 1, c], one value per channel), on the
 * addon: a tensor of the active scope, or null where the addon does not serve the active backend or v is not so.
 */
export function nativeSpread(v: tf.Tensor, shape: number[]): tf.Tensor | null {
  const native = active();
  const c = shape[shape.length - 1];
  if (!native || tf.getBackend() !== 'wasm' || v.dtype !== 'float32' || !oneValuePerChannel(v.shape, shape) || shape.some((d) => d === 0)) return null;
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const out = backend.makeOutput(shape, 'float32');
  into(backend, out, () => native.channelOp(CHANNEL.spread, backend.wasm.HEAPF32, Int32Array.from([tf.util.sizeFromShape(shape), c, offset(backend, v), offset(backend, v), offset(backend, out)])));
  return tf.engine().makeTensorFromTensorInfo(out);
}

/**
 * Nearest-neighbour upsampling by whole factors on the addon (UpSampling2D: no alignCorners, no half-pixel centres),
 * or its gradient (each input pixel the sum of its block of dy): a tensor info, or null where the addon is off or the
 * resize is not of that kind; the caller then runs the wasm kernel.
 */
export function nativeUpsample(backend: unknown, small: number[], large: number[], input: tf.TensorInfo, grad: boolean, attrs: { alignCorners?: boolean; halfPixelCenters?: boolean }): tf.TensorInfo | null {
  const native = active();
  const [n, h, w, c] = small;
  const fh = large[1] / h;
  const fw = large[2] / w;
  if (!native || input.dtype !== 'float32' || attrs.alignCorners || attrs.halfPixelCenters || !Number.isInteger(fh) || !Number.isInteger(fw) || small.concat(large).some((d) => d === 0)) return null;
  const b = backend as WasmHeapBackend;
  const out = b.makeOutput(grad ? small : large, 'float32');
  return into(b, out, () => native.upsample(b.wasm.HEAPF32, Int32Array.from([grad ? 1 : 0, n, h, w, c, fh, fw, offset(b, input), offset(b, out)])));
}

/** ResizeNearestNeighbor on the addon where nativeUpsample takes it (the wasm kernel is one scalar thread). */
export function nativeResizeNearestNeighbor(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const images = args.inputs.images as tf.TensorInfo;
    const a = args.attrs as unknown as { size: [number, number]; alignCorners: boolean; halfPixelCenters: boolean };
    const large = [images.shape[0], a.size[0], a.size[1], images.shape[3]];
    return (images.shape.length === 4 && nativeUpsample(args.backend, images.shape, large, images, false, a)) || fallback(args);
  };
}

/** What one clipped RMSprop update is given besides its tensors (tfjs's RMSPropOptimizer's fields). */
export interface RmspropAttrs {
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
  /** Gradients are clipped to ±clipValue first, as tf.clipByValue does. */
  clipValue: number;
}

/**
 * The kernel behind the trainer's optimiser step on the addon: value, meanSquare, moment and gradient of one
 * variable in, their new value, mean square and moment out, in one pass (tfjs's ops take 16 dispatches a variable).
 */
export const RMSPROP_KERNEL = 'AloccRmsprop';
export const rmspropKernel: tf.KernelFunc = (args) => {
  const { value, meanSquare, moment, gradient } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as RmspropAttrs;
  const backend = args.backend as unknown as WasmHeapBackend;
  const outs = [0, 1, 2].map(() => backend.makeOutput(value.shape, 'float32'));
  // The scalars as tfjs's float32 scalar tensors hold them; 1 − decay is taken in float64 first, as tfjs does.
  const coefficients = Float32Array.from([a.learningRate, a.decay, 1 - a.decay, a.momentum, a.epsilon, a.clipValue]);
  try {
    const operands = [value, meanSquare, moment, gradient, ...outs].map((t) => offset(backend, t));
    active()!.rmsprop(backend.wasm.HEAPF32, Int32Array.from([tf.util.sizeFromShape(value.shape), ...operands]), coefficients);
  } catch (err) {
    outs.forEach((o) => backend.disposeData(o.dataId));
    throw err;
  }
  return outs;
};
