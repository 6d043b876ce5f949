/**
 * Does normalising R's first-block features before the cosine help the knn score?
 * `npx tsx bench/research/feature-normalisation-probe.ts CHECKPOINT_DIR`. For every run of a built-in set in the folder,
 * at its chosen epoch: the run's own coreset of training images (product code, the same images training kept), the
 * raw pooled features (R's folded first block at stride 1, LeakyReLU, cell averages: what denseFirstBlockFeatures
 * computes before scaling rows to unit length) of those and of the test images, then the knn AUROC (k of the run, mean
 * cosine distance to the k nearest) with the rows
 *   - as the product has them: unit length;
 *   - centred on the training images' mean feature, then unit length;
 *   - standardised per feature (training mean and sd), then unit length;
 *   - square-rooted (signed), then unit length (power normalisation, as in image retrieval);
 *   - averaged over cells of 2×2 or 7×7 pixels instead of the product's;
 *   - side by side with the raw pixels, each part unit length.
 * The statistics come from the run's training images only; no test label chooses anything. Writes
 * feature-normalisation-probe.json beside the runs. Results: docs/research.md, "Normalising the features".
 */
import * as tf from '@tensorflow/tfjs';
import { builtInTestSet, builtInTrainingImages, floatsOf, ImageSet } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { runProbe } from './probe-runs';
import { openRun } from '../../src/run/open';
import { coreset } from '../../src/score/coreset';
import { FoldedFirstBlock, rFeatureSpace } from '../../src/score/feature-memory';
import { poolSide } from '../../src/score/nearest';
import { splitTraining } from '../../src/train/dataset';

/** Raw pooled first-block features of every image of `set`, [count, dims]. */
function rawFeatures(set: ImageSet, block: FoldedFirstBlock, p = 2 * poolSide(Math.ceil(set.size / 2))): tf.Tensor2D {
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < set.count; start += 256) {
    const n = Math.min(256, set.count - start);
    parts.push(tf.tidy(() => {
      const x = tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]);
      const y = tf.fused.conv2d({ x, filter: block.filter, bias: block.bias, strides: 1, pad: 'same', activation: 'leakyrelu', leakyreluAlpha: block.alpha });
      return tf.avgPool(y, p, p, 'valid').reshape([n, -1]) as tf.Tensor2D;
    }));
  }
  const all = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  return all;
}

const unit = (t: tf.Tensor2D) => tf.div(t, tf.add(tf.norm(t, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;

/** Mean cosine distance from each query row to its k nearest memory rows (both unit length). */
function knn(memory: tf.Tensor2D, queries: tf.Tensor2D, k: number): Float32Array {
  const out = new Float32Array(queries.shape[0]);
  for (let start = 0; start < queries.shape[0]; start += 1000) {
    const n = Math.min(1000, queries.shape[0] - start);
    const d = tf.tidy(() => {
      const sims = tf.matMul(queries.slice([start, 0], [n, -1]), memory, false, true);
      return tf.sub(1, tf.mean(tf.topk(sims, k).values, 1));
    });
    out.set(d.dataSync(), start);
    d.dispose();
  }
  return out;
}

runProbe('feature-normalisation-probe', (runDir) => {
  const opened = openRun(runDir);
  const cfg = opened.config.train;
  const { train } = splitTraining(builtInTrainingImages(opened.config.data), cfg);
  const test = builtInTestSet(opened.config.data);
  const block = opened.firstBlock();
  const memoryImages = coreset(rFeatureSpace(opened.r, cfg.cellPooling), train, cfg.memoryCoreset, cfg.seed).images;
  const row: Record<string, number> = { epoch: opened.epoch };
  const [trainRaw, memRaw, testRaw] = [train, memoryImages, test].map((s) => rawFeatures(s, block));
  const mean = tf.mean(trainRaw, 0);
  const sd = tf.add(tf.sqrt(tf.moments(trainRaw, 0).variance), 1e-6);
  const variants: Record<string, (t: tf.Tensor2D) => tf.Tensor2D> = {
    'unit (product)': (t) => unit(t),
    centred: (t) => unit(tf.sub(t, mean)),
    standardised: (t) => unit(tf.div(tf.sub(t, mean), sd)),
    'signed square root': (t) => unit(tf.mul(tf.sign(t), tf.sqrt(tf.abs(t)))),
  };
  for (const [label, f] of Object.entries(variants)) {
    const [m, q] = tf.tidy(() => [f(memRaw), f(testRaw)]);
    row[label] = auroc(knn(m, q, cfg.neighbours), test.isNovel);
    tf.dispose([m, q]);
  }
  // Cells of another size: 2×2 (finer) and 7×7 (coarser) instead of the product's.
  for (const p of [2, 7]) {
    const [m, q] = [memoryImages, test].map((s) => tf.tidy(() => unit(rawFeatures(s, block, p))));
    row[`cells of ${p}×${p}`] = auroc(knn(m, q, cfg.neighbours), test.isNovel);
    tf.dispose([m, q]);
  }
  // The features and the raw pixels side by side, each unit length (their cosines averaged).
  {
    const pixels = (s: ImageSet) => tf.tensor2d(floatsOf(s), [s.count, s.size * s.size * s.channels]);
    const [m, q] = tf.tidy(() => [
      unit(tf.concat([unit(memRaw), unit(pixels(memoryImages))], 1)),
      unit(tf.concat([unit(testRaw), unit(pixels(test))], 1)),
    ]);
    row['features and pixels'] = auroc(knn(m, q, cfg.neighbours), test.isNovel);
    tf.dispose([m, q]);
  }
  tf.dispose([trainRaw, memRaw, testRaw, mean, sd]);
  opened.dispose();
  return row;
});
