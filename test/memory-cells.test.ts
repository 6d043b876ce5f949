// The trainer's one pass of R's first block over the training pictures (src/score/pooled-pass.ts): the coreset's rows
// from it are those tfjs computes, bit for bit, the maps' cell memory built from it (src/train/memory-cells.ts)
// searches as the calibration's own pass over the memory pictures does with the same block, and the greedy computing
// only the rows it reads (src/score/lazy-coreset.ts) keeps what the whole matrix's greedy keeps.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { floatsOf, ImageSet, pickRows } from '../src/data/source';
import { mulberry32 } from '../src/data/random';
import { registerFastConvGradients } from '../src/kernels';
import { active, loadNativeKernels } from '../src/kernels/addon';
import { coreset, CoresetWorkspace, greedyCoreset, similarities } from '../src/score/coreset';
import { lazyCoreset } from '../src/score/lazy-coreset';
import { compiledCellSearch } from '../src/score/cell-search';
import { cellPixelsOf } from '../src/score/cell-pixels';
import { buildFeatureMemory, disposeFeatureMemory, featureSpaceOf, memoryRows, spaceFirstBlock } from '../src/score/feature-memory';
import { createNets, disposeNets } from '../src/train/nets';
import { memoryCellsFromPass } from '../src/train/memory-cells';
import { SMALL_MODEL } from './helpers/fake-run';

loadNativeKernels();
const skip = active() ? false : 'compiled kernels not built here';

/** Grey 28×28 pictures, bytes: a random bright blob each. */
function pictures(count: number, seed: number): ImageSet {
  const rand = mulberry32(seed);
  const pixels = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) {
    const [cx, cy, r] = [6 + rand() * 16, 6 + rand() * 16, 2 + rand() * 5];
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r) pixels[i * 784 + y * 28 + x] = 128 + Math.floor(rand() * 128);
  }
  return { pixels, count, size: 28, channels: 1 };
}

before(async () => {
  await tf.setBackend('wasm');
  registerFastConvGradients('wasm');
});

const train = { ...DEFAULT_TRAIN_CONFIG, memoryCoreset: 40, memorySize: 200, seed: 7 };

test("similarities in R's space on the compiled kernels: the rows tfjs's feature space gives, across passes of 256", { skip }, () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, train);
  try {
    const set = pictures(300, 1);
    const space = featureSpaceOf(nets, train);
    const seen: number[] = [];
    const { features, dims } = similarities(space, set, undefined, (row) => seen.push(row));
    const memory = buildFeatureMemory(space, set, 1);
    try {
      assert.equal(dims, memory.dims);
      assert.deepEqual(features, memory.bank.dataSync());
    } finally {
      disposeFeatureMemory(memory);
    }
    assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => i), 'every picture seen once, in order');
  } finally {
    disposeNets(nets);
  }
});

test("the maps' cell memory from the coreset's pass searches as one built from the memory pictures", { skip }, () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, train);
  try {
    const set = pictures(300, 2);
    const memoryImages = pickRows(set, memoryRows(set.count, train.memorySize, train.seed));
    const space = featureSpaceOf(nets, train);
    const cells = memoryCellsFromPass(train, set, memoryImages, space)!;
    assert.ok(cells, 'the memory pictures are rows of the training pictures');
    assert.equal(cells.search(), null, 'no search before the pass');
    coreset(space, set, train.memoryCoreset, train.seed, undefined, cells.visit);
    const search = cells.search()!;
    const own = compiledCellSearch(active()!, spaceFirstBlock(space)!, 28, train.cellPooling, memoryImages)!;
    const validation = pictures(20, 3);
    assert.deepEqual(search.distances(floatsOf(validation), 20), own.distances(floatsOf(validation), 20));
    // With the cells' pixels and no rotation net, the pass's memory takes the pixels from the memory pictures too.
    const px = cellPixelsOf({ cellPixelWeight: 1.5 }, 28, 1);
    const withPixels = memoryCellsFromPass(train, set, memoryImages, space, undefined, px)!;
    coreset(space, set, train.memoryCoreset, train.seed, undefined, withPixels.visit);
    const ownWithPixels = compiledCellSearch(active()!, spaceFirstBlock(space)!, 28, train.cellPooling, memoryImages, undefined, px)!;
    assert.deepEqual(withPixels.search()!.distances(floatsOf(validation), 20), ownWithPixels.distances(floatsOf(validation), 20));
    // Memory pictures that are not those rows: the calibration runs its own pass.
    assert.equal(memoryCellsFromPass(train, set, pictures(200, 4), space), null);
    assert.equal(memoryCellsFromPass({ ...train, cellNeighbourhood: 'pooled' }, set, memoryImages, space), null);
  } finally {
    disposeNets(nets);
  }
});

test("lazyCoreset: the greedy coreset of the whole similarity matrix, bit for bit, with rows computed a batch at a time", { skip }, () => {
  const nets = createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, train);
  try {
    const set = pictures(300, 5);
    const space = featureSpaceOf(nets, train);
    for (const m of [1, 40, 120]) {
      const want = greedyCoreset(similarities(space, set).sims, m);
      const got = lazyCoreset(space, set, m, new CoresetWorkspace())!;
      assert.deepEqual(got.rows, want, `${m} kept`);
    }
    const whole = similarities(space, set).features.slice();
    assert.deepEqual(lazyCoreset(space, set, 40, new CoresetWorkspace())!.features, whole, 'the same feature rows');
  } finally {
    disposeNets(nets);
  }
});
