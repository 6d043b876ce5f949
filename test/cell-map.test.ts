import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { anomalyMaps, buildCellMemory, cellDistances, gaussianSmooth, upsampleGrid } from '../src/score/cell-map';
import { CellPooling } from '../src/config';
import { ImageSet } from '../src/data/source';
import { block, bruteCells, pictures } from './helpers/brute-cells';

before(async () => {
  await tf.setBackend('cpu');
});

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

for (const cells of ['mean-max', 'mean'] as CellPooling[]) {
  test(`cellDistances (${cells}): each cell's nearest memory cell, pooled and per position, as plain loops find them`, () => {
    const b = block();
    const memorySet = pictures(5, 28, 1);
    const querySet = pictures(3, 28, 2);
    const memory = buildCellMemory(b, cells, memorySet, { batchSize: 2 }); // batches of 2: the bank must join them in order
    assert.deepEqual([memory.rows, memory.cols, memory.images], [7, 7, 5]);
    const floats = (set: ImageSet, i: number) => Float32Array.from(set.pixels.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
    const memoryCells = Array.from({ length: 5 }, (_, i) => bruteCells(floats(memorySet, i), 28, b, 4, cells));
    const x = tf.tensor4d(Float32Array.from(querySet.pixels, (v) => v / 255), [3, 28, 28, 1]);
    const pooled = cellDistances(memory, x, 'pooled');
    const position = cellDistances(memory, x, 'position');
    let worst = 0;
    for (let i = 0; i < 3; i++) {
      const q = bruteCells(floats(querySet, i), 28, b, 4, cells);
      for (let g = 0; g < 49; g++) {
        const anywhere = 1 - Math.max(...memoryCells.flatMap((m) => m.map((cell) => dot(q[g], cell))));
        const same = 1 - Math.max(...memoryCells.map((m) => dot(q[g], m[g])));
        worst = Math.max(worst, Math.abs(pooled[i * 49 + g] - anywhere), Math.abs(position[i * 49 + g] - same));
        assert.ok(position[i * 49 + g] >= pooled[i * 49 + g] - 1e-5, 'the same position is never nearer than any position');
      }
    }
    assert.ok(worst < 1e-4, `largest difference from the loops: ${worst}`);
    assert.ok(pooled.some((v) => v > 0.01), 'the case tests nothing: every distance is 0');
    tf.dispose([x, memory.bank, b.filter, b.bias]);
  });
}

test('upsampleGrid: cell centres keep their values, halfway between two centres the mean; gaussianSmooth keeps a flat map flat', () => {
  // A 2×2 grid to 4×4: centres of cells at pixels 0.5 and 2.5 (pixel coordinate (i + 0.5)·2/4 − 0.5 → −0.25, 0.25,
  // 0.75, 1.25, clamped to [0, 1]): row 0 reads grid row 0 for pixels 0 (clamped), 1 mixes 0.75·row0 + 0.25·row1.
  const up = upsampleGrid([0, 4, 8, 12], 2, 2, 4, 4);
  assert.deepEqual([...up.subarray(0, 4)], [0, 1, 3, 4]);
  assert.deepEqual([...up.subarray(4, 8)], [2, 3, 5, 6]);
  const flat = gaussianSmooth(new Float32Array(36).fill(0.7), 6, 6, 2);
  for (const v of flat) assert.ok(Math.abs(v - 0.7) < 1e-6);
  // A single spike spreads symmetrically and keeps its peak where it was.
  const spike = new Float32Array(49);
  spike[24] = 1;
  const blurred = gaussianSmooth(spike, 7, 7, 1);
  assert.equal(blurred.indexOf(Math.max(...blurred)), 24);
  assert.ok(Math.abs(blurred[23] - blurred[25]) < 1e-7 && Math.abs(blurred[17] - blurred[31]) < 1e-7);
});

test('anomalyMaps: a patch pasted into one cell of a memory picture raises that cell and its neighbours only, and the map peaks there', () => {
  const b = block();
  const memorySet = pictures(6, 28, 3);
  const memory = buildCellMemory(b, 'mean-max', memorySet, { batchSize: 6 });
  // Memory picture 0 with a checkerboard pasted into cell (row 2, col 5): pixels y 8..11, x 20..23.
  const img = Float32Array.from(memorySet.pixels.subarray(0, 784), (v) => v / 255);
  for (let y = 8; y < 12; y++) for (let x = 20; x < 24; x++) img[y * 28 + x] = (x + y) % 2;
  const x = tf.tensor4d(img, [1, 28, 28, 1]);
  const [map] = anomalyMaps(memory, x);
  // The 5×5 conv reaches 2 pixels past the patch, into the 8 neighbouring cells; every other cell is a memory cell
  // (picture 0's own), at distance 0. A neighbour may top the patch's own cell: half patch, half background, its
  // mean and max disagree as in no memory cell.
  const near = (r: number, c: number) => Math.abs(r - 2) <= 1 && Math.abs(c - 5) <= 1;
  for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) {
    if (!near(r, c)) assert.ok(map.cells[r * 7 + c] < 1e-5, `cell ${r},${c}: ${map.cells[r * 7 + c]}`);
  }
  assert.ok(map.cells[2 * 7 + 5] > 0.01, `the patch's cell: ${map.cells[2 * 7 + 5]}`);
  // The map: every pixel above half its peak lies within the patch's cell and its neighbours (y 4..15, x 16..27),
  // and the patch's own pixels are among them.
  const peak = Math.max(...map.map);
  for (let i = 0; i < 784; i++) {
    const [py, px] = [Math.floor(i / 28), i % 28];
    if (map.map[i] > peak / 2) assert.ok(py >= 4 && py < 16 && px >= 16, `pixel ${px},${py} above half the peak`);
  }
  assert.ok(map.map[10 * 28 + 22] > peak / 2, 'the patch\'s centre is above half the peak');
  assert.ok(map.map[27 * 28 + 0] < 1e-4, 'a far corner stays at 0');
  tf.dispose([x, memory.bank, b.filter, b.bias]);
});

test('localScore: the largest cell distance, or the mean of the k largest', async () => {
  const { localScore } = await import('../src/score/cell-map');
  // Cells 0.1, 0.7, 0.3, 0.5: max 0.7; top 2 (0.7 + 0.5) / 2 = 0.6; all four 1.6 / 4 = 0.4.
  const cells = [0.1, 0.7, 0.3, 0.5];
  assert.equal(localScore(cells), 0.7);
  assert.ok(Math.abs(localScore(cells, 2) - 0.6) < 1e-12);
  assert.ok(Math.abs(localScore(cells, 4) - 0.4) < 1e-12);
  assert.throws(() => localScore(cells, 5), /k must be 1\.\.4/);
});

test('cellFeatures: the compiled one-pass kernel on wasm gives the cells tfjs gives on cpu', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  const { loadNativeKernels, registerFastConvGradients } = await import('../src/kernels');
  const { cellFeatures } = await import('../src/score/cell-map');
  const { nativePooledConv } = await import('../src/kernels/native');
  loadNativeKernels();
  const set = pictures(3, 28, 9);
  const run = (cells: CellPooling) => {
    const b = block();
    const out = tf.tidy(() => cellFeatures(tf.tensor4d(Float32Array.from(set.pixels, (v) => v / 255), [3, 28, 28, 1]), b, cells).dataSync() as Float32Array);
    tf.dispose([b.filter, b.bias]);
    return out;
  };
  const cpu = { meanMax: run('mean-max'), mean: run('mean') };
  try {
    await tf.setBackend('wasm');
    registerFastConvGradients('wasm');
    const probe = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    const native = nativePooledConv(probe, tf.zeros([5, 5, 1, 2]), tf.zeros([2]), 0.2, 4);
    tf.dispose([probe, native ?? []]);
    if (!native) return; // no compiled kernels on this machine: the cpu path above is the one that runs
    for (const [cells, want] of [['mean-max', cpu.meanMax], ['mean', cpu.mean]] as const) {
      const got = run(cells);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      assert.ok(worst < 1e-4, `${cells}: wasm differs from cpu by ${worst}`);
    }
  } finally {
    await tf.setBackend('cpu');
  }
});
