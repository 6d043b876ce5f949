/**
 * Runs the colour benchmark (bench/colour/build.ts) with the built CLI: for each task and training seed,
 * `alocc train --data <task>/train` then `alocc eval --normal <task>/normal --novel <task>/novel --json`, and prints
 * every rated score's AUROC per task (mean ± sd over seeds) with the eight-task mean of each seed.
 *
 *   npm run build && npx tsx bench/colour/run.ts [--seeds 42,1,2] [--tasks food,smileys] [--out .bench/colour/runs]
 *       [--tasks-dir .bench/colour/tasks] [-- <extra train options>]
 *
 * Train options after `--` go to every `alocc train` (e.g. `-- --epochs 20`); without them the run uses alocc's
 * defaults, which is what the benchmark reports. Runs already trained in --out are evaluated again, not retrained.
 * Writes <out>/summary.json.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { TASKS } from './build';

interface ScoreRow {
  name: string;
  label: string;
  auroc: number;
}

function arg(name: string, fallback: string): string {
  const end = process.argv.indexOf('--');
  const args = end >= 0 ? process.argv.slice(0, end) : process.argv;
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

/** The built CLI; ALOCC_CLI names another build (a frozen copy, so a long sweep is not changed by a rebuild). */
const cli = process.env.ALOCC_CLI ?? path.join(__dirname, '..', '..', 'dist', 'src', 'cli.js');

function alocc(args: string[]): string {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function meanSd(v: number[]): { mean: number; sd: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd };
}

function main(): void {
  const seeds = arg('seeds', '42').split(',').map(Number);
  const tasksDir = arg('tasks-dir', '.bench/colour/tasks');
  const out = arg('out', '.bench/colour/runs');
  const only = arg('tasks', '');
  const tasks = TASKS.map((t) => t.slug).filter((s) => !only || only.split(',').includes(s));
  const end = process.argv.indexOf('--');
  const extra = end >= 0 ? process.argv.slice(end + 1) : [];
  if (!fs.existsSync(tasksDir)) throw new Error(`${tasksDir} is missing: run npx tsx bench/colour/build.ts first`);
  const results: Record<string, Record<number, { scores: ScoreRow[]; trainSeconds: number; epoch: number }>> = {};
  for (const seed of seeds) {
    const dir = path.join(out, `seed-${seed}`);
    for (const task of tasks) {
      const t = path.join(tasksDir, task);
      const started = Date.now();
      if (!fs.existsSync(path.join(dir, task, 'run.json'))) {
        alocc(['train', '--data', path.join(t, 'train'), '--name', task, '--seed', String(seed), '--checkpoint-dir', dir, ...extra]);
      }
      const trainSeconds = (Date.now() - started) / 1000;
      const report = JSON.parse(alocc(['eval', '--name', task, '--checkpoint-dir', dir, '--normal', path.join(t, 'normal'), '--novel', path.join(t, 'novel'), '--json']));
      const scores: ScoreRow[] = report.scores.map((s: ScoreRow) => ({ name: s.name, label: s.label, auroc: s.auroc }));
      (results[task] ??= {})[seed] = { scores, trainSeconds, epoch: report.epoch };
      console.log(`seed ${seed} ${task.padEnd(11)} ${scores.map((s) => `${s.name} ${s.auroc.toFixed(4)}`).join('  ')}  (${trainSeconds.toFixed(0)} s)`);
    }
  }
  const names = results[tasks[0]][seeds[0]].scores.map((s) => s.name);
  const perTask = Object.fromEntries(tasks.map((task) => [task, Object.fromEntries(names.map((n) => [n, meanSd(seeds.map((s) => results[task][s].scores.find((r) => r.name === n)!.auroc))]))]));
  const seedMeans = Object.fromEntries(names.map((n) => [n, seeds.map((s) => meanSd(tasks.map((task) => results[task][s].scores.find((r) => r.name === n)!.auroc)).mean)]));
  const mean = Object.fromEntries(names.map((n) => [n, meanSd(seedMeans[n])]));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({ format: 'alocc-colour-bench', seeds, tasks, trainOptions: extra, perTask, seedMeans, mean, results }, null, 2));
  const fmt = (m: { mean: number; sd: number }) => (seeds.length > 1 ? `${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}` : m.mean.toFixed(4));
  console.log(`\n| task | ${names.join(' | ')} |\n|---|${names.map(() => '---').join('|')}|`);
  for (const task of tasks) console.log(`| ${task} | ${names.map((n) => fmt(perTask[task][n])).join(' | ')} |`);
  console.log(`| **mean** | ${names.map((n) => fmt(mean[n])).join(' | ')} |`);
}

main();
