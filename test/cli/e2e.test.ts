// Runs the built CLI (dist/src/cli.js, made by `npm run build`) as a user would, on a few hundred MNIST images.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { alocc, CLI, writeTestDigits } from '../helpers/cli';
import { tempDir } from '../helpers/fixtures';
import * as tf from '@tensorflow/tfjs';
import { builtInTrainingImages, floatsOf } from '../../src/data/source';
import { runCellSearch } from '../../src/run/cell-search-tfjs';
import { openRun } from '../../src/run/open';
import { calibrateCells, CellCalibration, trainingCellPart } from '../../src/score/cell-calibration';
import { buildCellMemory, disposeCellMemory } from '../../src/score/cell-map';
import { cellPixelsOf } from '../../src/score/cell-pixels';
import { splitTraining } from '../../src/train/dataset';

const work = tempDir('alocc-e2e-');
const ckpt = path.join(work, 'ckpt');



before(() => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
});

test('train, score, plot-losses end to end through the built CLI', async () => {
  const t = alocc('train', '--digit', '1', '--epochs', '2', '--limit', '400', '--batch-size', '64', '--memory-coreset', '100', '--checkpoint-dir', ckpt, '--backend', 'wasm');
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /backend: wasm/);
  assert.match(t.stderr, /epoch 2\/2: recon/);
  assert.match(t.stdout, /best epoch \d/);
  for (const e of [1, 2]) assert.ok(fs.existsSync(path.join(ckpt, 'digit-1', `epoch-${e}`, 'r', 'model.json')));
  const run = JSON.parse(fs.readFileSync(path.join(ckpt, 'digit-1', 'run.json'), 'utf8'));
  assert.equal(run.epochs.length, 2);
  assert.ok(run.epochs[1].mean.reconLoss < run.batches[0].reconLoss, 'reconstruction loss went down');
  // The knn memory of each epoch: a coreset of 100 of the 360 training images, the 7×7×32 cell means and as many
  // maxima, in half floats.
  assert.equal(run.config.train.memoryCoreset, 100);
  assert.equal(run.config.train.cellPooling, 'mean-max');
  for (const e of run.epochs) {
    assert.deepEqual(e.memory, { images: 100, features: 2 * 1568 });
    assert.equal(fs.statSync(path.join(ckpt, 'digit-1', `epoch-${e.epoch}`, 'memory.bin')).size, 100 * 2 * 1568 * 2);
  }

  const ones = writeTestDigits(work, 1, 10);
  const sevens = writeTestDigits(work, 7, 10);
  const s = alocc('score', '--json', '--details', '--checkpoint-dir', ckpt, '--backend', 'wasm', ...ones, ...sevens);
  assert.equal(s.code, 0, s.stderr);
  const rows = s.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 20);
  const mean = (files: string[]) => {
    const r = rows.filter((row) => files.includes(row.file));
    return r.reduce((a, row) => a + row.reconstructionLoss, 0) / r.length;
  };
  assert.ok(mean(ones) < mean(sevens), `1s (${mean(ones)}) reconstruct better than 7s (${mean(sevens)})`);
  // Verdicts against the threshold the run recorded for its best epoch; most 1s pass (8 of 10 when
  // measured), the 7s do not (10 of 10).
  const best = run.epochs.find((e: { epoch: number }) => e.epoch === run.bestEpoch);
  for (const row of rows) {
    assert.equal(row.threshold, best.threshold, row.file);
    assert.equal(row.verdict, row.novelty > best.threshold ? 'novel' : 'normal', JSON.stringify(row));
  }
  const verdicts = (files: string[], verdict: string) => rows.filter((row) => files.includes(row.file) && row.verdict === verdict).length;
  assert.ok(verdicts(ones, 'normal') >= 6, `${verdicts(ones, 'normal')} of 10 test 1s normal`);
  assert.ok(verdicts(sevens, 'novel') >= 9, `${verdicts(sevens, 'novel')} of 10 test 7s novel`);

  // A reader that stops after the first line (`| head -1`) ends alocc quietly: exit 0, no EPIPE trace.
  // 800 lines, more than a pipe holds, so alocc is still writing when head exits.
  const many = Array.from({ length: 40 }, () => [...ones, ...sevens]).flat();
  const head = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" score --json --checkpoint-dir "${ckpt}" ${many.map((f) => `"${f}"`).join(' ')} | head -c 10; echo " status \${PIPESTATUS[0]}"`], { encoding: 'utf8' });
  assert.doesNotMatch(head.stderr, /EPIPE|\n\s+at /, head.stderr);
  assert.match(head.stdout, /status 0/);

  // Each epoch's cell calibration, as the trainer stored it, is that of the run's validation pictures against the
  // cells the maps search at load (R's and, by default, the rotation net's): recomputed here (tfjs on cpu) from the
  // run folder and the run's own split.
  assert.equal(run.config.train.cellRotationWeight, 0.7);
  const runDir = path.join(ckpt, 'digit-1');
  const { validation } = splitTraining(builtInTrainingImages(run.config.data), run.config.train);
  await tf.setBackend('cpu');
  for (const e of run.epochs) {
    const stored: CellCalibration = e.cells;
    assert.ok('cells.json' in e.checksums);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(runDir, `epoch-${e.epoch}`, 'cells.json'), 'utf8')), stored);
    assert.deepEqual([stored.source, stored.pictures, stored.topK, stored.neighbourhood], ['validation', run.validationImages, 3, 'position']);
    const opened = openRun(runDir, { epoch: e.epoch });
    const part = trainingCellPart(run.config.train, opened.rotationNet, 28);
    assert.ok(part, 'the maps read the rotation net\'s cells');
    const memory = buildCellMemory(opened.firstBlock(), run.config.train.cellPooling, opened.memoryImages(), { part, pixels: cellPixelsOf(run.config.train, 28, 1) });
    const again = calibrateCells(memory, validation, { neighbourhood: 'position', topK: 3, percentile: 95 });
    disposeCellMemory(memory);
    opened.dispose();
    for (const [what, a, b] of [['local threshold', again.local.threshold, stored.local.threshold], ['cell threshold', again.scale.cellThreshold, stored.scale.cellThreshold], ['low', again.scale.low, stored.scale.low]] as const) {
      assert.ok(Math.abs(a - b) < 1e-4, `epoch ${e.epoch} ${what}: ${a} at load vs ${b} stored`);
    }
  }
  // The maps at load, on the compiled kernels and with tfjs's ops (the tfjs engine without them), R's and the rotation
  // net's cells read from the run folder by each: the same distances.
  const opened = openRun(runDir);
  const pictures = floatsOf(validation, 0, 8);
  const [compiled, onTfjs] = [runCellSearch(opened), runCellSearch(opened, { compiled: false })];
  const [a, b] = [compiled.distances(pictures, 8), onTfjs.distances(pictures, 8)];
  compiled.dispose();
  onTfjs.dispose();
  opened.dispose();
  assert.equal(a.length, 8 * 49);
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-5), 'the compiled and the tfjs cell search agree');

  const out = path.join(work, 'chart.png');
  const p = alocc('plot-losses', '--checkpoint-dir', ckpt, '--out', out);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout.trim(), out);
  const png = PNG.sync.read(fs.readFileSync(out));
  assert.ok(png.width >= 600 && png.height >= 400, `chart is ${png.width}×${png.height}`);
});

test('the built binary is executable, so `npx alocc` runs it (npm runs a package\'s own bin directly)', () => {
  assert.ok(fs.statSync(CLI).mode & 0o100, `${CLI} is not executable: npm run build sets its mode`);
  assert.equal(fs.readFileSync(CLI, 'utf8').split('\n')[0], '#!/usr/bin/env node');
});

test('usage errors exit 2 with one line and no stack trace', () => {
  for (const args of [
    ['train', '--digit', '10'],
    ['train', '--epochs', '0'],
    ['train', '--epochs', 'abc'],
    ['train', '--backend', 'tpu'],
    ['score'],
  ]) {
    const r = alocc(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});

test('scoring without a checkpoint says where it looked and how to make one; exit 1', () => {
  const png = writeTestDigits(work, 3, 1)[0];
  const r = alocc('score', png, '--digit', '4', '--checkpoint-dir', path.join(work, 'empty'), '--backend', 'wasm');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /alocc train --digit 4/);
  assert.match(r.stderr, /empty/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('an unreadable file gets one line naming it, the others are still scored, exit 1', () => {
  const good = writeTestDigits(work, 1, 1)[0];
  const bad = path.join(work, 'not-a.png');
  fs.writeFileSync(bad, 'hello');
  const r = alocc('score', '--checkpoint-dir', ckpt, '--backend', 'wasm', bad, good, path.join(work, 'missing.png'));
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`${path.basename(good)}: (novel|normal)`));
  assert.match(r.stderr, /not-a\.png/);
  assert.match(r.stderr, /missing\.png/);
});
