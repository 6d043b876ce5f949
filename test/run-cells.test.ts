// A run's stored cell calibration (cells.json and run.json's copy, src/run/open-cells.ts): what the maps and the local
// score use at load is exactly what training stored, the stored numbers are those of the cells the maps search
// (recomputed here from the saved run alone), and a changed file or copy is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadDetector } from '../src/api/detector';
import { builtInTrainingImages } from '../src/data/source';
import { openRun } from '../src/run/open';
import { readCellCalibration } from '../src/run/open-cells';
import { runFilePath } from '../src/run/paths';
import { readRunFile } from '../src/run/runfile-io';
import { calibrateCells, CellCalibration } from '../src/score/cell-calibration';
import { buildCellMemory, disposeCellMemory } from '../src/score/cell-map';
import { cellPixelsOf } from '../src/score/cell-pixels';
import { splitTraining } from '../src/train/dataset';
import { writeTestDigits } from './helpers/cli';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';
import { tempDir } from './helpers/fixtures';

const work = tempDir('alocc-run-cells-');
const runDir = path.join(work, 'ckpt', 'digit-4');
const cellsFile = path.join(runDir, 'epoch-1', 'cells.json');
let files: string[] = [];
let stored: CellCalibration;

before(async () => {
  await tf.setBackend('cpu');
  // BatchNorm statistics of the training pictures, as training sets them: untrained defaults map every empty cell to a zero
  // feature, at distance 1 from everything, and every threshold would be 1.
  await makeFakeRun(path.join(work, 'ckpt'), 4, { model: SMALL_MODEL, cells: true, settings: { localTopK: 2 }, batchNormFromTraining: true });
  files = [...writeTestDigits(path.join(work, 'img'), 4, 2), ...writeTestDigits(path.join(work, 'img'), 9, 2)];
  stored = readRunFile(runDir).epochs[0].cells!;
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('the stored calibration is that of the validation pictures against the cells the maps search, recomputed from the run folder', () => {
  assert.deepEqual(JSON.parse(fs.readFileSync(cellsFile, 'utf8')), stored);
  assert.equal(stored.source, 'validation');
  assert.equal(stored.topK, 2);
  assert.ok(stored.local.threshold < 0.9 && stored.scale.cellThreshold < 0.9 && stored.local.threshold !== stored.scale.cellThreshold, JSON.stringify(stored));
  const opened = openRun(runDir);
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages(), { pixels: cellPixelsOf(opened.config.train, 28, 1) });
  try {
    // The run's validation pictures, split again from its config as training split them.
    const { validation } = splitTraining(builtInTrainingImages(opened.config.data), opened.config.train);
    assert.equal(stored.pictures, validation.count);
    const again = calibrateCells(memory, validation, { neighbourhood: 'position', topK: 2, percentile: opened.config.train.thresholdPercentile });
    for (const [k, a, b] of [
      ['local threshold', again.local.threshold, stored.local.threshold],
      ['local mean', again.local.mean, stored.local.mean],
      ['cell threshold', again.scale.cellThreshold, stored.scale.cellThreshold],
      ['low', again.scale.low, stored.scale.low],
      ['high', again.scale.high, stored.scale.high],
    ] as const) assert.ok(Math.abs(a - b) < 1e-5, `${k}: ${a} at load vs ${b} stored`);
    assert.deepEqual(readCellCalibration(opened), stored);
  } finally {
    disposeCellMemory(memory);
    opened.dispose();
  }
});

test('score(x, { map: true }) paints in the stored scale and judges the local score by the stored threshold', async () => {
  const det = await loadDetector(runDir, { backend: 'cpu', maps: true });
  try {
    const results = await det.score(files, { map: true });
    for (const r of results) {
      assert.equal(r.map!.cellThreshold, stored.scale.cellThreshold);
      const cells = r.map!.cells.flat().sort((a, b) => b - a);
      const local = (cells[0] + cells[1]) / 2; // localTopK 2, by hand
      assert.ok(Math.abs(r.local!.score - local) < 1e-6, `${r.local!.score} vs ${local}`);
      assert.equal(r.local!.threshold, stored.local.threshold);
      assert.equal(r.local!.verdict, local > stored.local.threshold ? 'novel' : 'normal');
    }
    // Without maps, no local score: it costs the cell search.
    assert.equal((await det.score(files[0])).local, undefined);
  } finally {
    det.dispose();
  }
});

test('a changed cells.json, or run.json\'s copy changed, or the copy without the file\'s checksum, is refused in one line', () => {
  const original = fs.readFileSync(cellsFile);
  const runText = fs.readFileSync(runFilePath(runDir), 'utf8');
  try {
    fs.writeFileSync(cellsFile, JSON.stringify({ ...stored, local: { ...stored.local, threshold: 9 } }) + '\n');
    assert.throws(() => readCellCalibration(openRunAt()), /cells\.json is corrupt \(checksum mismatch\)/);
    fs.writeFileSync(cellsFile, original);
    const run = JSON.parse(runText);
    run.epochs[0].cells.local.threshold = 9;
    fs.writeFileSync(runFilePath(runDir), JSON.stringify(run));
    assert.throws(() => readCellCalibration(openRunAt()), /cells\.json and run\.json's cells of epoch 1 differ/);
    delete run.epochs[0].checksums['cells.json'];
    fs.writeFileSync(runFilePath(runDir), JSON.stringify(run));
    assert.throws(() => readRunFile(runDir), /epoch 1 has a cell calibration but no checksum of cells\.json/);
    run.epochs[0].cells.scale.low = 'x';
    fs.writeFileSync(runFilePath(runDir), JSON.stringify(run));
    assert.throws(() => readRunFile(runDir), /epoch 1's cell calibration has no finite scale/);
  } finally {
    fs.writeFileSync(cellsFile, original);
    fs.writeFileSync(runFilePath(runDir), runText);
  }
});

/** The run at its best epoch as a command opens it (the run file read afresh). */
function openRunAt() {
  const run = readRunFile(runDir);
  return { dir: runDir, epoch: 1, record: run.epochs[0] };
}
