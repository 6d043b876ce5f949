import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels, nativeStatus, registerFastConvGradients, setNativeIsa } from '../src/kernels';
import { nativePooledConv } from '../src/kernels/native';
import { assertClose } from './helpers/numeric';

/**
 * The knn features' one-pass kernel (native/pooled.c): conv at stride 1 ('same'), bias, LeakyReLU and a p×p average
 * pool, against tfjs's stock cpu ops doing the same in three steps, at every instruction set this CPU runs.
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

function reference(c: Case): Float32Array {
  return tf.tidy(() => {
    const { x, filter, bias } = inputs(c);
    const h = tf.leakyRelu(tf.add(tf.conv2d(x, filter, 1, 'same'), bias), 0.3);
    return tf.avgPool(h as tf.Tensor4D, c.pool, c.pool, 'valid').dataSync() as Float32Array;
  });
}

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

for (const isa of ISAS) {
  test(`${isa}: conv + LeakyReLU + average pool in one pass equals tfjs's three ops on stock cpu`, async () => {
    for (const c of CASES) {
      await tf.setBackend('cpu');
      const want = reference(c);
      await tf.setBackend('wasm');
      setNativeIsa(isa);
      try {
        const got = tf.tidy(() => {
          const { x, filter, bias } = inputs(c);
          const y = nativePooledConv(x, filter, bias, 0.3, c.pool);
          assert.ok(y, `the kernel took x ${c.x.join('×')} with ${c.co} outputs`);
          assert.deepEqual(y.shape, [c.x[0], Math.floor(c.x[1] / c.pool), Math.floor(c.x[2] / c.pool), c.co]);
          return y.dataSync() as Float32Array;
        });
        assertClose(got, want, `${isa}, x ${c.x.join('×')}, pool ${c.pool}`, 1e-5);
      } finally {
        if (DEFAULT_ISA) setNativeIsa(DEFAULT_ISA);
      }
    }
  });
}

