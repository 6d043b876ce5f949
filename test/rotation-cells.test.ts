// The rotation net's cells in the maps (src/score/cell-part.ts): the net's first two blocks on the compiled kernels
// (rotation-cells.ts) and on tfjs (rotation-cells-tfjs.ts) against plain loops over the saved net's own weights
// (BatchNorm unfolded), and the search over R's cells and the net's together, on both engines, against a brute force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { floatsOf } from '../src/data/source';
import { active, loadNativeKernels } from '../src/kernels/addon';
import { rotationShrink } from '../src/models/rotation-net';
import { readRotationNet } from '../src/run/open-rotation';
import { partLengths, resampleCells, rotationCellSide } from '../src/score/cell-part';
import { buildCellMemory, cellDistances, cellFeatures, disposeCellMemory, leaveOneOutCellDistances } from '../src/score/cell-map';
import { compiledCellSearch, cellSearchMemory } from '../src/score/cell-search';
import { mapCellSide } from '../src/score/map-geometry';
import { compiledRotationCells } from '../src/score/rotation-cells';
import { foldedRotationNet, rotationCellsOfNet } from '../src/score/rotation-cells-tfjs';
import { bruteCells, CO, pooledOf, unitVector } from './helpers/brute-cells';
import { tempDir, useTestBackend } from './helpers/fixtures';
import { cellSearchFixture, savedRotationNet, uniform } from './helpers/rotation-net';

const work = tempDir('alocc-rotation-cells-');
loadNativeKernels();
const native = active();
const skip = native ? false : 'compiled kernels not built here';

test('resampleCells: each output cell takes the map cell under its centre; equal grids are left as they are', () => {
  // One 2×2 map of two channels to 3×3: centres 0.5, 1.5, 2.5 of 3 fall in cells 0, 1, 1 of 2.
  const map = Float32Array.from([1, -1, 2, -2, 3, -3, 4, -4]);
  assert.deepEqual([...resampleCells(map, 1, 2, 2, 2, 3, 3)], [1, -1, 2, -2, 2, -2, 3, -3, 4, -4, 4, -4, 3, -3, 4, -4, 4, -4]);
  // 3×3 to 2×2: centres 0.75 and 2.25 of 3 fall in cells 0 and 2.
  const nine = Float32Array.from({ length: 9 }, (_, i) => i);
  assert.deepEqual([...resampleCells(nine, 1, 3, 3, 1, 2, 2)], [0, 2, 6, 8]);
  assert.deepEqual([...resampleCells(map, 1, 2, 2, 2, 2, 2)], [...map]);
  for (const [weight, r, extra] of [[1, Math.SQRT1_2, Math.SQRT1_2], [2, 1 / Math.sqrt(5), 2 / Math.sqrt(5)]]) {
    const got = partLengths({ weight });
    assert.ok(Math.abs(got.r - r) < 1e-15 && Math.abs(got.extra - extra) < 1e-15, `w ${weight}: ${JSON.stringify(got)}`);
  }
  assert.deepEqual(partLengths(undefined), { r: 1, extra: 0 });
  assert.deepEqual([rotationCellSide(28, 1), rotationCellSide(64, 2), rotationCellSide(40, 2), rotationCellSide(17, 1)], [7, 8, 5, 5]);
});

/**
 * The net's first two blocks by plain loops from its tfjs weights, BatchNorm as its formula (not folded): average
 * shrink, then per block 3×3 'same' conv, (v − mean)/√(var + ε)·γ + β, LeakyReLU 0.2, 2×2 'same' max pool; [g][g][co].
 */
function bruteRotation(net: tf.LayersModel, img: Float32Array, side: number, ch: number): { cells: number[]; grid: number; co: number } {
  const shrink = rotationShrink(side);
  let s = Math.floor(side / shrink);
  let x = new Float64Array(s * s * ch);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) for (let c = 0; c < ch; c++) {
    let sum = 0;
    for (let y = 0; y < shrink; y++) for (let z = 0; z < shrink; z++) sum += img[((i * shrink + y) * side + j * shrink + z) * ch + c];
    x[(i * s + j) * ch + c] = sum / (shrink * shrink);
  }
  let ci = ch;
  for (let b = 0; b < 2; b++) {
    const [kernel, bias] = net.getLayer(`rot_conv${b}`).getWeights().map((w) => w.dataSync());
    const bn = net.getLayer(`rot_conv${b}_bn`);
    const [gamma, beta, mean, variance] = bn.getWeights().map((w) => w.dataSync());
    const eps = (bn.getConfig().epsilon as number) ?? 1e-3;
    const co = bias.length;
    const act = new Float64Array(s * s * co);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) for (let o = 0; o < co; o++) {
      let v = bias[o];
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const [yy, xx] = [i + dy, j + dx];
        if (yy < 0 || yy >= s || xx < 0 || xx >= s) continue;
        for (let c = 0; c < ci; c++) v += x[(yy * s + xx) * ci + c] * kernel[(((dy + 1) * 3 + dx + 1) * ci + c) * co + o];
      }
      v = ((v - mean[o]) / Math.sqrt(variance[o] + eps)) * gamma[o] + beta[o];
      act[(i * s + j) * co + o] = v > 0 ? v : 0.2 * v;
    }
    const h = Math.ceil(s / 2);
    const pooled = new Float64Array(h * h * co).fill(-Infinity);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) for (let o = 0; o < co; o++) {
      const at = ((i >> 1) * h + (j >> 1)) * co + o;
      pooled[at] = Math.max(pooled[at], act[(i * s + j) * co + o]);
    }
    [x, s, ci] = [pooled, h, co];
  }
  return { cells: [...x], grid: s, co: ci };
}

test('the rotation net\'s cells on the compiled kernels and on tfjs equal plain loops over its weights, resampled to R\'s grid', { skip }, async () => {
  await useTestBackend();
  // [side, channels]: MNIST's shape, the colour benchmark's (shrunk by 2), and 40 (shrunk to 20 → 10 → 5 cells
  // against R's 6×6 grid, so resampled) and 17 (odd: 17 → 9 → 5, clipped pools; R's grid 4×4).
  for (const [side, channels] of [[28, 1], [64, 3], [40, 3], [17, 1]] as const) {
    const { net, dir, checksums } = await savedRotationNet(work, side, channels, 4, side + 100);
    const rows = Math.floor(side / mapCellSide(side));
    // At 17, more pictures than a pass takes (128 on both engines), so the second pass's cells land in their place.
    const n = side === 17 ? 130 : 3;
    const pixels = uniform(n * side * side * channels, side);
    const saved = readRotationNet(dir, checksums);
    // Training folds the net in memory (foldedRotationNet) as the saved files are folded at load: the same numbers.
    assert.deepEqual(foldedRotationNet(net), saved);
    const compiled = compiledRotationCells(native!, saved, side, channels, rows, rows, 1).cells(pixels, n);
    const onTfjs = rotationCellsOfNet(net, rows, rows, 1).cells(pixels, n);
    const want: number[] = [];
    for (let q = 0; q < n; q++) {
      const { cells, grid, co } = bruteRotation(net, pixels.subarray(q * side * side * channels, (q + 1) * side * side * channels), side, channels);
      assert.equal(grid, rotationCellSide(side, rotationShrink(side)));
      want.push(...resampleCells(Float32Array.from(cells), 1, grid, grid, co, rows, rows));
    }
    for (const [what, got] of [['compiled', compiled], ['tfjs', onTfjs]] as const) {
      assert.equal(got.length, want.length, `${side}: ${what}`);
      let worst = 0;
      want.forEach((v, k) => (worst = Math.max(worst, Math.abs(got[k] - v))));
      assert.ok(worst < 1e-4, `${side}×${side}×${channels} ${what}: largest difference from the loops ${worst}`);
    }
    net.dispose();
  }
});

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

test('R\'s cells and the rotation net\'s in one search: each cell\'s nearest memory cell in both views at once, on both engines', { skip }, async () => {
  await useTestBackend();
  const { net, folded, b, compiledBlock, memorySet, querySet } = await cellSearchFixture(work);
  for (const weight of [1, 0.5]) {
    const lengths = partLengths({ weight });
    // Each picture's 49 cell vectors by the loops: R's (unit) then the net's (unit · w), over √(1 + w²).
    const vectors = (set: typeof memorySet) => Array.from({ length: set.count }, (_, i) => {
      const img = floatsOf(set, i, 1);
      const r = bruteCells(img, 28, b, 4, 'mean-max');
      const { cells, co } = bruteRotation(net, img, 28, 1);
      return r.map((cell, g) => [...cell.map((v) => v * lengths.r), ...unitVector(cells.slice(g * co, (g + 1) * co), lengths.extra)]);
    });
    const memory = vectors(memorySet), query = vectors(querySet);
    const want = query.flatMap((q) => q.map((cell, g) => 1 - Math.max(...memory.map((m) => dot(cell, m[g])))));
    const picked = Array.from({ length: 4 }, (_, j) => Math.floor((j * 37) / 4));
    const wantOut = picked.flatMap((id) => memory[id].map((cell, g) => 1 - Math.max(...memory.filter((_, k) => k !== id).map((m) => dot(cell, m[g])))));
    const close = (got: Float32Array, expected: number[], what: string) => {
      assert.equal(got.length, expected.length, what);
      let worst = 0;
      expected.forEach((v, k) => (worst = Math.max(worst, Math.abs(got[k] - v))));
      assert.ok(worst < 1e-4, `w ${weight}, ${what}: largest difference from the loops ${worst}`);
    };
    // The compiled search, from pixels, from the verdict's pooled first block, and leave-one-out.
    const part = compiledRotationCells(native!, folded, 28, 1, 7, 7, weight);
    const search = compiledCellSearch(native!, compiledBlock, 28, 'mean-max', memorySet, part)!;
    assert.equal(search.dims, 2 * CO + part.dims);
    const x = floatsOf(querySet);
    close(search.distances(x, 5), want, 'compiled distances');
    close(search.leaveOneOut(4), wantOut, 'compiled leave-one-out');
    // After leave-one-out, so that nothing of the queries' own cells is left in the search's buffers.
    close(search.distancesFromPooled(pooledOf(native!, compiledBlock, x, 5), 5, () => x), want, 'compiled distances from the pooled block');
    // The memory filled as training's pass fills it: R's pooled cells a picture at a time, the part's afterwards.
    const byPass = cellSearchMemory(native!, compiledBlock, 28, 'mean-max', 37, part);
    const memoryPooled = pooledOf(native!, compiledBlock, floatsOf(memorySet), 37);
    for (let k = 0; k < 37; k++) byPass.addPooled(k, memoryPooled.subarray(k * 49 * 2 * CO, (k + 1) * 49 * 2 * CO));
    byPass.addPartCells(0, floatsOf(memorySet), 37);
    close(byPass.search.distances(x, 5), want, 'compiled, memory from the pass');
    // tfjs's ops with the tfjs net's cells.
    const tfjsPart = rotationCellsOfNet(net, 7, 7, weight);
    const cellMemory = buildCellMemory(b, 'mean-max', memorySet, { part: tfjsPart, batchSize: 16 });
    const t = tf.tensor4d(x, [5, 28, 28, 1]);
    close(cellDistances(cellMemory, t, 'position'), want, 'tfjs distances');
    close(leaveOneOutCellDistances(cellMemory, 4), wantOut, 'tfjs leave-one-out');
    // Any position ('pooled'): the nearest memory cell wherever it is, in both views at once.
    const wantPooled = query.flatMap((q) => q.map((cell) => 1 - Math.max(...memory.flatMap((m) => m.map((c) => dot(cell, c))))));
    close(cellDistances(cellMemory, t, 'pooled'), wantPooled, 'tfjs distances, any position');
    const features = tf.tidy(() => cellFeatures(t, b, 'mean-max', tfjsPart).dataSync() as Float32Array);
    close(features, query.flat(2), 'tfjs cell vectors');
    t.dispose();
    disposeCellMemory(cellMemory);
  }
  net.dispose();
});
