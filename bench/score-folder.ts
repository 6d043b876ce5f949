/**
 * The user-facing scoring numbers, through the built CLI as a user runs it (`npm run build` first):
 *   - `alocc score --json DIR` over DIR holding `count` MNIST test images as PNG files (decode and start-up included);
 *   - a cold `alocc score one.png`, median of 5 runs.
 * The checkpoint comes from a one-epoch `alocc train` run on every training image of digit 1, made in a temporary
 * folder: scoring cost does not depend on how well R was trained, but the knn score's does on how many images its
 * memory holds (at most the run's memorySize). Memory: the peak RSS of the folder run, from /usr/bin/time when it is there.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMnist } from '../src/data/mnist';
import { encodeGreyPng } from '../src/data/png';
import { Row } from './rows';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli.js');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function writePngs(dir: string, count: number): string[] {
  const { images, count: available } = loadMnist('test');
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const sub = path.join(dir, `part-${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) fs.mkdirSync(sub, { recursive: true });
    const k = i % available;
    const file = path.join(sub, `t10k-${i}.png`);
    fs.writeFileSync(file, encodeGreyPng(images.subarray(k * 784, (k + 1) * 784), 28, 28));
    files.push(file);
  }
  return files;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { seconds: number; stdout: string; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`alocc ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout, stderr: r.stderr };
}

function peakRssMb(args: string[]): number | null {
  if (!fs.existsSync('/usr/bin/time')) return null;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const kb = Number(r.stderr.trim().split('\n').pop());
  return Number.isFinite(kb) ? kb / 1024 : null;
}

export function scoreFolderRows(count: number, env: NodeJS.ProcessEnv = {}, label = ''): Row[] {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-bench-score-'));
  try {
    const ckpt = path.join(work, 'ckpt');
    // Every training image of the digit, as a user's run: its knn memory (memorySize, 4,096 by default) is what the
    // score searches, so a run with fewer training images would score faster.
    cli(['train', '--digit', '1', '--epochs', '1', '--checkpoint-dir', ckpt], env);
    const dir = path.join(work, 'pngs');
    const files = writePngs(dir, count);
    cli(['score', '--json', '--checkpoint-dir', ckpt, dir], env); // warm the page cache
    const runs = [0, 1, 2].map(() => cli(['score', '--json', '--checkpoint-dir', ckpt, dir], env));
    const lines = runs[0].stdout.trim().split('\n').length;
    if (lines !== count) throw new Error(`score printed ${lines} lines for ${count} files`);
    const seconds = median(runs.map((r) => r.seconds));
    const rss = peakRssMb(['score', '--json', '--checkpoint-dir', ckpt, dir]);
    // The same over the first 1,000 files only: equal peaks mean memory does not grow with the number of files.
    const rssFew = count > 1000 ? peakRssMb(['score', '--json', '--checkpoint-dir', ckpt, path.join(dir, 'part-0')]) : null;
    const cold = [0, 1, 2, 3, 4].map(() => cli(['score', '--checkpoint-dir', ckpt, files[0]], env).seconds);
    return [
      {
        name: `score a folder of ${count} PNGs (CLI)${label}`,
        batch: 256,
        imagesPerSecond: count / seconds,
        msPerStep: seconds * 1000,
        note: `alocc score --json DIR, decode and start-up included; median of 3; ms column: whole run${rss ? `; peak RSS ${rss.toFixed(0)} MB` : ''}${rssFew ? ` (${rssFew.toFixed(0)} MB for the first 1,000 files)` : ''}`,
      },
      { name: `cold alocc score one.png (CLI)${label}`, batch: 1, imagesPerSecond: null, msPerStep: median(cold) * 1000, note: 'median of 5 runs, wall time of the whole process' },
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const count = Number(process.argv[2] ?? 10000);
  for (const row of scoreFolderRows(count)) console.log(JSON.stringify(row));
}
