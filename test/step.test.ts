import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { createNets } from '../src/run/checkpoint';
import { addNoise, discriminatorStep, reconstructorStep, trainBatch } from '../src/train/step';
import { strokeImages, useTestBackend } from './helpers/fixtures';

const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: 16 };
const snapshot = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const batch = () => tf.tensor4d(strokeImages(16), [16, 28, 28, 1]);

test("a D step changes D's weights and leaves every weight of R unchanged", async () => {
  await useTestBackend();
  const nets = createNets(DEFAULT_MODEL_CONFIG, cfg);
  const x = batch();
  const noisy = addNoise(x, cfg.noiseStd, 1);
  const r0 = snapshot(nets.r);
  const d0 = snapshot(nets.d);
  const { dLossReal, dLossFake } = discriminatorStep(nets, x, noisy, cfg);
  assert.deepEqual(snapshot(nets.r), r0, 'R (including BatchNorm statistics) unchanged');
  assert.notDeepEqual(snapshot(nets.d), d0, 'D trained');
  tf.dispose([x, noisy, dLossReal, dLossFake]);
});

test("an R step changes R's weights and leaves every weight of D unchanged, BatchNorm statistics included", async () => {
  await useTestBackend();
  const nets = createNets(DEFAULT_MODEL_CONFIG, cfg);
  const x = batch();
  const noisy = addNoise(x, cfg.noiseStd, 1);
  const r0 = snapshot(nets.r);
  const d0 = snapshot(nets.d);
  const losses = reconstructorStep(nets, x, noisy, cfg);
  assert.deepEqual(snapshot(nets.d), d0);
  assert.notDeepEqual(snapshot(nets.r), r0);
  const [g, rec, adv] = [losses.gLoss, losses.reconLoss, losses.advLoss].map((s) => s.dataSync()[0]);
  assert.ok(Math.abs(g - (cfg.rAlpha * rec + adv)) < 1e-4 * Math.max(1, g), 'g_loss = rAlpha·recon + adv');
  tf.dispose([x, noisy, losses.gLoss, losses.reconLoss, losses.advLoss]);
});

test('trainBatch returns finite losses and leaks no tensors from one step to the next', async () => {
  await useTestBackend();
  const nets = createNets(DEFAULT_MODEL_CONFIG, cfg);
  const x = batch();
  trainBatch(nets, x, cfg, 1); // the optimisers create their slots on the first step
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    const l = trainBatch(nets, x, cfg, 2 + i);
    for (const [k, v] of Object.entries(l)) assert.ok(Number.isFinite(v), `${k} finite`);
    assert.equal(tf.memory().numTensors, before, `no leak after step ${i + 2}`);
  }
  x.dispose();
});
