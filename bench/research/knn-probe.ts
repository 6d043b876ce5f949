/**
 * Research probe (issue 5): nearest-neighbour novelty in feature spaces of trained runs. For each digit's run in
 * <ckpt> (its best epoch), embeds the run's training images and the whole test set with: raw pixels, R's code
 * (encoder output), D's last features (flatten), and scores each test image by its mean cosine distance to its k
 * nearest training images. Prints test AUROC of each, beside the run's KL score.
 * Usage: npx tsx bench/research/knn-probe.ts --ckpt /tmp/final5 [--digits 0,1 --k 5]
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { loadMnist } from '../../test/helpers/mnist';
import { auroc } from '../../src/eval/metrics';
import { builtInTrainingImages, floatsOf } from '../../src/data/source';
import { loadEpochModels } from '../../src/run/checkpoint';
import { runDirFor } from '../../src/run/paths';
import { splitTraining } from '../../src/train/dataset';
import { readRunFile } from '../../src/run/runfile-io';
import { buildReconstructor } from '../../src/models/reconstructor';
import { buildDiscriminator } from '../../src/models/discriminator';
import { scoreImages } from '../../src/score/scorer';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const ckpt = arg('ckpt', '/tmp/final5');
const digits = arg('digits', '0,1,2,3,4,5,6,7,8,9').split(',').map(Number);
const only = arg('spaces', 'pixels,rCode,recon,dOfX').split(',');
const ks = arg('k', '1,5').split(',').map(Number);

/** Row-normalised embeddings [n, f] of `count` images by `embed`. */
function embedAll(embed: (x: tf.Tensor4D) => tf.Tensor, pixels: Float32Array, count: number): tf.Tensor2D {
  const parts: tf.Tensor2D[] = [];
  for (let s = 0; s < count; s += 500) {
    const m = Math.min(500, count - s);
    parts.push(tf.tidy(() => {
      const f = embed(tf.tensor4d(pixels.subarray(s * 784, (s + m) * 784), [m, 28, 28, 1])).reshape([m, -1]) as tf.Tensor2D;
      return tf.div(f, tf.add(tf.norm(f, 2, 1, true), 1e-8)) as tf.Tensor2D;
    }));
  }
  const all = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  return all;
}

/** Mean cosine distance to the k most similar bank rows, for each k. */
function knnScores(bank: tf.Tensor2D, queries: tf.Tensor2D): Record<number, Float64Array> {
  const n = queries.shape[0];
  const out: Record<number, Float64Array> = Object.fromEntries(ks.map((k) => [k, new Float64Array(n)]));
  const kmax = Math.max(...ks);
  // A 1×1 convolution is a matrix product, and runs on the compiled conv kernels (wasm's matMul is far slower).
  const bankT = tf.tidy(() => tf.transpose(bank).reshape([1, 1, bank.shape[1], bank.shape[0]]) as tf.Tensor4D);
  for (let s = 0; s < n; s += 500) {
    const m = Math.min(500, n - s);
    const top = tf.tidy(() => tf.topk(tf.conv2d(queries.slice([s, 0], [m, -1]).reshape([1, m, 1, bank.shape[1]]) as tf.Tensor4D, bankT, 1, 'valid').reshape([m, bank.shape[0]]), kmax).values);
    const v = top.dataSync();
    top.dispose();
    for (let i = 0; i < m; i++) for (const k of ks) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += 1 - v[i * kmax + j];
      out[k][s + i] = sum / k;
    }
  }
  bankT.dispose();
  return out;
}

async function main() {
  await selectBackend('wasm');
  const test = loadMnist('test');
  for (const digit of digits) {
    const runDir = runDirFor(ckpt, `digit-${digit}`);
    const run = readRunFile(runDir);
    const nets = process.argv.includes('--untrained')
      ? { r: buildReconstructor(run.config.model, run.config.train.seed), d: buildDiscriminator(run.config.model, run.config.train.seed) }
      : loadEpochModels(runDir, run, Number(arg('epoch', String(run.bestEpoch))));
    const { train, validation } = splitTraining(builtInTrainingImages(run.config.data), run.config.train);
    const trainPixels = floatsOf(train);
    const validationPixels = floatsOf(validation);
    const isNovel = Uint8Array.from(test.labels, (l) => (l === digit ? 0 : 1));
    const code = tf.model({ inputs: nets.r.inputs, outputs: nets.r.getLayer('g_encoder_h2_conv_lrelu').output as tf.SymbolicTensor });
    const dFeat = tf.model({ inputs: nets.d.inputs, outputs: nets.d.getLayer('d_flatten').output as tf.SymbolicTensor });
    const layerOut = (name: string) => tf.model({ inputs: nets.r.inputs, outputs: nets.r.getLayer(name).output as tf.SymbolicTensor });
    const h1 = layerOut('g_encoder_h1_conv_lrelu'), h0 = layerOut('g_encoder_h0_conv_lrelu');
    const spaces: Record<string, (x: tf.Tensor4D) => tf.Tensor> = {
      h1: (x) => h1.predict(x) as tf.Tensor,
      h0: (x) => h0.predict(x) as tf.Tensor,
      h0pool: (x) => tf.avgPool(h0.predict(x) as tf.Tensor4D, 2, 2, 'valid'),
      pixels: (x) => x,
      rCode: (x) => code.predict(x) as tf.Tensor,
      recon: (x) => nets.r.predict(x) as tf.Tensor,
      dOfX: (x) => dFeat.predict(x) as tf.Tensor,
    };
    const cells: string[] = [`kl ${auroc(scoreImages(nets, test.images, 10000, { size: 28, channels: 1 }).novelty.kl, isNovel).toFixed(4)}`];
    const kept: Record<string, { t: Float64Array; v: Float64Array }> = {};
    for (const [name, embed] of Object.entries(spaces)) {
      if (!only.includes(name)) continue;
      const bank = embedAll(embed, trainPixels, train.count);
      const q = embedAll(embed, test.images, 10000);
      const qv = embedAll(embed, validationPixels, validation.count);
      const s = knnScores(bank, q);
      const sv = knnScores(bank, qv);
      kept[name] = { t: s[ks[0]], v: sv[ks[0]] };
      for (const k of ks) cells.push(`${name}@${k} ${auroc(s[k], isNovel).toFixed(4)}`);
      tf.dispose([bank, q, qv]);
    }
    // Label-free mixes: mean of each score's percentile among the validation images' scores.
    const names = Object.keys(kept);
    const pct = (ref: Float64Array, x: number) => { let b = 0; for (const r of ref) if (r < x) b++; return b / ref.length; };
    for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) {
      const a = kept[names[i]], b = kept[names[j]];
      const mix = a.t.map((x, n) => pct(a.v, x) + pct(b.v, b.t[n]) + 1e-9 * (x / (a.v[0] || 1)));
      cells.push(`${names[i]}+${names[j]} ${auroc(mix, isNovel).toFixed(4)}`);
    }
    console.log(`digit ${digit} (epoch ${run.bestEpoch}): ${cells.join(', ')}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
