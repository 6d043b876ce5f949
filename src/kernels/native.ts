import * as tf from '@tensorflow/tfjs';
import { active } from './addon';
import { into, offset, WasmHeapBackend } from './heap';


const OP = { forward: 0, inputGrad: 1, filterGrad: 2 } as const;
const ACTIVATION: Record<string, number> = { linear: 0, relu: 1, sigmoid: 2, leakyrelu: 3 };

type ConvAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW' | 'channelsLast';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
  inputShape?: number[];
  filterShape?: number[];
};

/**
 * The addon's 13 geometry numbers, or null where it refuses the conv (padding of the kernel's size or more, output
 * windows that start past the input: explicit paddings that tfjs's 'same' and 'valid' never give).
 */
function geometry(info: tf.backend_util.Conv2DInfo): number[] | null {
  const { top, left } = info.padInfo;
  if (top < 0 || left < 0 || top >= info.filterHeight || left >= info.filterWidth) return null;
  if ((info.outHeight - 1) * info.strideHeight - top >= info.inHeight || (info.outWidth - 1) * info.strideWidth - left >= info.inWidth) return null;
  return [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth,
    info.outChannels, info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
  ];
}

function plain(a: ConvAttrs): boolean {
  const dilations = a.dilations ?? 1;
  return a.dataFormat !== 'NCHW' && [dilations].flat().every((d) => d === 1);
}


/** Runs one op on the heap; the output is made first, since making it can grow (and so replace) the heap. */
function run(backend: WasmHeapBackend, op: number, outShape: number[], a: tf.TensorInfo, b: tf.TensorInfo, g: number[], extra: number[] = [-1], alpha = 0): tf.TensorInfo {
  const out = backend.makeOutput(outShape, 'float32');
  const params = Int32Array.from([...g, offset(backend, a), offset(backend, b), offset(backend, out), ...extra]);
  return into(backend, out, () => active()!.conv(op, backend.wasm.HEAPF32, params, alpha));
}

/**
 * Conv2D / FusedConv2D on the addon when it is loaded and the conv is NHWC, undilated, float32, with a linear, relu,
 * sigmoid or leakyrelu activation and a per-channel bias; `fallback` otherwise.
 */
export function nativeConvForward(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const a = args.attrs as unknown as ConvAttrs;
    const act = ACTIVATION[a.activation ?? 'linear'];
    const biasOk = bias == null || (bias.shape.length === 1 && bias.shape[0] === filter!.shape[3]);
    if (!active() || !plain(a) || act === undefined || preluActivationWeights != null || !biasOk || x!.dtype !== 'float32') {
      return fallback(args);
    }
    const backend = args.backend as unknown as WasmHeapBackend;
    const info = tf.backend_util.computeConv2DInfo(x!.shape as [number, number, number, number], filter!.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode);
    const g = geometry(info);
    if (!g) return fallback(args);
    const biasOffset = bias == null ? -1 : offset(backend, bias);
    return run(backend, OP.forward, info.outShape, x!, filter!, g, [biasOffset, act], a.leakyreluAlpha ?? 0.2);
  };
}

export function nativeConvBackpropInput(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = args.attrs as unknown as ConvAttrs;
    if (!active() || !plain(a)) return fallback(args);
    const backend = args.backend as unknown as WasmHeapBackend;
    const inputShape = a.inputShape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode);
    const g = geometry(info);
    return g ? run(backend, OP.inputGrad, inputShape, dy, filter, g) : fallback(args);
  };
}

export function nativeConvBackpropFilter(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = args.attrs as unknown as ConvAttrs;
    if (!active() || !plain(a)) return fallback(args);
    const backend = args.backend as unknown as WasmHeapBackend;
    const filterShape = a.filterShape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
    const g = geometry(info);
    return g ? run(backend, OP.filterGrad, filterShape, x, dy, g) : fallback(args);
  };
}

/**
 * A stride-1 'same' conv of x [n, h, w, ci] with filter [kh, kw, ci, co] and bias, LeakyReLU(alpha), averaged over
 * pool×pool cells ('valid': [n, ⌊h/pool⌋, ⌊w/pool⌋, co]), or with `withMax` the cells' means and then their maxima
 * ([n, 2, ⌊h/pool⌋, ⌊w/pool⌋, co]), in one pass on the addon, never writing the full-resolution map. A tensor of the
 * active scope, or null where the addon is off, the backend is not wasm or the kernel does not take the shape (over
 * 512 outputs); the caller then runs tfjs's ops.
 */
export function nativePooledConv(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, alpha: number, pool: number, withMax = false): tf.Tensor | null {
  const native = active();
  if (!native || tf.getBackend() !== 'wasm' || [x, filter, bias].some((t) => t.dtype !== 'float32')) return null;
  const [n, h, w, ci] = x.shape;
  const [kh, kw, fci, co] = filter.shape;
  if (fci !== ci || bias.shape[0] !== co || pool > h || pool > w) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, 1, 1, 'same');
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const cells = [Math.floor(h / pool), Math.floor(w / pool), co];
  const outShape = withMax ? [n, 2, ...cells] : [n, ...cells];
  const out = backend.makeOutput(outShape, 'float32');
  let done = false;
  into(backend, out, () => {
    const params = Int32Array.from([n, h, w, ci, kh, kw, co, info.padInfo.top, info.padInfo.left, pool, offset(backend, x), offset(backend, filter), offset(backend, bias), offset(backend, out), withMax ? 1 : 0]);
    done = native.pooledConv(backend.wasm.HEAPF32, params, alpha);
  });
  if (!done) {
    backend.disposeData(out.dataId);
    return null;
  }
  return tf.engine().makeTensorFromTensorInfo(out);
}
