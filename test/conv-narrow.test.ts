import { test, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels, nativeStatus, registerFastConvGradients, setNativeIsa, unregisterFastConvGradients } from '../src/kernels';
import { assertClose, ConvCase, values } from './helpers/numeric';

// native/conv-narrow.c's direct convolutions (one input channel; outputs a multiple of 8 narrower than the SIMD
// width, which the input gradient of an 8-channel input becomes; few channels in and out) against stock tfjs cpu, at
// every instruction set the CPU runs: the rotation net's and R's shapes, strided and non-3×3 filters, and the widest
// output it takes (64) beside one it leaves to im2col (72).

const ISAS: (string | null)[] = loadNativeKernels().isas ?? [null];
const DEFAULT_ISA = nativeStatus().isa ?? null;

async function atIsa<T>(isa: string | null, fn: () => T): Promise<T> {
  if (isa) setNativeIsa(isa);
  try {
    return fn();
  } finally {
    if (DEFAULT_ISA) setNativeIsa(DEFAULT_ISA);
  }
}

const CASES: ConvCase[] = [
  { x: [5, 28, 28, 1], w: [3, 3, 1, 8], strides: [1, 1], pad: 'same' }, // the rotation net's first conv
  { x: [3, 14, 14, 8], w: [3, 3, 8, 16], strides: [1, 1], pad: 'same' }, // its second: dx has 8 channels
  { x: [2, 7, 7, 16], w: [3, 3, 16, 8], strides: [1, 1], pad: 'valid' }, // 8 outputs from 16 channels
  { x: [2, 9, 7, 1], w: [5, 3, 1, 16], strides: [2, 1], pad: 'same' }, // one channel, strided, not 3×3
  { x: [2, 6, 5, 1], w: [3, 3, 1, 64], strides: [1, 1], pad: 'same' }, // the widest output the direct path takes
  { x: [2, 6, 5, 1], w: [3, 3, 1, 72], strides: [1, 1], pad: 'same' }, // too wide: im2col
  { x: [2, 5, 6, 8], w: [2, 4, 8, 24], strides: [1, 1], pad: 'same' }, // 24 outputs (AVX-512: not a vector's width)
  { x: [2, 12, 12, 1], w: [5, 5, 1, 32], strides: [2, 2], pad: 'same' }, // R's first conv
  { x: [2, 9, 9, 3], w: [3, 3, 3, 8], strides: [1, 1], pad: 'same' }, // colour pictures, 8 filters
  { x: [2, 7, 7, 32], w: [5, 5, 32, 16], strides: [1, 1], pad: 'same' }, // Ci·Co 512: direct on AVX2 and the baseline
];
const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'leakyrelu'] as const;
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** The fused forward at each activation, then dx and dw of Σ y·r (r fixed values) through the plain conv. */
function run(c: ConvCase): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(size(c.x), 11), c.x);
    const w = tf.tensor4d(values(size(c.w), 12), c.w);
    const bias = tf.tensor1d(values(c.w[3], 13));
    const outs = ACTIVATIONS.map((activation) => tf.fused.conv2d({ x, filter: w, bias, strides: c.strides, pad: c.pad, activation, leakyreluAlpha: 0.2 }).dataSync() as Float32Array);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
      return tf.sum(tf.mul(y, tf.tensor(values(y.size, 14), y.shape)));
    };
    return [...outs, ...tf.grads(f)([x, w]).map((g) => g.dataSync() as Float32Array)];
  });
}

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

for (const isa of ISAS) {
  test(`${isa ?? 'wasm kernels'}: narrow convolutions and their gradients match stock cpu`, async () => {
    for (const c of CASES) {
      await tf.setBackend('cpu');
      unregisterFastConvGradients('cpu');
      const reference = run(c);
      registerFastConvGradients('cpu');
      await tf.setBackend('wasm');
      const fast = await atIsa(isa, () => run(c));
      const names = [...ACTIVATIONS, 'dx', 'dw'];
      names.forEach((what, i) => assertClose(fast[i], reference[i], `${what}, x ${c.x.join('×')} w ${c.w.join('×')} ${c.strides.join(',')} ${c.pad}`, 1e-5));
    }
  });
}
