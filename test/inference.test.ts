// Scoring's folded networks (src/score/inference.ts: BatchNorm folded into the conv before it, LeakyReLU fused, one
// D pass over [x; R(x)], knn from R's own pass) against the LayersModels they come from, on the same weights, with
// BatchNorm statistics far from the identity so that a folding mistake shows; on the cpu backend and on wasm with
// the compiled kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { CellPooling, DEFAULT_MODEL_CONFIG } from '../src/config';
import { KNN_TRAIN_CONFIG } from './helpers/run-file';
import { createNets } from '../src/train/nets';
import { buildFeatureMemory, denseFirstBlockFeatures, disposeFeatureMemory, rFeatureSpace } from '../src/score/feature-memory';
import { MEMORY_CONV, MEMORY_LRELU } from '../src/score/nearest';
import { inferenceNet } from '../src/score/inference';
import { firstBlock, scoreImages } from '../src/score/scorer';
import { readIdx } from './helpers/mnist-idx';

function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Every BatchNorm's γ, β, moving mean and moving variance set to values far from 1, 0, 0, 1. */
function randomiseBatchNorms(model: tf.LayersModel, rand: () => number): void {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const values = layer.weights.map((w) => {
        const name = w.originalName.split('/').pop()!;
        const v = Float32Array.from({ length: (w.shape as number[]).reduce((a, b) => a * b, 1) }, () =>
          name === 'moving_variance' ? 0.05 + 3 * rand() : name === 'gamma' ? 0.3 + 2 * rand() : 2 * rand() - 1,
        );
        return tf.tensor(v, w.shape as number[]);
    });
    layer.setWeights(values); // copies them
    tf.dispose(values);
  }
}

/**
 * The knn features written with separate ops from R's raw weights: conv at stride 1 + bias, BatchNorm with the moving
 * statistics, LeakyReLU 0.3, then (unless `cells` is false) each image's 4×4 averages, unit length, or with
 * 'mean-max' its 4×4 averages and its 4×4 maxima, each part of length 1/√2. The reference for the folded path.
 */
function unfoldedDense(r: tf.LayersModel, x: tf.Tensor4D, cells: CellPooling | false = 'mean-max'): tf.Tensor {
  const [kernel, bias] = r.getLayer(MEMORY_CONV).getWeights();
  const [gamma, beta, mean, variance] = r.getLayer(`${MEMORY_CONV}_bn`).getWeights();
  const h = tf.leakyRelu(tf.batchNorm(tf.add(tf.conv2d(x, kernel as tf.Tensor4D, 1, 'same'), bias), mean, variance, beta, gamma, 1e-3), 0.3);
  if (!cells) return h;
  const unit = (f: tf.Tensor) => tf.div(f, tf.norm(f, 2, 1, true));
  const means = tf.avgPool(h as tf.Tensor4D, 4, 4, 'valid').reshape([x.shape[0], -1]);
  if (cells === 'mean') return unit(means);
  const maxima = tf.maxPool(h as tf.Tensor4D, 4, 4, 'valid').reshape([x.shape[0], -1]);
  return tf.mul(tf.concat([unit(means), unit(maxima)], 1), Math.SQRT1_2);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Mean cosine distance to the k nearest bank rows, by brute force in double precision. */
function bruteKnn(bank: number[][], q: number[], k: number): number {
  const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  const cos = bank.map((b) => b.reduce((a, v, i) => a + v * q[i], 0) / (norm(b) * norm(q) || 1)).sort((a, b) => b - a);
  return 1 - cos.slice(0, k).reduce((a, b) => a + b, 0) / k;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: folded R and D give the LayersModels' outputs and scores on the same weights`, async () => {
    await selectBackend(backend);
    const before = tf.memory().numTensors;
    const nets = createNets(DEFAULT_MODEL_CONFIG, KNN_TRAIN_CONFIG);
    const rand = seeded(7);
    randomiseBatchNorms(nets.r, rand);
    randomiseBatchNorms(nets.d, rand);
    const count = 6;
    const { images } = readIdx('test', 40);
    const pixels = images.subarray(0, count * 784);
    const x = tf.tensor4d(pixels, [count, 28, 28, 1]);
    const r = inferenceNet(nets.r);
    const d = inferenceNet(nets.d);
    try {
      // Outputs, and the knn features from the folded first block against the block written with unfolded ops.
      const [want, got, wantFirst, gotFirst, wantMeans, gotMeans, wantD, gotD] = tf.tidy(() => {
        const { output } = r.run(x);
        const dense = (cells: CellPooling) => [unfoldedDense(nets.r, x, cells), denseFirstBlockFeatures(x, firstBlock(r), cells)];
        return [nets.r.predict(x), output, ...dense('mean-max'), ...dense('mean'), nets.d.predict(x), d.run(x).output].map((t) => (t as tf.Tensor).dataSync());
      });
      assert.ok(maxAbsDiff(got, want) < 1e-5, `R: ${maxAbsDiff(got, want)}`);
      assert.equal(gotFirst.length, 2 * gotMeans.length);
      assert.ok(maxAbsDiff(gotFirst, wantFirst) < 1e-4, `R's first block, means and maxima: ${maxAbsDiff(gotFirst, wantFirst)}`);
      assert.ok(maxAbsDiff(gotMeans, wantMeans) < 1e-4, `R's first block, means: ${maxAbsDiff(gotMeans, wantMeans)}`);
      assert.ok(maxAbsDiff(gotD, wantD) < 1e-5, `D: ${maxAbsDiff(gotD, wantD)}`);
      const block = tf.tidy(() => unfoldedDense(nets.r, x, false).dataSync());
      const maxima = gotFirst.slice(gotMeans.length);
      assert.ok(maxAbsDiff(maxima, gotFirst.slice(0, gotMeans.length)) > 0.01, 'the maxima are not the means');
      assert.ok(maxAbsDiff(block, Array.from(block, (v) => Math.max(v, 0))) > 0.01, 'the block has negative outputs (LeakyReLU matters)');

      // scoreImages against the LayersModels and a brute-force knn over a memory of 30 other test digits.
      const memorySet = { pixels: Uint8Array.from(images.subarray(10 * 784, 40 * 784), (v) => Math.round(v * 255)), count: 30, size: 28, channels: 1 };
      const memory = buildFeatureMemory(rFeatureSpace(nets.r, 'mean-max'), memorySet, 5);
      const s = scoreImages({ ...nets, memory }, pixels, count, { size: 28, channels: 1 }, 4);
      disposeFeatureMemory(memory);
      const ref = tf.tidy(() => {
        const y = nets.r.predict(x) as tf.Tensor4D;
        const feats = (t: tf.Tensor4D) => unfoldedDense(nets.r, t).arraySync() as number[][];
        const bank = feats(tf.tensor4d(Float32Array.from(memorySet.pixels, (v) => v / 255), [30, 28, 28, 1]));
        const q = tf.clipByValue(y, 1e-7, 1 - 1e-7);
        const bce = tf.neg(tf.mean(tf.add(tf.mul(x, tf.log(q)), tf.mul(tf.sub(1, x), tf.log(tf.sub(1, q)))), [1, 2, 3]));
        return {
          loss: bce.dataSync(),
          dOfR: (nets.d.predict(y) as tf.Tensor).dataSync(),
          dOfX: (nets.d.predict(x) as tf.Tensor).dataSync(),
          knn: feats(x).map((f) => bruteKnn(bank, f, 5)),
        };
      });
      assert.ok(maxAbsDiff(s.reconLoss, ref.loss) < 1e-5, `loss: ${maxAbsDiff(s.reconLoss, ref.loss)}`);
      assert.ok(maxAbsDiff(s.dOfR, ref.dOfR) < 1e-5, `D(R(x)): ${maxAbsDiff(s.dOfR, ref.dOfR)}`);
      assert.ok(maxAbsDiff(s.dOfX, ref.dOfX) < 1e-5, `D(x): ${maxAbsDiff(s.dOfX, ref.dOfX)}`);
      assert.ok(maxAbsDiff(s.novelty.knn, ref.knn) < 1e-5, `knn: ${maxAbsDiff(s.novelty.knn, ref.knn)}`);
      assert.ok(new Set(Array.from(s.dOfX, (v) => v.toFixed(4))).size > 1, 'D tells the images apart');
    } finally {
      r.dispose();
      d.dispose();
      x.dispose();
      nets.r.dispose();
      nets.d.dispose();
      nets.rOptimizer.dispose();
      nets.dOptimizer.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  });
}

test('a plan through R\'s first block folds it exactly as the whole plan does, and holds nothing more', async () => {
  await selectBackend('wasm');
  const nets = createNets(DEFAULT_MODEL_CONFIG, KNN_TRAIN_CONFIG);
  randomiseBatchNorms(nets.r, seeded(5));
  const whole = inferenceNet(nets.r);
  const partial = inferenceNet(nets.r, { through: MEMORY_LRELU });
  try {
    assert.equal(partial.steps.length, 1);
    assert.deepEqual(partial.layers, [[MEMORY_CONV, `${MEMORY_CONV}_bn`, MEMORY_LRELU]]);
    const [a, b] = [firstBlock(partial), firstBlock(whole)];
    assert.deepEqual(a.filter.dataSync(), b.filter.dataSync());
    assert.deepEqual(a.bias.dataSync(), b.bias.dataSync());
    assert.equal(a.alpha, b.alpha);
  } finally {
    partial.dispose();
    whole.dispose();
    [nets.r, nets.d, nets.rOptimizer, nets.dOptimizer].forEach((n) => n.dispose());
  }
});
