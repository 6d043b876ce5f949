import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { createNets } from '../src/train/nets';
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

/** D's mean output on `x` in training mode (batch statistics, as its steps see the batch), and BCE against 1 and 0. */
function dOn(d: tf.LayersModel, x: tf.Tensor4D): { mean: number; lossAsReal: number; lossAsFake: number } {
  const p = tf.tidy(() => d.apply(x, { training: true }) as tf.Tensor).dataSync();
  const clip = (v: number) => Math.min(1 - 1e-7, Math.max(1e-7, v));
  let mean = 0, lossAsReal = 0, lossAsFake = 0;
  for (const v of p) {
    mean += v / p.length;
    lossAsReal -= Math.log(clip(v)) / p.length;
    lossAsFake -= Math.log(1 - clip(v)) / p.length;
  }
  return { mean, lossAsReal, lossAsFake };
}

test('D learns the right way round on a fixed batch: its losses fall and D(x) ends above D(R(x̃)) for real images', async () => {
  await useTestBackend();
  for (const bce of ['logits', 'clipped'] as const) {
    const c = { ...cfg, bce };
    const nets = createNets(DEFAULT_MODEL_CONFIG, c);
    const x = batch();
    const noisy = addNoise(x, c.noiseStd, 1);
    const fake = nets.r.predict(noisy) as tf.Tensor4D;
    // Measured by the test itself: real images should read as 1, R's reconstructions as 0.
    const loss = () => dOn(nets.d, x).lossAsReal + dOn(nets.d, fake).lossAsFake;
    const start = loss();
    const reported: number[] = [];
    for (let i = 0; i < 6; i++) {
      const l = discriminatorStep(nets, x, noisy, c);
      reported.push(l.dLossReal.dataSync()[0] + l.dLossFake.dataSync()[0]);
      tf.dispose([l.dLossReal, l.dLossFake]);
    }
    const end = loss();
    assert.ok(end < 0.8 * start, `${bce}: D's loss on real-as-1 and fake-as-0 fell from ${start} to ${end}`);
    assert.ok(reported[5] < reported[0], `${bce}: the losses D's steps report fell: ${reported.join(', ')}`);
    const real = dOn(nets.d, x).mean, recon = dOn(nets.d, fake).mean;
    assert.ok(real > recon + 0.2, `${bce}: D(x) ${real} ends above D(R(x̃)) ${recon}`);
    tf.dispose([x, noisy, fake]);
    nets.r.dispose();
    nets.d.dispose();
  }
});
