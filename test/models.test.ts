import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, MAX_INPUT_SIZE, MIN_INPUT_SIZE } from '../src/config';
import { buildDiscriminator } from '../src/models/discriminator';
import { buildReconstructor } from '../src/models/reconstructor';
import { useTestBackend } from './helpers/fixtures';

test('R maps 28×28×1 to 28×28×1 with the reference layer names and parameter count', async () => {
  await useTestBackend();
  const r = buildReconstructor(DEFAULT_MODEL_CONFIG, 1);
  assert.deepEqual(r.outputs[0].shape, [null, 28, 28, 1]);
  // Encoder 3 × (conv 5×5 + BN) with 32/64/128 filters, decoder convs 16, 16, 32, 1: counted by hand.
  assert.equal(r.countParams(), 832 + 128 + 51264 + 256 + 204928 + 512 + 51216 + 6416 + 4640 + 801);
  for (const name of ['g_encoder_h0_conv', 'g_encoder_h1_conv', 'g_encoder_h2_conv']) assert.ok(r.getLayer(name));
  const y = r.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 28, 28, 1]);
  const v = await y.data();
  assert.ok(v.every((p) => p > 0 && p < 1), 'sigmoid output in (0, 1)');
  tf.dispose([y]);
  r.dispose();
});

test('D maps 28×28×1 to one probability with the reference layer names and parameter count', async () => {
  await useTestBackend();
  const d = buildDiscriminator(DEFAULT_MODEL_CONFIG, 1);
  assert.deepEqual(d.outputs[0].shape, [null, 1]);
  // conv 16 (no BN); conv 32/64/128 + BN; dense 512 → 1.
  assert.equal(d.countParams(), 416 + (12832 + 128) + (51264 + 256) + (204928 + 512) + 513);
  for (const name of ['d_h0_conv', 'd_h1_conv', 'd_h2_conv', 'd_h3_conv', 'd_h3_lin']) assert.ok(d.getLayer(name));
  d.dispose();
});

test('the same seed builds the same weights; another seed does not', async () => {
  await useTestBackend();
  const [a, b, c] = [1, 1, 2].map((s) => buildReconstructor(DEFAULT_MODEL_CONFIG, s));
  const k = (m: tf.LayersModel) => m.getLayer('g_encoder_h0_conv').getWeights()[0].dataSync();
  assert.deepEqual(k(a), k(b));
  assert.notDeepEqual(k(a), k(c));
  [a, b, c].forEach((m) => m.dispose());
  // tfjs reads a seed of 0 as "unseeded": --seed 0 must still be reproducible.
  const [z1, z2] = [0, 0].map((s) => buildReconstructor(DEFAULT_MODEL_CONFIG, s));
  assert.deepEqual(k(z1), k(z2));
  [z1, z2].forEach((m) => m.dispose());
});

test('R returns its input\'s shape at every accepted size, grey and colour; D gives one probability', async () => {
  await useTestBackend();
  for (let s = MIN_INPUT_SIZE; s <= MAX_INPUT_SIZE; s++) {
    for (const channels of s % 7 === 0 ? [1, 3] : [s % 2 ? 3 : 1]) {
      const cfg = { ...DEFAULT_MODEL_CONFIG, inputSize: s, channels };
      const r = buildReconstructor(cfg, 1);
      const d = buildDiscriminator(cfg, 1);
      assert.deepEqual(r.outputs[0].shape, [null, s, s, channels], `R at ${s}×${s}×${channels}`);
      assert.deepEqual(d.outputs[0].shape, [null, 1], `D at ${s}×${s}×${channels}`);
      // Encoder: three stride-2 'same' convs, so the code is ⌈⌈⌈s/2⌉/2⌉/2⌉ on a side.
      let c = s;
      for (let i = 0; i < 3; i++) c = Math.ceil(c / 2);
      assert.deepEqual(r.getLayer('g_encoder_h2_conv').outputShape, [null, c, c, 128]);
      r.dispose();
      d.dispose();
    }
  }
});

test('R computes at odd, non-28 and colour sizes: 17×17×3, 30×30×1, 64×64×3', async () => {
  await useTestBackend();
  for (const [s, ch] of [[17, 3], [30, 1], [64, 3]]) {
    const r = buildReconstructor({ ...DEFAULT_MODEL_CONFIG, inputSize: s, channels: ch }, 1);
    const y = r.predict(tf.ones([2, s, s, ch])) as tf.Tensor;
    assert.deepEqual(y.shape, [2, s, s, ch]);
    assert.ok((await y.data()).every((p) => p > 0 && p < 1));
    y.dispose();
    r.dispose();
  }
});

test('at 28×28×1 R has no crop layers: the reference decoder exactly', async () => {
  await useTestBackend();
  const r = buildReconstructor(DEFAULT_MODEL_CONFIG, 1);
  assert.deepEqual(
    r.layers.map((l) => l.getClassName()).filter((c) => c !== 'InputLayer'),
    ['Conv2D', 'BatchNormalization', 'LeakyReLU', 'Conv2D', 'BatchNormalization', 'LeakyReLU', 'Conv2D', 'BatchNormalization', 'LeakyReLU',
      'Conv2D', 'UpSampling2D', 'Conv2D', 'UpSampling2D', 'Conv2D', 'UpSampling2D', 'Conv2D'],
  );
  r.dispose();
});
