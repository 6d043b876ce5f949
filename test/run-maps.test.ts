// The Detector's anomaly maps (src/api/maps.ts): a run without a stored calibration (run-file version 6) falls back to
// the scale from leave-one-out memory cells, checked against plain loops; equal on every load; the same picture's map
// and overlay whatever it is scored with; maps only when asked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDetector } from '../src/api/detector';
import { SCORE_CHUNK, ScoreResult } from '../src/api/verdicts';
import { active, loadNativeKernels } from '../src/kernels/addon';
import { mapScaleFrom, renderOverlayPng } from '../src/plot/overlay';
import { openRun, OpenedRun } from '../src/run/open';
import { anomalyMaps, anomalyMapsFrom, buildCellMemory, CellMemory, disposeCellMemory, leaveOneOutCellDistances, SCALE_PROBES } from '../src/score/cell-map';
import { cellPixelsOf } from '../src/score/cell-pixels';
import { runCellCalibration } from '../src/run/open-cells';
import * as tf from '@tensorflow/tfjs';
import { writeTestDigits } from './helpers/cli';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';
import { tempDir } from './helpers/fixtures';

const work = tempDir('alocc-run-maps-');
const runDir = path.join(work, 'ckpt', 'digit-2');
let files: string[] = [];
let opened: OpenedRun;
let memory: CellMemory;

before(async () => {
  await makeFakeRun(path.join(work, 'ckpt'), 2, { model: SMALL_MODEL });
  files = [...writeTestDigits(path.join(work, 'img'), 2, 2), ...writeTestDigits(path.join(work, 'img'), 7, 2)];
  await tf.setBackend('cpu');
  opened = openRun(runDir);
  memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages(), { pixels: cellPixelsOf(opened.config.train, 28, 1) });
});
after(() => {
  disposeCellMemory(memory);
  opened?.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

/**
 * Leave-one-out same-position distances by plain loops over the bank: probe j is image ⌊j·m/p⌋; 1 − the cosine, or
 * where the cells hold their pixels (the default), half the squared distance.
 */
function referenceLeaveOneOut(m: CellMemory, probes: number): number[] {
  const bank = m.bank.dataSync();
  const grid = m.rows * m.cols;
  const p = Math.min(probes, m.images);
  const out: number[] = [];
  for (let j = 0; j < p; j++) {
    const own = Math.floor((j * m.images) / p);
    for (let g = 0; g < grid; g++) {
      let best = Infinity;
      for (let i = 0; i < m.images; i++) {
        if (i === own) continue;
        let dot = 0, sq = 0;
        for (let f = 0; f < m.dims; f++) {
          const [a, b] = [bank[(own * grid + g) * m.dims + f], bank[(i * grid + g) * m.dims + f]];
          dot += a * b;
          sq += (a - b) ** 2;
        }
        best = Math.min(best, m.pixels ? sq / 2 : 1 - dot);
      }
      out.push(best);
    }
  }
  return out;
}

test('leaveOneOutCellDistances: each probe against the other memory images at the same position, by plain loops', () => {
  const got = leaveOneOutCellDistances(memory, SCALE_PROBES, 7); // an odd chunk: probes across chunk edges
  const want = referenceLeaveOneOut(memory, SCALE_PROBES);
  assert.equal(got.length, want.length);
  for (let k = 0; k < want.length; k++) assert.ok(Math.abs(got[k] - want[k]) < 1e-4, `distance ${k}: ${got[k]} vs ${want[k]}`);
  assert.ok(want.some((v) => v > 1e-3), 'not all zero: a probe is not compared with itself');
});

test('the run\'s map scale: equal on two loads, the cell threshold mid-ramp, from the leave-one-out distances', async () => {
  const reference = mapScaleFrom(referenceLeaveOneOut(memory, SCALE_PROBES));
  const olderEpoch = { dir: '/nonexistent', epoch: 1, record: { checksums: {} } } as unknown as Parameters<typeof runCellCalibration>[0];
  const search = { rows: memory.rows, cols: memory.cols, leaveOneOut: (probes: number) => leaveOneOutCellDistances(memory, probes) };
  const scale = runCellCalibration(olderEpoch, { localTopK: 3, thresholdPercentile: 95 }, search).scale;
  for (const k of ['low', 'high', 'cellThreshold'] as const) assert.ok(Math.abs(scale[k] - reference[k]) < 1e-4, `${k}: ${scale[k]} vs ${reference[k]}`);
  const thresholds: number[] = [];
  for (let load = 0; load < 2; load++) {
    const det = await loadDetector(runDir, { backend: 'cpu', maps: true });
    thresholds.push((await det.score(files[0], { map: true })).map!.cellThreshold);
    det.dispose();
  }
  assert.equal(thresholds[0], thresholds[1]);
  assert.ok(Math.abs(thresholds[0] - reference.cellThreshold) < 1e-4);
});

test('score(x, { map: true }): cells by position, the run\'s cell threshold, and the overlay in the run\'s scale, whatever the batch', async () => {
  const det = await loadDetector(runDir, { backend: 'cpu', maps: true });
  const together = await det.score(files, { map: true });
  const alone = await det.score(files[3], { map: true });
  const scale = mapScaleFrom(referenceLeaveOneOut(memory, SCALE_PROBES));
  for (const [i, r] of together.entries()) {
    const image = await det.decode(files[i], files[i]);
    const x = tf.tensor4d(image.pixels, [1, 28, 28, 1]);
    const [m] = anomalyMaps(memory, x, 'position');
    x.dispose();
    assert.equal(r.map!.cells.length, m.rows);
    r.map!.cells.flat().forEach((v, k) => assert.ok(Math.abs(v - m.cells[k]) < 1e-5, `${files[i]} cell ${k}: ${v} vs ${m.cells[k]}`));
    // Every picture in one colour scale, the run's: a per-picture or per-batch ramp would paint other bytes.
    // The reference ramp's width around the detector's threshold (equal to the reference's within 1e-4, above).
    const at = r.map!.cellThreshold;
    assert.equal(at, together[0].map!.cellThreshold, 'one cell threshold for every picture');
    const runScale = { low: at - (scale.cellThreshold - scale.low), high: at + (scale.high - scale.cellThreshold), cellThreshold: at };
    // The detector's own cells (equal to the reference's to 4 decimals, above) through the map's geometry: the
    // compiled search's last bits may differ from tfjs's and move a colour by one step.
    const [own] = anomalyMapsFrom(Float32Array.from(r.map!.cells.flat()), 1, m.rows, m.cols, 28);
    const want = renderOverlayPng({ pixels: image.pixels, size: 28, channels: 1 }, own, runScale, { score: r.novelty, threshold: r.threshold, novel: r.verdict === 'novel' });
    assert.ok(Buffer.from(r.map!.overlayPng).equals(want), `${files[i]}: overlay`);
  }
  assert.ok(Buffer.from(alone.map!.overlayPng).equals(Buffer.from(together[3].map!.overlayPng)), 'alone as in a batch');
  // The local score: the mean of the 3 largest cells against the interim threshold, the 95th percentile of the
  // leave-one-out probes' own local scores.
  const probes = referenceLeaveOneOut(memory, SCALE_PROBES);
  const top3 = (cells: number[]) => [...cells].sort((a, b) => b - a).slice(0, 3).reduce((s, v) => s + v, 0) / 3;
  const probeScores = Array.from({ length: probes.length / 49 }, (_, j) => top3(probes.slice(j * 49, (j + 1) * 49))).sort((a, b) => a - b);
  const at = 0.95 * (probeScores.length - 1);
  const want = probeScores[Math.floor(at)] + (probeScores[Math.ceil(at)] - probeScores[Math.floor(at)]) * (at - Math.floor(at));
  for (const r of together) {
    assert.ok(Math.abs(r.local!.score - top3(r.map!.cells.flat())) < 1e-6);
    assert.ok(Math.abs(r.local!.threshold - want) < 1e-4, `${r.local!.threshold} vs ${want}`);
  }
  // Without map: the same result, no map, the same fields as before.
  const plain = await det.score(files[3]);
  assert.equal(plain.map, undefined);
  const { map: _map, local: _local, ...rest } = alone;
  assert.deepEqual(plain, rest);
  det.dispose();
});

test('a detector on the compiled kernels makes the same maps as one on TensorFlow.js', async (t) => {
  loadNativeKernels();
  if (!active()) return t.skip('compiled kernels not built here');
  const det = await loadDetector(runDir);
  const tfjs = await loadDetector(runDir, { backend: 'cpu', maps: true });
  try {
    assert.equal(det.backend.name, 'compiled');
    const [got, want] = [await det.score(files, { map: true }), await tfjs.score(files, { map: true })];
    for (const [i, r] of got.entries()) {
      assert.deepEqual(r.map!.cells, want[i].map!.cells, `${files[i]}: cells (both on the compiled search)`);
      assert.equal(r.map!.cellThreshold, want[i].map!.cellThreshold);
    }
    assert.equal((await det.score(files[0])).map, undefined);
  } finally {
    det.dispose();
    tfjs.dispose();
  }
});

test('scoreFiles with maps over several chunks (overlays drawn by the pool\'s worker) gives what score(x, { map: true }) gives in one batch', async () => {
  const many = Array.from({ length: 10 }, (_, d) => writeTestDigits(path.join(work, 'many'), d, Math.ceil((SCORE_CHUNK + 60) / 10))).flat();
  const det = await loadDetector(runDir);
  try {
    const streamed: ScoreResult[] = [];
    for await (const r of det.scoreFiles(many, { map: true })) {
      assert.ok(!('error' in r), JSON.stringify(r));
      streamed.push(r as ScoreResult);
    }
    const batch = await det.score(many, { map: true });
    assert.deepEqual(streamed.map((r) => r.file), many);
    streamed.forEach((r, i) => {
      assert.equal(r.novelty, batch[i].novelty, `${r.file}: score`);
      assert.deepEqual(r.map!.cells, batch[i].map!.cells, `${r.file}: cells`);
      assert.deepEqual(r.local, batch[i].local, `${r.file}: local verdict`);
      assert.ok(Buffer.from(r.map!.overlayPng).equals(Buffer.from(batch[i].map!.overlayPng)), `${r.file}: overlay`);
    });
  } finally {
    det.dispose();
  }
});
