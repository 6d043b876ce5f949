/**
 * Research probe (issue 22): how knnRotation should combine its two parts, from a run's stored files alone, with the
 * same combinations computed on the untrained control's parts (the run's networks at their initial weights). Parts:
 * the knn distance and the rotation net's per-turn softmax p[k][j] (picture turned by k, probability of turn j) on
 * the test pictures and the run's stored validation pictures. Rotation scores:
 *   geom  −¼ Σₖ log p[k][k]                    (alocc's `rotation`)
 *   ce    −¼ Σₖ Σⱼ C[k][j] log p[k][j]         C: the mean of p over the validation pictures (the class's own ambiguity)
 *   half  −¼ Σₖ log(p[k][k] + p[k][k+2])       (half turns merged)
 * Combinations (each part standardised by its validation mean and sd): knn + w·geom for weights w, knn + min(geom,
 * cap) for caps (also of the untrained control's parts: `control …`), and knn + ce, knn + half. One JSON line a run,
 * appended to OUT; runs already in OUT are skipped, so it can follow a sweep as its runs finish.
 *
 *   npx tsx bench/research/rotation-combinations.ts OUT RUN... [--tasks DIR] [--limit N]
 * (built-in runs score their test set; folder runs DIR/<run name>/{normal,novel}).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { openRun } from '../../src/run/open';
import { floatsOf } from '../../src/data/source';
import { folderPreprocessing } from '../../src/data/folder';
import { builtInTestImages, labelledFolders } from '../../src/data/test-images';
import { scoreImages } from '../../src/score/scorer';
import { scaleOf } from '../../src/score/combined-score';
import { auroc } from '../../src/eval/metrics';
import { quarterTurn, TURNS } from '../../src/models/rotation-net';
import { untrainedControl } from '../../src/eval/untrained-control';

/** log p[(i·4 + k)·4 + j]: log-softmax of the net on picture i turned by k, turn j (as rotationNovelty takes it). */
function turnLogProbabilities(net: tf.LayersModel, pixels: Float32Array, n: number, s: number, c: number): Float32Array {
  const out = new Float32Array(n * TURNS * TURNS);
  const per = s * s * c;
  for (let start = 0; start < n; start += 256) {
    const m = Math.min(256, n - start);
    const p = tf.tidy(() => {
      const x = tf.tensor4d(pixels.subarray(start * per, (start + m) * per), [m, s, s, c]);
      return tf.stack(Array.from({ length: TURNS }, (_, k) => tf.logSoftmax(net.apply(quarterTurn(x, k), { training: false }) as tf.Tensor2D)), 1);
    });
    out.set(p.dataSync(), start * TURNS * TURNS);
    p.dispose();
  }
  return out;
}

const at = (logp: Float32Array, i: number, k: number, j: number) => logp[(i * 4 + k) * 4 + (j % 4)];
const scoreOf = (logp: Float32Array, f: (i: number) => number) => Float64Array.from({ length: logp.length / 16 }, (_, i) => f(i));
const geom = (logp: Float32Array) => scoreOf(logp, (i) => -[0, 1, 2, 3].reduce((s, k) => s + at(logp, i, k, k), 0) / 4);
/** log(e^a + e^b) without overflow. */
const logAddExp = (a: number, b: number) => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
const half = (logp: Float32Array) => scoreOf(logp, (i) => -[0, 1, 2, 3].reduce((s, k) => s + logAddExp(at(logp, i, k, k), at(logp, i, k, k + 2)), 0) / 4);
function crossEntropy(logp: Float32Array, C: Float64Array) {
  return scoreOf(logp, (i) => {
    let s = 0;
    for (let k = 0; k < 4; k++) for (let j = 0; j < 4; j++) s -= C[k * 4 + j] * at(logp, i, k, j);
    return s / 4;
  });
}
/** Test values standardised by the validation values' mean and sd. */
function standardised(test: ArrayLike<number>, val: ArrayLike<number>): Float64Array {
  const { mean, sd } = scaleOf(val);
  return Float64Array.from(test, (x) => (x - mean) / sd);
}

const WEIGHTS = [0.5, 0.7, 1];
const CAPS = [1, 1.5, 2, 3, 4];

/** AUROC of knn + w·rotation and knn + min(rotation, cap), each part standardised on the validation pictures. */
function combinations(novel: Uint8Array, knnT: ArrayLike<number>, knnV: ArrayLike<number>, rotT: ArrayLike<number>, rotV: ArrayLike<number>, prefix = ''): Record<string, number> {
  const zk = standardised(knnT, knnV);
  const zr = standardised(rotT, rotV);
  const sum = (f: (i: number) => number) => auroc(Float64Array.from(zk, (_, i) => f(i)), novel);
  const row: Record<string, number> = { [`${prefix}knn`]: auroc(knnT, novel), [`${prefix}geom`]: auroc(rotT, novel) };
  for (const w of WEIGHTS) row[`${prefix}knn+${w}geom`] = sum((i) => zk[i] + w * zr[i]);
  for (const c of CAPS) row[`${prefix}knn+geom cap ${c}`] = sum((i) => zk[i] + Math.min(zr[i], c));
  return row;
}

/** The symmetry-aware rotation scores (ce, half) summed with knn, and the net's held-out turn accuracy. */
function symmetryScores(novel: Uint8Array, knnT: ArrayLike<number>, knnV: ArrayLike<number>, pT: Float32Array, pV: Float32Array): Record<string, number> {
  const C = new Float64Array(16);
  const nV = pV.length / 16;
  for (let i = 0; i < nV; i++) for (let q = 0; q < 16; q++) C[q] += Math.exp(pV[i * 16 + q]) / nV;
  const zk = standardised(knnT, knnV);
  const zc = standardised(crossEntropy(pT, C), crossEntropy(pV, C));
  const zh = standardised(half(pT), half(pV));
  return {
    'knn+ce': auroc(Float64Array.from(zk, (z, i) => z + zc[i]), novel),
    'knn+half': auroc(Float64Array.from(zk, (z, i) => z + zh[i]), novel),
    heldOutTurnAccuracy: [0, 1, 2, 3].reduce((s, k) => s + C[k * 5] / 4, 0),
  };
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const tasks = option('--tasks');
  const limit = option('--limit');
  const [out, ...runs] = args;
  await selectBackend('wasm');
  const done = new Set(fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).run) : []);
  for (const dir of runs) {
    if (done.has(dir) || !fs.existsSync(path.join(dir, 'run.json'))) continue;
    const opened = openRun(dir);
    if (opened.run.epochs.length < opened.config.train.epochs) {
      opened.dispose(); // still training
      continue;
    }
    if (!opened.rotationNet) throw new Error(`${dir}: no rotation net (train with --score knnRotation)`);
    const { size, channels } = opened.preprocessing;
    const { test } = opened.config.data.source === 'folder'
      ? await labelledFolders(path.join(tasks!, path.basename(dir), 'normal'), path.join(tasks!, path.basename(dir), 'novel'), folderPreprocessing(size, channels, 'fill'))
      : builtInTestImages(opened.config.data, limit ? Number(limit) : undefined);
    const val = opened.validationImages()!;
    const [tp, vp] = [floatsOf(test), floatsOf(val)];
    const novel = test.isNovel;
    const knn = (pixels: Float32Array, n: number) => scoreImages(opened, pixels, n, opened.preprocessing).novelty.knn;
    const [knnT, knnV] = [knn(tp, test.count), knn(vp, val.count)];
    const [pT, pV] = [turnLogProbabilities(opened.rotationNet, tp, test.count, size, channels), turnLogProbabilities(opened.rotationNet, vp, val.count, size, channels)];
    const row = { ...combinations(novel, knnT, knnV, geom(pT), geom(pV)), ...symmetryScores(novel, knnT, knnV, pT, pV) };
    // The same combinations of the untrained control's parts (src/eval/untrained-control.ts).
    const control = untrainedControl(opened);
    try {
      const [t, v] = [control.parts(tp, test.count), control.parts(vp, val.count)];
      Object.assign(row, combinations(novel, t.knn, v.knn, t.rotation!, v.rotation!, 'control '));
    } finally {
      control.dispose();
    }
    fs.appendFileSync(out, JSON.stringify({ run: dir, seed: opened.config.train.seed, ...Object.fromEntries(Object.entries(row).map(([k, x]) => [k, +x.toFixed(4)])) }) + '\n');
    console.log(dir, `knn ${row.knn.toFixed(4)} knn+geom ${row['knn+1geom'].toFixed(4)} cap 2 ${row['knn+geom cap 2'].toFixed(4)} control cap 2 ${row['control knn+geom cap 2'].toFixed(4)}`);
    opened.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
