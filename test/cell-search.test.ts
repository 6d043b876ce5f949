// The anomaly maps' cell search on the compiled kernels (src/score/cell-search.ts) against plain loops: the first
// block at every pixel, pooled per cell, each part unit length, then the nearest memory cell at the same position;
// across the pass boundary (256 pictures), with and without the kernels' column maxima, and leave-one-out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CellPooling } from '../src/config';
import { floatsOf, ImageSet } from '../src/data/source';
import { mulberry32 } from '../src/data/random';
import { active, loadNativeKernels, NativeKernels } from '../src/kernels/addon';
import { compiledCellSearch } from '../src/score/cell-search';

loadNativeKernels();
const native = active();
const skip = native ? false : 'compiled kernels not built here';

/** Grey 28×28 pictures, bytes: a random blob each, so that cells differ. */
function pictures(count: number, seed: number): ImageSet {
  const rand = mulberry32(seed);
  const pixels = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) {
    const [cx, cy, w] = [rand() * 28, rand() * 28, 3 + rand() * 6];
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) pixels[i * 784 + y * 28 + x] = Math.round(255 * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * w * w)));
  }
  return { pixels, count, size: 28, channels: 1 };
}

function block(co: number) {
  const rand = mulberry32(co);
  return { filter: Float32Array.from({ length: 25 * co }, () => rand() * 2 - 1), bias: Float32Array.from({ length: co }, () => rand() * 0.4 - 0.2), alpha: 0.2, kh: 5, kw: 5, ci: 1, co };
}

/** 49 cells of one picture by plain loops: conv 'same', LeakyReLU, 4×4 mean (and max), each part unit (× 1/√2). */
function cellsOf(img: Float32Array, b: ReturnType<typeof block>, cells: CellPooling): number[][] {
  const { co } = b;
  const act = new Float64Array(784 * co);
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) for (let o = 0; o < co; o++) {
    let v = b.bias[o];
    for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) {
      const [yy, xx] = [y + ky - 2, x + kx - 2];
      if (yy >= 0 && yy < 28 && xx >= 0 && xx < 28) v += img[yy * 28 + xx] * b.filter[(ky * 5 + kx) * co + o];
    }
    act[(y * 28 + x) * co + o] = v > 0 ? v : b.alpha * v;
  }
  const unit = (v: number[], scale: number) => v.map((e) => (e / Math.hypot(...v)) * scale);
  const out: number[][] = [];
  for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) {
    const mean = new Array(co).fill(0), max = new Array(co).fill(-Infinity);
    for (let y = 4 * r; y < 4 * r + 4; y++) for (let x = 4 * c; x < 4 * c + 4; x++) for (let o = 0; o < co; o++) {
      mean[o] += act[(y * 28 + x) * co + o] / 16;
      max[o] = Math.max(max[o], act[(y * 28 + x) * co + o]);
    }
    out.push(cells === 'mean' ? unit(mean, 1) : [...unit(mean, Math.SQRT1_2), ...unit(max, Math.SQRT1_2)]);
  }
  return out;
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Same-position distances by plain loops; `skip[i]`: a memory image picture i is not compared with. */
function reference(query: number[][][], memory: number[][][], skip?: number[]): number[] {
  return query.flatMap((q, i) => q.map((cell, g) => 1 - Math.max(...memory.filter((_, k) => k !== skip?.[i]).map((m) => dot(cell, m[g])))));
}

function assertClose(got: Float32Array, want: number[], what: string): void {
  assert.equal(got.length, want.length, what);
  let worst = 0;
  want.forEach((v, k) => (worst = Math.max(worst, Math.abs(got[k] - v))));
  assert.ok(worst < 1e-5, `${what}: largest difference from the loops ${worst}`);
  assert.ok(want.some((v) => v > 0.01), `${what}: the case tests nothing, every distance is 0`);
}

for (const [co, cells] of [[6, 'mean-max'], [16, 'mean'], [16, 'mean-max']] as const) {
  test(`compiledCellSearch (${co} channels, ${cells}): each cell's nearest memory cell at its position, as plain loops find it`, { skip }, () => {
    const b = block(co);
    const memorySet = pictures(37, 1);
    const querySet = pictures(260, 2); // past one pass of 256
    const search = compiledCellSearch(native!, b, 28, cells, memorySet)!;
    assert.deepEqual([search.rows, search.cols, search.dims, search.images], [7, 7, co * (cells === 'mean' ? 1 : 2), 37]);
    const memoryCells = Array.from({ length: 37 }, (_, i) => cellsOf(floatsOf(memorySet, i, 1), b, cells));
    const queryCells = Array.from({ length: 260 }, (_, i) => cellsOf(floatsOf(querySet, i, 1), b, cells));
    assertClose(search.distances(floatsOf(querySet), 260), reference(queryCells, memoryCells), 'distances');
    // Leave-one-out: 10 evenly spaced probes (image ⌊j·37/10⌋), each without itself.
    const probes = Array.from({ length: 10 }, (_, j) => Math.floor((j * 37) / 10));
    assertClose(search.leaveOneOut(10), reference(probes.map((p) => memoryCells[p]), memoryCells, probes), 'leave-one-out');
  });
}

test('compiledCellSearch: an addon without columnMax gives the same distances (the loop in JavaScript)', { skip }, () => {
  const b = block(16);
  const [memorySet, querySet] = [pictures(20, 3), pictures(5, 4)];
  const withMax = compiledCellSearch(native!, b, 28, 'mean-max', memorySet)!.distances(floatsOf(querySet), 5);
  const older: NativeKernels = { ...native!, columnMax: undefined };
  const without = compiledCellSearch(older, b, 28, 'mean-max', memorySet)!.distances(floatsOf(querySet), 5);
  assert.deepEqual([...without], [...withMax]);
});

test('columnMax: each column\'s largest value over the rows, the columns past `cols` ignored', { skip }, () => {
  if (!native!.columnMax) return;
  const heap = Float32Array.from([1, -5, 9, 4, 7, 2, 3, 0, -1, 8, 6, 5, 0, 0]); // 3 rows × stride 4, out at 12
  native!.columnMax(heap, Int32Array.from([3, 2, 4, 0, 12]));
  assert.deepEqual([...heap.subarray(12)], [7, 8]);
  assert.throws(() => native!.columnMax!(heap, Int32Array.from([4, 2, 4, 0, 12])), /columnMax/);
});
