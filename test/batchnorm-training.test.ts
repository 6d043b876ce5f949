import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fusedBatchNormTrain, loadNativeKernels, registerFastConvGradients, unregisterFastConvGradients } from '../src/kernels';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { buildRotationNet } from '../src/models/rotation-net';
import { rotationStep, rotationTraining } from '../src/train/rotation-step';
import { assertClose, values } from './helpers/numeric';

// The compiled kernels' fused BatchNorm in training (src/kernels/batchnorm-training.ts) against stock tfjs cpu's
// tf.moments + tf.batchNorm and their gradients, and the rotation net trained with it against the same net trained
// by stock tfjs-layers on cpu.

const native = loadNativeKernels();
const skip = !native.loaded && `no compiled kernels here: ${native.reason}`;

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

const EPS = 1e-3;

/** y, mean, variance, then dx, dγ, dβ of Σ y·r (r fixed values), through `bn`. */
function run(shape: number[], bn: (x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor[]): Float32Array[] {
  const ch = shape[shape.length - 1];
  return tf.tidy(() => {
    const x = tf.tensor(values(shape, 31).map((v, i) => v * 3 + (i % ch) * 0.5), shape);
    const g = tf.tensor1d(values(ch, 32).map((v) => 1 + v / 2));
    const b = tf.tensor1d(values(ch, 33));
    const [y, mean, variance] = bn(x, g, b);
    const r = tf.tensor(values(shape, 34), shape);
    const grads = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(bn(a, c as tf.Tensor1D, d as tf.Tensor1D)[0], r)))([x, g, b]);
    return [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

const stock = (x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D) => {
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  return [tf.batchNorm(x, mean, variance, b, g, EPS), mean, variance];
};

test('fused BatchNorm in training and its gradient match tf.moments + tf.batchNorm on stock cpu', { skip }, async () => {
  // 8 to 64 channels as the rotation net has them, one channel, 256 (the widest lane), and sizes whose values do not
  // fill the last lane of 256.
  for (const shape of [[5, 7, 7, 8], [3, 4, 4, 64], [2, 3, 3, 1], [2, 2, 3, 256], [3, 5, 5, 8], [2, 3, 32]]) {
    await tf.setBackend('cpu');
    unregisterFastConvGradients('cpu');
    const reference = run(shape, stock);
    await tf.setBackend('wasm');
    const fused = run(shape, (x, g, b) => {
      const out = fusedBatchNormTrain(x, g, b, EPS);
      assert.ok(out, `the fused kernel takes ${shape.join('×')}`);
      return out;
    });
    ['y', 'mean', 'variance', 'dx', 'dγ', 'dβ'].forEach((what, i) => assertClose(fused[i], reference[i], `${what}, ${shape.join('×')}`, 2e-5));
  }
  await tf.setBackend('wasm');
  assert.equal(fusedBatchNormTrain(tf.zeros([2, 3, 3, 24]), tf.ones([24]), tf.zeros([24]), EPS), null, '24 channels do not divide the lanes: stock');
});

test('the rotation net trains the same with the fused BatchNorm as with stock tfjs-layers on cpu', { skip }, async () => {
  const cfg = { ...DEFAULT_MODEL_CONFIG, inputSize: 12, channels: 1 };
  const x = values([8, 12, 12, 1], 35).map((v) => (v + 1) / 2);
  const train = async (backend: string) => {
    await tf.setBackend(backend);
    if (backend === 'cpu') unregisterFastConvGradients('cpu');
    const net = buildRotationNet(cfg, 7, 8);
    const rot = rotationTraining(net, DEFAULT_TRAIN_CONFIG);
    const batch = tf.tensor4d(x, [8, 12, 12, 1]);
    const losses = [0, 1, 2].map(() => rotationStep(rot, batch).rotationLoss);
    const weights = net.getWeights().map((w) => w.dataSync() as Float32Array);
    const names = net.weights.map((w) => w.name.replace(/_\d+$/, '')); // a second net's names get _1
    batch.dispose();
    return { losses, weights, names };
  };
  const reference = await train('cpu');
  const fused = await train('wasm');
  assert.deepEqual(fused.names, reference.names);
  assert.ok(reference.names.some((n) => n.includes('moving_mean')), 'the moving averages are compared too');
  fused.losses.forEach((l, i) => assert.ok(Math.abs(l - reference.losses[i]) <= 1e-4 * Math.abs(reference.losses[i]), `loss ${i}: ${l} against ${reference.losses[i]}`));
  const steps = fused.losses.length;
  fused.weights.forEach((w, i) => {
    if (/^rot_conv\d\/bias$/.test(fused.names[i])) {
      // A conv's bias before a BatchNorm has a gradient of zero up to rounding, and Adam moves it by up to the
      // learning rate a step whatever the gradient's size: both runs' biases are rounding noise, bounded by that.
      const bound = steps * DEFAULT_TRAIN_CONFIG.rotationLearningRate * 1.01;
      for (const v of [...w, ...reference.weights[i]]) assert.ok(Math.abs(v) <= bound, `${fused.names[i]}: ${v}`);
      return;
    }
    if (/moving_mean$/.test(fused.names[i])) {
      // The batch means include that bias, so the moving means differ by its noise (times 1 − momentum a step).
      w.forEach((v, k) => assert.ok(Math.abs(v - reference.weights[i][k]) <= steps * DEFAULT_TRAIN_CONFIG.rotationLearningRate, `${fused.names[i]}[${k}]: ${v} against ${reference.weights[i][k]}`));
      return;
    }
    assertClose(w, reference.weights[i], fused.names[i], 1e-3);
  });
});
