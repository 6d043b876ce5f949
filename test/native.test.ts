import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels, nativeStatus, registerFastConvGradients, setNativeIsa, setNativeKernels, unregisterFastConvGradients } from '../src/kernels';
import { ClippedRmsprop } from '../src/train/rmsprop';
import { active } from '../src/kernels/addon';
import { assertClose as assertWithin, values } from './helpers/numeric';

const assertClose = (a: Float32Array, e: Float32Array, what: string, tolerance = 1e-5) => assertWithin(a, e, what, tolerance);

const ADDON = path.join(__dirname, '..', 'build', 'alocc_kernels.node');

function compilerPresent(): boolean {
  try {
    execFileSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Every instruction set this CPU runs (best first): each equivalence check below runs at each of them, so a path that
 * the default never takes here (AVX2 on an AVX-512 machine, the baseline) is still checked. Without the addon, one
 * pass on the wasm kernels.
 */
const ISAS: (string | null)[] = loadNativeKernels().isas ?? [null];
const DEFAULT_ISA = nativeStatus().isa ?? null;

/** Runs `fn` with the compiled kernels on instruction set `isa` (null: as loaded), then puts the default back. */
async function atIsa<T>(isa: string | null, fn: () => T | Promise<T>): Promise<T> {
  if (isa) setNativeIsa(isa);
  try {
    return await fn();
  } finally {
    if (DEFAULT_ISA) setNativeIsa(DEFAULT_ISA);
  }
}
const label = (isa: string | null) => isa ?? 'wasm kernels';

before(async () => {
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

test('the compiled kernels are built and loaded wherever a C compiler is', { skip: !compilerPresent() && 'no C compiler here' }, () => {
  assert.ok(fs.existsSync(ADDON), `${ADDON} missing: npm run build:native`);
  const status = nativeStatus();
  assert.ok(status.loaded, status.reason);
  assert.ok(status.threads >= 1 && [4, 8, 16].includes(status.vectorWidth), JSON.stringify(status));
  // The baseline runs anywhere; it is the last resort in every list.
  assert.equal(status.isas?.at(-1), 'baseline', JSON.stringify(status));
  assert.equal(status.isa, status.isas?.[0], 'the best instruction set the CPU runs is the default');
  if (process.arch === 'x64') {
    const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const has = (flag: string) => new RegExp(`^flags\\s*:.*\\b${flag}\\b`, 'm').test(cpu);
    const expected = [has('avx512f') && has('avx2') && has('fma') && 'avx512', has('avx2') && has('fma') && 'avx2', 'baseline'].filter(Boolean);
    assert.deepEqual(status.isas, expected, 'the paths found agree with /proc/cpuinfo');
  }
  const widths = Object.fromEntries(status.isas!.map((isa) => [isa, setNativeIsa(isa).vectorWidth]));
  setNativeIsa(status.isa!);
  assert.deepEqual(widths, Object.fromEntries(status.isas!.map((isa) => [isa, { avx512: 16, avx2: 8, baseline: 4 }[isa]])));
});

interface ForwardCase {
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}
const FORWARD: ForwardCase[] = [
  { x: [3, 28, 28, 32], w: [5, 5, 32, 1], strides: [1, 1], pad: 'same' }, // R's output layer: one channel
  { x: [2, 14, 14, 32], w: [5, 5, 32, 64], strides: [2, 2], pad: 'same' },
  { x: [2, 16, 16, 16], w: [3, 3, 16, 32], strides: [1, 1], pad: 'valid' },
  { x: [2, 9, 7, 3], w: [3, 5, 3, 24], strides: [2, 1], pad: 'same' }, // channels off the SIMD width
  { x: [1, 4, 4, 128], w: [5, 5, 128, 16], strides: [1, 1], pad: 'same' }, // filter wider than the image
];
const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'leakyrelu'] as const;

function forward(c: ForwardCase, activation: (typeof ACTIVATIONS)[number]): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), 1), c.x);
    const w = tf.tensor4d(values(c.w.reduce((a, b) => a * b), 2), c.w);
    const bias = tf.tensor1d(values(c.w[3], 3));
    return tf.fused.conv2d({ x, filter: w, bias, strides: c.strides, pad: c.pad, activation, leakyreluAlpha: 0.3 }).dataSync() as Float32Array;
  });
}

for (const isa of ISAS) {
  for (const c of FORWARD) {
    test(`${label(isa)}: forward conv matches stock cpu: x ${c.x.join('×')} w ${c.w.join('×')} ${c.strides.join(',')} ${c.pad}`, async () => {
      for (const activation of ACTIVATIONS) {
        await tf.setBackend('cpu');
        unregisterFastConvGradients('cpu');
        const reference = forward(c, activation);
        await tf.setBackend('wasm');
        assertClose(await atIsa(isa, () => forward(c, activation)), reference, activation);
      }
    });
  }
}

/** Input and filter gradients and a leading-axes sum (the bias gradient's column sums), as the trainer asks for them. */
function gradients(c: ForwardCase): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), 6), c.x);
    const w = tf.tensor4d(values(c.w.reduce((a, b) => a * b), 7), c.w);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
      return tf.sum(tf.mul(y, tf.tensor(values(y.size, 8), y.shape)));
    };
    return [...tf.grads(f)([x, w]).map((g) => g.dataSync() as Float32Array), tf.sum(x, [0, 1, 2]).dataSync() as Float32Array];
  });
}

// Stride 1 with input channels a multiple of every SIMD width takes the flipped-filter forward conv, the others
// dy · Wᵀ and col2im: both input-gradient paths are in these cases.
for (const isa of ISAS) {
  test(`${label(isa)}: input and filter gradients and column sums match stock cpu`, async () => {
    for (const c of FORWARD) {
      await tf.setBackend('cpu');
      const reference = gradients(c);
      await tf.setBackend('wasm');
      const fast = await atIsa(isa, () => gradients(c));
      ['dx', 'dw', 'column sums'].forEach((what, i) => assertClose(fast[i], reference[i], `${what}, x ${c.x.join('×')} w ${c.w.join('×')}`));
    }
  });
}

test('LeakyReLU and its gradient on the compiled kernels match stock cpu', async () => {
  // One pass, the same at every instruction set (ops.c is compiled for the baseline only). 35,021 values: three
  // blocks of the threaded pass, the last ending in a partial vector; 21 values: the caller's thread alone.
  const run = (n: number) =>
    tf.tidy(() => {
      const x = tf.tensor(values(n, 9), [7, n / 7]);
      const dy = tf.tensor(values(n, 10), [7, n / 7]);
      const y = tf.leakyRelu(x, 0.3);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(t, 0.3), dy)))(x);
      return [y.dataSync() as Float32Array, dx.dataSync() as Float32Array];
    });
  for (const n of [35021, 21]) {
    await tf.setBackend('cpu');
    const [y0, dx0] = run(n);
    await tf.setBackend('wasm');
    const [y1, dx1] = run(n);
    // alpha·x in float32 here, in float64 then rounded on cpu: one rounding step apart at most.
    assertClose(y1, y0, `leakyRelu of ${n}`, 1e-7);
    assertClose(dx1, dx0, `leakyRelu gradient of ${n}`, 1e-7);
  }
});

test('the max pool gradient on wasm is stock cpu\'s, ties and all-negative windows included, on the compiled kernels and without them', async () => {
  // The rotation net's pools: 2×2 at stride 2, 'same', at odd and even sides. Values from {-2, -1, 0, 1} put ties in
  // most windows and make a third of them all negative, whose gradient stock wasm drops: each window's dy must go to
  // its first maximum in row-major order, as stock cpu sends it.
  const run = (side: number, ch: number) =>
    tf.tidy(() => {
      const n = 3 * side * side * ch;
      const x = tf.tensor4d(Float32Array.from(values(n, side), (v) => (Math.floor(Math.abs(v) * 7) % 4) - 2), [3, side, side, ch]);
      const half = Math.ceil(side / 2);
      const dy = tf.tensor4d(values(3 * half * half * ch, side + 1), [3, half, half, ch]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'same'), dy)))(x).dataSync() as Float32Array;
    });
  for (const [side, ch] of [[7, 3], [8, 8], [28, 8], [1, 2]]) {
    await tf.setBackend('cpu');
    const cpu = run(side, ch);
    await tf.setBackend('wasm');
    assert.deepEqual(run(side, ch), cpu, `side ${side}, ${ch} channels, compiled kernels`);
    setNativeKernels(false);
    try {
      assert.deepEqual(run(side, ch), cpu, `side ${side}, ${ch} channels, JavaScript`);
    } finally {
      setNativeKernels(true);
    }
    // A correction, not a speed-up: it stays when the fast kernels are put back to stock.
    unregisterFastConvGradients('wasm');
    try {
      assert.deepEqual(run(side, ch), cpu, `side ${side}, ${ch} channels, stock kernels otherwise`);
    } finally {
      registerFastConvGradients('wasm');
    }
  }
  // The addon's entry refuses what would read or write outside the heap, an overlap and a bad geometry, as maxPool2's.
  const native = active();
  if (native?.maxPool2Grad) {
    const heap = new Float32Array(64);
    assert.throws(() => native.maxPool2Grad!(heap, Int32Array.from([1, 4, 1, 0, 16, 60])), /maxPool2Grad/);
    assert.throws(() => native.maxPool2Grad!(heap, Int32Array.from([1, 4, 1, 0, 16, 8])), /overlaps/);
    assert.throws(() => native.maxPool2Grad!(heap, Int32Array.from([1, 4, 1, 0, 40, 38])), /overlaps/);
    assert.throws(() => native.maxPool2Grad!(heap, Int32Array.from([1, 4, 0, 0, 16, 32])), /positive/);
    assert.throws(() => native.maxPool2Grad!(heap, Int32Array.from([65536, 65536, 65536, 0, 16, 32])), /too large/);
  }
  // Another pool (3×3 at stride 1) is not this kernel's: the stock one runs, and gives cpu's numbers on positive values.
  const other = () => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 3, 1, 'same')))(tf.abs(tf.tensor4d(values(2 * 6 * 6 * 2, 3), [2, 6, 6, 2]))).dataSync() as Float32Array);
  await tf.setBackend('cpu');
  const cpuOther = other();
  await tf.setBackend('wasm');
  assert.deepEqual(other(), cpuOther);
});

test('the clipped RMSprop step on the compiled kernels gives, bit for bit, the weights of clipByValue and tfjs RMSprop on cpu', async () => {
  // Stock cpu computes every op in float64 and rounds it to float32, which is the correctly rounded float32 result;
  // the addon must round the same ops in the same order (no fused multiply-add) to agree exactly. 5 weights: the
  // caller's thread alone; 39,999: three blocks of the threaded pass, the last ending in a partial vector. Gradients
  // span ±3, so the clip to ±1 matters.
  const shapes = [[5], [201, 199]];
  const train = (optimizer: tf.Optimizer, clip: boolean) => {
    const vars = shapes.map((shape, i) => tf.tidy(() => tf.variable(tf.tensor(values(shape, 20 + i), shape), true, `rmsprop-test-${tf.getBackend()}-${clip}-${i}`)));
    for (let step = 0; step < 3; step++) {
      tf.tidy(() => {
        const grads: tf.NamedTensorMap = {};
        vars.forEach((v, i) => {
          const g = tf.mul(tf.tensor(values(v.shape, 100 * step + i), v.shape), 3);
          grads[v.name] = clip ? tf.clipByValue(g, -1, 1) : g;
        });
        optimizer.applyGradients(grads);
      });
    }
    return vars;
  };
  await tf.setBackend('cpu');
  const stock = tf.train.rmsprop(0.002, 0.9, 0, 1e-7);
  const expected = train(stock, true);
  const expectedState = await stock.getWeights();
  await tf.setBackend('wasm');
  const fused = new ClippedRmsprop(0.002, 1);
  const tensorsBefore = tf.memory().numTensors;
  const got = train(fused, false);
  assert.equal(tf.memory().numTensors - tensorsBefore, 2 + 2 * 2, 'the steps leave the two variables and their mean squares and moments, nothing else');
  const gotState = await fused.getWeights();
  assert.deepEqual(gotState.map((w) => w.name.replace(/-wasm-false/, '')), expectedState.map((w) => w.name.replace(/-cpu-true/, '')), 'state names (what checkpoints save)');
  expected.forEach((v, i) => assert.deepEqual(got[i].dataSync(), v.dataSync(), `weights of shape ${shapes[i].join('×')}`));
  expectedState.forEach((w, i) => assert.deepEqual(gotState[i].tensor.dataSync(), w.tensor.dataSync(), `optimiser state ${w.name}`));
  tf.dispose([...expected, ...got]);
  [stock, fused].forEach((o) => o.dispose());
});

test('a tensor and one value per channel: multiply, add, subtract and divide on the compiled kernels give stock cpu\'s bits', async () => {
  // 3×7×41×24 = 20,664 values: two blocks of the threaded pass (24 channels do not divide its 16,384). The per-channel
  // operand in every shape tfjs broadcasts that way, on either side; a broadcast that is not per channel
  // ([3, 1, 1, 24]) must still come out right, from wasm's own kernel.
  const shape = [3, 7, 41, 24];
  const ops = { mul: tf.mul, add: tf.add, sub: tf.sub, div: tf.div } as const;
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor(values(shape, 40), shape);
      const results: Float32Array[] = [];
      for (const vShape of [[24], [1, 24], [1, 1, 1, 24], [3, 1, 1, 24]]) {
        // Divisors kept away from 0: values in [0.5, 1.5).
        const v = tf.add(tf.tensor(values(vShape, 41), vShape), 1);
        for (const op of Object.values(ops)) results.push(op(x, v).dataSync() as Float32Array, op(v, x).dataSync() as Float32Array);
      }
      return results;
    });
  await tf.setBackend('cpu');
  const expected = run();
  await tf.setBackend('wasm');
  const got = run();
  const names = [[24], [1, 24], [1, 1, 1, 24], [3, 1, 1, 24]].flatMap((v) => Object.keys(ops).flatMap((op) => [`${op}(x, v ${v.join('×')})`, `${op}(v ${v.join('×')}, x)`]));
  expected.forEach((e, i) => assert.deepEqual(got[i], e, names[i]));
});

test('BatchNorm with given statistics on the compiled kernels matches stock cpu, with and without scale and offset', async () => {
  // 3,000 rows of 24 channels: more than one block of the threaded pass, and rows never split between blocks.
  const run = (withScale: boolean, withOffset: boolean) =>
    tf.tidy(() => {
      const x = tf.tensor(values(3000 * 24, 11), [30, 10, 10, 24]);
      const mean = tf.tensor1d(values(24, 12));
      const variance = tf.abs(tf.tensor1d(values(24, 13))) as tf.Tensor1D;
      const offset = withOffset ? tf.tensor1d(values(24, 14)) : undefined;
      const scale = withScale ? tf.tensor1d(values(24, 15)) : undefined;
      return tf.batchNorm(x, mean, variance, offset, scale, 1e-3).dataSync() as Float32Array;
    });
  for (const [withScale, withOffset] of [[true, true], [false, true], [true, false], [false, false]]) {
    await tf.setBackend('cpu');
    const reference = run(withScale, withOffset);
    await tf.setBackend('wasm');
    // A division by the root once per channel instead of per element: a rounding step or two apart.
    assertClose(run(withScale, withOffset), reference, `batchNorm (scale ${withScale}, offset ${withOffset})`, 1e-5);
  }
  // Statistics broadcast another way (one value for all channels) go to wasm's own kernel, still right.
  await tf.setBackend('cpu');
  const broadcast = () => tf.tidy(() => tf.batchNorm(tf.tensor(values(240, 16), [10, 24]), tf.scalar(0.25), tf.scalar(2), tf.scalar(1), tf.scalar(3), 1e-3).dataSync() as Float32Array);
  const reference = broadcast();
  await tf.setBackend('wasm');
  assertClose(broadcast(), reference, 'batchNorm with scalar statistics', 1e-5);
});

test('the threaded kernels repeat their numbers bit for bit, and agree with one thread',  { skip: !fs.existsSync(ADDON) && 'addon not built' }, async () => {
  await tf.setBackend('wasm');
  const threads = nativeStatus().threads;
  const gradients = () =>
    tf.tidy(() => {
      const x = tf.tensor4d(values(16 * 28 * 28 * 8, 4), [16, 28, 28, 8]);
      const w = tf.tensor4d(values(5 * 5 * 8 * 32, 5), [5, 5, 8, 32]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([x, w]);
      return [...g.map((t) => t.dataSync() as Float32Array), tf.sum(x, [0, 1, 2]).dataSync() as Float32Array];
    });
  setNativeKernels(true, 1);
  const one = gradients();
  setNativeKernels(true, Math.max(2, threads));
  const many = gradients();
  setNativeKernels(true, threads);
  // Sums split over threads group their terms differently from one thread's: close, not equal.
  one.forEach((a, i) => assertClose(many[i], a, `output ${i}, 1 vs ${Math.max(2, threads)} threads`));
  // With the same threads, blocks are dealt out in a fixed order: a rerun (a resumed run) gets the same bits.
  setNativeKernels(true, Math.max(2, threads));
  const again = gradients();
  setNativeKernels(true, threads);
  again.forEach((a, i) => assert.deepEqual(a, many[i], `rerun ${i}`));
});

test('turned off, the same ops run on the wasm kernels', async () => {
  await tf.setBackend('wasm');
  const c = FORWARD[1];
  const withAddon = forward(c, 'relu');
  setNativeKernels(false);
  try {
    assert.equal(nativeStatus().loaded, false);
    assertClose(forward(c, 'relu'), withAddon, 'wasm kernels vs compiled', 1e-5);
  } finally {
    setNativeKernels(true);
  }
});

test('a NaN input stays NaN through every activation, as on stock kernels (divergence must show)', async () => {
  await tf.setBackend('wasm');
  for (const [isa, activation] of ISAS.flatMap((i) => ACTIVATIONS.map((a) => [i, a] as const))) {
    const y = await atIsa(isa, () => tf.tidy(() => {
      const x = tf.fill([1, 6, 6, 16], NaN) as tf.Tensor4D;
      const w = tf.ones([3, 3, 16, 16]) as tf.Tensor4D;
      return tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', activation, leakyreluAlpha: 0.3 }).dataSync();
    }));
    assert.ok(y.every((v) => Number.isNaN(v)), `${label(isa)} ${activation}: NaN became ${y.find((v) => !Number.isNaN(v))}`);
  }
});
