/**
 * How the knn memory should be chosen when it keeps fewer images than the training set (`--memory-size`):
 * `npx tsx bench/research/memory-probe.ts CHECKPOINT_DIR [sizes...]`. For every run of a built-in set in the folder
 * (digit-<d>/, fashion-<c>/), at its best epoch, the knn AUROC on its test set with the memory made of
 *   - all of the run's training images,
 *   - a seeded sample of M of them (what `train` does),
 *   - a greedy k-centre coreset of M in R's feature space (each next image the one farthest from those chosen),
 * for each M. No test label is used to choose anything; they only grade. Prints a table and writes JSON beside it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestSet, builtInTrainingImages, floatsOf, ImageSet, pickRows } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { openRun } from '../../src/run/open';
import { runFilePath } from '../../src/run/paths';
import { buildFeatureMemory, disposeFeatureMemory, FeatureMemory, memoryDistances, memoryRows, rFeatureSpace } from '../../src/score/feature-memory';
import { splitTraining } from '../../src/train/dataset';

/**
 * Greedy k-centre: start from image 0, then repeatedly add the image farthest (cosine distance) from those chosen.
 * The whole similarity matrix is computed once (one matMul), then the greedy loop runs over its rows in JS.
 */
function coresetRows(bank: tf.Tensor2D, m: number): Uint32Array {
  const n = bank.shape[0];
  const sims = tf.tidy(() => tf.matMul(bank, bank, false, true)).dataSync() as Float32Array;
  const minDist = new Float32Array(n).fill(Infinity);
  const chosen: number[] = [];
  let next = 0;
  while (chosen.length < Math.min(m, n)) {
    chosen.push(next);
    let far = -1;
    for (let i = 0; i < n; i++) {
      const d = 1 - sims[next * n + i];
      if (d < minDist[i]) minDist[i] = d;
      if (far < 0 || minDist[i] > minDist[far]) far = i;
    }
    next = far;
  }
  return Uint32Array.from(chosen).sort();
}

function knnAuroc(memory: FeatureMemory, test: ReturnType<typeof builtInTestSet>): number {
  const out = new Float32Array(test.count);
  for (let start = 0; start < test.count; start += 256) {
    const n = Math.min(256, test.count - start);
    const d = tf.tidy(() => memoryDistances(memory, tf.tensor4d(floatsOf(test, start, n), [n, test.size, test.size, test.channels])));
    out.set(d.dataSync(), start);
    d.dispose();
  }
  return auroc(out, test.isNovel);
}

async function main() {
  const dir = process.argv[2];
  const sizes = process.argv.slice(3).map(Number);
  if (!dir) throw new Error('usage: memory-probe.ts CHECKPOINT_DIR [sizes...]');
  const ms = sizes.length ? sizes : [500, 1000, 2000, 4096];
  await selectBackend('wasm');
  const results: Record<string, Record<string, number>> = {};
  const only = (process.env.PROBE_RUNS ?? '').split(',').filter(Boolean);
  for (const name of fs.readdirSync(dir).sort()) {
    if (only.length && !only.includes(name)) continue;
    if (!fs.existsSync(runFilePath(path.join(dir, name)))) continue;
    const opened = openRun(path.join(dir, name));
    if (opened.config.data.source === 'folder') continue;
    const all = builtInTrainingImages(opened.config.data);
    const { train } = splitTraining(all, opened.config.train);
    const test = builtInTestSet(opened.config.data);
    const space = rFeatureSpace(opened.r);
    const k = opened.config.train.neighbours;
    const full = buildFeatureMemory(space, train, k);
    const row: Record<string, number> = { [`all ${train.count}`]: knnAuroc(full, test) };
    const bank = full.bank.reshape([full.images, full.dims]) as tf.Tensor2D;
    for (const m of ms.filter((m) => m < train.count)) {
      const t0 = performance.now();
      const core = coresetRows(bank, m);
      const coreSeconds = (performance.now() - t0) / 1000;
      for (const [kind, rows] of [['sample', memoryRows(train.count, m, opened.config.train.seed)], ['coreset', core]] as const) {
        const mem = buildFeatureMemory(space, pickRows(train, rows) as ImageSet, k);
        row[`${kind} ${m}`] = knnAuroc(mem, test);
        disposeFeatureMemory(mem);
      }
      row[`coreset ${m} seconds`] = coreSeconds;
    }
    // What a run folder can do: a coreset chosen from the stored memory (the seeded sample of --memory-size).
    const poolSize = opened.config.train.memorySize;
    if (process.env.PROBE_POOL !== '0' && poolSize < train.count) {
      const pool = pickRows(train, memoryRows(train.count, poolSize, opened.config.train.seed)) as ImageSet;
      const poolMemory = buildFeatureMemory(space, pool, k);
      const poolBank = poolMemory.bank.reshape([poolMemory.images, poolMemory.dims]) as tf.Tensor2D;
      for (const m of ms.filter((m) => m < poolSize)) {
        const mem = buildFeatureMemory(space, pickRows(pool, coresetRows(poolBank, m)) as ImageSet, k);
        row[`pool-coreset ${m}`] = knnAuroc(mem, test);
        disposeFeatureMemory(mem);
      }
      poolBank.dispose();
      disposeFeatureMemory(poolMemory);
    }
    bank.dispose();
    disposeFeatureMemory(full);
    opened.dispose();
    results[name] = row;
    console.log(name, JSON.stringify(row));
  }
  fs.writeFileSync(path.join(dir, 'memory-probe.json'), JSON.stringify(results, null, 2) + '\n');
}
main();
