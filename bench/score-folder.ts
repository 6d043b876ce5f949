/**
 * The user-facing scoring numbers, through the built CLI as a user runs it (`npm run build` first), for a 28×28×1 and
 * a 64×64×3 run (`npx tsx bench/score-folder.ts [count] [28|64]`):
 *   - `alocc score --json DIR` over DIR holding `count` PNGs (decode and start-up included), median of 3;
 *   - a cold `alocc score one.png`, median of 5 runs.
 * 28×28×1: a one-epoch `alocc train` on every training image of digit 1, scoring MNIST test images. 64×64×3: a
 * one-epoch run on 4,600 synthetic 64×64 colour pictures (warm ellipses on a noisy green ground), scoring more of
 * them. Both runs keep 4,096 images in their knn memory, as a user's run of that size does: the knn search over it is
 * a fixed part of every picture's cost. Each row also gives the CPU time (user + system, all threads, from
 * /usr/bin/time when it is there), which other load on the machine inflates less than the wall time, and the peak RSS.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMnist } from '../test/helpers/mnist';
import { encodeGreyPng } from '../test/helpers/grey-png';
import { sharp } from '../src/data/sharp';
import { Row } from './rows';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli.js');
const TIME = '/usr/bin/time';

export type ScoreShape = '28x28x1' | '64x64x3';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function subFolder(dir: string, i: number): string {
  const sub = path.join(dir, `part-${Math.floor(i / 1000)}`);
  if (i % 1000 === 0) fs.mkdirSync(sub, { recursive: true });
  return sub;
}

export function writeMnistPngs(dir: string, count: number): string[] {
  const { images, count: available } = loadMnist('test');
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % available;
    const file = path.join(subFolder(dir, i), `t10k-${i}.png`);
    fs.writeFileSync(file, encodeGreyPng(images.subarray(k * 784, (k + 1) * 784), 28, 28));
    files.push(file);
  }
  return files;
}

/** `count` 64×64 RGB PNGs: a warm ellipse on a noisy green ground, seeded. */
export async function writeColourPngs(dir: string, count: number, seed: number): Promise<string[]> {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const side = 64;
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = Buffer.alloc(side * side * 3);
    const [cx, cy, rx, ry] = [side * (0.3 + 0.4 * rnd()), side * (0.3 + 0.4 * rnd()), side * (0.15 + 0.2 * rnd()), side * (0.15 + 0.2 * rnd())];
    const colour = [200 + rnd() * 55, 40 + rnd() * 160, 20 + rnd() * 40];
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1;
        const base = inside ? colour : [80, 150, 70];
        for (let c = 0; c < 3; c++) raw[(y * side + x) * 3 + c] = Math.max(0, Math.min(255, base[c] + (rnd() - 0.5) * 40));
      }
    }
    const file = path.join(subFolder(dir, i), `colour-${i}.png`);
    fs.writeFileSync(file, await sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer());
    files.push(file);
  }
  return files;
}

export interface Timed {
  seconds: number;
  cpuSeconds: number | null;
  rssMb: number | null;
  stdout: string;
}

/** One CLI run: wall time, and CPU time and peak RSS from /usr/bin/time when it is there. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Timed {
  const timed = fs.existsSync(TIME);
  const [cmd, argv] = timed ? [TIME, ['-f', 'BENCH %U %S %M', process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, ...env } });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`alocc ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  const m = timed ? /BENCH (\S+) (\S+) (\d+)\s*$/.exec(r.stderr) : null;
  return { seconds, cpuSeconds: m ? Number(m[1]) + Number(m[2]) : null, rssMb: m ? Number(m[3]) / 1024 : null, stdout: r.stdout };
}

const cpuNote = (cpu: number | null, count: number) => (cpu === null ? '' : `; CPU ${cpu.toFixed(2)} s (${(count / cpu).toFixed(0)} images per CPU-second)`);

/** The run a shape's rows score with (trained in `work`, as the module comment says) and `count` PNGs to score. */
export async function benchRun(work: string, count: number, shape: ScoreShape, env: NodeJS.ProcessEnv = {}): Promise<{ ckpt: string; dir: string; files: string[] }> {
  const ckpt = path.join(work, 'ckpt');
  const dir = path.join(work, 'pngs');
  if (shape === '28x28x1') {
    cli(['train', '--digit', '1', '--epochs', '1', '--checkpoint-dir', ckpt], env);
    return { ckpt, dir, files: writeMnistPngs(dir, count) };
  }
  const train = path.join(work, 'train');
  await writeColourPngs(train, 4600, 1);
  cli(['train', '--data', train, '--size', '64', '--channels', '3', '--epochs', '1', '--checkpoint-dir', ckpt], env);
  return { ckpt, dir, files: await writeColourPngs(dir, count, 2) };
}

export async function scoreFolderRows(count: number, env: NodeJS.ProcessEnv = {}, label = '', shape: ScoreShape = '28x28x1'): Promise<Row[]> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-bench-score-'));
  try {
    const { ckpt, dir, files } = await benchRun(work, count, shape, env);
    cli(['score', '--json', '--checkpoint-dir', ckpt, dir], env); // warm the page cache
    const runs = [0, 1, 2].map(() => cli(['score', '--json', '--checkpoint-dir', ckpt, dir], env));
    const lines = runs[0].stdout.trim().split('\n').length;
    if (lines !== count) throw new Error(`score printed ${lines} lines for ${count} files`);
    const seconds = median(runs.map((r) => r.seconds));
    const cpu = runs[0].cpuSeconds === null ? null : median(runs.map((r) => r.cpuSeconds!));
    const rss = runs[0].rssMb;
    // The same over the first 1,000 files only: equal peaks mean memory does not grow with the number of files.
    const rssFew = count > 1000 ? cli(['score', '--json', '--checkpoint-dir', ckpt, path.join(dir, 'part-0')], env).rssMb : null;
    const cold = [0, 1, 2, 3, 4].map(() => cli(['score', '--checkpoint-dir', ckpt, files[0]], env));
    const coldCpu = cold[0].cpuSeconds === null ? null : median(cold.map((r) => r.cpuSeconds!));
    return [
      {
        name: `score a folder of ${count} PNGs (CLI, ${shape})${label}`,
        batch: 256,
        imagesPerSecond: count / seconds,
        msPerStep: seconds * 1000,
        cpuMsPerStep: cpu === null ? undefined : cpu * 1000,
        note: `alocc score --json DIR, decode and start-up included; median of 3; ms columns: whole run${cpuNote(cpu, count)}${rss ? `; peak RSS ${rss.toFixed(0)} MB` : ''}${rssFew ? ` (${rssFew.toFixed(0)} MB for the first 1,000 files)` : ''}`,
      },
      {
        name: `cold alocc score one.png (CLI, ${shape})${label}`,
        batch: 1,
        imagesPerSecond: null,
        msPerStep: median(cold.map((r) => r.seconds)) * 1000,
        cpuMsPerStep: coldCpu === null ? undefined : coldCpu * 1000,
        note: 'median of 5 runs, wall and CPU time of the whole process',
      },
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const count = Number(process.argv[2] ?? 10000);
  const shapes: ScoreShape[] = process.argv[3] === '64' ? ['64x64x3'] : process.argv[3] === '28' ? ['28x28x1'] : ['28x28x1', '64x64x3'];
  (async () => {
    for (const shape of shapes) for (const row of await scoreFolderRows(count, {}, '', shape)) console.log(JSON.stringify(row));
  })().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
