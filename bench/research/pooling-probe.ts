/**
 * How R's dense first-block features are pooled into cells, how many neighbours and how large a coreset:
 * `npx tsx bench/research/pooling-probe.ts CHECKPOINT_DIR`. For every run of a built-in set in the folder, at its
 * chosen epoch, the knn AUROC (mean cosine distance to the k nearest memory images, whole test set) with
 *   - the product's space and memory (a coreset of the run's size chosen in that space, the run's k), which must
 *     reproduce the run's own eval;
 *   - k = 1, 3, 10, 20 over the same memory; coresets of 700 and 1,500;
 *   - other poolings of the same dense map (each with its own coreset chosen in its own space): overlapping 8×8
 *     windows every 4 pixels, a 6×6 tent (3×3 box, then the 4×4 cells), the maximum over each 4×4 cell, and average
 *     and maximum side by side; each at the run's k and at 10.
 * Only training images choose anything; test labels only grade. Results: docs/research.md, "Pooling, k and coreset size".
 */
import * as tf from '@tensorflow/tfjs';
import { builtInTestSet, builtInTrainingImages, floatsOf } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { runProbe } from './probe-runs';
import { openRun } from '../../src/run/open';
import { coreset } from '../../src/score/coreset';
import { buildFeatureMemory, disposeFeatureMemory, FeatureSpace, FoldedFirstBlock, memoryDistances, rFeatureSpace } from '../../src/score/feature-memory';
import { splitTraining } from '../../src/train/dataset';

const unit = (t: tf.Tensor2D) => tf.div(t, tf.add(tf.norm(t, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;

/** The folded first block at every pixel, LeakyReLU, then `pool`; rows unit length. 28×28 inputs (cells of 4). */
function pooledSpace(block: FoldedFirstBlock, pool: (y: tf.Tensor4D) => tf.Tensor4D | tf.Tensor2D): FeatureSpace {
  return (x) => {
    const y = tf.fused.conv2d({ x, filter: block.filter, bias: block.bias, strides: 1, pad: 'same', activation: 'leakyrelu', leakyreluAlpha: block.alpha });
    const p = pool(y);
    return unit(p.reshape([x.shape[0], -1]) as tf.Tensor2D);
  };
}

const POOLINGS: Record<string, (y: tf.Tensor4D) => tf.Tensor4D | tf.Tensor2D> = {
  'overlap 8/4': (y) => tf.avgPool(y, 8, 4, 'same'),
  'tent 6/4': (y) => tf.avgPool(tf.avgPool(y, 3, 1, 'same'), 4, 4, 'valid'),
  'max 4': (y) => tf.maxPool(y, 4, 4, 'valid'),
  'avg and max': (y) => {
    const n = y.shape[0];
    return tf.concat([unit(tf.avgPool(y, 4, 4, 'valid').reshape([n, -1])), unit(tf.maxPool(y, 4, 4, 'valid').reshape([n, -1]))], 1);
  },
};

runProbe('pooling-probe', (runDir) => {
  const opened = openRun(runDir);
  const cfg = opened.config.train;
  const { train } = splitTraining(builtInTrainingImages(opened.config.data), cfg);
  const test = builtInTestSet(opened.config.data);
  const row: Record<string, number> = { epoch: opened.epoch };
  const grade = (space: FeatureSpace, size: number, ks: number[], label: (k: number) => string) => {
    const chosen = coreset(space, train, size, cfg.seed);
    for (const k of ks) {
      const memory = buildFeatureMemory(space, chosen.images, k);
      const scores = new Float32Array(test.count);
      for (let start = 0; start < test.count; start += 500) {
        const n = Math.min(500, test.count - start);
        const d = tf.tidy(() => memoryDistances(memory, tf.tensor4d(floatsOf(test, start, n), [n, test.size, test.size, test.channels])));
        scores.set(d.dataSync() as Float32Array, start);
        d.dispose();
      }
      row[label(k)] = auroc(scores, test.isNovel);
      disposeFeatureMemory(memory);
    }
  };
  const product = rFeatureSpace(opened.r, cfg.cellPooling);
  grade(product, cfg.memoryCoreset, [cfg.neighbours, 1, 3, 10, 20], (k) => (k === cfg.neighbours ? 'product' : `k=${k}`));
  for (const size of [700, 1500]) grade(product, size, [cfg.neighbours], () => `coreset ${size}`);
  const block = opened.firstBlock();
  for (const [name, pool] of Object.entries(POOLINGS)) grade(pooledSpace(block, pool), cfg.memoryCoreset, [cfg.neighbours, 10], (k) => (k === cfg.neighbours ? name : `${name}, k=${k}`));
  opened.dispose();
  return row;
});
