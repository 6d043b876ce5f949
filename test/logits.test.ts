// Training BCEs from logits (--bce logits): the same networks, exact losses, and gradients that survive saturation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG } from '../src/config';
import { buildDiscriminator } from '../src/models/discriminator';
import { logitsOf } from '../src/models/logits';
import { buildReconstructor } from '../src/models/reconstructor';
import { bce, bceFromLogits } from '../src/models/losses';

before(async () => {
  await tf.setBackend('cpu');
});

test('sigmoid of logitsOf(R), logitsOf(D) is what the saved networks output, in both modes', () => {
  const cfg = { ...DEFAULT_MODEL_CONFIG, dfDim: 4, gfDim: 4 };
  const r = buildReconstructor(cfg, 3);
  const d = buildDiscriminator(cfg, 3);
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5);
  for (const training of [false, true]) {
    for (const net of [r, d]) {
      const want = (net.apply(x, { training }) as tf.Tensor).dataSync();
      const got = tf.sigmoid(logitsOf(net, x, training)).dataSync();
      assert.equal(got.length, want.length);
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `${net.name} training=${training} [${i}]: ${v} vs ${want[i]}`));
    }
  }
  assert.equal(r.countParams(), buildReconstructor(cfg, 3).countParams(), 'no weights added');
});

test('BCE from logits equals the clipped BCE where nothing saturates, and keeps a gradient where it does', () => {
  const z = tf.tensor([-3, -0.5, 0, 0.5, 3]);
  const t = tf.tensor([0, 1, 0.3, 1, 0]);
  assert.ok(Math.abs(bceFromLogits(z, t).dataSync()[0] - bce(tf.sigmoid(z), t).dataSync()[0]) < 1e-6);
  // A confident, wrong D (logit −30 for an image labelled real): the clipped BCE's gradient is 0, the logit one −1/n.
  const saturated = tf.tensor([-30, -40]);
  const clippedGrad = tf.grad((s: tf.Tensor) => bce(tf.sigmoid(s), 1))(saturated).dataSync();
  const logitGrad = tf.grad((s: tf.Tensor) => bceFromLogits(s, 1))(saturated).dataSync();
  assert.deepEqual([...clippedGrad], [0, 0]);
  logitGrad.forEach((g) => assert.ok(Math.abs(g + 0.5) < 1e-6, `gradient ${g}`));
  assert.ok(Math.abs(bceFromLogits(saturated, 1).dataSync()[0] - 35) < 1e-4, 'exact loss, not clipped at 16.1');
});
