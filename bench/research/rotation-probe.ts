/**
 * Research probe (issue 22): does a rotation objective on D (SS-GAN style: D also tells which of four rotations was
 * applied to a real picture) make features that the kNN verdict can use, and by how much do they beat the same
 * networks untrained (BatchNorm statistics taken on the training pictures)?
 *
 *   npx tsx bench/research/rotation-probe.ts TRAIN NORMAL NOVEL [--epochs 30] [--batch 32] [--rot 1] [--seed 42]
 *
 * Trains R and D with the product's step (trainBatch) plus one extra D update per batch on the rotation loss, then
 * prints the AUROC of kNN (k 10, cosine) over several feature spaces, trained and untrained, as one JSON line.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { DEFAULT_TRAIN_CONFIG, FOLDER_PREPROCESSING } from '../../src/config';
import { floatsOf, ImageSet } from '../../src/data/source';
import { loadImageFolder } from '../../src/data/folder';
import { labelledFolders } from '../../src/data/test-images';
import { folderPreprocessing } from '../../src/data/folder';
import { auroc } from '../../src/eval/metrics';
import { setBatchNormStatistics } from '../../src/models/batchnorm-statistics';
import { seededInit } from '../../src/models/layers';
import { logitsOf } from '../../src/models/logits';
import { buildFeatureMemory, FeatureSpace, memoryDistances, pixelSpace, rFeatureSpace } from '../../src/score/feature-memory';
import { createNets, AloccNets } from '../../src/train/nets';
import { trainBatch } from '../../src/train/step';
import { ClippedRmsprop } from '../../src/train/rmsprop';
import { mulberry32, shuffleInPlace } from '../../src/data/random';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** x rotated by k quarter turns (NHWC). */
function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  let y = x;
  for (let i = 0; i < k; i++) y = tf.reverse(tf.transpose(y, [0, 2, 1, 3]), 2);
  return y;
}

const D_BLOCKS = ['d_h0_conv_lrelu', 'd_h1_conv_lrelu', 'd_h2_conv_lrelu', 'd_h3_conv_lrelu'];

function trunk(d: tf.LayersModel, upTo: string[]): tf.LayersModel {
  return tf.model({ inputs: d.inputs, outputs: upTo.map((n) => d.getLayer(n).output as tf.SymbolicTensor) });
}

function unit(f: tf.Tensor2D): tf.Tensor2D {
  return tf.div(f, tf.add(tf.norm(f, 2, 1, true), 1e-12)) as tf.Tensor2D;
}

/** Global (or grid) mean and max of D's named blocks, each part unit length, all parts concatenated, unit length. */
function dSpace(d: tf.LayersModel, blocks: number[], tta = false): FeatureSpace {
  const t = trunk(d, blocks.map((b) => D_BLOCKS[b]));
  const one = (x: tf.Tensor4D) => {
    let outs = t.apply(x, { training: false }) as tf.Tensor4D | tf.Tensor4D[];
    if (!Array.isArray(outs)) outs = [outs];
    return tf.concat(outs.flatMap((h) => [unit(tf.mean(h, [1, 2]) as tf.Tensor2D), unit(tf.max(h, [1, 2]) as tf.Tensor2D)]), 1) as tf.Tensor2D;
  };
  return (x) => unit(tta ? (tf.concat([0, 1, 2, 3].map((k) => unit(one(rot90(x, k)))), 1) as tf.Tensor2D) : one(x));
}

function joined(a: FeatureSpace, b: FeatureSpace): FeatureSpace {
  return (x) => unit(tf.concat([a(x), b(x)], 1) as tf.Tensor2D);
}

async function main() {
  const [trainDir, normalDir, novelDir] = process.argv.slice(2, 5);
  const epochs = Number(arg('epochs', '30'));
  const batch = Number(arg('batch', '32'));
  const rotWeight = Number(arg('rot', '1'));
  const seed = Number(arg('seed', '42'));
  const size = 64;
  await selectBackend('wasm');
  const folder = await loadImageFolder(trainDir, { size, channels: 3, resize: FOLDER_PREPROCESSING.resize, skipBad: false });
  const train: ImageSet = { pixels: folder.pixels, count: folder.count, size, channels: 3 };
  const { test } = await labelledFolders(normalDir, novelDir, folderPreprocessing(size, 3, 'fill'));
  const cfg = { ...DEFAULT_TRAIN_CONFIG, seed, batchSize: batch };
  const model = { inputSize: size, channels: 3, dfDim: 16, gfDim: 16 };
  const nets: AloccNets = createNets(model, cfg);
  const untrained: AloccNets = createNets(model, cfg);
  // The rotation head: D's last block, global mean, four logits.
  const headIn = tf.input({ shape: (nets.d.getLayer(D_BLOCKS[3]).output as tf.SymbolicTensor).shape.slice(1) as number[] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(headIn) as tf.SymbolicTensor;
  const head = tf.model({ inputs: headIn, outputs: tf.layers.dense({ units: 4, kernelInitializer: seededInit(seed, 105) }).apply(pooled) as tf.SymbolicTensor });
  const dTrunk = trunk(nets.d, [D_BLOCKS[3]]);
  const rotOpt: tf.Optimizer = arg('opt', 'rmsprop') === 'adam' ? tf.train.adam(Number(arg('lr', '0.001'))) : new ClippedRmsprop(cfg.learningRate, cfg.clipValue);
  const vars = [...nets.d.trainableWeights, ...head.trainableWeights].map((w) => (w as unknown as { val: tf.Variable }).val);
  const dVars = nets.d.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const per = size * size * 3;
  const started = Date.now();
  let step = 0;
  for (let e = 0; e < epochs; e++) {
    const order = shuffleInPlace(Uint32Array.from({ length: train.count }, (_, i) => i), mulberry32(seed * 100 + e));
    for (let b = 0; b + batch <= train.count; b += batch) {
      const buf = new Float32Array(batch * per);
      for (let k = 0; k < batch; k++) buf.set(floatsOf(train, order[b + k], 1), k * per);
      const x = tf.tensor4d(buf, [batch, size, size, 3]);
      trainBatch(nets, x, cfg, 1 + step++);
      if (rotWeight > 0 && arg('mode', 'rot') === 'pseudo') {
        // Pseudo-anomalies from the normal batch itself: each picture rotated by a random quarter turn (1-3) with its
        // colour channels cycled, labelled 0 beside the real pictures labelled 1, through D's own output.
        tf.tidy(() => {
          const k = 1 + (step % 3);
          const fake = tf.reverse(rot90(x, k), 3) as tf.Tensor4D;
          const xs = tf.concat([x, fake]);
          const labels = tf.concat([tf.ones([batch, 1]), tf.zeros([batch, 1])]);
          const { grads } = tf.variableGrads(() => tf.mul(tf.losses.sigmoidCrossEntropy(labels, logitsOf(nets.d, xs, true)), rotWeight) as tf.Scalar, dVars);
          rotOpt.applyGradients(grads);
        });
      } else if (rotWeight > 0) {
        tf.tidy(() => {
          const xs = tf.concat([0, 1, 2, 3].map((k) => rot90(x, k)));
          const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3].flatMap((k) => Array(batch).fill(k)), 'int32'), 4);
          const { grads } = tf.variableGrads(() => tf.mul(tf.losses.softmaxCrossEntropy(labels, head.apply(dTrunk.apply(xs, { training: true })) as tf.Tensor), rotWeight) as tf.Scalar, vars);
          rotOpt.applyGradients(grads);
        });
      }
      x.dispose();
    }
  }
  const trainSeconds = (Date.now() - started) / 1000;
  const batches = function* () {
    for (let s = 0; s < train.count; s += 128) {
      const n = Math.min(128, train.count - s);
      yield tf.tensor4d(floatsOf(train, s, n), [n, size, size, 3]);
    }
  };
  setBatchNormStatistics(untrained.r, batches);
  setBatchNormStatistics(untrained.d, batches);
  const spaces: Record<string, (n: AloccNets) => FeatureSpace> = {
    rCells: (n) => rFeatureSpace(n.r, 'mean-max'),
    d1: (n) => dSpace(n.d, [1]),
    d2: (n) => dSpace(n.d, [2]),
    d3: (n) => dSpace(n.d, [3]),
    d123: (n) => dSpace(n.d, [1, 2, 3]),
    d23tta: (n) => dSpace(n.d, [2, 3], true),
    'rCells+d23': (n) => joined(rFeatureSpace(n.r, 'mean-max'), dSpace(n.d, [2, 3])),
  };
  const row: Record<string, unknown> = { task: trainDir.split('/').slice(-2, -1)[0], mode: arg('mode', 'rot'), opt: arg('opt', 'rmsprop'), epochs, batch, rotWeight, seed, trainSeconds };
  const x = tf.tensor4d(floatsOf(test), [test.count, size, size, 3]);
  const score = (space: FeatureSpace) => {
    const m = buildFeatureMemory(space, train, 10);
    const d = memoryDistances(m, x);
    const a = auroc(d.dataSync(), test.isNovel);
    d.dispose();
    m.bank.dispose();
    return Math.round(a * 10000) / 10000;
  };
  row.pixels = score(pixelSpace);
  const dx = tf.tidy(() => tf.neg(nets.d.predict(x) as tf.Tensor).dataSync());
  row.dOfX = Math.round(auroc(dx, test.isNovel) * 10000) / 10000;
  const trainedScores = Object.fromEntries(Object.entries(spaces).map(([name, make]) => [name, score(make(nets))]));
  // The trained networks again, their BatchNorm statistics taken exactly on the clean training pictures (R's moving
  // statistics were gathered on noisy inputs, D's on real and fake batches): is the gap the weights', or the statistics'?
  setBatchNormStatistics(nets.r, batches);
  setBatchNormStatistics(nets.d, batches);
  for (const [name, make] of Object.entries(spaces)) row[name] = [trainedScores[name], score(make(untrained)), score(make(nets))];
  console.log(JSON.stringify(row));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
