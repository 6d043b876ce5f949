import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFastConvGradients, setNativeKernels } from '../src/kernels';
import { ImageSet } from '../src/data/source';
import { coresetImages, greedyCoreset, similarityMatrix } from '../src/score/coreset';
import { pixelSpace } from '../src/score/feature-memory';

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
}

/** Unit rows' cosine similarities by plain loops: the reference for similarityMatrix. */
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

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

for (const compiled of [true, false]) {
  test(`similarityMatrix${compiled ? '' : ' without the compiled kernels'}: every pair's cosine, across blocks of columns, as plain loops compute it`, () => {
    const set: ImageSet = { pixels: bytes(700 * 16, 3), count: 700, size: 4, channels: 1 }; // 700 > one block of 512
    setNativeKernels(compiled);
    try {
      const got = similarityMatrix(pixelSpace, set);
      const want = cosines(set);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
      assert.equal(got[699 * 700 + 3], got[3 * 700 + 699], 'symmetric');
    } finally {
      setNativeKernels(true);
    }
  });
}

test('greedyCoreset picks what a brute-force greedy k-centre picks', () => {
  for (const [n, m, seed] of [[40, 7, 1], [120, 30, 2], [65, 64, 3]]) {
    const set: ImageSet = { pixels: bytes(n * 9, seed), count: n, size: 3, channels: 1 };
    const sims = Float32Array.from(cosines(set));
    assert.deepEqual(Array.from(greedyCoreset(sims, n, m)), bruteForceKCentre(sims, n, m), `n ${n}, m ${m}`);
  }
});

test('greedyCoreset keeps the outliers and drops the near-duplicates', () => {
  // Ten copies of one picture, one of another, and three distinct: a coreset of five keeps one copy of each kind.
  const kinds = [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255], [255, 255, 0, 0]];
  const rows = [...Array(10).fill(kinds[0]), ...kinds.slice(1)];
  const set: ImageSet = { pixels: Uint8Array.from(rows.flat()), count: rows.length, size: 2, channels: 1 };
  const core = coresetImages(pixelSpace, set, 5, 1);
  assert.equal(core.count, 5);
  const kept = Array.from({ length: 5 }, (_, i) => Array.from(core.pixels.subarray(i * 4, i * 4 + 4)).join());
  assert.deepEqual(new Set(kept), new Set(kinds.map((k) => k.join())));
});

test('a set no larger than the coreset is kept whole', () => {
  const set: ImageSet = { pixels: bytes(30 * 4, 9), count: 30, size: 2, channels: 1 };
  assert.equal(coresetImages(pixelSpace, set, 30, 1), set);
  assert.deepEqual(Array.from(greedyCoreset(new Float32Array(4), 2, 5)), [0, 1]);
});
