import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir, useCpuBackend } from './helpers/fixtures';
import { PNG } from 'pngjs';
import { evalCommand } from '../src/commands/eval';
import { evalAllClasses } from '../src/commands/eval-all';
import { BASE_SCORES } from '../src/config';
import { AloccError, UsageError } from '../src/errors';
import { builtInTestSet, floatsOf, LabelledSet } from '../src/data/source';
import { evaluate } from '../src/eval/evaluate';
import { auroc } from '../src/eval/metrics';
import { scoreImages } from '../src/score/scorer';
import { anomalyMaps, buildCellMemory, disposeCellMemory } from '../src/score/cell-map';
import { cellPixelsOf } from '../src/score/cell-pixels';
import * as tf from '@tensorflow/tfjs';
import { openRun } from '../src/run/open';
import { runDirFor } from '../src/run/paths';
import { RunFile } from '../src/run/runfile';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';
import { explain } from '../src/commands/advice';

const DIGIT = 3;
let dir: string;
let run: RunFile;
let testSet: LabelledSet;

before(async () => {
  await useCpuBackend();
  dir = tempDir('alocc-eval-');
  const all = builtInTestSet({ source: 'mnist', class: DIGIT, folder: null });
  testSet = { ...all, pixels: all.pixels.subarray(0, 300 * 784), count: 300, isNovel: all.isNovel.subarray(0, 300), labels: all.labels!.subarray(0, 300) };
  run = await makeFakeRun(dir, DIGIT, { epochs: 2, model: SMALL_MODEL, batchNormFromTraining: true });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Mean cosine distance to the k nearest of `bank`'s rows, in plain loops: the raw-pixel baseline's definition. */
function pixelKnnBruteForce(bank: Uint8Array, count: number, query: Uint8Array, k: number): number {
  const norm = (v: Uint8Array) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  const cos: number[] = [];
  for (let i = 0; i < count; i++) {
    const row = bank.subarray(i * 784, (i + 1) * 784);
    let dot = 0;
    for (let p = 0; p < 784; p++) dot += row[p] * query[p];
    cos.push(dot / (norm(row) * norm(query)));
  }
  cos.sort((a, b) => b - a);
  return 1 - cos.slice(0, k).reduce((a, b) => a + b, 0) / k;
}

test('evaluate: AUROCs match the scorer, the baseline is a raw-pixel kNN, threshold verdicts and share draws add up', () => {
  const opened = openRun(runDirFor(dir, `digit-${DIGIT}`), { epoch: 2 });
  const progress: [number, number][] = [];
  const { report, examplePixels } = evaluate(opened, testSet, { seed: 11, draws: 4, testSource: 'the MNIST test set', onProgress: (d, t) => progress.push([d, t]) });
  const isNovel = Array.from(testSet.labels!, (l) => (l === DIGIT ? 0 : 1));
  const normal = isNovel.filter((v) => v === 0).length;

  assert.equal(report.normalClass, `MNIST digit ${DIGIT}`);
  assert.equal(report.epoch, 2);
  assert.equal(report.testImages.scored, 300);
  assert.equal(report.testImages.normal, normal);
  assert.equal(report.testImages.novel, 300 - normal);
  assert.equal(Object.values(report.testImages.perClass!).reduce((a, b) => a + b, 0), 300);
  assert.equal(report.testImages.perClass!['3'], normal);
  assert.ok(Date.parse(report.finishedAt) >= Date.parse(report.startedAt));
  assert.equal(report.backend, 'cpu');
  assert.deepEqual(progress.at(-1), [300, 300]);

  // Orientation: the report's AUROCs are those of the error scores as they are and of D's outputs negated.
  const raw = scoreImages(opened, floatsOf(testSet), 300, { size: 28, channels: 1 });
  const byName = Object.fromEntries(report.scores.map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(byName), ['knn', 'bce', 'kl', 'mse', 'ink', 'dOfR', 'dOfX', 'local', 'untrainedKnn', 'pixelKnn']);
  assert.ok(raw.novelty.knn.every(Number.isFinite));
  for (const name of ['knn', 'bce', 'kl', 'mse', 'ink'] as const) assert.ok(Math.abs(byName[name].auroc - auroc(raw.novelty[name], isNovel)) < 1e-9, name);
  assert.ok(Math.abs(byName.dOfR.auroc - auroc(raw.dOfR.map((v) => -v), isNovel)) < 1e-9);
  assert.ok(Math.abs(byName.dOfX.auroc - auroc(raw.dOfX.map((v) => -v), isNovel)) < 1e-9);
  // The baseline: k nearest memory images on raw pixels, recomputed here in plain loops for a few images.
  const memory = opened.memoryImages();
  const k = run.config.train.neighbours;
  const brute = Array.from({ length: 300 }, (_, i) => pixelKnnBruteForce(memory.pixels, memory.count, testSet.pixels.subarray(i * 784, (i + 1) * 784), k));
  assert.ok(Math.abs(byName.pixelKnn.auroc - auroc(brute, isNovel)) < 1e-3, `${byName.pixelKnn.auroc} vs ${auroc(brute, isNovel)}`);
  assert.ok(Math.abs(byName.pixelKnn.normal.mean - brute.filter((_, i) => !isNovel[i]).reduce((a, b) => a + b, 0) / normal) < 1e-4);
  // The local score: each picture's map made alone, its 3 largest cells averaged by hand; its own threshold's verdicts.
  const cellMemory = buildCellMemory(opened.firstBlock(), run.config.train.cellPooling, memory, { pixels: cellPixelsOf(run.config.train, 28, 1) });
  const local = Array.from({ length: 300 }, (_, i) => {
    const x = tf.tensor4d(floatsOf(testSet, i, 1), [1, 28, 28, 1]);
    const [m] = anomalyMaps(cellMemory, x, 'position');
    x.dispose();
    return [...m.cells].sort((a, b) => b - a).slice(0, 3).reduce((a, b) => a + b, 0) / 3;
  });
  disposeCellMemory(cellMemory);
  assert.ok(new Set(local).size > 100, 'the local scores differ from picture to picture (not every cell at distance 1)');
  assert.ok(Math.abs(byName.local.auroc - auroc(local, isNovel)) < 1e-6, `${byName.local.auroc} vs ${auroc(local, isNovel)}`);
  const lt = report.localThreshold;
  assert.deepEqual([lt.topK, lt.neighbourhood], [3, 'position']);
  assert.equal(lt.tp + lt.fp, local.filter((v) => v > lt.value).length);
  assert.equal(lt.tp + lt.fn, 300 - normal);
  assert.match(lt.source, /stores no cell calibration/);
  for (const s of report.scores) {
    assert.ok(s.auroc >= 0 && s.auroc <= 1, `${s.name} AUROC ${s.auroc}`);
    assert.ok(s.auprc > 0 && s.auprc <= 1, `${s.name} AUPRC ${s.auprc}`);
    assert.ok(s.recallAt1PercentFalseAlarms <= s.recallAt5PercentFalseAlarms, s.name);
  }

  const th = report.threshold;
  assert.equal(th.value, run.epochs[1].threshold);
  assert.equal(th.tp + th.fn, 300 - normal);
  assert.equal(th.fp + th.tn, normal);
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
  assert.deepEqual(novelEx.map((e) => e.label).sort(), ['0', '1', '2', '4', '5', '6', '7', '8', '9']);
  for (const e of report.examples) {
    assert.equal(e.label, String(testSet.labels![e.index]));
    assert.equal(e.score, verdictScore[e.index]);
  }
  assert.equal(examplePixels.reconstructions.length, 18 * 28 * 28);
  // The example inputs are the test images themselves.
  report.examples.forEach((e, k) => assert.equal(examplePixels.inputs[k * 784 + 400], Math.fround(testSet.pixels[e.index * 784 + 400] / 255)));
  opened.dispose();
});

test('evalCommand writes report.json, report.md and a PNG with coloured verdicts, and prints a summary', async () => {
  const printed: string[] = [];
  const report = await evalCommand(
    { digit: DIGIT, checkpointDir: dir, json: false, draws: 3, seed: 1, limit: 200, backend: 'cpu' },
    { print: (t) => printed.push(t) },
  );
  assert.equal(report.epoch, run.bestEpoch);
  assert.equal(report.testImages.scored, 200);
  const evalDir = path.join(runDirFor(dir, `digit-${DIGIT}`), 'eval');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(evalDir, 'report.json'), 'utf8')), JSON.parse(JSON.stringify(report)));
  const md = fs.readFileSync(path.join(evalDir, 'report.md'), 'utf8');
  assert.match(md, /\| score \| AUROC \| AUPRC \| recall @1 % FA \| recall @5 % FA \|/);
  assert.match(md, /\| kNN on pixels \(baseline\) \| 0\.\d{4} \|/);
  for (const f of ['roc.png', 'scores.png']) assert.ok(PNG.sync.read(fs.readFileSync(path.join(evalDir, f))).width > 300, f);
  assert.match(md, /\| 50 % \| \d+ \| \d+ \|/);
  assert.match(printed.join('\n'), /AUROC \(whole test set\): kNN in R \d\.\d{4}, recon loss \d\.\d{4}/);

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
    { digit: DIGIT, checkpointDir: dir, epoch: 1, json: true, draws: 2, seed: 1, limit: 120, backend: 'cpu' },
    { print: (t) => printed.push(t) },
  );
  const parsed = JSON.parse(printed.join('\n'));
  assert.equal(parsed.format, 'alocc-eval');
  assert.equal(parsed.epoch, 1);
  assert.equal(report.testImages.scored, 120);
});

test('evalCommand: a missing run, a bad digit and a missing epoch are one-line errors', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-empty-'));
  const base = { checkpointDir: empty, json: false, draws: 2, seed: 1, backend: 'cpu' as const };
  await assert.rejects(evalCommand({ ...base, digit: 4 }), (err: unknown) =>
    err instanceof AloccError &&
    explain(err) === `no trained run at ${path.join(empty, 'digit-4')} (it has no run.json); create one with: alocc train --digit 4 --checkpoint-dir ${empty}`);
  await assert.rejects(evalCommand({ ...base, draws: 0, digit: 4 }), UsageError);
  await assert.rejects(evalCommand({ ...base, checkpointDir: dir, digit: DIGIT, normal: dir }), /--normal and --novel go together/);
  await assert.rejects(evalCommand({ ...base, checkpointDir: dir, digit: DIGIT, epoch: 9, limit: 50 }),
    /epoch 9 has no checkpoint .*completed epochs: 1, 2/);
  fs.rmSync(empty, { recursive: true, force: true });
});

test('evalAllClasses trains only the digits that lack the epochs, then tables every digit with a mean', async () => {
  const all = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-all-'));
  // Runs with different scores, so a table that took another run's score (or the default's) would show.
  // The scores every run computes (the rotation scores need a rotation net, which fake runs lack).
  const scoreOf = (digit: number) => BASE_SCORES[digit % BASE_SCORES.length];
  await makeFakeRun(all, 0, { model: SMALL_MODEL, score: scoreOf(0) });
  const trained: number[] = [];
  const trainFn = async (digit: number, epochs: number) => {
    trained.push(digit);
    await makeFakeRun(all, digit, { epochs, model: SMALL_MODEL, score: scoreOf(digit) });
  };
  const opts = { dataset: 'mnist' as const, checkpointDir: all, json: false, draws: 2, seed: 3, limit: 90, epochs: 1, backend: 'cpu' as const };
  const printed: string[] = [];
  const summary = await evalAllClasses(opts, trainFn, { print: (t) => printed.push(t) });
  assert.deepEqual(trained, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(summary.digits.map((d) => d.digit), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const meanRecon = summary.digits.reduce((a, d) => a + d.auroc.bce, 0) / 10;
  assert.ok(Math.abs(summary.mean.auroc.bce.mean - meanRecon) < 1e-12);
  const meanBaseline = summary.digits.reduce((a, d) => a + d.auroc.pixelKnn, 0) / 10;
  assert.ok(Math.abs(summary.mean.auroc.pixelKnn.mean - meanBaseline) < 1e-12);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(all, 'eval-all.json'), 'utf8')).digits.length, 10);
  assert.match(fs.readFileSync(path.join(all, 'eval-all.md'), 'utf8'), /\| mean \|/);
  assert.match(printed.join('\n'), /\| class \| epoch \| score \| AUROC of its score \| AUROC kNN in R \| AUROC recon loss \|.*\| AUROC kNN on pixels \(baseline\) \|/);
  // The verdict score's column is the AUROC of each run's own score: digit d's run scores with scoreOf(d).
  for (const d of summary.digits) {
    assert.equal(d.score, scoreOf(d.digit), `digit ${d.digit}`);
    assert.equal(d.scoreAuroc, d.auroc[scoreOf(d.digit)], `digit ${d.digit}`);
  }
  assert.ok(Math.abs(summary.mean.scoreAuroc.mean - summary.digits.reduce((a, d) => a + d.scoreAuroc, 0) / 10) < 1e-12);

  trained.length = 0; // a second sweep finds every run complete
  await evalAllClasses(opts, trainFn, { print: () => {} });
  assert.deepEqual(trained, []);
  fs.rmSync(all, { recursive: true, force: true });
});

test('evalAllClasses stops with one line when training leaves a run short of the epochs', async () => {
  const all = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-eval-all-'));
  const opts = { dataset: 'mnist' as const, checkpointDir: all, json: false, draws: 2, seed: 3, limit: 50, epochs: 2, backend: 'cpu' as const };
  await assert.rejects(evalAllClasses(opts, async () => {}, { print: () => {} }),
    /^AloccError: training digit 0 stopped at epoch 0 of 2; run the same command again to resume$/);
  fs.rmSync(all, { recursive: true, force: true });
});
