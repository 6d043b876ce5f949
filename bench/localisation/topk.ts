/**
 * Which local score: the image AUROC of the mean of a picture's k largest cell distances for several k, beside the
 * global knn verdict, on a run's test pictures (its built-in test set, or --normal/--novel folders such as a
 * localisation benchmark's normal/ and defective/). Same cells as the maps: the run's cell memory and neighbourhood.
 * A combination is rated too: the larger of the two scores each divided by its own calibrated threshold (the verdict's
 * and the run's local threshold, which is for its localTopK).
 *
 *   npx tsx bench/localisation/topk.ts --run RUN_DIR [--limit 3000] [--k 1,2,3,5,10]
 *   npx tsx bench/localisation/topk.ts --run RUN_DIR --normal DIR --novel DIR
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestSet, floatsOf, LabelledSet } from '../../src/data/source';
import { labelledFolders } from '../../src/data/test-images';
import { auroc } from '../../src/eval/metrics';
import { openRun } from '../../src/run/open';
import { runCellCalibration } from '../../src/run/open-cells';
import { buildCellMemory, cellDistances, disposeCellMemory, leaveOneOutCellDistances, localScore } from '../../src/score/cell-map';
import { memoryDistances } from '../../src/score/feature-memory';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** The first `limit` pictures of a set (built-in sets interleave their classes, so the first hold every class). */
function head(set: LabelledSet, limit: number): LabelledSet {
  const n = Math.min(limit, set.count);
  const per = set.size * set.size * set.channels;
  return { ...set, count: n, pixels: set.pixels.subarray(0, n * per), isNovel: set.isNovel.subarray(0, n) };
}

async function main(): Promise<void> {
  const runDir = arg('run');
  if (!runDir) throw new Error('usage: topk.ts --run RUN_DIR [--normal DIR --novel DIR] [--limit N] [--k 1,3]');
  console.log(`backend: ${(await selectBackend('auto')).label}`);
  const ks = arg('k', '1,2,3,5,10')!.split(',').map(Number);
  const opened = openRun(runDir);
  const normal = arg('normal'), novel = arg('novel');
  const test = normal && novel
    ? (await labelledFolders(normal, novel, opened.preprocessing)).test
    : head(builtInTestSet(opened.config.data), Number(arg('limit', '3000')));
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  const neighbourhood = opened.config.train.cellNeighbourhood;
  const grid = memory.rows * memory.cols;
  const local = ks.map(() => new Float64Array(test.count));
  const global = new Float64Array(test.count);
  for (let start = 0; start < test.count; start += 64) {
    const n = Math.min(64, test.count - start);
    const x = tf.tensor4d(floatsOf(test, start, n), [n, test.size, test.size, test.channels]);
    const cells = cellDistances(memory, x, neighbourhood);
    global.set(tf.tidy(() => memoryDistances(opened.memory, x)).dataSync(), start);
    x.dispose();
    for (let i = 0; i < n; i++) ks.forEach((k, j) => (local[j][start + i] = localScore(cells.subarray(i * grid, (i + 1) * grid), Math.min(k, grid))));
  }
  const novelCount = test.isNovel.reduce((s, v) => s + v, 0);
  console.log(`${runDir} epoch ${opened.epoch}: ${test.count} test pictures (${test.count - novelCount} normal, ${novelCount} novel), cells by ${neighbourhood}`);
  console.log(`| score | image AUROC |\n|---|---|\n| knn (global) | ${auroc(global, test.isNovel).toFixed(4)} |`);
  ks.forEach((k, j) => console.log(`| top-${k} cells | ${auroc(local[j], test.isNovel).toFixed(4)} |`));
  const calibration = runCellCalibration(opened, opened.config.train, { rows: memory.rows, cols: memory.cols, leaveOneOut: (probes) => leaveOneOutCellDistances(memory, probes) });
  const j = ks.indexOf(calibration.topK);
  if (j >= 0) {
    const both = global.map((g, i) => Math.max(g / opened.threshold, local[j][i] / calibration.local.threshold));
    console.log(`| max(knn / its threshold, top-${calibration.topK} / its threshold) | ${auroc(both, test.isNovel).toFixed(4)} |`);
  }
  disposeCellMemory(memory);
  opened.dispose();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
