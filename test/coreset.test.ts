import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFastConvGradients, setNativeKernels } from '../src/kernels';
import { ImageSet } from '../src/data/source';
import { coreset, CoresetWorkspace, greedyCoreset, Similarities, similarities } from '../src/score/coreset';
import { pixelSpace } from '../src/score/feature-memory';

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
}

/** Unit rows' cosine similarities by plain loops: the reference for similarities(). */
function cosines(set: ImageSet): Float64Array {
  const per = set.size * set.size * set.channels;
  const norms = Array.from({ length: set.count }, (_, i) => Math.hypot(...set.pixels.subarray(i * per, (i + 1) * per)));
  const out = new Float64Array(set.count * set.count);
  for (let i = 0; i < set.count; i++) {
    for (let j = 0; j < set.count; j++) {
      let dot = 0;
      for (let p = 0; p < per; p++) dot += set.pixels[i * per + p] * set.pixels[j * per + p];
      out[i * set.count + j] = dot / (norms[i] * norms[j]);
    }
  }
  return out;
}

/**
 * Greedy k-centre written the slow, obvious way: after each pick, every image's distance to the set kept is the
 * minimum over the set, recomputed from scratch; the next pick is the first image with the largest.
 */
function bruteForceKCentre(sims: ArrayLike<number>, n: number, m: number): number[] {
  const chosen = [0];
  while (chosen.length < m) {
    let best = -1;
    let bestDist = -Infinity;
    for (let i = 0; i < n; i++) {
      const d = Math.min(...chosen.map((c) => 1 - sims[c * n + i]));
      if (d > bestDist) {
        bestDist = d;
        best = i;
      }
    }
    chosen.push(best);
  }
  return chosen.sort((a, b) => a - b);
}

/** A full row-major matrix read a row at a time. */
function fromMatrix(sims: Float32Array, n: number): Similarities {
  return { count: n, row: (r, into) => into.set(sims.subarray(r * n, (r + 1) * n)) };
}

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

for (const compiled of [true, false]) {
  test(`similarities${compiled ? '' : ' without the compiled kernels'}: every pair's cosine, across blocks of columns, as plain loops compute it`, () => {
    // 1,100 images: three blocks of 512 columns, the last one partial; rows above, inside and below each block.
    const n = 1100;
    const set: ImageSet = { pixels: bytes(n * 16, 3), count: n, size: 4, channels: 1 };
    setNativeKernels(compiled);
    try {
      const { sims, features, dims } = similarities(pixelSpace, set);
      assert.equal(sims.count, n);
      const want = cosines(set);
      const row = new Float32Array(n);
      let worst = 0;
      for (let r = 0; r < n; r++) {
        row.fill(NaN);
        sims.row(r, row);
        for (let c = 0; c < n; c++) {
          const d = Math.abs(row[c] - want[r * n + c]);
          worst = Math.max(worst, Number.isNaN(d) ? Infinity : d); // NaN: a value never written
        }
      }
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
      // Each image's feature row is its pixels scaled to unit length.
      assert.equal(dims, 16);
      const p = set.pixels.subarray(700 * 16, 701 * 16);
      const norm = Math.hypot(...p);
      for (let j = 0; j < 16; j++) assert.ok(Math.abs(features[700 * 16 + j] - p[j] / norm) < 1e-6);
    } finally {
      setNativeKernels(true);
    }
  });
}

test('a workspace reused for a smaller set after a larger one gives what a fresh one gives', () => {
  const large: ImageSet = { pixels: bytes(900 * 16, 5), count: 900, size: 4, channels: 1 };
  const small: ImageSet = { pixels: bytes(600 * 16, 6), count: 600, size: 4, channels: 1 };
  const workspace = new CoresetWorkspace();
  const first = coreset(pixelSpace, large, 50, 1, workspace);
  assert.deepEqual(coreset(pixelSpace, large, 50, 1), first, 'the same as a fresh workspace');
  const again = coreset(pixelSpace, small, 40, 1, workspace);
  assert.deepEqual(again, coreset(pixelSpace, small, 40, 1));
});

test('greedyCoreset picks what a brute-force greedy k-centre picks', () => {
  for (const [n, m, seed] of [[40, 7, 1], [120, 30, 2], [65, 64, 3]]) {
    const set: ImageSet = { pixels: bytes(n * 9, seed), count: n, size: 3, channels: 1 };
    const sims = Float32Array.from(cosines(set));
    assert.deepEqual(Array.from(greedyCoreset(fromMatrix(sims, n), m)), bruteForceKCentre(sims, n, m), `n ${n}, m ${m}`);
  }
});

test('greedyCoreset keeps the outliers and drops the near-duplicates', () => {
  // Ten copies of one picture, one of another, and three distinct: a coreset of five keeps one copy of each kind.
  const kinds = [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255], [255, 255, 0, 0]];
  const rows = [...Array(10).fill(kinds[0]), ...kinds.slice(1)];
  const set: ImageSet = { pixels: Uint8Array.from(rows.flat()), count: rows.length, size: 2, channels: 1 };
  const core = coreset(pixelSpace, set, 5, 1);
  assert.equal(core.images.count, 5);
  const kept = Array.from({ length: 5 }, (_, i) => Array.from(core.images.pixels.subarray(i * 4, i * 4 + 4)));
  assert.deepEqual(new Set(kept.map((k) => k.join())), new Set(kinds.map((k) => k.join())));
  // The features handed back are the kept images' own, unit length.
  assert.equal(core.dims, 4);
  kept.forEach((k, i) => k.forEach((v, j) => assert.ok(Math.abs(core.features[i * 4 + j] - v / Math.hypot(...k)) < 1e-6)));
});

test('a set no larger than the coreset is kept whole', () => {
  const set: ImageSet = { pixels: bytes(30 * 4, 9), count: 30, size: 2, channels: 1 };
  const core = coreset(pixelSpace, set, 30, 1);
  assert.equal(core.images, set);
  assert.equal(core.features.length, 30 * 4);
  assert.deepEqual(Array.from(greedyCoreset(fromMatrix(new Float32Array(4), 2), 5)), [0, 1]);
});
