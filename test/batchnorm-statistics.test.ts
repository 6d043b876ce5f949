// setBatchNormStatistics keeps a layer's inputs for the next layer's pass (src/models/batchnorm-statistics.ts): the
// statistics must be those of running every layer's prefix from the pictures, bit for bit; R's deeper layers'
// statistics from a strided sample of the memory pictures (src/train/epoch-end.ts, setRStatistics).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { setBatchNormStatistics } from '../src/models/batchnorm-statistics';
import { pickRows } from '../src/data/source';
import { batchesOf } from '../src/score/feature-memory';
import { DEEPER_STATISTICS_PICTURES, setRStatistics } from '../src/train/epoch-end';
import { createNets, disposeNets } from '../src/train/nets';
import { SMALL_MODEL } from './helpers/fake-run';
import { useCpuBackend } from './helpers/fixtures';

before(async () => {
  await useCpuBackend();
});

/**
 * The statistics as setBatchNormStatistics computed them before it kept inputs: each layer's prefix from the pictures
 * (the layers after the first from `deeper`'s, where given).
 */
function byPrefixes(model: tf.LayersModel, images: () => tf.Tensor4D[], deeper = images): void {
  for (const [index, layer] of model.layers.filter((l) => l.getClassName() === 'BatchNormalization').entries()) {
    const upTo = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    const channels = (layer.input as tf.SymbolicTensor).shape[3]!;
    const sum = new Float64Array(channels);
    const sumSq = new Float64Array(channels);
    let count = 0;
    for (const x of (index === 0 ? images : deeper)()) {
      const [s, sq, n] = tf.tidy(() => {
        const y = (upTo.apply(x, { training: false }) as tf.Tensor4D).reshape([-1, channels]);
        return [tf.sum(y, 0).dataSync(), tf.sum(tf.square(y), 0).dataSync(), y.shape[0]] as const;
      });
      x.dispose();
      for (let c = 0; c < channels; c++) [sum[c], sumSq[c]] = [sum[c] + s[c], sumSq[c] + sq[c]];
      count += n;
    }
    const mean = Float32Array.from(sum, (v) => v / count);
    const variance = Float32Array.from(sumSq, (v, c) => Math.max(0, v / count - mean[c] * mean[c]));
    const [gamma, beta] = layer.getWeights();
    layer.setWeights([gamma, beta, tf.tensor1d(mean), tf.tensor1d(variance)]);
  }
}

const statistics = (model: tf.LayersModel) => model.layers.filter((l) => l.getClassName() === 'BatchNormalization').map((l) => l.getWeights().slice(2).map((w) => Array.from(w.dataSync())));

test("setBatchNormStatistics on R and D: each layer's statistics as its prefix from the pictures gives them, bit for bit", () => {
  const config = { ...DEFAULT_TRAIN_CONFIG, seed: 5 };
  const [a, b] = [createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, config), createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, config)];
  const pictures = tf.randomUniform([37, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  // Three batches, the last one short.
  const batches = () => [0, 16, 32].map((s) => pictures.slice([s], [Math.min(16, 37 - s)]) as tf.Tensor4D);
  try {
    for (const which of ['r', 'd'] as const) {
      const before = tf.memory().numTensors;
      assert.ok(setBatchNormStatistics(a[which], batches) >= 2);
      assert.equal(tf.memory().numTensors, before, 'no kept inputs left behind');
      byPrefixes(b[which], batches);
      assert.deepEqual(statistics(a[which]), statistics(b[which]));
    }
  } finally {
    pictures.dispose();
    disposeNets(a);
    disposeNets(b);
  }
});

test("setBatchNormStatistics with a sample for the deeper layers: the first layer's from every picture, the others' from the sample's", () => {
  const config = { ...DEFAULT_TRAIN_CONFIG, seed: 6 };
  const [a, b, all] = [0, 1, 2].map(() => createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, config));
  const pictures = tf.randomUniform([37, 28, 28, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
  const batches = () => [0, 16, 32].map((s) => pictures.slice([s], [Math.min(16, 37 - s)]) as tf.Tensor4D);
  const sample = () => [pictures.gather([0, 4, 8, 12, 16, 20, 24, 28, 32, 36])] as tf.Tensor4D[];
  try {
    const before = tf.memory().numTensors;
    assert.equal(setBatchNormStatistics(a.r, batches, sample), 3);
    assert.equal(tf.memory().numTensors, before, 'no kept inputs left behind');
    byPrefixes(b.r, batches, sample);
    byPrefixes(all.r, batches);
    const [got, want, whole] = [statistics(a.r), statistics(b.r), statistics(all.r)];
    assert.deepEqual(got, want);
    assert.deepEqual(got[0], whole[0], "the first layer's from every picture");
    for (const k of [1, 2]) assert.notDeepEqual(got[k], whole[k], `layer ${k + 1}'s from the sample alone`);
  } finally {
    pictures.dispose();
    [a, b, all].forEach(disposeNets);
  }
});

test("setRStatistics: R's first layer from every memory picture, the deeper layers from every k-th, at most 1,024", () => {
  const config = { ...DEFAULT_TRAIN_CONFIG, seed: 7 };
  const [a, b] = [0, 1].map(() => createNets({ ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL }, config));
  const count = DEEPER_STATISTICS_PICTURES + 6; // every 2nd: 515 pictures
  const size = DEFAULT_MODEL_CONFIG.inputSize;
  const pixels = Uint8Array.from({ length: count * size * size }, (_, i) => (i * 2654435761) >>> 24);
  const set = { pixels, count, size, channels: 1 };
  const every = Array.from({ length: Math.ceil(count / 2) }, (_, i) => 2 * i);
  try {
    setRStatistics(a.r, set);
    byPrefixes(b.r, () => [...batchesOf(set)], () => [...batchesOf(pickRows(set, every))]);
    assert.deepEqual(statistics(a.r), statistics(b.r));
  } finally {
    [a, b].forEach(disposeNets);
  }
});
