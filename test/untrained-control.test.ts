import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir, useCpuBackend } from './helpers/fixtures';
import { builtInTestSet, LabelledSet } from '../src/data/source';
import { evaluate } from '../src/eval/evaluate';
import { setBatchNormStatistics } from '../src/models/batchnorm-statistics';
import { openRun } from '../src/run/open';
import { runDirFor } from '../src/run/paths';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';

let dir: string;
let testSet: LabelledSet;

before(async () => {
  await useCpuBackend();
  dir = tempDir('alocc-untrained-');
  const all = builtInTestSet({ source: 'mnist', class: 4, folder: null });
  testSet = { ...all, pixels: all.pixels.subarray(0, 200 * 784), count: 200, isNovel: all.isNovel.subarray(0, 200), labels: all.labels!.subarray(0, 200) };
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('setBatchNormStatistics: in inference mode every BatchNorm layer then normalises its input over the images to mean beta, sd gamma', () => {
  const input = tf.input({ shape: [8, 8, 2] });
  const c1 = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), biasInitializer: 'ones' }).apply(input) as tf.SymbolicTensor;
  const bn1 = tf.layers.batchNormalization({}).apply(c1) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(tf.layers.leakyReLU({}).apply(bn1) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const bn2 = tf.layers.batchNormalization({}).apply(c2) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [bn1, bn2] });
  const images = tf.randomUniform([10, 8, 8, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
  // Two batches, so the statistics must be pooled over batches, not taken from the last one.
  const batches = () => [images.slice([0], [4]) as tf.Tensor4D, images.slice([4], [6]) as tf.Tensor4D];
  assert.equal(setBatchNormStatistics(model, batches), 2);
  // Each layer's moving statistics are the moments of its input over all ten images, that input made by the layers
  // before it in inference mode (with their statistics already set): so the first layer's outputs over the images
  // have mean beta (0) and variance gamma² (1) shrunk by epsilon, v / (v + 1e-3).
  const outs = model.predict(images) as tf.Tensor4D[];
  model.layers.filter((l) => l.getClassName() === 'BatchNormalization').forEach((layer, i) => {
    const [, , movingMean, movingVar] = layer.getWeights().map((w) => Array.from(w.dataSync()));
    const input = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor }).predict(images) as tf.Tensor4D;
    const c = input.shape[3];
    const rows = input.reshape([-1, c]).arraySync() as number[][];
    for (let ch = 0; ch < c; ch++) {
      const v = rows.map((r) => r[ch]);
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const variance = v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
      assert.ok(Math.abs(movingMean[ch] - m) < 1e-4 * Math.max(1, Math.abs(m)), `layer ${i} channel ${ch}: mean ${movingMean[ch]} vs ${m}`);
      assert.ok(Math.abs(movingVar[ch] - variance) < 1e-3 * Math.max(1e-3, variance), `layer ${i} channel ${ch}: variance ${movingVar[ch]} vs ${variance}`);
      const out = (outs[i].reshape([-1, c]).arraySync() as number[][]).map((r) => r[ch]);
      const om = out.reduce((a, b) => a + b, 0) / out.length;
      const ov = out.reduce((a, b) => a + (b - om) ** 2, 0) / out.length;
      assert.ok(Math.abs(om) < 1e-3 && Math.abs(ov - variance / (variance + 1e-3)) < 1e-3, `layer ${i} channel ${ch}: output mean ${om}, variance ${ov}`);
    }
    input.dispose();
  });
  tf.dispose([...outs, images]);
  model.dispose();
});

test("evaluate's untrained control is the verdict itself for a run whose networks never trained", async () => {
  // A run left at its initial weights, BatchNorm from the training images and every training image in the memory:
  // exactly what the control rebuilds from the run's seed, so the two rows must agree image by image (up to the run's
  // half-precision bank). A control built from another seed, without the BatchNorm statistics, or over other
  // memory images would not.
  await makeFakeRun(dir, 4, { model: SMALL_MODEL, settings: { memoryCoreset: 0 }, batchNormFromTraining: true });
  const opened = openRun(runDirFor(dir, 'digit-4'));
  try {
    const { report, values } = evaluate(opened, testSet, { seed: 1, draws: 2, testSource: 'test' });
    let worst = 0;
    for (let i = 0; i < testSet.count; i++) worst = Math.max(worst, Math.abs(values.knn[i] - values.untrainedKnn[i]));
    assert.ok(worst < 2e-3, `largest difference ${worst}`);
    const row = (name: string) => report.scores.find((s) => s.name === name)!;
    assert.equal(row('untrainedKnn').label, 'verdict, untrained nets (control)');
    assert.ok(Math.abs(row('untrainedKnn').auroc - row('knn').auroc) < 0.01);
  } finally {
    opened.dispose();
  }
});

test("evaluate's untrained control differs from a verdict whose networks did change", async () => {
  // The same run, but its BatchNorm statistics left at their initial values: the control takes them from the training
  // pictures, so its distances must move away from the verdict's.
  const other = path.join(dir, 'other');
  await makeFakeRun(other, 4, { model: SMALL_MODEL, settings: { memoryCoreset: 0 } });
  const opened = openRun(runDirFor(other, 'digit-4'));
  try {
    const { values } = evaluate(opened, testSet, { seed: 1, draws: 2, testSource: 'test' });
    let worst = 0;
    for (let i = 0; i < testSet.count; i++) worst = Math.max(worst, Math.abs(values.knn[i] - values.untrainedKnn[i]));
    assert.ok(worst > 0.01, `largest difference ${worst}`);
  } finally {
    opened.dispose();
  }
});
