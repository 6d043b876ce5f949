/**
 * The whole-epoch rate a user reads: `alocc train --digit 1` through the built CLI (`npm run build` first), three
 * epochs in a fresh temporary folder, and the images/s that run.json records for each epoch (its batches, the knn
 * memory's coreset, validation and the checkpoint: src/train/trainer.ts). Epoch 1 also pays for first-call costs
 * (XNNPACK operators, JIT), so the row's figure is the mean of epochs 2 and 3 and epoch 1 is in the note; bench.ts
 * sets it beside the step figure of the wasm-native row (the goal: within 10 %).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Row } from './rows';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli.js');

export function trainEpochRow(quick: boolean): Row {
  const name = 'train epoch (alocc train --digit 1, whole epoch)';
  if (!fs.existsSync(CLI)) return { name, batch: 128, imagesPerSecond: null, note: 'not run: dist/src/cli.js is missing (npm run build)' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-bench-epoch-'));
  try {
    const epochs = 3;
    const args = [CLI, 'train', '--digit', '1', '--epochs', String(epochs), '--checkpoint-dir', dir, ...(quick ? ['--limit', '2000'] : [])];
    const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (result.status !== 0) return { name, batch: 128, imagesPerSecond: null, note: `not run: alocc train exited ${result.status}: ${(result.stderr || '').trim().split('\n').pop()}` };
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'digit-1', 'run.json'), 'utf8')) as { epochs: { imagesPerSecond: number; wallSeconds: number }[] };
    const rates = run.epochs.map((e) => e.imagesPerSecond);
    const steady = rates.slice(1);
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    const seconds = run.epochs.slice(1).reduce((a, e) => a + e.wallSeconds, 0) / steady.length;
    return {
      name,
      batch: 128,
      imagesPerSecond: mean,
      note: `mean of epochs 2-${epochs} (${steady.map((r) => r.toFixed(1)).join(', ')} images/s; ${seconds.toFixed(1)} s an epoch); epoch 1 ${rates[0].toFixed(1)}${quick ? '; --limit 2000' : ''}`,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
