/**
 * How much of a whole epoch its steps are, in CPU time as well as wall time: `alocc train --digit 1` through the
 * library's train() for --epochs N (default 3) in a temporary folder, each epoch split at its last step into the
 * steps and the work after them (the knn memory, validation, the cell calibration, the checkpoint:
 * src/train/epoch-end.ts). `npx tsx bench/epoch-cpu.ts [--epochs N]`; ALOCC_ISA as everywhere.
 *
 * Why beside bench.ts's train-epoch row: that row sets the epoch's wall rate against a separate step measurement,
 * and on a shared machine both move with the other jobs' load; here the epoch is set against its own steps and the
 * process's CPU time (every thread), which the load inflates less. steps / epoch is the share of the epoch its steps
 * are: the epoch/step ratio the goal asks ≥ 0.90 of, when the steps inside an epoch run at the step row's speed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { train } from '../src/api/train';

const args = process.argv.slice(2);
const at = args.indexOf('--epochs');
const epochs = at >= 0 ? Number(args[at + 1]) : 3;

interface Mark {
  wall: number;
  cpu: number;
}
const mark = (): Mark => {
  const u = process.cpuUsage();
  return { wall: performance.now() / 1000, cpu: (u.user + u.system) / 1e6 };
};

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-epoch-cpu-'));
  const starts: Mark[] = [];
  const lastSteps: Mark[] = [];
  const ends: Mark[] = [];
  try {
    await train({
      data: { source: 'mnist', class: 1 }, epochs, checkpointDir: dir, backend: 'wasm',
      on: {
        epochStart: () => void starts.push(mark()),
        batch: (epoch) => void (lastSteps[epoch - 1] = mark()),
        epoch: () => void ends.push(mark()),
      },
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`# ${process.env.ALOCC_ISA ?? 'best ISA'}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('epoch | steps wall s | steps CPU s | after wall s | after CPU s | steps/epoch wall | steps/epoch CPU');
  for (let e = 0; e < ends.length; e++) {
    const [s, l, n] = [starts[e], lastSteps[e], ends[e]];
    const row = [l.wall - s.wall, l.cpu - s.cpu, n.wall - l.wall, n.cpu - l.cpu];
    console.log(`${e + 1} | ${row.map((v) => v.toFixed(2)).join(' | ')} | ${(row[0] / (n.wall - s.wall)).toFixed(3)} | ${(row[1] / (n.cpu - s.cpu)).toFixed(3)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
