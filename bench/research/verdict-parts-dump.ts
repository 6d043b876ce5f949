/**
 * Research helper (issue 22): each colour-benchmark run's verdict parts on its task's test pictures, standardised on
 * the run's validation pictures as knnRotation standardises them, one JSON file per task, so that a probe outside
 * alocc (bench/torch/transform_probe.py --dump) can ask what its own score adds to the product's parts.
 *
 *   npx tsx bench/research/verdict-parts-dump.ts TASKS_DIR RUNS_DIR OUT_DIR
 *
 * OUT_DIR/<task>.json: { files (test pictures' names, normal then novel), novel, knn, rotation, cap }.
 */
import * as fs from 'fs';
import * as path from 'path';
import { selectBackend } from '../../src/backend';
import { openRun } from '../../src/run/open';
import { floatsOf } from '../../src/data/source';
import { folderPreprocessing } from '../../src/data/folder';
import { labelledFolders } from '../../src/data/test-images';
import { scoreImages } from '../../src/score/scorer';
import { scaleOf } from '../../src/score/rotation-score';

async function main() {
  const [tasksDir, runsDir, outDir] = process.argv.slice(2);
  await selectBackend('wasm');
  fs.mkdirSync(outDir, { recursive: true });
  for (const task of fs.readdirSync(runsDir).filter((t) => fs.existsSync(path.join(runsDir, t, 'run.json'))).sort()) {
    const opened = openRun(path.join(runsDir, task));
    const { size, channels } = opened.preprocessing;
    const { test } = await labelledFolders(path.join(tasksDir, task, 'normal'), path.join(tasksDir, task, 'novel'), folderPreprocessing(size, channels, 'fill'));
    const val = opened.validationImages()!;
    const t = scoreImages(opened, floatsOf(test), test.count, opened.preprocessing).novelty;
    const v = scoreImages(opened, floatsOf(val), val.count, opened.preprocessing).novelty;
    const z = (name: 'knn' | 'rotation') => { const { mean, sd } = scaleOf(v[name]); return Array.from(t[name], (x) => (x - mean) / sd); };
    const out = { files: test.files!.map((f) => path.basename(f)), novel: Array.from(test.isNovel), knn: z('knn'), rotation: z('rotation'), cap: opened.config.train.rotationCap ?? 2 };
    fs.writeFileSync(path.join(outDir, `${task}.json`), JSON.stringify(out));
    console.log(task, test.count);
    opened.dispose();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
