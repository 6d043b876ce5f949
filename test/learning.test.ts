// A learning smoke test: a short training run of digit 1 on a few hundred MNIST images, in-process, must separate
// held-out 1s from 0s, and the threshold it records must be the 95th percentile of its validation images' scores,
// recomputed here from the saved networks. A change that stops R or D from learning, or that calibrates the threshold
// on the wrong percentile, fails here and not only in a long evaluation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { Writable } from 'stream';
import * as tf from '@tensorflow/tfjs';
import { score } from '../src/commands/score';
import { ScoreResult } from '../src/api/verdicts';
import { train } from '../src/api/train';
import { builtInTrainingImages, floatsOf } from '../src/data/source';
import { openRun } from '../src/run/open';
import { runDirFor } from '../src/run/paths';
import { RunFile } from '../src/run/runfile';
import { scoreImages } from '../src/score/scorer';
import { splitTraining } from '../src/train/dataset';
import { writeTestDigits } from './helpers/cli';
import { tempDir } from './helpers/fixtures';

const work = tempDir('alocc-learning-');
const ckpt = path.join(work, 'ckpt');
/**
 * About 4 s of training on one core: 270 training images, 30 held out, 8 batches of 32 per epoch. R keeps training's
 * moving BatchNorm averages here: D(R(x)) reads R's reconstructions as D was trained against them (with the clean
 * pictures' statistics, the default, R reconstructs differently at inference and D(R(x)) fell to 0.68 here).
 */
const SETTINGS = { data: { source: 'mnist' as const, class: 1 }, epochs: 2, limit: 300, batchSize: 32, seed: 42, batchNormStatistics: 'moving' as const };
const TEST_IMAGES = 100;
const quiet = () => new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream;
let run: RunFile;

before(async () => {
  ({ run } = await train({ ...SETTINGS, checkpointDir: ckpt, backend: 'wasm' }));
});

/** P(a novel image scores above a normal one), ties one half: the AUROC by its definition, pair by pair. */
function pairwiseAuroc(novel: number[], normal: number[]): number {
  let wins = 0;
  for (const a of novel) for (const b of normal) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (novel.length * normal.length);
}

test('after two short epochs, held-out 1s and 0s are told apart by the verdict score, R and D', async () => {
  const files = {
    ones: writeTestDigits(path.join(work, 'png'), 1, TEST_IMAGES, 'one'),
    zeros: writeTestDigits(path.join(work, 'png'), 0, TEST_IMAGES, 'zero'),
  };
  const rows = new Map<string, ScoreResult>();
  const out = new Writable({
    write(chunk, _e, done) {
      for (const line of chunk.toString().trim().split('\n')) {
        const r = JSON.parse(line) as ScoreResult;
        rows.set(r.file, r);
      }
      done();
    },
  });
  await score({ paths: [...files.ones, ...files.zeros], checkpointDir: ckpt, invert: 'auto', json: true, details: true, backend: 'wasm', out, log: quiet() });
  const ones = files.ones.map((f) => rows.get(f)!);
  const zeros = files.zeros.map((f) => rows.get(f)!);
  const separation = (value: (r: ScoreResult) => number) => pairwiseAuroc(zeros.map(value), ones.map(value));
  // Measured at these settings: 1.000, 0.9996 and 0.989; 87 of 100 1s normal, 100 of 100 0s novel. Untrained
  // networks: 1.000 (the knn needs little learning), 0.15 and 0.62, so R's and D's numbers are what show learning.
  const verdictScore = separation((r) => r.novelty);
  const reconstruction = separation((r) => r.reconstructionLoss!);
  const discriminator = separation((r) => -r.dOfReconstruction!);
  assert.ok(verdictScore > 0.97, `AUROC of the verdict score (${run.config.train.noveltyScore}) ${verdictScore}`);
  assert.ok(reconstruction > 0.95, `AUROC of R's reconstruction loss ${reconstruction}: R learned to reconstruct 1s`);
  assert.ok(discriminator > 0.9, `AUROC of D(R(x)) ${discriminator}: D learned what a reconstructed 1 looks like`);
  // The verdicts themselves: the threshold (95th percentile of the validation 1s) passes most 1s and no 0.
  const normalOnes = ones.filter((r) => r.verdict === 'normal').length;
  const novelZeros = zeros.filter((r) => r.verdict === 'novel').length;
  assert.ok(normalOnes >= 70, `${normalOnes} of ${TEST_IMAGES} test 1s normal`);
  assert.ok(novelZeros >= 90, `${novelZeros} of ${TEST_IMAGES} test 0s novel`);
});

/** numpy's default percentile, written out: sort, then interpolate linearly at position p/100·(n − 1). */
function numpyPercentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (pos - lo) : s[lo];
}

test("each epoch's recorded thresholds are the 95th percentile of its validation images' scores", () => {
  assert.equal(run.config.train.thresholdPercentile, 95);
  const runDir = runDirFor(ckpt, 'digit-1');
  const { validation } = splitTraining(builtInTrainingImages(run.config.data), run.config.train);
  const n = validation.count;
  assert.equal(n, 30);
  assert.equal(run.validationImages, n);
  const pixels = floatsOf(validation);
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-4 * Math.abs(b), `${what}: recorded ${a}, recomputed ${b}`);
  for (const record of run.epochs) {
    const opened = openRun(runDir, { epoch: record.epoch });
    const x = tf.tensor4d(pixels, [n, 28, 28, 1]);
    const y = opened.r.predict(x) as tf.Tensor;
    const rec = y.dataSync();
    tf.dispose([x, y]);
    // Per image, by hand: BCE(R(x), x) with Keras' clipping, and the mean squared error.
    const bce: number[] = [];
    const mse: number[] = [];
    for (let i = 0; i < n; i++) {
      let b = 0, m = 0;
      for (let p = i * 784; p < (i + 1) * 784; p++) {
        const q = Math.min(1 - 1e-7, Math.max(1e-7, rec[p]));
        const t = pixels[p];
        b -= t * Math.log(q) + (1 - t) * Math.log(1 - q);
        m += (rec[p] - t) ** 2;
      }
      bce.push(b / 784);
      mse.push(m / 784);
    }
    // The knn distances from the product against the epoch's stored memory (checked against brute force in
    // feature-memory.test.ts), the percentile here.
    const knn = Array.from(scoreImages(opened, pixels, n, { size: 28, channels: 1 }).novelty.knn);
    opened.dispose();

    const v = record.validation;
    close(v.bce.threshold, numpyPercentile(bce, 95), `epoch ${record.epoch} bce threshold`);
    close(v.mse.threshold, numpyPercentile(mse, 95), `epoch ${record.epoch} mse threshold`);
    close(v.knn.threshold, numpyPercentile(knn, 95), `epoch ${record.epoch} knn threshold`);
    close(v.bce.mean, bce.reduce((a, b) => a + b) / n, `epoch ${record.epoch} bce mean`);
    // The verdict's threshold is the run's own score's.
    assert.equal(record.threshold, v[run.config.train.noveltyScore]!.threshold);
  }
});

test("the default run's BatchNorm statistics are those of its clean stored training pictures, set after each epoch", async () => {
  // R's first BatchNorm normalises its conv's output: its saved moving mean and variance must be that output's
  // per-channel moments over the run's stored training pictures (memory-images.bin), computed here in plain loops. With
  // training's moving averages (the 'moving' setting) they would describe R's noisy inputs instead.
  const dir = path.join(work, 'pictures');
  const { run: made } = await train({ ...SETTINGS, batchNormStatistics: undefined, epochs: 1, limit: 200, checkpointDir: dir, backend: 'wasm' });
  assert.equal(made.config.train.batchNormStatistics, 'pictures');
  const opened = openRun(runDirFor(dir, 'digit-1'), { epoch: 1 });
  try {
    const pictures = opened.memoryImages();
    const conv = opened.r.getLayer('g_encoder_h0_conv');
    const [, , movingMean, movingVar] = opened.r.getLayer('g_encoder_h0_conv_bn').getWeights().map((w) => Array.from(w.dataSync()));
    const y = tf.tidy(() => (conv.apply(tf.tensor4d(floatsOf(pictures), [pictures.count, 28, 28, 1])) as tf.Tensor4D).reshape([-1, movingMean.length]).arraySync() as number[][]);
    for (let c = 0; c < movingMean.length; c++) {
      const v = y.map((row) => row[c]);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
      assert.ok(Math.abs(movingMean[c] - mean) < 1e-4 + 1e-4 * Math.abs(mean), `channel ${c}: mean ${movingMean[c]} vs ${mean}`);
      assert.ok(Math.abs(movingVar[c] - variance) < 1e-4 + 1e-3 * variance, `channel ${c}: variance ${movingVar[c]} vs ${variance}`);
    }
  } finally {
    opened.dispose();
  }
});
