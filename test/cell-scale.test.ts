// The stored calibration's rules without TensorFlow.js (src/score/cell-scale.ts, src/run/open-cells.ts): the colour
// scale's quantiles by hand, the local score's k, the checks a stored calibration must pass, and a cells.json that
// is not JSON or not a calibration refused in one line even when its checksum matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sha256 } from '../src/fsutil';
import { readCellCalibration } from '../src/run/open-cells';
import { cellCalibrationProblem, localScore, mapScaleFrom } from '../src/score/cell-scale';
import { tempDir } from './helpers/fixtures';

test('mapScaleFrom: the median and the 99th percentile by hand, NaNs left out, one value, none refused', () => {
  // 101 values 0, 0.01, …, 1: median 0.5, 99th percentile 0.99; the ramp as far above the threshold as the median is below.
  const values = Array.from({ length: 101 }, (_, i) => i / 100);
  const s = mapScaleFrom([...values, NaN]);
  assert.ok(Math.abs(s.cellThreshold - 0.99) < 1e-12 && Math.abs(s.low - 0.5) < 1e-12 && Math.abs(s.high - 1.48) < 1e-12, JSON.stringify(s));
  // One value: both quantiles are it, the spread the smallest allowed.
  assert.deepEqual(mapScaleFrom([0.3]), { low: 0.3 - 1e-6, high: 0.3 + 1e-6, cellThreshold: 0.3 });
  assert.throws(() => mapScaleFrom([]), /map scale: no validation cell distances to fix the colour ramp from/);
  assert.throws(() => mapScaleFrom([NaN]), /no validation cell distances/);
});

test('localScore: the mean of the k largest; k a whole number from 1 to the cells', () => {
  assert.equal(localScore([0.1, 0.7, 0.3, 0.5], 1), 0.7);
  assert.ok(Math.abs(localScore([0.1, 0.7, 0.3, 0.5], 2) - 0.6) < 1e-12);
  assert.ok(Math.abs(localScore([0.1, 0.7, 0.3, 0.5], 4) - 0.4) < 1e-12);
  for (const k of [0, 5, 1.5, -1]) assert.throws(() => localScore([0.1, 0.7, 0.3, 0.5], k), new RegExp(`^RangeError: localScore: k must be 1\\.\\.4, got ${k}$`));
});

const good = { neighbourhood: 'position', topK: 3, pictures: 10, source: 'validation', local: { mean: 0.1, threshold: 0.2 }, scale: { low: 0, high: 0.4, cellThreshold: 0.2 } };

test('cellCalibrationProblem: a number, no pictures, strings for numbers', () => {
  assert.match(cellCalibrationProblem(5) ?? '', /is not an object/);
  assert.match(cellCalibrationProblem({ ...good, pictures: 0 }) ?? '', /picture count/);
  assert.match(cellCalibrationProblem({ ...good, local: { mean: '0.1', threshold: 0.2 } }) ?? '', /local mean and threshold/);
  assert.match(cellCalibrationProblem({ ...good, local: 7 }) ?? '', /local mean and threshold/);
  assert.match(cellCalibrationProblem({ ...good, scale: 7 }) ?? '', /finite scale/);
  assert.equal(cellCalibrationProblem(good), null);
});

test('a stored cells.json that is not JSON, or not a calibration, is refused in one line naming it, checksum or not', () => {
  const dir = tempDir('alocc-cell-scale-');
  try {
    const epochDir = path.join(dir, 'epoch-1');
    fs.mkdirSync(epochDir, { recursive: true });
    const at = (text: string) => {
      fs.writeFileSync(path.join(epochDir, 'cells.json'), text);
      return { dir, epoch: 1, record: { checksums: { 'cells.json': sha256(Buffer.from(text)) } } } as unknown as Parameters<typeof readCellCalibration>[0];
    };
    assert.throws(() => readCellCalibration(at('{not json')), /epoch-1\/cells\.json is not valid JSON \(.+\); retrain the run$/);
    assert.throws(() => readCellCalibration(at(JSON.stringify({ ...good, topK: 0 }))), /epoch-1\/cells\.json: the cell calibration has no whole topK >= 1; retrain the run$/);
    assert.deepEqual(readCellCalibration(at(JSON.stringify(good))), good);
    assert.equal(readCellCalibration({ dir, epoch: 1, record: { checksums: {} } } as unknown as Parameters<typeof readCellCalibration>[0]), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
