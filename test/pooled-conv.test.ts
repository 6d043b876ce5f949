import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels, nativeStatus, registerFastConvGradients, setNativeIsa } from '../src/kernels';
import { nativePooledConv } from '../src/kernels/native';
import { assertClose } from './helpers/numeric';

/**
 * The knn features' one-pass kernel (native/pooled.c): conv at stride 1 ('same'), bias, LeakyReLU and a p×p average
 * pool (and with withMax the p×p maximum beside it), against tfjs's stock cpu ops doing the same step by step, at
 * every instruction set this CPU runs.
 */
const ISAS: string[] = loadNativeKernels().isas ?? [];
const DEFAULT_ISA = nativeStatus().isa;

interface Case { x: [number, number, number, number]; co: number; pool: number }
const CASES: Case[] = [
  { x: [3, 28, 28, 1], co: 32, pool: 4 }, // MNIST: R's first block, 4×4 cells
  { x: [2, 64, 64, 3], co: 32, pool: 8 }, // a 64×64 colour run
  { x: [2, 17, 17, 3], co: 16, pool: 2 }, // odd side: the last row and column fall outside every cell
  { x: [1, 9, 5, 2], co: 64, pool: 3 }, // not square
  { x: [2, 12, 12, 1], co: 20, pool: 3 }, // outputs the SIMD width does not divide: one at a time
  { x: [2, 28, 28, 1], co: 4, pool: 4 }, // the narrow R of the tests
];

function inputs(c: Case) {
  const [, , , ci] = c.x;
  const rand = (shape: number[], seed: number, lo = -1) => tf.randomUniform(shape, lo, 1, 'float32', seed);
  return { x: rand(c.x, 1, 0) as tf.Tensor4D, filter: rand([5, 5, ci, c.co], 2) as tf.Tensor4D, bias: rand([c.co], 3) as tf.Tensor1D };
}

/** The means, then (withMax) the maxima: [n, h/p, w/p, co] or [n, 2, h/p, w/p, co]. */
function reference(c: Case, withMax: boolean): Float32Array {
  return tf.tidy(() => {
    const { x, filter, bias } = inputs(c);
    const h = tf.leakyRelu(tf.add(tf.conv2d(x, filter, 1, 'same'), bias), 0.3) as tf.Tensor4D;
    const means = tf.avgPool(h, c.pool, c.pool, 'valid');
    return (withMax ? tf.stack([means, tf.maxPool(h, c.pool, c.pool, 'valid')], 1) : means).dataSync() as Float32Array;
  });
}

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

for (const isa of ISAS) {
  for (const withMax of [false, true]) {
    test(`${isa}: conv + LeakyReLU + ${withMax ? 'cell means and maxima' : 'average pool'} in one pass equals tfjs's ops on stock cpu`, async () => {
      for (const c of CASES) {
        await tf.setBackend('cpu');
        const want = reference(c, withMax);
        await tf.setBackend('wasm');
        setNativeIsa(isa);
        try {
          const got = tf.tidy(() => {
            const { x, filter, bias } = inputs(c);
            const y = nativePooledConv(x, filter, bias, 0.3, c.pool, withMax);
            assert.ok(y, `the kernel took x ${c.x.join('×')} with ${c.co} outputs`);
            const cells = [Math.floor(c.x[1] / c.pool), Math.floor(c.x[2] / c.pool), c.co];
            assert.deepEqual(y.shape, withMax ? [c.x[0], 2, ...cells] : [c.x[0], ...cells]);
            return y.dataSync() as Float32Array;
          });
          assertClose(got, want, `${isa}, x ${c.x.join('×')}, pool ${c.pool}${withMax ? ', with maxima' : ''}`, 1e-5);
        } finally {
          if (DEFAULT_ISA) setNativeIsa(DEFAULT_ISA);
        }
      }
    });
  }
}
