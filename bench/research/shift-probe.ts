/**
 * Does tolerance to small shifts help the knn verdict? `npx tsx bench/research/shift-probe.ts CHECKPOINT_DIR`. For
 * every built-in run in the folder, at its chosen epoch: the knn score of each test image shifted by up to one or two
 * pixels (zero fill), and the AUROC of the unshifted score beside the minimum and the mean over the shifts (a test
 * image as normal as its best-aligned copy). No label chooses anything; AUROC only grades. Writes shift-probe.json
 * beside the runs. Results: docs/research.md, "Tolerance to small shifts".
 */
import { builtInTestSet, floatsOf, builtInTrainingImages, ImageSet } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { runProbe } from './probe-runs';
import { openRun } from '../../src/run/open';
import { knnNovelty } from '../../src/score/scorer';
import * as tf from '@tensorflow/tfjs';
import { coreset } from '../../src/score/coreset';
import { denseFirstBlockFeatures, memoryFromBank } from '../../src/score/feature-memory';
import { splitTraining } from '../../src/train/dataset';

/** `set` with each image also moved by one of the four one-pixel shifts (a seeded pick): twice the images. */
function withShiftedCopies(set: ImageSet, seed: number): ImageSet {
  const per = set.size * set.size * set.channels;
  const pixels = new Uint8Array(set.pixels.length * 2);
  pixels.set(set.pixels);
  let s = seed >>> 0;
  for (let n = 0; n < set.count; n++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const [dy, dx] = CROSS[1 + (s >>> 30)];
    const one = Float32Array.from(set.pixels.subarray(n * per, (n + 1) * per));
    const moved = shifted(one, 1, set.size, set.channels, dy, dx);
    pixels.set(Uint8Array.from(moved), (set.count + n) * per);
  }
  return { pixels, count: set.count * 2, size: set.size, channels: set.channels };
}

/** Every image of `pixels` (count × size × size × channels) moved by (dy, dx) pixels, the uncovered border zero. */
function shifted(pixels: Float32Array, count: number, size: number, channels: number, dy: number, dx: number): Float32Array {
  const out = new Float32Array(pixels.length);
  const per = size * size * channels;
  for (let n = 0; n < count; n++)
    for (let y = 0; y < size; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= size) continue;
      for (let x = 0; x < size; x++) {
        const sx = x - dx;
        if (sx < 0 || sx >= size) continue;
        for (let c = 0; c < channels; c++) out[n * per + (y * size + x) * channels + c] = pixels[n * per + (sy * size + sx) * channels + c];
      }
    }
  return out;
}

const CROSS = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]];
const SQUARE = [...CROSS, [1, 1], [1, -1], [-1, 1], [-1, -1]];

runProbe('shift-probe', (runDir, run) => {
  const test = builtInTestSet(run.config.data);
  const pixels = floatsOf(test);
  const best = run.bestEpoch ?? run.epochs.length;
  const opened = openRun(runDir, { epoch: best });
  const scores = new Map<string, Float32Array>();
  let augmentedMemory = NaN;
  try {
    // The memory side instead: the coreset chosen among the training images and a shifted copy of each.
    const { train } = splitTraining(builtInTrainingImages(run.config.data), run.config.train);
    const block = opened.firstBlock();
    const space = (x: tf.Tensor4D) => denseFirstBlockFeatures(x, block, 'mean') // the cells of the runs it measured (run-file version 4);
    const core = coreset(space, withShiftedCopies(train, run.config.train.seed), run.config.train.memoryCoreset, run.config.train.seed);
    const memory = memoryFromBank(space, core.features, core.images.count, run.config.train.neighbours);
    try {
      augmentedMemory = auroc(knnNovelty(memory, pixels, test.count, test, block), test.isNovel);
    } finally {
      memory.bank.dispose();
    }
    for (const [dy, dx] of SQUARE) {
      const moved = dy === 0 && dx === 0 ? pixels : shifted(pixels, test.count, test.size, test.channels, dy, dx);
      scores.set(`${dy},${dx}`, knnNovelty(opened.memory, moved, test.count, test, opened.firstBlock()));
    }
  } finally {
    opened.dispose();
  }
  const combine = (set: number[][], how: 'min' | 'mean') => {
    const out = new Float32Array(test.count).fill(how === 'min' ? Infinity : 0);
    for (const [dy, dx] of set) {
      const s = scores.get(`${dy},${dx}`)!;
      for (let i = 0; i < out.length; i++) out[i] = how === 'min' ? Math.min(out[i], s[i]) : out[i] + s[i] / set.length;
    }
    return auroc(out, test.isNovel);
  };
  const row: Record<string, number> = {
    best,
    unshifted: auroc(scores.get('0,0')!, test.isNovel),
    'min over ±1 (cross, 5)': combine(CROSS, 'min'),
    'min over ±1 (square, 9)': combine(SQUARE, 'min'),
    'mean over ±1 (cross, 5)': combine(CROSS, 'mean'),
    'mean over ±1 (square, 9)': combine(SQUARE, 'mean'),
    'coreset among the training images and a shifted copy of each': augmentedMemory,
  };
  return row;
});
