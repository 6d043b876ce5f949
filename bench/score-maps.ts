/**
 * What anomaly maps cost through the built CLI (`npm run build` first; `npx tsx bench/score-maps.ts [count] [28|64]`,
 * or `npm run bench -- --only score-maps`): on the runs bench/score-folder.ts trains, `alocc score --json DIR` over
 * `count` PNGs without maps and `alocc score --json --maps OUT DIR` with them (every overlay written, into a new OUT
 * each run), alternating, 3 runs each; start-up included in both. Each row gives the median, the spread
 * (slowest and fastest run) and the CPU time (user + system, from /usr/bin/time), which other load on the machine
 * inflates less than the wall time. Start-up alone: a cold `alocc score --maps OUT one.png` (loading the run, the
 * memory's cells and the map scale), median of 3.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchRun, cli, median, ScoreShape, Timed } from './score-folder';
import { Row } from './rows';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli.js');

function spread(runs: Timed[], count: number): string {
  const rates = runs.map((r) => count / r.seconds).sort((a, b) => a - b);
  const cpu = runs[0].cpuSeconds === null ? '' : `; CPU ${median(runs.map((r) => r.cpuSeconds!)).toFixed(2)} s (${(count / median(runs.map((r) => r.cpuSeconds!))).toFixed(0)} images per CPU-second)`;
  return `runs ${runs.map((r) => r.seconds.toFixed(2)).join(', ')} s (${rates[0].toFixed(0)}-${rates[rates.length - 1].toFixed(0)} images/s)${cpu}`;
}

export async function scoreMapsRows(count: number, shape: ScoreShape): Promise<Row[]> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: npm run build first`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-bench-maps-'));
  try {
    const { ckpt, dir, files } = await benchRun(work, count, shape);
    // Every run writes into a folder of its own, removed only after the last run: on this machine's ext4 the kernel's
    // work of deleting a run's 2,000 overlays lands in the next run's file creations (about 1.7 s of system time
    // against 0.2 s into a new folder), a cost of the bench's cleaning, not of scoring.
    let runs = 0;
    const freshOut = () => path.join(work, `maps-${runs++}`);
    const plain = () => cli(['score', '--json', '--checkpoint-dir', ckpt, dir]);
    const mapped = () => cli(['score', '--json', '--maps', freshOut(), '--checkpoint-dir', ckpt, dir]);
    plain(); // warm the page cache
    const without: Timed[] = [];
    const withMaps: Timed[] = [];
    for (let i = 0; i < 3; i++) {
      without.push(plain());
      withMaps.push(mapped());
    }
    const lines = withMaps[0].stdout.trim().split('\n');
    if (lines.length !== count || !lines.every((l) => JSON.parse(l).map?.overlay)) throw new Error(`score --maps printed ${lines.length} lines for ${count} files, or lines without overlays`);
    const cold = [0, 1, 2].map(() => cli(['score', '--maps', freshOut(), '--checkpoint-dir', ckpt, files[0]]));
    const row = (name: string, runs: Timed[], note: string): Row => ({
      name, batch: 256, imagesPerSecond: count / median(runs.map((r) => r.seconds)), msPerStep: median(runs.map((r) => r.seconds)) * 1000,
      cpuMsPerStep: runs[0].cpuSeconds === null ? undefined : median(runs.map((r) => r.cpuSeconds!)) * 1000, note: `${note}; median of 3, ${spread(runs, count)}`,
    });
    return [
      row(`score ${count} PNGs without maps (CLI, ${shape})`, without, 'alocc score --json DIR, start-up included'),
      row(`score ${count} PNGs with --maps (CLI, ${shape})`, withMaps, 'alocc score --json --maps OUT DIR, every overlay written, start-up included'),
      {
        name: `cold alocc score --maps one.png (CLI, ${shape})`, batch: 1, imagesPerSecond: null, msPerStep: median(cold.map((r) => r.seconds)) * 1000,
        cpuMsPerStep: cold[0].cpuSeconds === null ? undefined : median(cold.map((r) => r.cpuSeconds!)) * 1000,
        note: `start-up with maps: the run, its memory's cells and the map scale; median of 3 (${cold.map((r) => r.seconds.toFixed(2)).join(', ')} s)`,
      },
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const count = Number(process.argv[2] ?? 2000);
  const shapes: ScoreShape[] = process.argv[3] === '64' ? ['64x64x3'] : process.argv[3] === '28' ? ['28x28x1'] : ['28x28x1', '64x64x3'];
  (async () => {
    for (const shape of shapes) for (const row of await scoreMapsRows(count, shape)) console.log(JSON.stringify(row));
  })().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
