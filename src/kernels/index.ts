import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterViaConv } from './conv-backprop-filter';
import { conv2dBackpropInputViaConv } from './conv-backprop-input';
import { leadingAxesReduction } from './reductions';
import { FUSED_CONV_GRADIENT, lazyFusedConv2d } from './lazy-fused-conv';
import { resizeNearestNeighborGrad } from './resize-grad';
import { maxPoolGrad } from './max-pool-grad';
import { nativeConvBackpropFilter, nativeConvBackpropInput, nativeConvForward } from './native';
import { loadNativeKernels } from './addon';
import {
  nativeChannelBinary,
  nativeFusedBatchNorm,
  nativeLeakyRelu,
  nativeResizeNearestNeighbor,
  nativeElementwiseUsable,
  RMSPROP_KERNEL,
  RmspropAttrs,
  rmspropKernel,
} from './native-ops';
import { registerFastGradients } from './gradients';
import { batchNormTrain, registerBatchNormTraining } from './batchnorm-training';

export { conv2dBackpropFilterViaConv } from './conv-backprop-filter';
export { conv2dBackpropInputViaConv } from './conv-backprop-input';
export { loadNativeKernels, nativeStatus, setNativeIsa, setNativeKernels } from './addon';

/**
 * Fast training kernels for the backends without native TensorFlow (bench/NOTES.md has the measurements). On wasm the
 * compiled kernels (native.ts) take every conv they support, LeakyReLU and BatchNorm; without them (no C compiler) each kernel has one
 * fallback: stock wasm has no Conv2DBackpropFilter at all and a scalar-loop Conv2DBackpropInput, the cpu backend's are
 * slow loops, and both gradients become forward convolutions, which tf.fused.conv2d's gradient uses too. On wasm,
 * leading-axes Sum/Mean run as one pass over the heap, Identity without a copy. On both, the
 * BatchNorm gradient avoids Tile, tf.fused.conv2d computes only the gradients the tape needs, and the upsampling
 * gradient is fixed (stock cpu's is wrong for batch > 1).
 * Native backends must keep their own kernels, so only these two are accepted.
 */
const FAST_BACKENDS = ['wasm', 'cpu'] as const;

type Conv2DBackpropAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
};

function stridePair(strides: [number, number] | number): [number, number] {
  return typeof strides === 'number' ? [strides, strides] : strides;
}

/** A replacement kernel, given the backend's own (undefined where it has none). */
type Override = (stock: tf.KernelConfig | undefined, backendName: string) => tf.KernelFunc;

const convBackpropInput: Override = (stock, backendName) => (args) => {
  const a = args.attrs as unknown as Conv2DBackpropAttrs;
  if (a.dataFormat === 'NCHW') return nchwFallback('Conv2DBackpropInput', stock, backendName, args);
  const { dy, filter } = args.inputs as { dy: tf.Tensor4D; filter: tf.Tensor4D };
  const strides = stridePair(a.strides);
  const info = tf.backend_util.computeConv2DInfo(a.inputShape!, filter.shape, strides, 1, a.pad, a.dimRoundingMode);
  return conv2dBackpropInputViaConv(dy, filter, a.inputShape!, strides, info.padInfo.top, info.padInfo.left);
};

const convBackpropFilter: Override = (stock, backendName) => (args) => {
  const a = args.attrs as unknown as Conv2DBackpropAttrs;
  if (a.dataFormat === 'NCHW') return nchwFallback('Conv2DBackpropFilter', stock, backendName, args);
  const { x, dy } = args.inputs as { x: tf.Tensor4D; dy: tf.Tensor4D };
  const strides = stridePair(a.strides);
  const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape!, strides, 1, a.pad, a.dimRoundingMode);
  return conv2dBackpropFilterViaConv(x, dy, a.filterShape!, strides, info.padInfo.top, info.padInfo.left);
};

function nchwFallback(kernel: string, stock: tf.KernelConfig | undefined, backendName: string, args: Parameters<tf.KernelFunc>[0]) {
  if (stock) return stock.kernelFunc(args);
  throw new Error(`${kernel} on '${backendName}' (fast kernels): dataFormat 'NCHW' is not supported; use NHWC`);
}

/**
 * wasm's Identity copies the tensor; tfjs clones every input a custom gradient saves (fused convs: x and the
 * output) and tfjs-layers clones weights it reads, ~800 copies per training step. Like wasm's own Reshape and the
 * cpu backend's Identity, this shares the data and counts one more reference (tensors are never written in place).
 */
function sharedIdentity(stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return stock.kernelFunc(args);
    (args.backend as unknown as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * wasm's Cast copies the tensor in JavaScript even to its own dtype, which tfjs asks for in Square's gradient and in
 * moments (BatchNorm's statistics: ~8 ms of a training step, node --cpu-prof); a cast to the same dtype shares the
 * data, as Identity does here. Every other cast goes to the stock kernel.
 */
function sameDtypeCast(stock: tf.KernelConfig): tf.KernelFunc {
  const identity = sharedIdentity(stock);
  return (args) => ((args.inputs.x as tf.TensorInfo).dtype === (args.attrs as unknown as { dtype: tf.DataType }).dtype ? identity(args) : stock.kernelFunc(args));
}

const reduction = (kernel: 'Sum' | 'Mean'): Override => (stock, backendName) =>
  leadingAxesReduction(kernel, required(stock, backendName, kernel));

/**
 * On wasm, the compiled kernels (native.ts) take every conv they support when the addon is built; the wasm
 * versions are their fallback, and all there is on a machine without a C compiler.
 */
const withNative = (native: (fallback: tf.KernelFunc) => tf.KernelFunc, override: Override): Override => (stock, name) =>
  native(override(stock, name));

const OVERRIDES: Record<(typeof FAST_BACKENDS)[number], Record<string, Override>> = {
  wasm: {
    Conv2DBackpropInput: withNative(nativeConvBackpropInput, convBackpropInput),
    Conv2DBackpropFilter: withNative(nativeConvBackpropFilter, convBackpropFilter),
    Sum: reduction('Sum'),
    Mean: reduction('Mean'),
    Conv2D: withNative(nativeConvForward, (stock, name) => required(stock, name, 'Conv2D').kernelFunc),
    Identity: (stock, name) => sharedIdentity(required(stock, name, 'Identity')),
    Cast: (stock, name) => sameDtypeCast(required(stock, name, 'Cast')),
    FusedConv2D: withNative(nativeConvForward, (stock, name) => required(stock, name, 'FusedConv2D').kernelFunc),
    LeakyRelu: (stock, name) => nativeLeakyRelu(required(stock, name, 'LeakyRelu').kernelFunc),
    FusedBatchNorm: (stock, name) => nativeFusedBatchNorm(required(stock, name, 'FusedBatchNorm').kernelFunc),
    ResizeNearestNeighbor: (stock, name) => nativeResizeNearestNeighbor(required(stock, name, 'ResizeNearestNeighbor').kernelFunc),
    Multiply: (stock, name) => nativeChannelBinary('Multiply', required(stock, name, 'Multiply').kernelFunc),
    Add: (stock, name) => nativeChannelBinary('Add', required(stock, name, 'Add').kernelFunc),
    Sub: (stock, name) => nativeChannelBinary('Sub', required(stock, name, 'Sub').kernelFunc),
    RealDiv: (stock, name) => nativeChannelBinary('RealDiv', required(stock, name, 'RealDiv').kernelFunc),
  },
  cpu: { Conv2DBackpropInput: convBackpropInput, Conv2DBackpropFilter: convBackpropFilter },
};

/** Corrections of stock kernels that compute wrong results; unregistering the fast kernels keeps them. */
const FIXES: Record<(typeof FAST_BACKENDS)[number], Record<string, Override>> = {
  wasm: {
    ResizeNearestNeighborGrad: (stock, name) => resizeNearestNeighborGrad(required(stock, name, 'ResizeNearestNeighborGrad'), name),
    MaxPoolGrad: (stock, name) => maxPoolGrad(required(stock, name, 'MaxPoolGrad').kernelFunc),
  },
  cpu: { ResizeNearestNeighborGrad: (stock, name) => resizeNearestNeighborGrad(required(stock, name, 'ResizeNearestNeighborGrad'), name) },
};

function required(stock: tf.KernelConfig | undefined, backendName: string, kernel: string): tf.KernelConfig {
  if (!stock) throw new Error(`backend '${backendName}' has no ${kernel} kernel to fall back on`);
  return stock;
}

/** The kernels each backend had before ours, so they can be put back. */
const stockKernels = new Map<string, Map<string, tf.KernelConfig | undefined>>();

/** Ours are recognised by this marker, which makes registering twice a no-op. */
const FAST_MARK = Symbol.for('alocc.fastKernel');

function isFast(config: tf.KernelConfig | undefined): boolean {
  return config != null && (config.kernelFunc as unknown as Record<symbol, boolean>)[FAST_MARK] === true;
}

function isFastBackend(name: string): name is (typeof FAST_BACKENDS)[number] {
  return (FAST_BACKENDS as readonly string[]).includes(name);
}

/**
 * Replaces the kernels listed in OVERRIDES and FIXES for `backend` ('wasm' or 'cpu'), and routes the BatchNorm
 * gradient and tf.fused.conv2d through our versions while a backend with our kernels is active. Idempotent. Any
 * other backend name (the native 'tensorflow' one above all) is left untouched.
 */
export function registerFastConvGradients(backend: 'wasm' | 'cpu' | string): void {
  if (!isFastBackend(backend)) return;
  if (backend === 'wasm') loadNativeKernels();
  registerKernelFixes(backend);
  registerFastGradients(() => hasFastConvGradients(tf.getBackend()));
  if (!tf.getKernel(RMSPROP_KERNEL, 'wasm')) tf.registerKernel({ kernelName: RMSPROP_KERNEL, backendName: 'wasm', kernelFunc: rmspropKernel });
  registerBatchNormTraining();
  installLazyFusedConv();
  for (const [kernel, override] of Object.entries(OVERRIDES[backend])) {
    const current = tf.getKernel(kernel, backend);
    if (isFast(current)) continue;
    if (!stockKernels.has(backend)) stockKernels.set(backend, new Map());
    stockKernels.get(backend)!.set(kernel, current);
    replaceKernel(kernel, backend, current, override);
  }
}

/**
 * Replaces stock kernels of `backend` that compute wrong results (see FIXES); idempotent, and kept by
 * unregisterFastConvGradients. registerFastConvGradients includes it.
 */
export function registerKernelFixes(backend: 'wasm' | 'cpu' | string): void {
  if (!isFastBackend(backend)) return;
  for (const [kernel, fix] of Object.entries(FIXES[backend])) {
    const current = tf.getKernel(kernel, backend);
    if (!isFast(current)) replaceKernel(kernel, backend, current, fix);
  }
}

function replaceKernel(kernel: string, backend: string, current: tf.KernelConfig | undefined, override: Override) {
  if (current) tf.unregisterKernel(kernel, backend);
  const kernelFunc = override(current, backend);
  (kernelFunc as unknown as Record<symbol, boolean>)[FAST_MARK] = true;
  tf.registerKernel({ kernelName: kernel, backendName: backend, kernelFunc });
}

/**
 * Puts the backend's own fast-path kernels back (wasm then again has no Conv2DBackpropFilter), keeping the
 * correctness fixes; for tests and benchmarks.
 */
export function unregisterFastConvGradients(backend: 'wasm' | 'cpu' | string): void {
  const stock = stockKernels.get(backend);
  if (!stock) return;
  for (const [kernel, original] of stock) {
    if (isFast(tf.getKernel(kernel, backend))) tf.unregisterKernel(kernel, backend);
    if (original) tf.registerKernel(original);
  }
  stockKernels.delete(backend);
}

/** Whether `backend` currently runs our kernels. */
export function hasFastConvGradients(backend: string): boolean {
  return isFastBackend(backend) && Object.keys(OVERRIDES[backend]).every((k) => isFast(tf.getKernel(k, backend)));
}

let stockFusedConv: typeof tf.fused.conv2d | undefined;

/**
 * Routes tf.fused.conv2d (looked up at call time by tfjs-layers) through a version whose gradient computes only
 * what the tape needs (see lazy-fused-conv.ts) while a backend with our kernels is active; the stock op otherwise.
 */
function installLazyFusedConv(): void {
  if (stockFusedConv) return;
  stockFusedConv = tf.fused.conv2d;
  tf.registerGradient(FUSED_CONV_GRADIENT);
  (tf.fused as { conv2d: typeof tf.fused.conv2d }).conv2d = lazyFusedConv2d(stockFusedConv, () => hasFastConvGradients(tf.getBackend()));
}

/**
 * One clipped RMSprop update of a variable as one pass on the compiled kernels: [new value, new mean square, new
 * moment], tensors of the active scope. Null where they do not serve the active backend; the caller then runs
 * tfjs's ops.
 */
export function fusedRmsprop(value: tf.Tensor, meanSquare: tf.Tensor, moment: tf.Tensor, gradient: tf.Tensor, attrs: RmspropAttrs): tf.Tensor[] | null {
  if (!nativeElementwiseUsable([value, meanSquare, moment, gradient]) || !hasFastConvGradients(tf.getBackend())) return null;
  return tf.engine().runKernel(RMSPROP_KERNEL, { value, meanSquare, moment, gradient }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

/**
 * BatchNorm in training over x's last axis on the compiled kernels: [y, mean, variance], tensors of the active scope
 * (batchnorm-training.ts). Null where they do not serve the active backend or the shape; the caller then runs
 * tfjs-layers' ops.
 */
export function fusedBatchNormTrain(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D, varianceEpsilon: number): tf.Tensor[] | null {
  return hasFastConvGradients(tf.getBackend()) ? batchNormTrain(x, scale, shift, varianceEpsilon) : null;
}
