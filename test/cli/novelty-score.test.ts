// The run's novelty score (--score, --preset): what the threshold, the best epoch and the verdicts of score and
// eval are computed on, and how old runs (made before the option) are read.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, PRESETS } from '../../src/config';
import { score } from '../../src/commands/score';
import { ScoreResult } from '../../src/api/verdicts';
import { inkNormalisedError, klError, mseError } from '../../src/score/pair-scores';
import { scoreImages } from '../../src/score/scorer';
import { createNets } from '../../src/train/nets';
import { runDirFor } from '../../src/run/paths';
import { EpochRecord, pickBestEpoch, runFileProblem } from '../../src/run/runfile';
import { readRunFile, writeRunFile } from '../../src/run/runfile-io';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';
import { readIdx } from '../helpers/mnist-idx';
import { alocc, CLI, writeTestDigits } from '../helpers/cli';


before(async () => {
  await tf.setBackend('cpu');
});

test('scoreImages gives every novelty score, equal to the per-pixel definitions', () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, DEFAULT_TRAIN_CONFIG);
  const { images } = readIdx('test', 5);
  const rec = new Float32Array(5 * 784);
  const s = scoreImages(nets, images.subarray(0, 5 * 784), 5, { size: 28, channels: 1 }, 2, rec);
  assert.equal(s.novelty.bce, s.reconLoss);
  for (let i = 0; i < 5; i++) {
    const x = images.subarray(i * 784, (i + 1) * 784), r = rec.subarray(i * 784, (i + 1) * 784);
    assert.ok(Math.abs(s.novelty.ink[i] - inkNormalisedError(x, r)) < 1e-6);
    assert.ok(Math.abs(s.novelty.kl[i] - klError(x, r)) < 1e-6);
    assert.ok(Math.abs(s.novelty.mse[i] - mseError(x, r)) < 1e-6);
  }
  nets.r.dispose();
  nets.d.dispose();
});

function epoch(n: number, bce: number, ink: number): EpochRecord {
  const v = (mean: number) => ({ mean, threshold: mean * 2 });
  return {
    epoch: n, mean: { dLossReal: 1, dLossFake: 1, gLoss: 1, reconLoss: 1, advLoss: 1 }, valReconLoss: bce, threshold: ink * 2,
    validation: { bce: v(bce), kl: v(bce), mse: v(bce), ink: v(ink), knn: v(ink) }, wallSeconds: 1, imagesPerSecond: 1, memory: { images: 1, features: 1 }, checksums: {},
  };
}

test('the best epoch is the one R reconstructs validation images best at, whichever score the verdict uses', () => {
  const epochs = [epoch(1, 0.1, 0.9), epoch(2, 0.3, 0.5), epoch(3, 0.2, 0.7)].map((e) => ({ ...e, valReconLoss: e.validation.bce.mean }));
  assert.equal(pickBestEpoch(epochs), 1);
  assert.equal(pickBestEpoch([]), null);
});

test('an unknown score, a broken validation record or a bad neighbour count is refused', async () => {
  const dir = tempDir();
  const run = await makeFakeRun(dir, 4, { model: SMALL_MODEL, score: 'bce' });
  assert.match(runFileProblem({ ...run, config: { ...run.config, train: { ...run.config.train, noveltyScore: 'psnr' as never } } })!, /noveltyScore "psnr" is not one of bce, kl, mse, ink/);
  const broken = JSON.parse(JSON.stringify(run));
  broken.epochs[0].validation.ink = { mean: 'x' };
  assert.match(runFileProblem(broken)!, /validation scores are not a mean and threshold for each of bce, kl, mse, ink, knn/);
  const noKnn = JSON.parse(JSON.stringify(run));
  delete noKnn.epochs[0].validation.knn;
  assert.match(runFileProblem(noKnn)!, /validation scores are not a mean and threshold/);
  assert.match(runFileProblem({ ...run, config: { ...run.config, train: { ...run.config.train, neighbours: 0 } } })!, /neighbours is not a whole number from 1 to 1000/);
});

test('score decides with the run\'s own score and says which', async () => {
  const dir = tempDir();
  const files = writeTestDigits(path.join(dir, 'png'), 4, 6);
  for (const name of ['bce', 'ink'] as const) {
    const ckpt = path.join(dir, name);
    const run = await makeFakeRun(ckpt, 4, { model: SMALL_MODEL, score: name });
    const lines: string[] = [];
    const out = { write: (s: string) => lines.push(...s.trim().split('\n')) } as unknown as NodeJS.WritableStream;
    await score({ paths: files, checkpointDir: ckpt, invert: 'auto', json: true, details: true, backend: 'cpu', out, log: out });
    const results = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ScoreResult);
    assert.equal(results.length, files.length);
    const threshold = run.epochs[0].validation[name].threshold;
    for (const r of results) {
      assert.equal(r.score, name);
      assert.equal(r.threshold, threshold);
      assert.equal(r.verdict, r.novelty > threshold ? 'novel' : 'normal');
      if (name === 'bce') assert.equal(r.novelty, r.reconstructionLoss);
      else assert.notEqual(r.novelty, r.reconstructionLoss);
    }
  }
});

test('an image whose score equals the threshold exactly is normal; one just below the threshold is novel', async () => {
  const dir = tempDir();
  const files = writeTestDigits(path.join(dir, 'png'), 4, 3);
  const run = await makeFakeRun(dir, 4, { model: SMALL_MODEL, score: 'mse' });
  const runDir = runDirFor(dir, 'digit-4');
  const scoreAll = async () => {
    const lines: string[] = [];
    const out = { write: (s: string) => lines.push(...s.trim().split('\n')) } as unknown as NodeJS.WritableStream;
    await score({ paths: files, checkpointDir: dir, digit: 4, invert: 'auto', json: true, backend: 'cpu', out, log: out });
    return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ScoreResult);
  };
  const setThreshold = (t: number) => {
    const edited: typeof run = JSON.parse(JSON.stringify(run));
    edited.epochs[0].threshold = t;
    edited.epochs[0].validation!.mse.threshold = t;
    writeRunFile(runDir, edited);
  };
  const first = await scoreAll();
  const exact = first[1].novelty;
  // A double a unit or two in the last place under the image's score.
  const below = exact - Math.abs(exact) * Number.EPSILON;
  assert.ok(below < exact);
  for (const [threshold, expected] of [[exact, 'normal'], [below, 'novel']] as const) {
    setThreshold(threshold);
    const again = await scoreAll();
    assert.equal(again[1].novelty, exact, 'the same score on a second run');
    assert.equal(again[1].threshold, threshold);
    assert.equal(again[1].verdict, expected, `score ${exact} against threshold ${threshold}`);
  }
});

test('--preset sets r_alpha, lr and the score; a typed option wins; bad or misplaced recipe options are one-line usage errors', { skip: !fs.existsSync(CLI) && 'npm run build first' }, () => {
  const dir = tempDir();
  const run = (...args: string[]) => alocc('train', '--digit', '7', '--epochs', '1', '--limit', '160', '--batch-size', '64', '--backend', 'wasm', ...args);
  const a = run('--preset', 'recon-weighted', '--lr', '0.001', '--checkpoint-dir', path.join(dir, 'a'));
  assert.equal(a.code, 0, a.stderr);
  const cfg = readRunFile(path.join(dir, 'a', 'digit-7')).config.train;
  assert.deepEqual([cfg.rAlpha, cfg.learningRate, cfg.noveltyScore, cfg.bce], [PRESETS['recon-weighted'].rAlpha, 0.001, 'kl', 'logits']);
  assert.match(a.stdout, /best epoch 1 \(lowest validation reconstruction loss [\d.]+; novelty threshold [\d.]+ on the KL error\)/);
  const b = run('--score', 'psnr', '--checkpoint-dir', path.join(dir, 'b'));
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--score <name>' argument 'psnr' is invalid\. Allowed choices are bce, kl, mse, ink, knn/);
  const n = run('--neighbours', '0', '--checkpoint-dir', path.join(dir, 'n'));
  assert.deepEqual([n.code, n.stderr], [2, "error: option '--neighbours <k>' argument '0' is invalid. --neighbours must be a whole number from 1 to 1000.\n"]);
  const c = alocc('eval', '--digit', '7', '--preset', 'seed', '--checkpoint-dir', path.join(dir, 'a'));
  assert.equal(c.code, 2);
  assert.match(c.stderr, /^alocc: --preset, --r-alpha, --lr, --score, --bce, --neighbours, --cell-pooling and --batchnorm-statistics choose how --all-digits\/--all-classes trains/);
  const d = alocc('train', '--resume', '--overwrite', '--checkpoint-dir', path.join(dir, 'a'));
  assert.deepEqual([d.code, d.stderr], [2, 'alocc: --resume and --overwrite exclude each other.\n']);
});
