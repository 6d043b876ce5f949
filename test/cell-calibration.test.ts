// The cell calibration (src/score/cell-calibration.ts): the local score's threshold and the maps' colour scale from
// normal pictures' cells, checked against plain loops and hand-computed quantiles; what a stored one must hold.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { CellNeighbourhood } from '../src/config';
import { ImageSet } from '../src/data/source';
import { calibrateCells, cellCalibrationProblem, mapScaleFrom } from '../src/score/cell-calibration';
import { runCellCalibration } from '../src/run/open-cells';
import { leaveOneOutCellDistances } from '../src/score/cell-map';
import { buildCellMemory } from '../src/score/cell-map';
import { block, bruteCells, pictures } from './helpers/brute-cells';

before(async () => {
  await tf.setBackend('cpu');
});

/** The p-th percentile (0-100) by linear interpolation between order statistics, as numpy's default. */
function handPercentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const at = (p / 100) * (s.length - 1);
  const lo = Math.floor(at);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (at - lo) : s[lo];
}

test('mapScaleFrom: ramp from the median, the 99th percentile mid-ramp, as far above it as the median is below', () => {
  // 0..100: median 50, 99th percentile 99; the ramp 50 → 148.
  assert.deepEqual(mapScaleFrom(Array.from({ length: 101 }, (_, i) => i)), { low: 50, high: 148, cellThreshold: 99 });
  // A given threshold below the median: the median is clamped to it and the ramp keeps a width.
  const s = mapScaleFrom([1, 2, 3], 0.5);
  assert.equal(s.cellThreshold, 0.5);
  assert.ok(s.low < 0.5 && s.high > 0.5);
});

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
const floats = (set: ImageSet, i: number) => Float32Array.from(set.pixels.subarray(i * 784, (i + 1) * 784), (v) => v / 255);

for (const neighbourhood of ['position', 'pooled'] as CellNeighbourhood[]) {
  for (const topK of [1, 3]) {
    test(`calibrateCells (${neighbourhood}, top ${topK}): the local threshold and scale of validation cells found by plain loops`, () => {
      const b = block();
      const memorySet = pictures(5, 28, 1);
      const validation = pictures(9, 28, 3);
      const memory = buildCellMemory(b, 'mean-max', memorySet);
      const got = calibrateCells(memory, validation, { neighbourhood, topK, percentile: 90 }, 4); // batches of 4 across 9
      const memoryCells = Array.from({ length: 5 }, (_, i) => bruteCells(floats(memorySet, i), 28, b, 4, 'mean-max'));
      const all: number[] = [];
      const local: number[] = [];
      for (let i = 0; i < validation.count; i++) {
        const q = bruteCells(floats(validation, i), 28, b, 4, 'mean-max');
        const d = q.map((cell, g) => 1 - Math.max(...memoryCells.flatMap((m) => (neighbourhood === 'position' ? [dot(cell, m[g])] : m.map((c) => dot(cell, c))))));
        all.push(...d);
        const top = [...d].sort((x, y) => y - x).slice(0, topK);
        local.push(top.reduce((s, v) => s + v, 0) / topK);
      }
      const median = handPercentile(all, 50), threshold = handPercentile(all, 99);
      const want = { low: median, high: 2 * threshold - median, cellThreshold: threshold };
      assert.equal(got.neighbourhood, neighbourhood);
      assert.equal(got.topK, topK);
      assert.equal(got.pictures, 9);
      assert.equal(got.source, 'validation');
      const close = (a: number, e: number, what: string) => assert.ok(Math.abs(a - e) < 1e-4, `${what}: ${a} vs ${e}`);
      close(got.local.threshold, handPercentile(local, 90), 'local threshold');
      close(got.local.mean, local.reduce((s, v) => s + v, 0) / local.length, 'local mean');
      for (const k of ['low', 'high', 'cellThreshold'] as const) close(got.scale[k], want[k], k);
      assert.equal(cellCalibrationProblem(got), null);
      tf.dispose([memory.bank, b.filter, b.bias]);
    });
  }
}

test('a run without a stored calibration: the memory images against each other, by position, marked as such', () => {
  const b = block();
  const memory = buildCellMemory(b, 'mean', pictures(6, 28, 4));
  const olderEpoch = { dir: '/nonexistent', epoch: 1, record: { checksums: {} } } as unknown as Parameters<typeof runCellCalibration>[0];
  const search = { rows: memory.rows, cols: memory.cols, leaveOneOut: (probes: number) => leaveOneOutCellDistances(memory, probes) };
  const c = runCellCalibration(olderEpoch, { localTopK: 2, thresholdPercentile: 95 }, search);
  assert.deepEqual([c.source, c.neighbourhood, c.topK, c.pictures], ['memory', 'position', 2, 6]);
  assert.equal(cellCalibrationProblem(c), null);
  tf.dispose([memory.bank, b.filter, b.bias]);
});

test('cellCalibrationProblem names what a stored calibration lacks', () => {
  const good = { neighbourhood: 'position', topK: 3, pictures: 10, source: 'validation', local: { mean: 0.1, threshold: 0.2 }, scale: { low: 0, high: 0.4, cellThreshold: 0.2 } };
  assert.equal(cellCalibrationProblem(good), null);
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ ...good, neighbourhood: 'near' }, /neighbourhood "near"/],
    [{ ...good, topK: 0 }, /topK/],
    [{ ...good, pictures: 1.5 }, /picture count/],
    [{ ...good, source: 'test' }, /source "test"/],
    [{ ...good, local: { mean: 0.1 } }, /local mean and threshold/],
    [{ ...good, local: { mean: 0.1, threshold: NaN } }, /local mean and threshold/],
    [{ ...good, scale: { low: 0, high: 0.4 } }, /finite scale/],
    [{ ...good, scale: { low: 0.4, high: 0.4, cellThreshold: 0.4 } }, /low end is not below its high end/],
  ];
  for (const [value, why] of cases) assert.match(cellCalibrationProblem(value) ?? 'accepted', why);
});
