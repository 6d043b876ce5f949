import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { recalibrateBatchNorm } from '../src/eval/bn-recalibration';

function tinyModel(): tf.LayersModel {
  const input = tf.input({ shape: [4] });
  let y = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y });
}

test('after recalibration, inference on the batch equals training-mode output on it, and momentum is restored', async () => {
  await tf.setBackend('cpu');
  const model = tinyModel();
  const x = tf.add(tf.mul(tf.randomNormal([64, 4], 0, 1, 'float32', 7), 3), 5);
  const before = (model.predict(x) as tf.Tensor).arraySync() as number[][];
  const training = (model.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][];
  assert.equal(recalibrateBatchNorm(model, x), 1);
  const after = (model.predict(x) as tf.Tensor).arraySync() as number[][];
  // Fresh moving statistics (0, 1) leave the shifted inputs un-normalised; recalibrated ones match training mode.
  assert.ok(Math.abs(before[0][0] - training[0][0]) > 0.5);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(after[i][j] - training[i][j]) < 1e-2);
  assert.equal((model.layers[2] as unknown as { momentum: number }).momentum, 0.99);
});
