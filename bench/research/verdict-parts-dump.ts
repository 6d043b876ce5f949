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
import { openTaskRun, tasksIn, verdictParts } from './colour-task-runs';

async function main() {
  const [tasksDir, runsDir, outDir] = process.argv.slice(2);
  await selectBackend('wasm');
  fs.mkdirSync(outDir, { recursive: true });
  for (const task of tasksIn(runsDir)) {
    const run = await openTaskRun(tasksDir, runsDir, task);
    const { test } = run;
    const out = { files: test.files!.map((f) => path.basename(f)), novel: Array.from(test.isNovel), ...verdictParts(run) };
    fs.writeFileSync(path.join(outDir, `${task}.json`), JSON.stringify(out));
    console.log(task, test.count);
    run.opened.dispose();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
