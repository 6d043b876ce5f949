/**
 * Which feature space and which distance make the knn verdict rank best (issue 11):
 * `npx tsx bench/research/feature-probe.ts CHECKPOINT_DIR [--epochs 1,5] [--runs digit-3,fashion-0] [--spaces a,b]`.
 * For every run of a built-in set in the folder (digit-<d>/, fashion-<c>/) and each asked epoch ('best' = the run's
 * bestEpoch), the memory is the run's own stored memory images (what `score` searches) and the test set the whole
 * built-in test set. Each space embeds memory and test images; each distance rule scores test images by their k nearest
 * memory images (k = the run's). AUROC only grades; nothing is chosen with test labels. Prints one line per run and
 * epoch and writes feature-probe.json beside the runs.
 *
 * Spaces: px (raw pixels), f1 (R's first block, 2×2-averaged: the product's), f1u (the same, not averaged),
 * f1s1 (the first block's conv, BatchNorm and LeakyReLU applied at stride 1, averaged 4×4: denser sampling of the
 * same filters), f2 (second block, unpooled), f1px (f1 and px, each unit length, side by side).
 * Distances (`--dists cos,lof`; default cos): cos (1 − cosine, the product's), and with lof also ctr (cosine after subtracting the memory's mean feature),
 * lof (cos divided by the mean leave-one-out knn distance of the k neighbours found: a local density ratio).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestSet, floatsOf, ImageSet } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { openRun } from '../../src/run/open';
import { runFilePath } from '../../src/run/paths';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

type Space = (x: tf.Tensor4D) => tf.Tensor2D;

const unit = (f: tf.Tensor2D) => tf.div(f, tf.add(tf.norm(f, 2, 1, true), 1e-12)) as tf.Tensor2D;
const flat = (t: tf.Tensor) => t.reshape([t.shape[0], -1]) as tf.Tensor2D;

function layerOut(r: tf.LayersModel, name: string): (x: tf.Tensor4D) => tf.Tensor4D {
  const m = tf.model({ inputs: r.inputs, outputs: r.getLayer(name).output as tf.SymbolicTensor });
  return (x) => m.predict(x) as tf.Tensor4D;
}

/** The first block (conv 5×5 → BN → LeakyReLU 0.3) with R's weights, at stride 1. */
function firstBlockStride1(r: tf.LayersModel): (x: tf.Tensor4D) => tf.Tensor4D {
  const conv = r.getLayer('g_encoder_h0_conv').getWeights();
  const bn = r.getLayer('g_encoder_h0_conv_bn').getWeights(); // gamma, beta, moving mean, moving variance
  const [gamma, beta, mean, variance] = bn;
  return (x) => {
    let y = tf.conv2d(x, conv[0] as tf.Tensor4D, 1, 'same');
    if (conv[1]) y = tf.add(y, conv[1]) as tf.Tensor4D;
    y = tf.batchNorm(y, mean, variance, beta, gamma, 1e-3) as tf.Tensor4D;
    return tf.leakyRelu(y, 0.3) as tf.Tensor4D;
  };
}

function spaces(r: tf.LayersModel): Record<string, Space> {
  const h0 = layerOut(r, 'g_encoder_h0_conv_lrelu');
  const h1 = layerOut(r, 'g_encoder_h1_conv_lrelu');
  const s1 = firstBlockStride1(r);
  return {
    px: (x) => flat(x),
    f1: (x) => flat(tf.avgPool(h0(x), 2, 2, 'valid')),
    f1u: (x) => flat(h0(x)),
    f1s1: (x) => flat(tf.avgPool(s1(x), 4, 4, 'valid')),
    f2: (x) => flat(h1(x)),
    f2p: (x) => flat(tf.avgPool(h1(x), 2, 2, 'same')),
    f1f2: (x) => tf.concat([unit(flat(tf.avgPool(h0(x), 2, 2, 'valid'))), unit(flat(h1(x)))], 1) as tf.Tensor2D,
    f1px: (x) => tf.concat([unit(flat(tf.avgPool(h0(x), 2, 2, 'valid'))), unit(flat(x))], 1) as tf.Tensor2D,
  };
}

function embed(space: Space, set: ImageSet): tf.Tensor2D {
  const parts: tf.Tensor2D[] = [];
  for (let s = 0; s < set.count; s += 256) {
    const n = Math.min(256, set.count - s);
    parts.push(tf.tidy(() => space(tf.tensor4d(floatsOf(set, s, n), [n, set.size, set.size, set.channels]))));
  }
  const all = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  return all;
}

/** Cosine similarities of the k nearest bank rows for each query row (all unit length): values and indices. */
function nearest(bank: tf.Tensor2D, queries: tf.Tensor2D, k: number): { sims: Float32Array; idx: Int32Array } {
  const [n] = queries.shape;
  const sims = new Float32Array(n * k);
  const idx = new Int32Array(n * k);
  const [m, f] = bank.shape;
  const bank4 = bank.reshape([1, m, 1, f]) as tf.Tensor4D;
  for (let s = 0; s < n; s += 256) {
    const c = Math.min(256, n - s);
    const padded = Math.ceil(c / 64) * 64;
    const [v, i] = tf.tidy(() => {
      const q = tf.slice(queries, [s, 0], [c, f]);
      const filter = tf.concat([tf.transpose(q), tf.zeros([f, padded - c])], 1).reshape([1, 1, f, padded]) as tf.Tensor4D;
      const cos = tf.transpose(tf.slice(tf.conv2d(bank4, filter, 1, 'valid').reshape([m, padded]), [0, 0], [m, c]));
      const t = tf.topk(cos, k);
      return [t.values, t.indices];
    });
    sims.set(v.dataSync(), s * k);
    idx.set(i.dataSync() as Int32Array, s * k);
    tf.dispose([v, i]);
  }
  bank4.dispose();
  return { sims, idx };
}

function meanDist(sims: Float32Array, n: number, k: number, skip = 0): Float32Array {
  const out = new Float32Array(n);
  const width = k + skip;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = skip; j < width; j++) s += 1 - sims[i * width + j];
    out[i] = s / k;
  }
  return out;
}

/** Scores of the test rows under each distance rule, given raw features of memory and test. */
function distanceScores(mem: tf.Tensor2D, test: tf.Tensor2D, k: number, dists: string[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  const n = test.shape[0];
  const m = mem.shape[0];
  const memU = unit(mem);
  const testU = unit(test);
  const near = nearest(memU, testU, k);
  out.cos = meanDist(near.sims, n, k);
  if (!dists.includes('lof')) {
    tf.dispose([memU, testU]);
    return out;
  }
  // Leave-one-out knn distance of each memory image (its own row is its nearest: skip it).
  const self = nearest(memU, memU, k + 1);
  const loo = meanDist(self.sims, m, k, 1);
  out.lof = out.cos.map((d, i) => {
    let s = 0;
    for (let j = 0; j < k; j++) s += loo[near.idx[i * k + j]];
    return d / Math.max(1e-9, s / k);
  });
  const centre = tf.mean(mem, 0, true);
  const memC = unit(tf.sub(mem, centre) as tf.Tensor2D);
  const testC = unit(tf.sub(test, centre) as tf.Tensor2D);
  out.ctr = meanDist(nearest(memC, testC, k).sims, n, k);
  tf.dispose([memU, testU, centre, memC, testC]);
  return out;
}

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: feature-probe.ts CHECKPOINT_DIR [--epochs 1,best] [--runs a,b] [--spaces px,f1]');
  await selectBackend('wasm');
  const epochsArg = (arg('epochs') ?? 'best').split(',');
  const onlyRuns = (arg('runs') ?? '').split(',').filter(Boolean);
  const onlySpaces = (arg('spaces') ?? '').split(',').filter(Boolean);
  const dists = (arg('dists') ?? 'cos').split(',');
  const outFile = path.join(dir, arg('out') ?? 'feature-probe.json');
  const results: Record<string, Record<string, number>> = fs.existsSync(outFile) ? JSON.parse(fs.readFileSync(outFile, 'utf8')) : {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (onlyRuns.length && !onlyRuns.includes(name)) continue;
    if (!fs.existsSync(runFilePath(path.join(dir, name)))) continue;
    const first = openRun(path.join(dir, name));
    if (first.config.data.source === 'folder') { first.dispose(); continue; }
    const best = first.epoch;
    const last = first.run.epochs.length;
    first.dispose();
    const test = builtInTestSet({ ...first.config.data });
    for (const e of epochsArg) {
      const epoch = e === 'best' ? best : e === 'last' ? last : Number(e);
      if (!(epoch >= 1 && epoch <= last)) continue;
      const opened = openRun(path.join(dir, name), { epoch });
      const memoryImages = opened.memoryImages();
      const k = opened.config.train.neighbours;
      const row: Record<string, number> = {};
      const t0 = performance.now();
      for (const [sname, space] of Object.entries(spaces(opened.r))) {
        if (onlySpaces.length && !onlySpaces.includes(sname)) continue;
        const mem = embed(space, memoryImages);
        const q = embed(space, test);
        const scores = distanceScores(mem, q, k, dists);
        for (const [dname, v] of Object.entries(scores)) row[`${sname}.${dname}`] = Number(auroc(v, test.isNovel).toFixed(4));
        tf.dispose([mem, q]);
      }
      row.seconds = Math.round((performance.now() - t0) / 1000);
      opened.dispose();
      results[`${name}@${epoch}`] = row;
      console.log(`${name}@${epoch}${epoch === best ? '*' : ''}`, JSON.stringify(row));
      fs.writeFileSync(outFile, JSON.stringify(results, null, 1) + '\n');
    }
  }
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
