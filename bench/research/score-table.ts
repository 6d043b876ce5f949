/**
 * Research scratch (docs/research.md): trains each digit once (small), then for every epoch scores the first N test
 * images and the run's validation images with every candidate score, and writes one JSON per digit:
 *   <out>/digit-<d>.json = { digit, config, trainSeconds, epochs: [{ epoch, valMean: {score: mean over validation},
 *                            auroc: {score: AUROC on test} }] }
 * Usage: npx tsx bench/research/score-table.ts --out /tmp/research/base --digits 0,1,2 [--epochs 3 --limit 1500
 *        --test-limit 3000 --r-alpha 0.2 --lr 0.002 --noise-std 0.155 --seed 42]
 */
import * as fs from 'fs';
import * as path from 'path';
import { train } from '../../src/api/train';
import { loadMnist } from '../../test/helpers/mnist';
import { auroc } from '../../src/eval/metrics';
import { builtInTrainingImages, floatsOf } from '../../src/data/source';
import { loadEpochModels } from '../../src/run/checkpoint';
import { runDirFor } from '../../src/run/paths';
import { splitTraining } from '../../src/train/dataset';
import { scoreImages } from '../../src/score/scorer';
import { readRunFileIfExists } from '../../src/run/runfile-io';
import { addNoise } from '../../src/train/step';
import { selectBackend } from '../../src/backend';
import * as tf from '@tensorflow/tfjs';
import { recalibrateBatchNorm } from './bn-recalibration';
import { scoreVariants } from './score-variants';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const out = arg('out', '/tmp/research/base');
const digits = arg('digits', '0,1,2,3,4,5,6,7,8,9').split(',').map(Number);
const epochs = Number(arg('epochs', '3'));
const limit = Number(arg('limit', '1500'));
const testLimit = Number(arg('test-limit', '3000'));
/** Reuse an existing run in <out>/ckpt instead of training (re-scoring only). */
const scoreOnly = process.argv.includes('--score-only');
const recipe = {
  rAlpha: Number(arg('r-alpha', '0.2')),
  learningRate: Number(arg('lr', '0.002')),
  noiseStd: Number(arg('noise-std', '0.155')),
  seed: Number(arg('seed', '42')),
  batchSize: Number(arg('batch-size', '128')),
};

/** Mean percentile of each image among the reference values of each listed score (ties 1/2). */
function rankMix(test: Float64Array[], ref: Float64Array[]): Float64Array {
  const sorted = ref.map((r) => r.slice().sort());
  const pct = (s: Float64Array, v: number) => {
    let below = 0, equal = 0;
    for (const x of s) (x < v ? below++ : x === v ? equal++ : 0);
    return (below + equal / 2) / s.length;
  };
  return test[0].map((_, i) => test.reduce((acc, t, k) => acc + pct(sorted[k], t[i]), 0) / test.length);
}

function allScores(nets: { r: any; d: any }, pixels: Float32Array, count: number): Record<string, Float64Array> {
  const rec = new Float32Array(count * 784);
  const base = scoreImages(nets, pixels, count, { size: 28, channels: 1 }, 64, rec);
  const variants = scoreVariants(pixels, rec, count);
  return { ...variants, negDOfR: Float64Array.from(base.dOfR, (v) => -v), negDOfX: Float64Array.from(base.dOfX, (v) => -v) };
}

async function main() {
  fs.mkdirSync(out, { recursive: true });
  const test = loadMnist('test');
  const images = test.images.subarray(0, testLimit * 784);
  for (const digit of digits) {
    const started = Date.now();
    const ckpt = path.join(out, 'ckpt');
    const existing = scoreOnly ? readRunFileIfExists(runDirFor(ckpt, `digit-${digit}`)) : null;
    if (existing) await selectBackend('wasm');
    const run = existing ?? (await train({ data: { source: 'mnist', class: digit }, epochs, limit, checkpointDir: ckpt, backend: 'wasm', overwrite: true, ...recipe })).run;
    const trainSeconds = (Date.now() - started) / 1000;
    const isNovel = Uint8Array.from(test.labels.subarray(0, testLimit), (l) => (l === digit ? 0 : 1));
    const { validation, train: trainSet } = splitTraining(builtInTrainingImages(run.config.data), run.config.train);
    const validationPixels = floatsOf(validation);
    const recalCount = Math.min(1000, trainSet.count);
    const recalPixels = floatsOf(trainSet, 0, recalCount);
    const rows = [];
    for (const e of run.epochs) {
      const nets = loadEpochModels(runDirFor(ckpt, `digit-${digit}`), run, e.epoch);
      const t = allScores(nets, images, testLimit);
      const v = allScores(nets, validationPixels, validation.count);
      // Same nets with BatchNorm statistics recomputed on training images (R: noisy, as trained; D: real + R's output).
      tf.tidy(() => {
        const x = tf.tensor4d(recalPixels, [recalCount, 28, 28, 1]);
        recalibrateBatchNorm(nets.r, addNoise(x, run.config.train.noiseStd, 12345));
        recalibrateBatchNorm(nets.d, tf.concat([x, nets.r.predict(x) as tf.Tensor4D]));
      });
      const tr = allScores(nets, images, testLimit);
      const vr = allScores(nets, validationPixels, validation.count);
      for (const k of Object.keys(tr)) {
        t[`${k}@recal`] = tr[k];
        v[`${k}@recal`] = vr[k];
      }
      for (const name of ['bce', 'kl', 'mse', 'inkNorm', 'local7', 'bce@recal', 'kl@recal', 'mse@recal']) {
        const d = name.endsWith('@recal') ? 'negDOfR@recal' : 'negDOfR';
        t[`rank:${name}+D`] = rankMix([t[name], t[d]], [v[name], v[d]]);
        v[`rank:${name}+D`] = rankMix([v[name], v[d]], [v[name], v[d]]);
      }
      const valMean: Record<string, number> = {}, valSd: Record<string, number> = {}, au: Record<string, number> = {};
      for (const name of Object.keys(t)) {
        const m = v[name].reduce((a, b) => a + b, 0) / v[name].length;
        valMean[name] = m;
        valSd[name] = Math.sqrt(v[name].reduce((a, b) => a + (b - m) ** 2, 0) / v[name].length);
        au[name] = auroc(t[name], isNovel);
      }
      rows.push({ epoch: e.epoch, valReconLoss: e.valReconLoss, mean: e.mean, valMean, valSd, auroc: au });
      nets.r.dispose();
      nets.d.dispose();
    }
    const result = { digit, recipe, epochs, limit, testLimit, trainSeconds, totalSeconds: (Date.now() - started) / 1000, rows };
    fs.writeFileSync(path.join(out, `digit-${digit}.json`), JSON.stringify(result, null, 1));
    const last = rows[rows.length - 1].auroc;
    console.log(`digit ${digit}: ${result.totalSeconds.toFixed(0)} s; last epoch ` +
      Object.entries(last).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', '));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
