// The knn novelty score: distances to the run's training images in the features of R's first encoder block,
// checked against a brute-force computation, and the way runs, scoring and old run files carry it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { CellPooling, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { buildFeatureMemory, disposeFeatureMemory, memoryDistances, memoryRows, pixelSpace, rFeatureSpace } from '../src/score/feature-memory';
import { MEMORY_CONV } from '../src/score/nearest';
import { ImageSet } from '../src/data/source';
import { scoreImages } from '../src/score/scorer';
import { createNets } from '../src/train/nets';
import { SMALL_MODEL } from './helpers/fake-run';
import { readIdx } from './helpers/mnist-idx';

before(async () => {
  await tf.setBackend('cpu');
});

/**
 * R's first block (conv 5×5 'same' + bias → BatchNorm with its moving statistics → LeakyReLU 0.3) at stride 1, written
 * out loop by loop from the layers' weights: [28][28][filters] for one 28×28 grey image.
 */
function denseFirstBlock(r: tf.LayersModel, image: Float32Array): number[][][] {
  const [kernel, bias] = r.getLayer(MEMORY_CONV).getWeights().map((w) => w.arraySync()) as [number[][][][], number[]];
  const [gamma, beta, mean, variance] = r.getLayer(`${MEMORY_CONV}_bn`).getWeights().map((w) => w.arraySync()) as number[][];
  const filters = bias.length;
  const out: number[][][] = [];
  for (let y = 0; y < 28; y++) {
    out.push([]);
    for (let x = 0; x < 28; x++) {
      const v: number[] = [];
      for (let f = 0; f < filters; f++) {
        let sum = bias[f];
        // 'same' with an odd kernel at stride 1: two pixels of zeros on every side.
        for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) {
          const iy = y + ky - 2, ix = x + kx - 2;
          if (iy >= 0 && iy < 28 && ix >= 0 && ix < 28) sum += image[iy * 28 + ix] * kernel[ky][kx][0][f];
        }
        const bn = ((sum - mean[f]) / Math.sqrt(variance[f] + 1e-3)) * gamma[f] + beta[f];
        v.push(bn > 0 ? bn : 0.3 * bn);
      }
      out[y].push(v);
    }
  }
  return out;
}

/**
 * Features of each image as plain arrays: the dense first block averaged over 4×4 cells (7×7×filters, HWC order), and
 * with 'mean-max' its 4×4 maxima after them, the two parts each scaled to unit length (a cosine then weighs them alike).
 */
function featuresOf(r: tf.LayersModel, pixels: Float32Array, count: number, cells: CellPooling = 'mean-max'): number[][] {
  const rows: number[][] = [];
  const unit = (v: number[]) => {
    const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    return v.map((x) => x / norm);
  };
  for (let i = 0; i < count; i++) {
    const h = denseFirstBlock(r, pixels.subarray(i * 784, (i + 1) * 784));
    const means: number[] = [];
    const maxima: number[] = [];
    for (let cy = 0; cy < 7; cy++) for (let cx = 0; cx < 7; cx++) for (let f = 0; f < h[0][0].length; f++) {
      let sum = 0;
      let max = -Infinity;
      for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) {
        sum += h[cy * 4 + y][cx * 4 + x][f];
        max = Math.max(max, h[cy * 4 + y][cx * 4 + x][f]);
      }
      means.push(sum / 16);
      maxima.push(max);
    }
    rows.push(cells === 'mean' ? means : [...unit(means), ...unit(maxima)]);
  }
  return rows;
}

test("the knn features are R's own first block, taken at every pixel instead of every other one", () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, DEFAULT_TRAIN_CONFIG);
  // Moving statistics away from 0/1, so that a BatchNorm left out or misapplied shows.
  const bn = nets.r.getLayer(`${MEMORY_CONV}_bn`);
  bn.setWeights(bn.getWeights().map((w, i) => tf.add(w, tf.mul(i === 3 ? 0.5 : 0.2, tf.randomUniform(w.shape, 0, 1, 'float32', 7 + i)))));
  const image = readIdx('test', 1).images;
  const dense = denseFirstBlock(nets.r, image);
  // R's stride-2 'same' conv pads 1 before and 2 after, so its output i sits on input pixel 2i + 1.
  const block = tf.model({ inputs: nets.r.inputs, outputs: nets.r.getLayer(`${MEMORY_CONV}_lrelu`).output as tf.SymbolicTensor });
  const strided = tf.tidy(() => (block.predict(tf.tensor4d(image, [1, 28, 28, 1])) as tf.Tensor4D).arraySync()[0]);
  for (let i = 0; i < 14; i++) for (let j = 0; j < 14; j++) for (let f = 0; f < strided[0][0].length; f++) {
    assert.ok(Math.abs(strided[i][j][f] - dense[2 * i + 1][2 * j + 1][f]) < 1e-4, `(${i}, ${j}, ${f}): ${strided[i][j][f]} vs ${dense[2 * i + 1][2 * j + 1][f]}`);
  }
  // And the space is that dense block averaged over 4×4 cells, unit length; with 'mean-max' the 4×4 maxima follow
  // the means, each part of length 1/√2.
  for (const cells of ['mean', 'mean-max'] as const) {
    const want = featuresOf(nets.r, image, 1, cells)[0];
    const norm = Math.sqrt(want.reduce((a, v) => a + v * v, 0));
    const got = tf.tidy(() => rFeatureSpace(nets.r, cells)(tf.tensor4d(image, [1, 28, 28, 1])).arraySync()[0]);
    assert.equal(got.length, 7 * 7 * strided[0][0].length * (cells === 'mean' ? 1 : 2));
    want.forEach((v, i) => assert.ok(Math.abs(got[i] - v / norm) < 1e-5, `${cells}, feature ${i}: ${got[i]} vs ${v / norm}`));
  }
});

/** Test images as the data sources give them: bytes (MNIST's floats are k/255 exactly). */
function asSet(images: Float32Array, count: number): ImageSet {
  return { pixels: Uint8Array.from(images.subarray(0, count * 784), (v) => Math.round(v * 255)), count, size: 28, channels: 1 };
}

function bruteForce(bank: number[][], query: number[], k: number): number {
  const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  const cos = bank.map((b) => b.reduce((a, v, i) => a + v * query[i], 0) / (norm(b) * norm(query))).sort((a, b) => b - a);
  return 1 - cos.slice(0, k).reduce((a, b) => a + b, 0) / k;
}

test('memoryDistances is the mean cosine distance to the k nearest training images in R\'s features', () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, DEFAULT_TRAIN_CONFIG);
  const train = readIdx('train', 40);
  const test = readIdx('test', 6);
  const bank = featuresOf(nets.r, train.images, 40);
  const queries = featuresOf(nets.r, test.images, 6);
  for (const k of [1, 3, 7]) {
    const memory = buildFeatureMemory(rFeatureSpace(nets.r, 'mean-max'), asSet(train.images, 40), k, 16); // batches of 16: the bank is stitched
    const got = tf.tidy(() => memoryDistances(memory, tf.tensor4d(test.images, [6, 28, 28, 1])).arraySync());
    queries.forEach((q, i) => assert.ok(Math.abs(got[i] - bruteForce(bank, q, k)) < 1e-5, `k ${k}, image ${i}: ${got[i]} vs ${bruteForce(bank, q, k)}`));
    disposeFeatureMemory(memory);
  }
  // A training image is its own nearest neighbour: distance 0 with k = 1.
  const memory = buildFeatureMemory(rFeatureSpace(nets.r, 'mean-max'), asSet(train.images, 40), 1);
  const self = tf.tidy(() => memoryDistances(memory, tf.tensor4d(train.images.subarray(0, 5 * 784), [5, 28, 28, 1])).arraySync());
  self.forEach((d) => assert.ok(Math.abs(d) < 1e-5, `self distance ${d}`));
  // k larger than the memory averages over all of it rather than failing.
  assert.equal(buildFeatureMemory(rFeatureSpace(nets.r, 'mean-max'), asSet(train.images, 3), 10).k, 3);
  disposeFeatureMemory(memory);
  assert.throws(() => buildFeatureMemory(rFeatureSpace(nets.r, 'mean-max'), asSet(train.images, 40), 0), /k must be a positive integer/);
});

test('scoreImages gives knn only with a memory, and building and using one leaks no tensors', () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, DEFAULT_TRAIN_CONFIG);
  const train = readIdx('train', 30);
  const test = readIdx('test', 4);
  assert.ok(scoreImages(nets, test.images, 4, { size: 28, channels: 1 }).novelty.knn.every(Number.isNaN));
  const before = tf.memory().numTensors;
  const memory = buildFeatureMemory(rFeatureSpace(nets.r, 'mean-max'), asSet(train.images, 30), 5);
  assert.equal(tf.memory().numTensors, before + 1); // the bank
  const s = scoreImages({ ...nets, memory }, test.images, 4, { size: 28, channels: 1 }, 3);
  assert.ok(s.novelty.knn.every((v) => Number.isFinite(v) && v >= 0 && v <= 2), String(s.novelty.knn));
  disposeFeatureMemory(memory);
  assert.equal(tf.memory().numTensors, before);
});

test('the memory keeps every training image up to its size, else a seeded sample of exactly that many', () => {
  assert.deepEqual(Array.from(memoryRows(5, 10, 1)), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(memoryRows(5, 0, 1)), [0, 1, 2, 3, 4]); // 0: all
  const a = memoryRows(1000, 100, 42);
  assert.equal(new Set(a).size, 100);
  assert.ok(a.every((v, i) => v < 1000 && (i === 0 || v > a[i - 1])), 'sorted, in range, distinct');
  assert.deepEqual(Array.from(memoryRows(1000, 100, 42)), Array.from(a), 'same seed, same sample');
  assert.notDeepEqual(Array.from(memoryRows(1000, 100, 43)), Array.from(a));
  // Not the first 100: a sample spread over the whole set.
  assert.ok(a[a.length - 1] > 500 && a[0] < 100);
});

test('the raw-pixel baseline takes pictures up to 64×64×3 as they are and averages larger ones over k×k cells', () => {
  const small = tf.tidy(() => (pixelSpace(tf.ones([2, 64, 64, 3])) as tf.Tensor2D).shape);
  assert.deepEqual(small, [2, 64 * 64 * 3]);
  // 128×128×3: k = 2, each value the mean of a 2×2 cell, checked on a picture whose cells are known.
  const x = tf.buffer([1, 128, 128, 3]);
  for (let y = 0; y < 128; y++) for (let c = 0; c < 128; c++) for (let ch = 0; ch < 3; ch++) x.set((y % 2) + (c % 2) * 2 + ch, 0, y, c, ch);
  const rows = tf.tidy(() => pixelSpace(x.toTensor() as tf.Tensor4D).arraySync());
  assert.equal(rows[0].length, 64 * 64 * 3);
  // Every 2×2 cell averages (0 + 1 + 2 + 3) / 4 + ch = 1.5 + ch; the row is then scaled to unit length.
  const expected = Array.from({ length: 64 * 64 * 3 }, (_, i) => 1.5 + (i % 3));
  const norm = Math.sqrt(expected.reduce((a, v) => a + v * v, 0));
  rows[0].forEach((v, i) => assert.ok(Math.abs(v - expected[i] / norm) < 1e-6, `${i}: ${v}`));
});
