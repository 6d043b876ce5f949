// The maps' network-free baseline (src/score/pixel-cells.ts): raw pixel cells and their RMS distance to the nearest
// memory cell, at the same position or any, against plain loops over the pictures' pixels.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { CellNeighbourhood } from '../src/config';
import { ImageSet } from '../src/data/source';
import { mulberry32 } from '../src/data/random';
import { buildPixelCellMemory, disposePixelCellMemory, pixelCellDistances } from '../src/score/pixel-cells';

before(async () => {
  await tf.setBackend('cpu');
});

function randomSet(count: number, size: number, channels: number, seed: number): ImageSet {
  const rand = mulberry32(seed);
  return { pixels: Uint8Array.from({ length: count * size * size * channels }, () => Math.floor(rand() * 256)), count, size, channels };
}

/** Cell (r, c) of picture i as p·p·c floats, by plain indexing. */
function cellOf(set: ImageSet, i: number, r: number, c: number, p: number): number[] {
  const { size, channels } = set;
  const out: number[] = [];
  for (let y = r * p; y < (r + 1) * p; y++) for (let x = c * p; x < (c + 1) * p; x++) for (let k = 0; k < channels; k++) {
    out.push(set.pixels[((i * size + y) * size + x) * channels + k] / 255);
  }
  return out;
}

const rms = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

// 28×28 grey: 4×4 cells, a 7×7 grid; 30×30 colour: the same cells, 2 pixels beyond the last whole cell left out.
for (const [size, channels] of [[28, 1], [30, 3]] as const) {
  for (const neighbourhood of ['position', 'pooled'] as CellNeighbourhood[]) {
    test(`pixelCellDistances (${size}×${size}×${channels}, ${neighbourhood}): the RMS distance to the nearest memory cell, as plain loops find it`, () => {
      const memorySet = randomSet(4, size, channels, 1);
      const query = randomSet(3, size, channels, 2);
      // One query picture equal to a memory picture: by position its cells are all at distance 0.
      query.pixels.set(memorySet.pixels.subarray(0, size * size * channels), 0);
      const memory = buildPixelCellMemory(memorySet);
      const x = tf.tensor4d(Float32Array.from(query.pixels, (v) => v / 255), [3, size, size, channels]);
      const got = pixelCellDistances(memory, x, neighbourhood);
      const [p, g] = [4, 7];
      assert.deepEqual([memory.rows, memory.cols, memory.dims], [g, g, p * p * channels]);
      let worst = 0;
      for (let i = 0; i < 3; i++) for (let r = 0; r < g; r++) for (let c = 0; c < g; c++) {
        const q = cellOf(query, i, r, c, p);
        const candidates = [];
        for (let m = 0; m < 4; m++) {
          if (neighbourhood === 'position') candidates.push(cellOf(memorySet, m, r, c, p));
          else for (let rr = 0; rr < g; rr++) for (let cc = 0; cc < g; cc++) candidates.push(cellOf(memorySet, m, rr, cc, p));
        }
        const want = Math.min(...candidates.map((m) => rms(q, m)));
        worst = Math.max(worst, Math.abs(got[(i * g + r) * g + c] - want));
      }
      assert.ok(worst < 1e-3, `largest difference from the loops: ${worst}`);
      assert.ok(got.subarray(0, g * g).every((v) => v < 1e-3), 'a memory picture is at distance 0 from itself');
      assert.ok(got.subarray(g * g).some((v) => v > 0.1), 'the case tests nothing');
      x.dispose();
      disposePixelCellMemory(memory);
    });
  }
}
