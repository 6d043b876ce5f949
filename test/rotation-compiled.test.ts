// The rotation score on the compiled kernels (src/score/rotation-compiled.ts), read from saved files with no tfjs
// (src/run/open-rotation.ts), against rotationNovelty on TensorFlow.js with the same saved net: at 28×28×1, 64×64×3
// and odd or uneven sides, where the max pools clip their windows and the shrink drops a border.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { sha256 } from '../src/fsutil';
import { active, loadNativeKernels } from '../src/kernels/addon';
import { rotationShrink } from '../src/models/rotation-net';
import { readRotationNet } from '../src/run/open-rotation';
import { maxPool2Same } from '../src/score/rotation-blocks';
import { compiledRotationScorer, turnedSource } from '../src/score/rotation-compiled';
import { rotationNovelty } from '../src/score/rotation-score';
import { tempDir, useTestBackend } from './helpers/fixtures';
import { savedRotationNet, uniform } from './helpers/rotation-net';

const work = tempDir('alocc-rotation-compiled-');

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('the compiled rotation score equals rotationNovelty of the same saved net, at every shape alocc trains and at odd sides', async () => {
  await useTestBackend();
  loadNativeKernels();
  const native = active();
  assert.ok(native, 'the compiled kernels are built (npm run build:native)');
  // [side, channels, filters]: MNIST's and the colour benchmark's shapes at the default width, then odd sides (17:
  // 17 → 9 → 5 → 3 → 2, every pool clipped; 40: shrunk to 20 → 10 → 5 → 3 → 2) and uneven shrinks (33 and 70: the
  // 'valid' shrink drops a border, so the turn must come before it), and shrinks that tile the picture (34: by 2 to
  // an odd 17, shrunk then turned; 66: by 3 to 22, where the first block turns its filters instead).
  const shapes = [[28, 1, 32], [64, 3, 32], [17, 3, 8], [40, 3, 8], [33, 1, 8], [70, 3, 4], [34, 3, 4], [66, 3, 4]] as const;
  for (const [side, channels, filters] of shapes) {
    const { net, dir, checksums } = await savedRotationNet(work, side, channels, filters, side);
    try {
      const folded = readRotationNet(dir, checksums);
      assert.equal(folded.shrink, rotationShrink(side));
      const score = compiledRotationScorer(native, folded, side, channels);
      // An addon built before maxPool2: the max pools in JavaScript.
      const older = compiledRotationScorer({ ...native, maxPool2: undefined }, folded, side, channels);
      // 1 picture first (the heap sized for it), then more than a pass holds (it grows, then runs two passes).
      for (const count of [1, 37]) {
        const pixels = uniform(count * side * side * channels, 7 * side + count);
        const compiled = score(pixels, count);
        assert.deepEqual(older(pixels, count), compiled, `${side}×${side}×${channels}: the max pools in JavaScript give the addon's numbers`);
        const reference = rotationNovelty(net, pixels, count, side, channels);
        assert.ok(compiled.every(Number.isFinite));
        const spread = Math.max(...reference) - Math.min(...reference);
        assert.ok(count === 1 || spread > 1e-3, `${side}×${side}×${channels}: the scores differ between pictures (${spread}), so the comparison means something`);
        const d = maxDiff(compiled, reference);
        assert.ok(d < 1e-4, `${side}×${side}×${channels}, ${filters} filters, ${count} picture(s): compiled and tfjs differ by ${d}`);
      }
    } finally {
      net.dispose();
    }
  }
});

test('turnedSource turns as numpy.rot90 does, anticlockwise; the max pool clips its window at an odd side', () => {
  // [[0 1 2] [3 4 5] [6 7 8]] turned once anticlockwise: [[2 5 8] [1 4 7] [0 3 6]]; twice: reversed; thrice: [[6 3 0] ...].
  const turned = (k: number) => Array.from({ length: 9 }, (_, i) => turnedSource(k, 3, Math.floor(i / 3), i % 3));
  assert.deepEqual(turned(0), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(turned(1), [2, 5, 8, 1, 4, 7, 0, 3, 6]);
  assert.deepEqual(turned(2), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.deepEqual(turned(3), [6, 3, 0, 7, 4, 1, 8, 5, 2]);
  // 3×3, one channel, all negative: a padded 0 would win the border windows.
  const heap = new Float32Array(9 + 4);
  heap.set([-9, -8, -7, -6, -5, -4, -3, -2, -1]);
  maxPool2Same(heap, 0, 1, 3, 1, 9);
  assert.deepEqual(Array.from(heap.subarray(9)), [-5, -4, -2, -1]);
});

test('the addon\'s maxPool2 gives the JavaScript pool\'s numbers at even and odd sides, and refuses operands outside the heap or overlapping', () => {
  loadNativeKernels();
  const native = active();
  assert.ok(native?.maxPool2, 'the addon is built with maxPool2');
  for (const [t, side, ch] of [[3, 1, 1], [2, 2, 3], [3, 3, 1], [2, 7, 5], [2, 8, 32], [1, 17, 3], [2, 16, 64]]) {
    const half = Math.ceil(side / 2);
    const n = t * side * side * ch;
    const m = t * half * half * ch;
    // Values of both signs: a padded 0 would win the clipped cells of the negative ones.
    const heap = uniform(n + 2 * m, side * 31 + ch).map((v) => v - 0.5);
    native.maxPool2(heap, Int32Array.from([t, side, ch, 0, n]));
    maxPool2Same(heap, 0, t, side, ch, n + m);
    assert.deepEqual(heap.subarray(n, n + m), heap.subarray(n + m, n + 2 * m), `t ${t}, side ${side}, ${ch} channels`);
  }
  const heap = new Float32Array(64);
  assert.throws(() => native.maxPool2!(heap, Int32Array.from([1, 8, 1, 0, 60])), /maxPool2/);
  assert.throws(() => native.maxPool2!(heap, Int32Array.from([1, 4, 1, 0, 8])), /overlap/);
  assert.throws(() => native.maxPool2!(heap, Int32Array.from([1, 4, 0, 0, 32])), /positive/);
  assert.throws(() => native.maxPool2!(heap, Int32Array.from([65536, 65536, 65536, 0, 32])), /too large/);
});

test('a rotation net that is not the one alocc trains is refused, naming what is wrong', async () => {
  await useTestBackend();
  const { net, dir, checksums } = await savedRotationNet(work, 28, 1, 4, 3);
  net.dispose();
  const file = path.join(dir, 'rotation', 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const pool = json.modelTopology.config.layers.find((l: { config: { name: string } }) => l.config.name === 'rot_pool2');
  pool.config.padding = 'valid';
  const text = JSON.stringify(json);
  fs.writeFileSync(file, text);
  assert.throws(() => readRotationNet(dir, checksums), /checksum|sha256|does not match/i, 'an edited file fails its checksum');
  assert.throws(() => readRotationNet(dir, { ...checksums, 'rotation/model.json': sha256(Buffer.from(text)) }), /rot_pool2 is not a 2×2 stride-2 'same' max pool/);
});
