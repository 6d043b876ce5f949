// anomalyMapsFrom (one matrix per axis) against the two steps it stands for, upsampleGrid then gaussianSmooth (each
// tested by hand in cell-map.test.ts), on grids that are not symmetric, at the sizes runs use and one that is not a
// multiple of the cell side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anomalyMapsFrom, gaussianSmooth, mapCellSide, upsampleGrid } from '../src/score/map-geometry';

test('anomalyMapsFrom: each map equals upsampleGrid then gaussianSmooth of σ = half a cell, picture by picture', () => {
  for (const [size, rows, cols] of [[28, 7, 7], [64, 8, 8], [30, 7, 7], [20, 5, 4]]) {
    const grid = rows * cols;
    const distances = Float32Array.from({ length: 3 * grid }, (_, i) => Math.sin(i * 1.7) ** 2 + (i % cols) * 0.01);
    const maps = anomalyMapsFrom(distances, 3, rows, cols, size);
    assert.equal(maps.length, 3);
    maps.forEach((m, i) => {
      const cells = distances.subarray(i * grid, (i + 1) * grid);
      assert.deepEqual([...m.cells], [...cells]);
      assert.deepEqual([m.rows, m.cols, m.size], [rows, cols, size]);
      const want = gaussianSmooth(upsampleGrid(cells, rows, cols, size, size), size, size, mapCellSide(size) / 2);
      want.forEach((v, k) => assert.ok(Math.abs(v - m.map[k]) < 1e-6, `${size}: picture ${i} pixel ${k}: ${m.map[k]} vs ${v}`));
    });
  }
});
