// Raw pixels in the map cells (src/score/cell-pixels.ts): the pooling rule by hand, the pixel part against plain
// loops, and the search over [R's cells | the rotation net's | the pixels] by Euclidean distance on both engines
// against a brute force over whole cell vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_TRAIN_CONFIG } from '../src/config';
import { floatsOf } from '../src/data/source';
import { mulberry32 } from '../src/data/random';
import { active, loadNativeKernels } from '../src/kernels/addon';
import { CellPart, partLengths } from '../src/score/cell-part';
import { CellPixels, cellPixelsOf, PIXEL_CELL_VALUES, pixelPool, writePixelCells } from '../src/score/cell-pixels';
import { buildCellMemory, cellDistances, disposeCellMemory, leaveOneOutCellDistances } from '../src/score/cell-map';
import { cellSearchMemory, compiledCellSearch } from '../src/score/cell-search';
import { compiledRotationCells } from '../src/score/rotation-cells';
import { rotationCellsOfNet } from '../src/score/rotation-cells-tfjs';
import { bruteCells, CO, pooledOf, unitVector } from './helpers/brute-cells';
import { tempDir, useTestBackend } from './helpers/fixtures';
import { cellSearchFixture } from './helpers/rotation-net';

const work = tempDir('alocc-cell-pixels-');
loadNativeKernels();
const native = active();
const skip = native ? false : 'compiled kernels not built here';

test('pixelPool: the smallest divisor of the cell side that leaves at most 64 values a cell', () => {
  assert.equal(PIXEL_CELL_VALUES, 64);
  // 28×28 grey: 4×4 cells, 16 values kept whole; 64×64 grey 8×8 = 64 whole; 64×64×3 192 → 2×2 averages, 48.
  assert.deepEqual([pixelPool(4, 1), pixelPool(8, 1), pixelPool(8, 3)], [1, 1, 2]);
  // 48×48×3: 6×6×3 = 108 → 3×3×3 = 27; 80×80×3: 10×10×3 = 300, 5×5×3 = 75, so 2×2×3 = 12 (P 5); 256×256×3: 32 → P 8.
  assert.deepEqual([pixelPool(6, 3), pixelPool(10, 3), pixelPool(32, 3)], [2, 5, 8]);
  assert.equal(cellPixelsOf({ cellPixelWeight: 0 }, 28, 1), undefined);
  assert.deepEqual(cellPixelsOf({ cellPixelWeight: 1.5 }, 64, 3), { weight: 1.5, cell: 8, pool: 2, channels: 3, values: 48 });
  assert.deepEqual(cellPixelsOf({ cellPixelWeight: 1 }, 28, 1), { weight: 1, cell: 4, pool: 1, channels: 1, values: 16 });
  assert.ok(DEFAULT_TRAIN_CONFIG.cellPixelWeight > 0, 'the maps read the pixels by default');
});

test('writePixelCells: each cell\'s pixels averaged over pool × pool squares, times weight/√values, cell by cell', () => {
  // Two 16×16×3 pictures, 4×4 cells (a 4×4 grid), averaged 2×2: 2×2×3 = 12 values a cell.
  const px: CellPixels = { weight: 2, cell: 4, pool: 2, channels: 3, values: 12 };
  const rand = mulberry32(3);
  const pixels = Float32Array.from({ length: 2 * 16 * 16 * 3 }, () => rand());
  const at = (q: number, y: number, x: number, c: number) => pixels[((q * 16 + y) * 16 + x) * 3 + c];
  const want: number[] = [];
  for (let q = 0; q < 2; q++) for (let gy = 0; gy < 4; gy++) for (let gx = 0; gx < 4; gx++) {
    for (let iy = 0; iy < 2; iy++) for (let ix = 0; ix < 2; ix++) for (let c = 0; c < 3; c++) {
      const [y, x] = [gy * 4 + iy * 2, gx * 4 + ix * 2];
      want.push(((at(q, y, x, c) + at(q, y, x + 1, c) + at(q, y + 1, x, c) + at(q, y + 1, x + 1, c)) / 4) * (2 / Math.sqrt(12)));
    }
  }
  const out = new Float32Array(5 + want.length).fill(-7);
  writePixelCells(pixels, 2, 16, px, out, 5);
  assert.deepEqual([...out.subarray(0, 5)], [-7, -7, -7, -7, -7], 'nothing before `at` written');
  want.forEach((v, k) => assert.ok(Math.abs(out[5 + k] - v) < 1e-6, `value ${k}: ${out[5 + k]} against ${v}`));
  // 18×18 pictures leave their last two rows and columns out, as the network's cells do: the same 4×4 grid.
  const big = new Float32Array(18 * 18 * 3).fill(0.5);
  const cells = new Float32Array(16 * 12);
  writePixelCells(big, 1, 18, px, cells, 0);
  assert.ok(cells.every((v) => Math.abs(v - 0.5 * (2 / Math.sqrt(12))) < 1e-6));
});

const sq = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);

test('the pixels in the map cells: half the squared distance to the nearest memory cell, on both engines, with and without the rotation net\'s cells', { skip }, async () => {
  await useTestBackend();
  const { net, folded, b, compiledBlock, memorySet, querySet } = await cellSearchFixture(work);
  const x = floatsOf(querySet);
  // Whole 4×4 cells (16 values, as the product at 28×28) and 2×2 averages of them (4 values), weights 1.5 and 0.6.
  const cases: { px: CellPixels; rotation: number }[] = [
    { px: { weight: 1.5, cell: 4, pool: 1, channels: 1, values: 16 }, rotation: 0.7 },
    { px: { weight: 0.6, cell: 4, pool: 2, channels: 1, values: 4 }, rotation: 0 },
  ];
  for (const { px, rotation } of cases) {
    const what = `V ${px.weight}, pool ${px.pool}, rotation ${rotation}`;
    const lengths = partLengths(rotation > 0 ? { weight: rotation } : undefined);
    // Each picture's 49 cell vectors by the loops: R's (unit), the net's (unit · w) over √(1 + w²), the pixels.
    const vectors = (set: typeof memorySet) => Array.from({ length: set.count }, (_, i) => {
      const img = floatsOf(set, i, 1);
      const r = bruteCells(img, 28, b, 4, 'mean-max');
      const rot = rotation > 0 ? tf.tidy(() => {
        const trunk = tf.model({ inputs: net.inputs, outputs: net.getLayer('rot_pool1').output as tf.SymbolicTensor });
        return Array.from((trunk.predict(tf.tensor4d(img, [1, 28, 28, 1])) as tf.Tensor).dataSync());
      }) : [];
      const co = rot.length / 49;
      return r.map((cell, g) => {
        const [gy, gx] = [Math.floor(g / 7), g % 7];
        const pixels: number[] = [];
        const inner = 4 / px.pool;
        for (let iy = 0; iy < inner; iy++) for (let ix = 0; ix < inner; ix++) {
          let sum = 0;
          for (let dy = 0; dy < px.pool; dy++) for (let dx = 0; dx < px.pool; dx++) sum += img[(gy * 4 + iy * px.pool + dy) * 28 + gx * 4 + ix * px.pool + dx];
          pixels.push((sum / px.pool ** 2) * (px.weight / Math.sqrt(px.values)));
        }
        const own = rotation > 0 ? unitVector(rot.slice(g * co, (g + 1) * co), lengths.extra) : [];
        return [...cell.map((v) => v * lengths.r), ...own, ...pixels];
      });
    });
    const memory = vectors(memorySet), query = vectors(querySet);
    const want = query.flatMap((q) => q.map((cell, g) => Math.min(...memory.map((m) => sq(cell, m[g]) / 2))));
    const picked = Array.from({ length: 4 }, (_, j) => Math.floor((j * 37) / 4));
    const wantOut = picked.flatMap((id) => memory[id].map((cell, g) => Math.min(...memory.filter((_, k) => k !== id).map((m) => sq(cell, m[g]) / 2))));
    const close = (got: Float32Array, expected: number[], where: string) => {
      assert.equal(got.length, expected.length, where);
      let worst = 0;
      expected.forEach((v, k) => (worst = Math.max(worst, Math.abs(got[k] - v))));
      assert.ok(worst < 1e-4, `${what}, ${where}: largest difference from the loops ${worst}`);
    };
    const part: CellPart | undefined = rotation > 0 ? compiledRotationCells(native!, folded, 28, 1, 7, 7, rotation) : undefined;
    const search = compiledCellSearch(native!, compiledBlock, 28, 'mean-max', memorySet, part, px)!;
    assert.equal(search.dims, 2 * CO + (part?.dims ?? 0) + px.values + 1);
    close(search.distances(x, 5), want, 'compiled distances');
    close(search.leaveOneOut(4), wantOut, 'compiled leave-one-out');
    // The memory filled as training's pass fills it: R's pooled cells a picture at a time, the rest afterwards.
    const byPass = cellSearchMemory(native!, compiledBlock, 28, 'mean-max', 37, part, px);
    assert.equal(byPass.needsPictures, true);
    const memoryPixels = floatsOf(memorySet);
    const pooled = pooledOf(native!, compiledBlock, memoryPixels, 37);
    for (let k = 0; k < 37; k++) byPass.addPooled(k, pooled.subarray(k * 49 * 2 * CO, (k + 1) * 49 * 2 * CO));
    byPass.addPartCells(0, memoryPixels, 37);
    close(byPass.search.distances(x, 5), want, 'compiled, memory from the pass');
    close(byPass.search.distancesFromPooled(pooledOf(native!, compiledBlock, x, 5), 5, () => x), want, 'compiled, from the pooled block');
    // tfjs's ops, by position and at any position.
    const tfjsPart = rotation > 0 ? rotationCellsOfNet(net, 7, 7, rotation) : undefined;
    const cellMemory = buildCellMemory(b, 'mean-max', memorySet, { part: tfjsPart, pixels: px, batchSize: 16 });
    const t = tf.tensor4d(x, [5, 28, 28, 1]);
    close(cellDistances(cellMemory, t, 'position'), want, 'tfjs distances');
    close(leaveOneOutCellDistances(cellMemory, 4), wantOut, 'tfjs leave-one-out');
    const wantPooled = query.flatMap((q) => q.map((cell) => Math.min(...memory.flatMap((m) => m.map((c) => sq(cell, c) / 2)))));
    close(cellDistances(cellMemory, t, 'pooled'), wantPooled, 'tfjs distances, any position');
    t.dispose();
    disposeCellMemory(cellMemory);
  }
  net.dispose();
});
