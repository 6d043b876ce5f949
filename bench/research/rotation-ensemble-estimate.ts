/**
 * Research probe (issue 22): would averaging several rotation nets' scores lift knnRotation on colour pictures? An
 * estimate from runs that already exist: the same task trained at several seeds (each its own rotation net), the
 * first run's knn part plus the mean of the runs' standardised rotation parts, capped as the product caps it.
 *
 *   npx tsx bench/research/rotation-ensemble-estimate.ts TASKS_DIR RUNS_DIR_SEED_A RUNS_DIR_SEED_B ...
 */
import * as fs from 'fs';
import * as path from 'path';
import { selectBackend } from '../../src/backend';
import { auroc } from '../../src/eval/metrics';
import { openTaskRun, verdictParts } from './colour-task-runs';

async function main() {
  const [tasksDir, ...runDirs] = process.argv.slice(2);
  await selectBackend('wasm');
  const tasks = fs.readdirSync(runDirs[0]).filter((t) => runDirs.every((d) => fs.existsSync(path.join(d, t, 'run.json')))).sort();
  const rows: Record<string, number>[] = [];
  for (const task of tasks) {
    const parts: { knn: number[]; rot: number[]; cap: number }[] = [];
    let novel: ArrayLike<number> = [];
    for (const dir of runDirs) {
      const run = await openTaskRun(tasksDir, dir, task);
      novel = run.test.isNovel;
      const { knn, rotation, cap } = verdictParts(run);
      parts.push({ knn, rot: rotation, cap });
      run.opened.dispose();
    }
    const n = novel.length;
    const cap = parts[0].cap;
    const sum = (f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
    const meanRot = sum((i) => parts.reduce((a, p) => a + p.rot[i], 0) / parts.length);
    const meanCappedRot = sum((i) => parts.reduce((a, p) => a + Math.min(p.rot[i], cap), 0) / parts.length);
    const meanKnn = sum((i) => parts.reduce((a, p) => a + p.knn[i], 0) / parts.length);
    const a = (s: number[]) => auroc(s, novel);
    const row: Record<string, number> = {
      single: a(sum((i) => parts[0].knn[i] + Math.min(parts[0].rot[i], cap))),
      singleRotation: a(parts[0].rot),
      ensembleRotation: a(meanRot),
      knnPlusMeanRotCapped: a(sum((i) => parts[0].knn[i] + Math.min(meanRot[i], cap))),
      knnPlusMeanOfCapped: a(sum((i) => parts[0].knn[i] + meanCappedRot[i])),
      meanKnnPlusMeanRotCapped: a(sum((i) => meanKnn[i] + Math.min(meanRot[i], cap))),
    };
    rows.push(row);
    console.log(JSON.stringify({ task, ...Object.fromEntries(Object.entries(row).map(([k, x]) => [k, +x.toFixed(4)])) }));
  }
  const keys = Object.keys(rows[0]);
  console.log(JSON.stringify({ task: 'mean', ...Object.fromEntries(keys.map((k) => [k, +(rows.reduce((s, r) => s + r[k], 0) / rows.length).toFixed(4)])) }));
}

main().catch((err) => { console.error(err); process.exit(1); });
