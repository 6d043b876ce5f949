/**
 * Memory over training (`npx tsx bench/memory.ts [images] [epochs]`): trains digit 1 on the wasm backend through
 * the real trainer and prints, every 10 batches, the process RSS, the wasm heap and tfjs' tensor count. Flat
 * numbers after the first batches mean nothing grows per batch or per epoch. Writes bench/results/memory.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, RunConfig } from '../src/config';
import { createNets } from '../src/run/checkpoint';
import { loadTrainingSplit } from '../src/train/dataset';
import { RunFile } from '../src/run/runfile';
import { runTraining } from '../src/train/trainer';

async function main() {
  const images = Number(process.argv[2] ?? 3000);
  const epochs = Number(process.argv[3] ?? 3);
  await selectBackend('wasm');
  const config: RunConfig = { model: DEFAULT_MODEL_CONFIG, train: { ...DEFAULT_TRAIN_CONFIG, digit: 1, epochs, limit: images } };
  const { train, validation } = loadTrainingSplit(config);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-memory-'));
  const nets = createNets(config.model, config.train);
  const run: RunFile = {
    format: 'alocc-run', version: 1, config, backend: 'wasm', createdAt: '', updatedAt: '',
    trainImages: train.count, validationImages: validation.count, epochs: [], batches: [], bestEpoch: null,
  };
  const samples: { epoch: number; batch: number; rssMb: number; wasmHeapMb: number; tensors: number }[] = [];
  const sample = (epoch: number, batch: number) => {
    const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    samples.push({ epoch, batch, rssMb: process.memoryUsage().rss / 2 ** 20, wasmHeapMb: heap / 2 ** 20, tensors: tf.memory().numTensors });
    const s = samples[samples.length - 1];
    console.log(`epoch ${epoch} batch ${batch}: rss ${s.rssMb.toFixed(0)} MB, wasm heap ${s.wasmHeapMb.toFixed(0)} MB, ${s.tensors} tensors`);
  };
  try {
    await runTraining({
      config, runDir, nets, run, train, validation,
      events: { batchEnd: (epoch, batch) => (batch + 1) % 10 === 0 && sample(epoch, batch + 1), epochEnd: (r) => sample(r.epoch, -1) },
    });
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  const after = samples.filter((s) => s.epoch > 1 || s.batch >= 20);
  const spread = (k: 'rssMb' | 'tensors') => Math.max(...after.map((s) => s[k])) - Math.min(...after.map((s) => s[k]));
  console.log(`after the first 20 batches: RSS varies by ${spread('rssMb').toFixed(0)} MB, tensor count by ${spread('tensors')}`);
  const out = path.join(__dirname, 'results', 'memory.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), images, epochs, samples }, null, 2) + '\n');
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
