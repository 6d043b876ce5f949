/**
 * How the knn memory should be chosen: `npx tsx bench/research/memory-probe.ts CHECKPOINT_DIR [sizes...]`. For every
 * run of a built-in set in the folder (digit-<d>/, fashion-<c>/), at its best epoch, the knn AUROC on its test set
 * with the memory made of
 *   - the stored seeded sample (--memory-size images, what runs kept before --memory-coreset),
 *   - all of the run's training images (PROBE_ALL=1; slow),
 *   - for each M: a seeded sample of M, a greedy k-centre coreset of M among all training images (src/score/coreset.ts,
 *     what `train --memory-coreset M` keeps), and one chosen among the stored sample only,
 * and the raw-pixel baseline on the stored sample and on a pixel-space coreset of M (PROBE_PIXELS=0 skips them). No
 * test label chooses anything; they only grade. Prints a line per run and writes memory-probe.json beside the runs.
 * PROBE_RUNS=digit-3,fashion-6 limits the runs. Results: docs/research.md, "A coreset memory".
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestSet, builtInTrainingImages, floatsOf, ImageSet, pickRows } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { openRun } from '../../src/run/open';
import { runFilePath } from '../../src/run/paths';
import { coreset } from '../../src/score/coreset';
import { buildFeatureMemory, disposeFeatureMemory, FeatureSpace, memoryDistances, memoryRows, pixelSpace, rFeatureSpace } from '../../src/score/feature-memory';
import { splitTraining } from '../../src/train/dataset';

function knnAuroc(space: FeatureSpace, memoryImages: ImageSet, k: number, test: ReturnType<typeof builtInTestSet>): number {
  const memory = buildFeatureMemory(space, memoryImages, k);
  const out = new Float32Array(test.count);
  try {
    for (let start = 0; start < test.count; start += 256) {
      const n = Math.min(256, test.count - start);
      const d = tf.tidy(() => memoryDistances(memory, tf.tensor4d(floatsOf(test, start, n), [n, test.size, test.size, test.channels])));
      out.set(d.dataSync(), start);
      d.dispose();
    }
  } finally {
    disposeFeatureMemory(memory);
  }
  return auroc(out, test.isNovel);
}

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: memory-probe.ts CHECKPOINT_DIR [sizes...]');
  const sizes = process.argv.slice(3).map(Number);
  const ms = sizes.length ? sizes : [500, 1000, 2000];
  await selectBackend('wasm');
  const results: Record<string, Record<string, number>> = {};
  const only = (process.env.PROBE_RUNS ?? '').split(',').filter(Boolean);
  for (const name of fs.readdirSync(dir).sort()) {
    if (only.length && !only.includes(name)) continue;
    if (!fs.existsSync(runFilePath(path.join(dir, name)))) continue;
    const opened = openRun(path.join(dir, name));
    if (opened.config.data.source === 'folder') continue;
    const { train: cfg } = opened.config;
    const { train } = splitTraining(builtInTrainingImages(opened.config.data), cfg);
    const test = builtInTestSet(opened.config.data);
    const space = rFeatureSpace(opened.r, opened.config.train.cellPooling);
    const stored = pickRows(train, memoryRows(train.count, cfg.memorySize, cfg.seed)) as ImageSet;
    const k = cfg.neighbours;
    const row: Record<string, number> = { epoch: opened.epoch, [`sample ${stored.count}`]: knnAuroc(space, stored, k, test) };
    if (process.env.PROBE_ALL === '1') row[`all ${train.count}`] = knnAuroc(space, train, k, test);
    for (const m of ms) {
      row[`sample ${m}`] = knnAuroc(space, pickRows(train, memoryRows(train.count, m, cfg.seed)) as ImageSet, k, test);
      const t0 = performance.now();
      const core = coreset(space, train, m, cfg.seed).images;
      row[`coreset ${m} seconds`] = (performance.now() - t0) / 1000;
      row[`coreset ${m}`] = knnAuroc(space, core, k, test);
      row[`coreset ${m} of the stored sample`] = knnAuroc(space, coreset(space, stored, m, cfg.seed).images, k, test);
    }
    if (process.env.PROBE_PIXELS !== '0') {
      row[`pixels sample ${stored.count}`] = knnAuroc(pixelSpace, stored, k, test);
      for (const m of ms) row[`pixels coreset ${m}`] = knnAuroc(pixelSpace, coreset(pixelSpace, train, m, cfg.seed).images, k, test);
    }
    opened.dispose();
    results[name] = row;
    console.log(name, JSON.stringify(row));
  }
  fs.writeFileSync(path.join(dir, 'memory-probe.json'), JSON.stringify(results, null, 2) + '\n');
}
main();
