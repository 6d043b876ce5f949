import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  conv2dBackpropInputViaConv,
  hasFastConvGradients,
  nativeStatus,
  registerFastConvGradients,
  setNativeKernels,
  unregisterFastConvGradients,
} from '../src/kernels';
import { assertClose, ConvCase, values } from './helpers/numeric';

const CASES: ConvCase[] = [
  { x: [2, 28, 28, 1], w: [5, 5, 1, 16], strides: [2, 2], pad: 'same' }, // the nets' first layer
  { x: [3, 7, 7, 32], w: [5, 5, 32, 64], strides: [2, 2], pad: 'same' }, // odd size, 7 → 4
  { x: [1, 9, 11, 3], w: [3, 3, 3, 4], strides: [1, 1], pad: 'valid' }, // batch 1
  { x: [2, 16, 16, 16], w: [3, 3, 16, 32], strides: [1, 1], pad: 'valid' }, // R's decoder
  { x: [2, 8, 8, 3], w: [5, 5, 3, 4], strides: [1, 1], pad: 'same' },
  { x: [2, 10, 9, 2], w: [4, 3, 2, 3], strides: [2, 2], pad: 'valid' }, // even kernel, unused last row
  { x: [2, 9, 10, 3], w: [3, 5, 3, 2], strides: [1, 2], pad: 'same' }, // unequal strides
  { x: [1, 5, 5, 2], w: [1, 1, 2, 3], strides: [2, 2], pad: 'valid' }, // kernel smaller than the stride
  { x: [2, 11, 11, 2], w: [5, 5, 2, 3], strides: [3, 3], pad: 'same' },
  { x: [2, 8, 7, 2], w: [5, 3, 2, 3], strides: [1, 1], pad: 'same' }, // different top and left padding
  // Fewer output than input channels at stride 1: the filter gradient swaps the roles of x and dy.
  { x: [2, 12, 12, 8], w: [5, 5, 8, 1], strides: [1, 1], pad: 'same' }, // R's last layer
  { x: [1, 9, 8, 4], w: [3, 2, 4, 2], strides: [1, 1], pad: 'valid' },
  { x: [2, 8, 7, 4], w: [5, 3, 4, 2], strides: [1, 1], pad: 'same' },
  // Output barely bigger than the kernel: most taps read padding.
  { x: [3, 4, 4, 6], w: [5, 5, 6, 8], strides: [2, 2], pad: 'same' }, // D's last conv
  { x: [2, 3, 4, 2], w: [3, 3, 2, 3], strides: [1, 1], pad: 'valid' },
  // One output channel with stride 2.
  { x: [2, 9, 9, 4], w: [3, 3, 4, 1], strides: [2, 2], pad: 'same' },
];

type Grads = { dx: Float32Array; dw: Float32Array; db?: Float32Array };

/** Gradients of Σ conv(x, w)·dyWeight on the active backend, through tf.conv2d or tf.fused.conv2d with bias + relu. */
function gradients(c: ConvCase, fused: boolean): Grads {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.x, 1), c.x);
    const w = tf.tensor4d(values(c.w, 2), c.w);
    const b = tf.tensor1d(values([c.w[3]], 3));
    const outShape = tf.conv2d(x, w, c.strides, c.pad).shape;
    const dyWeight = tf.tensor(values(outShape, 4), outShape);
    const f = fused
      ? (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
          tf.sum(tf.mul(tf.fused.conv2d({ x: xi as tf.Tensor4D, filter: wi as tf.Tensor4D, bias: bi, strides: c.strides, pad: c.pad, activation: 'relu' }), dyWeight))
      : (xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.strides, c.pad), dyWeight));
    const g = fused ? tf.grads(f)([x, w, b]) : tf.grads(f)([x, w]);
    return { dx: g[0].dataSync() as Float32Array, dw: g[1].dataSync() as Float32Array, db: g[2]?.dataSync() as Float32Array | undefined };
  }) as Grads;
}

/**
 * Stock cpu kernels are the reference; each case is computed there first. `compiled` false runs wasm without the
 * compiled kernels: the fallback a machine without a C compiler gets.
 */
async function on<T>(backend: 'cpu' | 'wasm', fast: boolean, fn: () => T, compiled = true): Promise<T> {
  await tf.setBackend(backend);
  if (fast) registerFastConvGradients(backend);
  else unregisterFastConvGradients(backend);
  setNativeKernels(compiled);
  try {
    return fn();
  } finally {
    setNativeKernels(true);
  }
}

/** Where the fast kernels run: wasm with the compiled kernels (where built), wasm's fallback without them, cpu. */
const PATHS = [
  { name: 'wasm', backend: 'wasm', compiled: true },
  { name: 'wasm without the compiled kernels', backend: 'wasm', compiled: false },
  { name: 'cpu', backend: 'cpu', compiled: false },
] as const;

function describeCase(c: ConvCase): string {
  return `x ${c.x.join('×')} w ${c.w.join('×')} strides ${c.strides.join(',')} ${c.pad}`;
}

let loadedAtStart = false;
before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
  loadedAtStart = nativeStatus().loaded;
  await tf.setBackend('cpu');
});

for (const fused of [false, true]) {
  for (const c of CASES) {
    test(`${fused ? 'fused conv (bias + relu)' : 'conv'} gradients match stock cpu: ${describeCase(c)}`, async () => {
      const reference = await on('cpu', false, () => gradients(c, fused));
      for (const path of PATHS) {
        const fast = await on(path.backend, true, () => gradients(c, fused), path.compiled);
        if (path.compiled) assert.equal(nativeStatus().loaded, loadedAtStart, 'the compiled kernels were on');
        assertClose(fast.dx, reference.dx, `${path.name} dx`);
        assertClose(fast.dw, reference.dw, `${path.name} dw`);
        if (fused) assertClose(fast.db!, reference.db!, `${path.name} dbias`);
      }
    });
  }
}

// The fallback input gradient (one stride-1 conv of all phases + interleave), called directly on wasm's own kernels.
test('the fallback input gradient matches the stock cpu kernel on every case', async () => {
  for (const c of CASES) {
    const run = (form?: typeof conv2dBackpropInputViaConv) =>
      tf.tidy(() => {
        const w = tf.tensor4d(values(c.w, 2), c.w);
        const outShape = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, w, c.strides, c.pad).shape;
        const dy = tf.tensor4d(values(outShape, 4), outShape);
        if (!form) return (tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }) as tf.Tensor).dataSync() as Float32Array;
        const info = tf.backend_util.computeConv2DInfo(c.x, c.w, c.strides, 1, c.pad);
        return form(dy, w, c.x, c.strides, info.padInfo.top, info.padInfo.left).dataSync() as Float32Array;
      });
    const reference = await on('cpu', false, () => run());
    assertClose(await on('wasm', true, () => run(conv2dBackpropInputViaConv), false), reference, describeCase(c));
  }
});

/** Gradients through BatchNorm in training mode (statistics from the batch), as tfjs-layers computes it. */
function batchNormGradients(shape: [number, number, number, number]): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(shape, 5), shape);
    const c = shape[3];
    const gamma = tf.add(tf.tensor1d(values([c], 6)), 1.5);
    const beta = tf.tensor1d(values([c], 7));
    const weight = tf.tensor(values(shape, 8), shape);
    const f = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, [0, 1, 2]);
      return tf.sum(tf.mul(tf.batchNorm(xi, mean, variance, b, g, 1e-3), weight));
    };
    return tf.grads(f)([x, gamma, beta]).map((g) => g.dataSync() as Float32Array);
  });
}

test('BatchNorm training gradients (x, gamma, beta) match stock cpu', async () => {
  // [6, 9, 11, 24]: 594 rows, several blocks of the compiled channel sums on each thread.
  for (const shape of [[4, 5, 5, 8], [1, 3, 7, 2], [6, 9, 11, 24]] as [number, number, number, number][]) {
    const reference = await on('cpu', false, () => batchNormGradients(shape));
    for (const path of PATHS) {
      const fast = await on(path.backend, true, () => batchNormGradients(shape), path.compiled);
      ['dx', 'dgamma', 'dbeta'].forEach((what, i) => assertClose(fast[i], reference[i], `${path.name} ${shape.join('×')} ${what}`));
    }
  }
});

test('Sum and Mean over leading axes match stock cpu; other axes still work', async () => {
  const shape = [3, 4, 5, 6];
  const reductions = (): Float32Array[] =>
    tf.tidy(() => {
      const x = tf.tensor4d(values(shape, 9), shape as [number, number, number, number]);
      return [
        tf.sum(x, [0, 1, 2]),
        tf.mean(x, [0, 1, 2], true),
        tf.sum(x, 0),
        tf.mean(x, [1, 0]),
        tf.sum(x, [1, 2]),
        tf.mean(x, -1),
        tf.sum(x),
      ].map((t) => t.dataSync() as Float32Array);
    });
  const reference = await on('cpu', false, reductions);
  for (const compiled of [true, false]) {
    const fast = await on('wasm', true, reductions, compiled);
    reference.forEach((r, i) => assertClose(fast[i], r, `reduction ${i}${compiled ? '' : ' without the compiled kernels'}`));
  }
});

test('Square\'s gradient is dy·2x on every path, exactly', async () => {
  // 7 × 5,003 values: three blocks of the compiled pass, the last ending mid-vector.
  const shape = [7, 5003];
  const x = values(shape, 50);
  const dy = values(shape, 51);
  const expected = x.map((v, i) => Math.fround(dy[i] * (v * 2)));
  for (const path of PATHS) {
    const got = await on(path.backend, true, () => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.square(t), tf.tensor(dy, shape))))(tf.tensor(x, shape)).dataSync() as Float32Array), path.compiled);
    assert.deepEqual(got, expected, path.name);
  }
});

test('a cast to the same dtype shares the data and outlives its source; other casts still convert', async () => {
  await on('wasm', true, () => {
    const x = tf.tensor([1.5, -2.7, 3.2]);
    const same = tf.cast(x, 'float32');
    const ints = tf.cast(x, 'int32');
    x.dispose();
    assert.deepEqual(Array.from(same.dataSync()), [1.5, Math.fround(-2.7), Math.fround(3.2)], 'float32 → float32 after its source is disposed');
    assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3], 'float32 → int32 truncates');
    assert.equal(ints.dtype, 'int32');
    tf.dispose([same, ints]);
  });
});

test('Sum and Mean gradients spread dy over the reduced axes (divided by the count for Mean), exactly', async () => {
  // L = Σ w ⊙ reduce(x): dL/dx at every element is the w of the output it was reduced into, over n for Mean.
  const shape = [3, 4, 5, 6];
  const strides = [120, 30, 6, 1];
  const cases: { kernel: 'sum' | 'mean'; axes: number[] }[] = [
    { kernel: 'sum', axes: [0, 1, 2] },
    { kernel: 'mean', axes: [0, 1, 2] },
    { kernel: 'mean', axes: [1, 3] },
    { kernel: 'sum', axes: [2] },
  ];
  for (const { kernel, axes } of cases) {
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const w = values(kept, 31);
    const count = axes.reduce((n, a) => n * shape[a], 1);
    const expected = new Float32Array(360);
    for (let i = 0; i < 360; i++) {
      const index = strides.map((s, a) => Math.floor(i / s) % shape[a]);
      const out = index.reduce((o, v, a) => o * kept[a] + (axes.includes(a) ? 0 : v), 0);
      expected[i] = kernel === 'mean' ? Math.fround(w[out] / count) : w[out];
    }
    const gradient = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(values(shape, 9), shape as [number, number, number, number]);
        const weights = tf.tensor(w, kept);
        return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf[kernel](t, axes, true), weights)))(x).dataSync() as Float32Array;
      });
    for (const path of PATHS) {
      const got = await on(path.backend, true, gradient, path.compiled);
      assert.deepEqual(got, expected, `${path.name}: ${kernel} over axes ${axes.join(',')}`);
    }
  }
});

/**
 * The upsampling gradient, from first principles: run the (correct) forward resize on an image of pixel indices to
 * learn which input pixel each output copies, then add the output weights up per input pixel.
 */
function resizeGradReference(shape: number[], size: [number, number], alignCorners: boolean, weight: Float32Array) {
  const n = shape.reduce((a, b) => a * b, 1);
  const index = tf.tensor4d(Float32Array.from({ length: n }, (_, i) => i), shape as [number, number, number, number]);
  const source = tf.image.resizeNearestNeighbor(index, size, alignCorners).dataSync();
  index.dispose();
  const grad = new Float32Array(n);
  source.forEach((src, i) => (grad[src] += weight[i]));
  return grad;
}

test('upsampling (nearest-neighbour resize) and its gradient are right for batches > 1 on every path', async () => {
  const cases: [number[], [number, number], boolean][] = [
    [[2, 14, 14, 3], [28, 28], false], // UpSampling2D ×2
    [[3, 4, 4, 2], [12, 8], false],
    [[2, 3, 5, 2], [7, 8], false], // not a whole-number factor
    [[2, 4, 4, 1], [8, 8], true], // alignCorners
  ];
  for (const [shape, size, alignCorners] of cases) {
    const weightShape = [shape[0], ...size, shape[3]];
    const weightValues = values(weightShape, 11);
    const expected = await on('cpu', false, () => resizeGradReference(shape, size, alignCorners, weightValues));
    const resize = () => tf.tidy(() => tf.image.resizeNearestNeighbor(tf.tensor4d(values(shape, 10), shape as [number, number, number, number]), size, alignCorners).dataSync());
    const expectedForward = await on('cpu', false, resize);
    for (const path of PATHS) {
      const what = `${path.name} ${shape.join('×')} → ${size.join('×')}${alignCorners ? ' alignCorners' : ''}`;
      const [forward, grad] = await on(path.backend, true, () =>
        tf.tidy(() => {
          const x = tf.tensor4d(values(shape, 10), shape as [number, number, number, number]);
          const weight = tf.tensor(weightValues, weightShape);
          const f = (xi: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(xi as tf.Tensor4D, size, alignCorners), weight));
          return [resize(), tf.grad(f)(x).dataSync() as Float32Array];
        }),
        path.compiled,
      );
      assert.deepEqual(forward, expectedForward, `${what}: the resize itself`);
      assertClose(grad, expected, what);
    }
  }
});

// With a linear activation (D's convs: BatchNorm follows) stock tfjs fuses even under a gradient tape, and its
// custom-gradient closure computes the input and bias gradients too.
test('fused conv gradients compute only what is asked for (no input gradient for a filter-only gradient)', async () => {
  const kernelsRun = async (fast: boolean) =>
    on('wasm', fast, async () => {
      const x = tf.tensor4d(values([2, 8, 8, 3], 12), [2, 8, 8, 3]);
      const w = tf.tensor4d(values([3, 3, 3, 4], 13), [3, 3, 3, 4]);
      const b = tf.tensor1d(values([4], 14));
      const f = (wi: tf.Tensor) => tf.sum(tf.fused.conv2d({ x, filter: wi as tf.Tensor4D, bias: b, strides: 1, pad: 'same', activation: 'linear' }));
      const profile = await tf.profile(() => tf.grad(f)(w));
      tf.dispose([x, w, b]);
      return profile.kernels.map((k) => k.name);
    });
  const kernels = await kernelsRun(true);
  assert.ok(kernels.includes('Conv2DBackpropFilter'), `no filter gradient ran: ${kernels.join(' ')}`);
  assert.ok(!kernels.includes('Conv2DBackpropInput'), `an unneeded input gradient ran: ${kernels.join(' ')}`);
  registerFastConvGradients('wasm');
});

test('registering twice keeps one set of kernels and prints no warning', async () => {
  const warnings: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args);
  try {
    await tf.setBackend('wasm');
    registerFastConvGradients('wasm');
    registerFastConvGradients('wasm');
    registerFastConvGradients('tensorflow'); // native backend: must be ignored
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(warnings, []);
  assert.ok(hasFastConvGradients('wasm'));
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'tensorflow'), undefined);
  unregisterFastConvGradients('wasm');
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined, 'stock wasm has no filter gradient');
  assert.ok(tf.getKernel('Conv2DBackpropInput', 'wasm'), 'stock wasm input gradient is back');
});
