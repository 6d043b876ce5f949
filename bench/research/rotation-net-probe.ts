/**
 * Research probe (issue 22): the rotation classifier of docs/research.md ("A rotation classifier beside R and D") on
 * alocc's own backend (wasm + the compiled kernels), to check that it trains there as in PyTorch and at what cost
 * before it moves into src/. A small CNN of its own (4 × [3×3 conv 'same' → BatchNorm → LeakyReLU 0.2 → 2×2 max-pool],
 * 32-256 channels, global mean, Dense(4)) learns which quarter turn was applied to a normal picture, shrunk to at most
 * 32×32; a picture is novel when the net cannot tell (GEOM's score: −mean over the four turns of log p(that turn)).
 *
 *   npx tsx bench/research/rotation-net-probe.ts TASKDIR [--epochs 10] [--batch 32] [--seed 42]
 *   npx tsx bench/research/rotation-net-probe.ts --fashion CLASS --run RUNDIR [--epochs 10]
 *
 * TASKDIR holds train/, normal/ and novel/ (bench/colour/build.ts makes them). With --fashion, Fashion-MNIST's class
 * CLASS is normal (alocc's own split) and RUNDIR an alocc run of that class: its knn verdict is scored beside the
 * rotation score and the two summed on their validation scales, as bench/torch/combine_rot_knn.py does. Prints one
 * JSON line: AUROC of the rotation score trained and untrained, held-out rotation accuracy, training seconds.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestSet, builtInTrainingImages, floatsOf, ImageSet, LabelledSet } from '../../src/data/source';
import { loadDetector } from '../../src/api/detector';
import { folderPreprocessing, loadImageFolder } from '../../src/data/folder';
import { labelledFolders } from '../../src/data/test-images';
import { auroc } from '../../src/eval/metrics';
import { seededInit } from '../../src/models/layers';
import { mulberry32, shuffleInPlace } from '../../src/data/random';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** x rotated by k quarter turns (NHWC), anticlockwise. */
function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  let y = x;
  for (let i = 0; i < k % 4; i++) y = tf.reverse(tf.transpose(y, [0, 2, 1, 3]), 1);
  return y;
}

/** The rotation classifier for pictures of side `size` (average-pooled to at most 32 first) and `channels`. */
function buildRotationNet(size: number, channels: number, seed: number): tf.LayersModel {
  const input = tf.input({ shape: [size, size, channels] });
  let x: tf.SymbolicTensor = input;
  const shrink = Math.max(1, Math.ceil(size / 32));
  if (shrink > 1) x = tf.layers.averagePooling2d({ poolSize: shrink, strides: shrink }).apply(x) as tf.SymbolicTensor;
  [32, 64, 128, 256].forEach((filters, i) => {
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', kernelInitializer: seededInit(seed, 200 + i) }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ momentum: 0.9 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.leakyReLU({ alpha: 0.2 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, kernelInitializer: seededInit(seed, 210) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** GEOM's score per picture and the fraction of turns told right, over pictures x. */
function rotationScores(net: tf.LayersModel, x: tf.Tensor4D): { score: Float32Array; accuracy: number } {
  return tf.tidy(() => {
    const n = x.shape[0];
    const logp = [0, 1, 2, 3].map((k) => tf.logSoftmax(net.apply(rot90(x, k), { training: false }) as tf.Tensor2D));
    const own = tf.stack(logp.map((l, k) => tf.slice(l, [0, k], [n, 1]).reshape([n])), 1); // [n, 4]
    const hits = tf.stack(logp.map((l, k) => tf.equal(tf.argMax(l, 1), k)), 1).cast('float32');
    return { score: tf.neg(tf.mean(own, 1)).dataSync() as Float32Array, accuracy: tf.mean(hits).dataSync()[0] };
  });
}

async function main() {
  const fashion = arg('fashion', '');
  const task = fashion ? `fashion-${fashion}` : process.argv[2];
  const epochs = Number(arg('epochs', '10'));
  const batch = Number(arg('batch', '32'));
  const seed = Number(arg('seed', '42'));
  await selectBackend('wasm');
  let all: ImageSet;
  let test: LabelledSet;
  if (fashion) {
    const data = { source: 'fashion-mnist' as const, class: Number(fashion), folder: null };
    all = builtInTrainingImages(data);
    test = builtInTestSet(data);
  } else {
    const folder = await loadImageFolder(`${task}/train`, { size: 64, channels: 3, resize: 'fill', skipBad: false });
    all = { pixels: folder.pixels, count: folder.count, size: 64, channels: 3 };
    test = (await labelledFolders(`${task}/normal`, `${task}/novel`, folderPreprocessing(64, 3, 'fill'))).test;
  }
  const { size, channels } = all;
  // 15 % of the training pictures held out, as the PyTorch probe did: the held-out accuracy a label-free rule reads.
  const order = shuffleInPlace(Uint32Array.from({ length: all.count }, (_, i) => i), mulberry32(seed));
  const held = Math.round(0.15 * all.count);
  const pick = (rows: Uint32Array) => tf.tensor4d(Float32Array.from(Array.from(rows).flatMap((r) => Array.from(floatsOf(all, r, 1)))), [rows.length, size, size, channels]);
  const trainX = pick(order.slice(held));
  const heldX = pick(order.slice(0, held));
  const testX = tf.tensor4d(floatsOf(test), [test.count, size, size, channels]);
  const novel = test.isNovel;
  const net = buildRotationNet(size, channels, seed);
  const untrained = rotationScores(net, testX);
  const opt = tf.train.adam(1e-3);
  const n = trainX.shape[0];
  const started = Date.now();
  for (let e = 0; e < epochs; e++) {
    const perm = shuffleInPlace(Uint32Array.from({ length: n }, (_, i) => i), mulberry32(seed * 1000 + e));
    for (let b = 0; b < n; b += batch) {
      const idx = tf.tensor1d(Array.from(perm.slice(b, b + batch)), 'int32');
      tf.tidy(() => {
        const xb = tf.gather(trainX, idx) as tf.Tensor4D;
        const m = xb.shape[0];
        const xs = tf.concat([0, 1, 2, 3].map((k) => rot90(xb, k)));
        const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3].flatMap((k) => Array(m).fill(k)), 'int32'), 4);
        opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, net.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
      });
      idx.dispose();
    }
  }
  const trainSeconds = (Date.now() - started) / 1000;
  const trained = rotationScores(net, testX);
  const heldOut = rotationScores(net, heldX);
  const combined: Record<string, number> = {};
  const runDir = arg('run', '');
  if (runDir) {
    // The run's knn verdict per test picture, and the sum of both scores on their validation scales.
    const det = await loadDetector(runDir);
    const per = size * size * channels;
    const raws = Array.from({ length: test.count }, (_, i) => ({ data: test.pixels.subarray(i * per, (i + 1) * per), width: size, height: size, channels: channels as 1 | 3 }));
    const knn = (await det.score(raws)).map((r) => r.novelty);
    const run = JSON.parse(require('node:fs').readFileSync(`${runDir}/run.json`, 'utf8'));
    const v = run.epochs[run.bestEpoch - 1].validation.knn;
    const zk = knn.map((s) => (s - v.mean) / ((v.threshold - v.mean) / 1.645));
    const vr = Array.from(heldOut.score);
    const mean = vr.reduce((a, b) => a + b, 0) / vr.length;
    const sd = Math.sqrt(vr.reduce((a, b) => a + (b - mean) ** 2, 0) / vr.length) + 1e-9;
    combined.knn = +auroc(knn, novel).toFixed(4);
    combined.sum = +auroc(zk.map((z, i) => z + (trained.score[i] - mean) / sd), novel).toFixed(4);
  }
  console.log(JSON.stringify({
    task: task.split('/').filter(Boolean).pop(), epochs, batch, seed, trainPictures: n, trainSeconds, ...combined,
    rotation: +auroc(Array.from(trained.score), novel).toFixed(4), untrained: +auroc(Array.from(untrained.score), novel).toFixed(4),
    heldOutAccuracy: +heldOut.accuracy.toFixed(3),
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
