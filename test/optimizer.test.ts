import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels, registerFastConvGradients, setNativeKernels } from '../src/kernels';
import { ClippedRmsprop } from '../src/train/optimizer';

/**
 * The optimiser every training step runs: on the compiled kernels one call clips and updates every variable in place.
 * The reference is tfjs's own clipByValue + RMSPropOptimizer on the stock cpu backend, a second implementation.
 */

const native = loadNativeKernels();
const LR = 0.01, CLIP = 1;
const SHAPES = [[5, 5, 3, 7], [7], [33, 1], [1]];

/** Gradients big enough that some are clipped, some not; a different draw per update. */
function gradients(step: number): Float32Array[] {
  return SHAPES.map((s, v) => {
    const n = s.reduce((a, b) => a * b, 1);
    return Float32Array.from({ length: n }, (_, i) => 2.5 * Math.sin(1.7 * i + 3.1 * v + 0.77 * step));
  });
}
const initial = SHAPES.map((s, v) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i + v)));

/** Three updates from `initial`; returns each variable's value, the optimiser's saved weights and its iterations. */
async function train(backend: string, makeOptimizer: () => tf.Optimizer) {
  await tf.setBackend(backend);
  // Made in a tidy, as layers make their weights: the variable then owns its buffer alone.
  const vars = SHAPES.map((s, v) => tf.tidy(() => tf.variable(tf.tensor(initial[v], s), true, `opt-test-${v}`)));
  const opt = makeOptimizer();
  for (let step = 0; step < 3; step++) {
    const grads: tf.NamedTensorMap = {};
    gradients(step).forEach((g, v) => (grads[vars[v].name] = tf.tensor(g, SHAPES[v])));
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const values = vars.map((v) => v.dataSync().slice());
  const compiled = opt instanceof ClippedRmsprop ? opt.compiledUpdates : 0;
  const weights = await opt.getWeights();
  const saved = weights.map((w) => ({ name: w.name, data: Array.from(w.tensor.dataSync()) }));
  opt.dispose();
  tf.dispose(vars);
  return { values, saved, compiled };
}

const stock = () => {
  const opt = tf.train.rmsprop(LR, 0.9, 0, 1e-7);
  const apply = opt.applyGradients.bind(opt);
  opt.applyGradients = (g: tf.NamedTensorMap) => {
    const clipped = tf.tidy(() => Object.fromEntries(Object.entries(g).map(([n, t]) => [n, tf.clipByValue(t, -CLIP, CLIP)])));
    apply(clipped);
    tf.dispose(Object.values(clipped));
  };
  return opt;
};

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

test('one element by hand: gradient 3 clipped to 1, ms = 0.1, step = 0.01/sqrt(0.1 + 1e-7)', async () => {
  await tf.setBackend('wasm');
  const v = tf.tidy(() => tf.variable(tf.tensor1d([1]), true, `opt-hand-${Math.random()}`));
  const opt = new ClippedRmsprop(LR, CLIP);
  const g = tf.tensor1d([3]);
  opt.applyGradients({ [v.name]: g });
  const expected = Math.fround(1 - Math.fround(Math.fround(0.01) / Math.fround(Math.sqrt(Math.fround(Math.fround(0.1) + Math.fround(1e-7))))));
  assert.equal(v.dataSync()[0], expected);
  tf.dispose([v, g]);
  opt.dispose();
});

for (const path of [native.loaded ? 'compiled' : null, 'wasm ops'].filter(Boolean) as string[]) {
  test(`${path}: clipped RMSprop equals tfjs's clipByValue + RMSprop on stock cpu, values and saved state, bit for bit`, async () => {
    const reference = await train('cpu', stock);
    setNativeKernels(path === 'compiled');
    try {
      const got = await train('wasm', () => new ClippedRmsprop(LR, CLIP));
      got.values.forEach((v, i) => assert.deepEqual(v, reference.values[i], `variable ${i}`));
      assert.deepEqual(got.saved, reference.saved);
      assert.equal(got.saved[0].data[0], 3, 'three iterations recorded');
      assert.equal(got.compiled, path === 'compiled' ? 3 : 0, 'the path under test ran every update');
    } finally {
      setNativeKernels(true);
    }
  });
}

test('a value whose buffer another tensor shares is not written in place: that tensor keeps its numbers', async () => {
  await tf.setBackend('wasm');
  const v = tf.tidy(() => tf.variable(tf.tensor1d([1, 2, 3]), true, `opt-shared-${Math.random()}`));
  const alias = tf.clone(v); // on wasm, Identity shares the buffer
  const opt = new ClippedRmsprop(LR, CLIP);
  const g = tf.tensor1d([0.5, -0.5, 2]);
  opt.applyGradients({ [v.name]: g });
  assert.deepEqual(Array.from(alias.dataSync()), [1, 2, 3]);
  assert.ok(v.dataSync()[0] < 1 && v.dataSync()[1] > 2, 'the variable itself moved');
  tf.dispose([v, alias, g]);
  opt.dispose();
});

test('an update makes no tensors beyond the accumulators it creates once', async () => {
  await tf.setBackend('wasm');
  const v = tf.variable(tf.randomNormal([64, 3]), true, `opt-leak-${Math.random()}`);
  const opt = new ClippedRmsprop(LR, CLIP);
  const g = tf.randomNormal([64, 3]);
  opt.applyGradients({ [v.name]: g });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) opt.applyGradients({ [v.name]: g });
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([v, g]);
  opt.dispose();
});
