/**
 * The knn memory as a coreset, the way `train` would choose it: `npx tsx bench/research/coreset-probe.ts
 * CHECKPOINT_DIR [sizes...]`. For every built-in run in the folder, at its best epoch, the knn AUROC on its test set
 * with the memory made of
 *   - the stored seeded sample (what runs keep today, --memory-size images),
 *   - a greedy k-centre coreset of M training images in R's features (src/score/coreset.ts, what `train` keeps
 *     with --memory-coreset M), for each M,
 * and the raw-pixel baseline on the sample and on a coreset of M chosen in pixel space the same way. Test labels
 * only grade. Prints a line per run and writes coreset-probe.json beside the runs.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestSet, builtInTrainingImages, floatsOf, ImageSet, pickRows } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { openRun } from '../../src/run/open';
import { runFilePath } from '../../src/run/paths';
import { coresetImages } from '../../src/score/coreset';
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
  if (!dir) throw new Error('usage: coreset-probe.ts CHECKPOINT_DIR [sizes...]');
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
    const space = rFeatureSpace(opened.r);
    const sample = pickRows(train, memoryRows(train.count, cfg.memorySize, cfg.seed)) as ImageSet;
    const row: Record<string, number> = { epoch: opened.epoch, [`sample ${sample.count}`]: knnAuroc(space, sample, cfg.neighbours, test) };
    for (const [label, s] of [['', space], ['pixels ', pixelSpace]] as const) {
      if (label && process.env.PROBE_PIXELS === '0') continue;
      for (const m of ms) {
        const t0 = performance.now();
        const core = coresetImages(s, train, m, cfg.seed);
        row[`${label}coreset ${m} seconds`] = (performance.now() - t0) / 1000;
        row[`${label}coreset ${m}`] = knnAuroc(s, core, cfg.neighbours, test);
      }
      if (label) row[`pixels sample ${sample.count}`] = knnAuroc(pixelSpace, sample, cfg.neighbours, test);
    }
    opened.dispose();
    results[name] = row;
    console.log(name, JSON.stringify(row));
  }
  fs.writeFileSync(path.join(dir, 'coreset-probe.json'), JSON.stringify(results, null, 2) + '\n');
}
main();
