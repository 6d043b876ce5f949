import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, TrainConfig } from '../src/config';
import { allTurns, buildRotationNet, quarterTurn, rotationShrink } from '../src/models/rotation-net';
import { createNets } from '../src/train/nets';
import { rotationStep, rotationTraining } from '../src/train/rotation-step';
import { combinedNovelty, rotationAccuracy, rotationNovelty, scaleOf } from '../src/score/rotation-score';
import { strokeImages, useTestBackend } from './helpers/fixtures';
import { flipShift, maxShift } from '../src/train/rotation-augment';
import { RunRequest, runConfigFor, settleRotationNet } from '../src/run/start';
import { UsageError } from '../src/errors';

const cfg = { ...DEFAULT_TRAIN_CONFIG, rotationPasses: 1 };
const snapshot = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

/** Brute force: the picture p (side s, c channels, HWC) turned k quarter turns anticlockwise, pixel by pixel. */
function turnByHand(p: number[], s: number, c: number, k: number): number[] {
  let cur = p;
  for (let t = 0; t < k; t++) {
    const next = new Array(cur.length);
    // numpy's rot90: out[i][j] = in[j][s − 1 − i].
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) for (let ch = 0; ch < c; ch++) next[(i * s + j) * c + ch] = cur[(j * s + (s - 1 - i)) * c + ch];
    cur = next;
  }
  return cur;
}

test('a quarter turn moves every pixel where numpy.rot90 puts it, four turns give the picture back', async () => {
  await useTestBackend();
  const s = 3, c = 2;
  const p = Array.from({ length: s * s * c }, (_, i) => i);
  const x = tf.tensor4d(p, [1, s, s, c]);
  // By hand for k = 1, one channel: [[0 1 2] [3 4 5] [6 7 8]] → [[2 5 8] [1 4 7] [0 3 6]].
  const one = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 3, 3, 1]);
  assert.deepEqual(Array.from(quarterTurn(one, 1).dataSync()), [2, 5, 8, 1, 4, 7, 0, 3, 6]);
  for (let k = 0; k < 5; k++) assert.deepEqual(Array.from(quarterTurn(x, k).dataSync()), turnByHand(p, s, c, k % 4), `k = ${k}`);
  const { turned, turns } = allTurns(x);
  assert.deepEqual(turned.shape, [4, s, s, c]);
  assert.deepEqual(Array.from(turns.dataSync()), [0, 1, 2, 3]);
  assert.deepEqual(Array.from(turned.slice([2, 0, 0, 0], [1, s, s, c]).dataSync()), turnByHand(p, s, c, 2));
  tf.dispose([x, one, turned, turns]);
});

test('the rotation net takes the run\'s shape, shrunk to at most 32×32, and gives 4 logits', async () => {
  await useTestBackend();
  assert.deepEqual([16, 28, 32, 33, 64, 65, 256].map(rotationShrink), [1, 1, 1, 2, 2, 3, 8]);
  for (const [size, channels] of [[28, 1], [64, 3], [17, 3]] as const) {
    const net = buildRotationNet({ ...DEFAULT_MODEL_CONFIG, inputSize: size, channels }, 1);
    const y = net.predict(tf.zeros([2, size, size, channels])) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 4]);
    tf.dispose([y]);
    net.dispose();
  }
});

test('a rotation step trains the rotation net only, returns plain numbers and leaks no tensors', async () => {
  await useTestBackend();
  const nets = createNets(DEFAULT_MODEL_CONFIG, cfg);
  assert.ok(nets.rotation, 'rotationPasses > 0 builds the net');
  assert.equal(createNets(DEFAULT_MODEL_CONFIG, { ...DEFAULT_TRAIN_CONFIG, rotationPasses: 0 }).rotation, undefined, 'rotationPasses 0 builds none');
  const x = tf.tensor4d(strokeImages(8), [8, 28, 28, 1]);
  const [r0, d0, q0] = [snapshot(nets.r), snapshot(nets.d), snapshot(nets.rotation!.net)];
  // The loss and accuracy it returns are those of the logits before its update, by hand (training mode: batch statistics).
  const { turned, turns } = allTurns(x);
  const logits = (nets.rotation!.net.apply(turned, { training: true }) as tf.Tensor2D).arraySync();
  const labels = Array.from(turns.dataSync());
  let ce = 0, right = 0;
  logits.forEach((row, i) => {
    const top = Math.max(...row);
    ce += top + Math.log(row.reduce((a, v) => a + Math.exp(v - top), 0)) - row[labels[i]];
    if (row.indexOf(top) === labels[i]) right++;
  });
  tf.dispose([turned, turns]);
  const q1 = snapshot(nets.rotation!.net).slice(0, 2); // the BatchNorm pass above moved only moving statistics
  const first = rotationStep(nets.rotation!, x); // Adam makes its slots on the first step
  assert.ok(Math.abs(first.rotationLoss - ce / logits.length) < 1e-4, `loss ${first.rotationLoss} vs ${ce / logits.length} by hand`);
  assert.equal(first.rotationAccuracy, right / logits.length);
  assert.notDeepEqual(snapshot(nets.rotation!.net).slice(0, 2), q1, 'the step moved the first conv');
  assert.deepEqual(snapshot(nets.r), r0);
  assert.deepEqual(snapshot(nets.d), d0);
  assert.notDeepEqual(snapshot(nets.rotation!.net), q0);
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 30; i++) last = rotationStep(nets.rotation!, x);
  assert.equal(tf.memory().numTensors, before, 'no tensor left by 30 steps');
  // Strokes have an orientation: 30 steps on the same 8 pictures learn their turns.
  assert.ok(last.rotationLoss < first.rotationLoss / 2, `loss ${first.rotationLoss} → ${last.rotationLoss}`);
  x.dispose();
});

test('the rotation score is −mean log p(the applied turn), as a second computation from the logits gives', async () => {
  await useTestBackend();
  const net = buildRotationNet(DEFAULT_MODEL_CONFIG, 3);
  const rot = rotationTraining(net, cfg);
  const pixels = strokeImages(6);
  const x = tf.tensor4d(pixels, [6, 28, 28, 1]);
  for (let i = 0; i < 5; i++) rotationStep(rot, x); // moving statistics and weights away from their start
  const got = rotationNovelty(net, pixels, 6, 28, 1, 4); // batches of 4: the batching must not matter
  let right = 0;
  for (let i = 0; i < 6; i++) {
    let sum = 0;
    const p = Array.from({ length: 784 }, (_, j) => pixels[i * 784 + j]);
    for (let k = 0; k < 4; k++) {
      const logits = Array.from((net.predict(tf.tensor4d(turnByHand(p, 28, 1, k), [1, 28, 28, 1])) as tf.Tensor).dataSync());
      const top = Math.max(...logits);
      const logZ = top + Math.log(logits.reduce((a, v) => a + Math.exp(v - top), 0));
      sum += logits[k] - logZ;
      if (logits.indexOf(top) === k) right++;
    }
    assert.ok(Math.abs(got[i] - -sum / 4) < 1e-4, `picture ${i}: ${got[i]} vs ${-sum / 4}`);
  }
  assert.ok(Math.abs(rotationAccuracy(net, pixels, 6, 28, 1, 4) - right / 24) < 1e-9);
  x.dispose();
  rot.optimizer.dispose();
  net.dispose();
});

test('the combined score sums each part standardised by its validation mean and sd', () => {
  const s = scaleOf([1, 2, 3, 6]); // mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5
  assert.equal(s.mean, 3);
  assert.ok(Math.abs(s.sd - Math.sqrt(3.5)) < 1e-12);
  assert.ok(scaleOf([2, 2]).sd > 0, 'a constant score keeps a positive sd');
  const scales = { knn: { mean: 0.5, sd: 0.1 }, rotation: { mean: 1, sd: 2 }, rotationCap: null };
  const got = combinedNovelty([0.5, 0.7, 0.3, 0.5], [1, 5, -1, 11], scales);
  // (0.5 − 0.5)/0.1 + (1 − 1)/2 = 0; (0.7 − 0.5)/0.1 + (5 − 1)/2 = 2 + 2; (0.3 − 0.5)/0.1 + (−1 − 1)/2 = −2 − 1;
  // 0 + (11 − 1)/2 = 5.
  assert.deepEqual(Array.from(got).map((v) => +v.toFixed(5)), [0, 4, -3, 5]);
  // Capped at 1.5 sds, the rotation part adds at most 1.5; below the cap nothing changes; the knn part is never capped.
  const capped = combinedNovelty([0.5, 0.7, 0.3, 0.5, 1.5], [1, 5, -1, 11, 1], { ...scales, rotationCap: 1.5 });
  assert.deepEqual(Array.from(capped).map((v) => +v.toFixed(5)), [0, 3.5, -3, 1.5, 10]);
});

test('flip-shift mirrors and shifts each picture exactly as drawn, the border reflected in', async () => {
  await useTestBackend();
  const s = 16;
  const m = maxShift(s);
  assert.equal(m, 2);
  const x = tf.tensor4d(Array.from({ length: 2 * s * s * 2 }, (_, i) => i), [2, s, s, 2]);
  // Picture 0: not mirrored (0.9), shifted by (m, m), the middle of 0 … 2m: itself. Picture 1: mirrored (0.1), its
  // crop starting at row 0 and column 2m of the padded picture.
  const draws = [0.9, 0.5, 0.5, 0.1, 0, 1 - 1e-9];
  let k = 0;
  const y = flipShift(x, () => draws[k++]).arraySync();
  const xa = x.arraySync();
  const reflect = (t: number) => (t < 0 ? -t : t >= s ? 2 * (s - 1) - t : t);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < s; j++) {
      for (let c = 0; c < 2; c++) {
        assert.ok(Math.abs(y[0][i][j][c] - xa[0][i][j][c]) < 1e-3, `picture 0 at ${i},${j}`);
        const want = xa[1][reflect(i - m)][s - 1 - reflect(j + m)][c];
        assert.ok(Math.abs(y[1][i][j][c] - want) < 1e-3, `picture 1 at ${i},${j}: ${y[1][i][j][c]} vs ${want}`);
      }
    }
  }
  x.dispose();
});

test('the one label-free rule: a new run that names no score gets knnRotation and the rotation net, grey or colour; another score gets no rotation net', () => {
  const data = { source: 'mnist' as const, class: 3, folder: null };
  const settle = (req: Partial<RunRequest>) => runConfigFor({ data: { source: 'mnist', class: 3 }, checkpointDir: 'x', ...req }, data, undefined).train;
  const mnist = settle({});
  assert.deepEqual([mnist.noveltyScore, mnist.rotationPasses], ['knnRotation', 2]);
  const folder = runConfigFor({ data: { source: 'folder', folder: '/p' }, checkpointDir: 'x', channels: 3 }, { source: 'folder', class: null, folder: '/p' }, undefined).train;
  assert.deepEqual([folder.noveltyScore, folder.rotationPasses], ['knnRotation', 2]);
  // Another score has no use for the net unless --rotation-passes is typed.
  assert.deepEqual(Object.values(pick(settle({ noveltyScore: 'knn' }))), ['knn', 0]);
  assert.deepEqual(Object.values(pick(settle({ noveltyScore: 'knn', rotationPasses: 1 }))), ['knn', 1]);
  assert.deepEqual(Object.values(pick(settle({ noveltyScore: 'knnRotation', rotationPasses: 3 }))), ['knnRotation', 3]);
  const train = { ...DEFAULT_TRAIN_CONFIG, noveltyScore: 'kl' as const };
  settleRotationNet(train, {});
  assert.equal(train.rotationPasses, 0);
  assert.throws(
    () => runConfigFor({ data: { source: 'mnist' }, checkpointDir: 'x', noveltyScore: 'rotation', rotationPasses: 0 }, { source: 'mnist', class: 1, folder: null }, undefined),
    (err: Error) => err instanceof UsageError && /--score rotation needs the rotation net; give --rotation-passes 1 or more/.test(err.message),
  );
  // A resumed run keeps the verdict and the rotation net it was trained with.
  const saved = { ...runConfigFor({ data: { source: 'mnist' }, checkpointDir: 'x' }, data, undefined), train: { ...DEFAULT_TRAIN_CONFIG, noveltyScore: 'kl' as const, rotationPasses: 1 } };
  const resumed = runConfigFor({ data: { source: 'mnist' }, checkpointDir: 'x', resume: true }, data, saved).train;
  assert.deepEqual([resumed.noveltyScore, resumed.rotationPasses], ['kl', 1]);
});
const pick = (t: TrainConfig) => ({ noveltyScore: t.noveltyScore, rotationPasses: t.rotationPasses });
