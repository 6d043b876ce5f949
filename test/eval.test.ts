import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { PNG } from 'pngjs';
import { evalCommand } from '../src/commands/eval';
import { evalAllDigits } from '../src/commands/eval-all';
import { NOVELTY_SCORES } from '../src/config';
import { AloccError, UsageError } from '../src/errors';
import { evaluate } from '../src/eval/evaluate';
import { auroc } from '../src/eval/metrics';
import { validationReference } from '../src/eval/dataset';
import { inkNormalisedError } from '../src/eval/score-variants';
import { scoreImages } from '../src/score/scorer';
import { loadEpochModels, runDirFor } from '../src/run/checkpoint';
import { loadRunMemory } from '../src/commands/resolve-run';
import { RunFile } from '../src/run/runfile';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';
import { IdxSplit, readIdx } from './helpers/mnist-idx';

const DIGIT = 3;
let dir: string;
let run: RunFile;
let testSet: IdxSplit;
let trainSet: IdxSplit;
const loadMnist = (split: 'train' | 'test') => (split === 'test' ? testSet : trainSet);

before(async () => {
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-'));
  testSet = readIdx('test', 300);
  trainSet = readIdx('train', 600);
  run = await makeFakeRun(dir, DIGIT, { epochs: 2, model: SMALL_MODEL });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('evaluate: AUROCs match the scorer, threshold verdicts and share draws add up', () => {
  const loaded = loadEpochModels(runDirFor(dir, DIGIT), run, 2);
  const nets = { ...loaded, memory: loadRunMemory(run, loaded.r) };
  const reference = validationReference(run, 40)!;
  const progress: [number, number][] = [];
  const { report, examplePixels } = evaluate(nets, run, 2, testSet.images, testSet.labels, 300, {
    seed: 11, draws: 4, reference, onProgress: (d, t) => progress.push([d, t]),
  });
  const isNovel = Array.from(testSet.labels, (l) => (l === DIGIT ? 0 : 1));
  const normal = isNovel.filter((v) => v === 0).length;

  assert.equal(report.digit, DIGIT);
  assert.equal(report.epoch, 2);
  assert.deepEqual(report.testImages, { scored: 300, normal, novel: 300 - normal, perDigit: report.testImages.perDigit });
  assert.equal(report.testImages.perDigit.reduce((a, b) => a + b, 0), 300);
  assert.ok(Date.parse(report.finishedAt) >= Date.parse(report.startedAt));
  assert.equal(report.backend, 'cpu');
  assert.deepEqual(progress.at(-1), [340, 340]);

  // Orientation: the report's AUROCs are those of recon loss as is and of D's outputs negated.
  const raw = scoreImages(nets, testSet.images, 300);
  const byName = Object.fromEntries(report.scores.map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(byName), ['reconLoss', 'dOfR', 'dOfX', 'kl', 'mse', 'inkNorm', 'knn', 'zMix', 'rankMix']);
  // The knn row searches the run's training images (the memory); the scorer gives the same distances.
  assert.ok(raw.novelty.knn.every(Number.isFinite));
  assert.ok(Math.abs(byName.knn.auroc - auroc(raw.novelty.knn, isNovel)) < 1e-9);
  assert.ok(Math.abs(byName.reconLoss.auroc - auroc(raw.reconLoss, isNovel)) < 1e-9);
  assert.ok(Math.abs(byName.dOfR.auroc - auroc(raw.dOfR.map((v) => -v), isNovel)) < 1e-9);
  assert.ok(Math.abs(byName.dOfX.auroc - auroc(raw.dOfX.map((v) => -v), isNovel)) < 1e-9);
  // The ink-normalised error comes from the same reconstructions the scorer makes.
  const recon = new Float32Array(300 * 784);
  scoreImages(nets, testSet.images, 300, 28, 64, recon);
  const ink = Array.from({ length: 300 }, (_, i) =>
    inkNormalisedError(testSet.images.subarray(i * 784, (i + 1) * 784), recon.subarray(i * 784, (i + 1) * 784), 28));
  assert.ok(Math.abs(byName.inkNorm.auroc - auroc(ink, isNovel)) < 1e-9);
  for (const s of report.scores) assert.ok(s.auroc >= 0 && s.auroc <= 1, `${s.name} AUROC ${s.auroc}`);
  assert.equal(report.normalisation?.count, 40);

  const th = report.threshold;
  assert.equal(th.value, run.epochs[1].threshold);
  assert.equal(th.tp + th.fn, 300 - normal);
  assert.equal(th.fp + th.tn, normal);
  // The verdict is the run's own score against its threshold.
  assert.equal(th.score, run.config.train.noveltyScore);
  const verdictScore = raw.novelty[th.score];
  assert.equal(th.tp + th.fp, verdictScore.filter((v) => v > th.value).length);

  assert.deepEqual(report.shares.map((s) => s.targetShare), [0.1, 0.2, 0.3, 0.4, 0.5]);
  for (const s of report.shares) {
    assert.equal(s.normal, normal);
    assert.equal(s.novel, Math.round((normal * s.targetShare) / (1 - s.targetShare)));
    assert.equal(s.capped, false);
    assert.equal(s.threshold.f1.n, 4);
    assert.deepEqual(Object.keys(s.auroc), Object.keys(byName));
  }

  const normalEx = report.examples.filter((e) => e.group === 'normal');
  const novelEx = report.examples.filter((e) => e.group === 'novel');
  assert.equal(normalEx.length, 9);
  assert.deepEqual(novelEx.map((e) => e.label).sort(), [0, 1, 2, 4, 5, 6, 7, 8, 9]);
  for (const e of report.examples) {
    assert.equal(e.label, testSet.labels[e.index]);
    assert.equal(e.score, verdictScore[e.index]);
    assert.equal(e.verdict, e.score > th.value ? 'novel' : 'normal');
  }
  assert.equal(examplePixels.reconstructions.length, 18 * 28 * 28);
  nets.r.dispose();
  nets.d.dispose();
});

test('evalCommand writes report.json, report.md and a PNG with coloured verdicts, and prints a summary', async () => {
  const printed: string[] = [];
  const report = await evalCommand(
    { digit: DIGIT, checkpointDir: dir, json: false, draws: 3, seed: 1, limit: 200, referenceImages: 30 },
    { loadMnist, print: (t) => printed.push(t) },
  );
  assert.equal(report.epoch, run.bestEpoch);
  assert.equal(report.testImages.scored, 200);
  const evalDir = path.join(runDirFor(dir, DIGIT), 'eval');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(evalDir, 'report.json'), 'utf8')), JSON.parse(JSON.stringify(report)));
  const md = fs.readFileSync(path.join(evalDir, 'report.md'), 'utf8');
  assert.match(md, /\| score \| AUROC \|/);
  assert.match(md, /\| 50 % \| \d+ \| \d+ \|/);
  assert.match(printed.join('\n'), /AUROC \(whole test set\): recon loss \d\.\d{4}, D\(R\(x\)\)/);

  const png = PNG.sync.read(fs.readFileSync(path.join(evalDir, 'examples.png')));
  assert.ok(png.width > 18 * 28 / 2 && png.height > 4 * 28);
  let coloured = 0; // the verdict text is green or red: it was drawn with a font
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (Math.abs(r - g) > 60 || Math.abs(g - b) > 60) coloured++;
  }
  assert.ok(coloured > 50, `only ${coloured} coloured pixels`);
});

test('evalCommand --json prints the report; --epoch picks the epoch', async () => {
  const printed: string[] = [];
  const report = await evalCommand(
    { digit: DIGIT, checkpointDir: dir, epoch: 1, json: true, draws: 2, seed: 1, limit: 120, referenceImages: 0 },
    { loadMnist, print: (t) => printed.push(t) },
  );
  const parsed = JSON.parse(printed.join('\n'));
  assert.equal(parsed.format, 'alocc-eval');
  assert.equal(parsed.epoch, 1);
  assert.equal(report.normalisation, null);
  assert.deepEqual(report.scores.map((s) => s.name), ['reconLoss', 'dOfR', 'dOfX', 'kl', 'mse', 'inkNorm', 'knn']);
});

test('evalCommand: a missing run, a bad digit and a missing epoch are one-line errors', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-empty-'));
  const base = { checkpointDir: empty, json: false, draws: 2, seed: 1 };
  await assert.rejects(evalCommand({ ...base, digit: 4 }, { loadMnist }), (err: unknown) =>
    err instanceof AloccError && err.message === `no trained model for digit 4 in ${empty}; train one with: alocc train --digit 4`);
  await assert.rejects(evalCommand({ ...base, digit: 12 }, { loadMnist }), UsageError);
  await assert.rejects(evalCommand({ ...base, checkpointDir: dir, digit: DIGIT, epoch: 9, limit: 50 }, { loadMnist }),
    /epoch 9 has no checkpoint .*completed epochs: 1, 2/);
  fs.rmSync(empty, { recursive: true, force: true });
});

test('evalAllDigits trains only the digits that lack the epochs, then tables every digit with a mean', async () => {
  const all = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-all-'));
  // Runs with different scores, so a table that took another run's score (or the default's) would show.
  const scoreOf = (digit: number) => NOVELTY_SCORES[digit % NOVELTY_SCORES.length];
  await makeFakeRun(all, 0, { model: SMALL_MODEL, score: scoreOf(0) });
  const trained: number[] = [];
  const trainFn = async (digit: number, epochs: number) => {
    trained.push(digit);
    await makeFakeRun(all, digit, { epochs, model: SMALL_MODEL, score: scoreOf(digit) });
  };
  const opts = { checkpointDir: all, json: false, draws: 2, seed: 3, limit: 90, referenceImages: 0, epochs: 1 };
  const printed: string[] = [];
  const summary = await evalAllDigits(opts, trainFn, { loadMnist, print: (t) => printed.push(t) });
  assert.deepEqual(trained, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(summary.digits.map((d) => d.digit), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const meanRecon = summary.digits.reduce((a, d) => a + d.auroc.reconLoss, 0) / 10;
  assert.ok(Math.abs(summary.mean.auroc.reconLoss.mean - meanRecon) < 1e-12);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(all, 'eval-all.json'), 'utf8')).digits.length, 10);
  assert.match(fs.readFileSync(path.join(all, 'eval-all.md'), 'utf8'), /\| mean \|/);
  assert.match(printed.join('\n'), /\| digit \| epoch \| score \| AUROC of its score \| AUROC recon loss \|/);
  // The verdict score's column is the AUROC of each run's own score: digit d's run scores with scoreOf(d).
  const column = { bce: 'reconLoss', kl: 'kl', mse: 'mse', ink: 'inkNorm', knn: 'knn' } as const;
  for (const d of summary.digits) {
    assert.equal(d.score, scoreOf(d.digit), `digit ${d.digit}`);
    assert.equal(d.scoreAuroc, d.auroc[column[scoreOf(d.digit)]], `digit ${d.digit}`);
  }
  assert.ok(Math.abs(summary.mean.scoreAuroc.mean - summary.digits.reduce((a, d) => a + d.scoreAuroc, 0) / 10) < 1e-12);

  trained.length = 0; // a second sweep finds every run complete
  await evalAllDigits(opts, trainFn, { loadMnist, print: () => {} });
  assert.deepEqual(trained, []);
  fs.rmSync(all, { recursive: true, force: true });
});

test('evalAllDigits stops with one line when training leaves a run short of the epochs', async () => {
  const all = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-all-'));
  const opts = { checkpointDir: all, json: false, draws: 2, seed: 3, limit: 50, referenceImages: 0, epochs: 2 };
  await assert.rejects(evalAllDigits(opts, async () => {}, { loadMnist, print: () => {} }),
    /^AloccError: training digit 0 stopped at epoch 0 of 2; run the same command again to resume$/);
  fs.rmSync(all, { recursive: true, force: true });
});
