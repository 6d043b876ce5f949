import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterViaConv } from './conv-backprop-filter';
import { conv2dBackpropInputViaConv } from './conv-backprop-input';

export { conv2dBackpropFilterViaConv } from './conv-backprop-filter';
export { conv2dBackpropInputViaConv } from './conv-backprop-input';

/**
 * Fast convolution gradients for the backends without native TensorFlow: stock wasm has no Conv2DBackpropFilter at
 * all and a scalar-loop Conv2DBackpropInput; the cpu backend's are slow loops. Both are replaced by forward
 * convolutions (see the two modules), which also covers tf.fused.conv2d: its gradient calls the same two ops.
 * Native backends must keep their own kernels, so only these two are accepted.
 */
const FAST_BACKENDS = ['wasm', 'cpu'] as const;
const KERNELS = ['Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;
type KernelName = (typeof KERNELS)[number];

type Conv2DBackpropAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
};

/** The kernels each backend had before ours, per backend, so they can be put back and NCHW can fall back to them. */
const stockKernels = new Map<string, Map<KernelName, tf.KernelConfig | undefined>>();

function stridePair(strides: [number, number] | number): [number, number] {
  return typeof strides === 'number' ? [strides, strides] : strides;
}

function unsupported(kernel: KernelName, backendName: string, what: string): Error {
  return new Error(`${kernel} on '${backendName}' (fast kernels): ${what} is not supported; only NHWC with dilation 1`);
}

function makeKernelFunc(kernel: KernelName, backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const a = attrs as unknown as Conv2DBackpropAttrs;
    if (a.dataFormat === 'NCHW') {
      const stock = stockKernels.get(backendName)?.get(kernel);
      if (stock) return stock.kernelFunc({ inputs, attrs, backend });
      throw unsupported(kernel, backendName, "dataFormat 'NCHW'");
    }
    const strides = stridePair(a.strides);
    if (kernel === 'Conv2DBackpropInput') {
      const { dy, filter } = inputs as { dy: tf.Tensor4D; filter: tf.Tensor4D };
      const info = tf.backend_util.computeConv2DInfo(a.inputShape!, filter.shape, strides, 1, a.pad, a.dimRoundingMode);
      return conv2dBackpropInputViaConv(dy, filter, a.inputShape!, strides, info.padInfo.top, info.padInfo.left);
    }
    const { x, dy } = inputs as { x: tf.Tensor4D; dy: tf.Tensor4D };
    const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape!, strides, 1, a.pad, a.dimRoundingMode);
    return conv2dBackpropFilterViaConv(x, dy, a.filterShape!, strides, info.padInfo.top, info.padInfo.left);
  };
}

/** Ours are recognised by this marker, which makes registering twice a no-op. */
const FAST_MARK = Symbol.for('alocc.fastConvGradient');

function isFast(config: tf.KernelConfig | undefined): boolean {
  return config != null && (config.kernelFunc as unknown as Record<symbol, boolean>)[FAST_MARK] === true;
}

/**
 * Replaces Conv2DBackpropInput and Conv2DBackpropFilter on `backend` ('wasm' or 'cpu') by forward-convolution
 * versions. Idempotent. Any other backend name (the native 'tensorflow' one above all) is left untouched.
 */
export function registerFastConvGradients(backend: 'wasm' | 'cpu' | string): void {
  if (!(FAST_BACKENDS as readonly string[]).includes(backend)) return;
  for (const kernel of KERNELS) {
    const current = tf.getKernel(kernel, backend);
    if (isFast(current)) continue;
    if (!stockKernels.has(backend)) stockKernels.set(backend, new Map());
    stockKernels.get(backend)!.set(kernel, current);
    if (current) tf.unregisterKernel(kernel, backend);
    const kernelFunc = makeKernelFunc(kernel, backend);
    (kernelFunc as unknown as Record<symbol, boolean>)[FAST_MARK] = true;
    tf.registerKernel({ kernelName: kernel, backendName: backend, kernelFunc });
  }
}

/** Puts the backend's own kernels back (wasm then again has no Conv2DBackpropFilter); for tests and benchmarks. */
export function unregisterFastConvGradients(backend: 'wasm' | 'cpu' | string): void {
  const stock = stockKernels.get(backend);
  if (!stock) return;
  for (const kernel of KERNELS) {
    if (isFast(tf.getKernel(kernel, backend))) tf.unregisterKernel(kernel, backend);
    const original = stock.get(kernel);
    if (original) tf.registerKernel(original);
  }
  stockKernels.delete(backend);
}

/** Whether `backend` currently runs our convolution gradients. */
export function hasFastConvGradients(backend: string): boolean {
  return KERNELS.every((kernel) => isFast(tf.getKernel(kernel, backend)));
}
