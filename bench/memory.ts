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
import { BUILT_IN_PREPROCESSING, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, RunConfig } from '../src/config';
import { builtInTrainingImages, pickRows } from '../src/data/source';
import { sha256 } from '../src/fsutil';
import { createNets } from '../src/train/nets';
import { RUN_FILE_VERSION, RunFile } from '../src/run/runfile';
import { memoryRows } from '../src/score/feature-memory';
import { splitTraining } from '../src/train/dataset';
import { runTraining } from '../src/train/trainer';

async function main() {
  const images = Number(process.argv[2] ?? 3000);
  const epochs = Number(process.argv[3] ?? 3);
  await selectBackend('wasm');
  const config: RunConfig = {
    data: { source: 'mnist', class: 1, folder: null },
    model: DEFAULT_MODEL_CONFIG,
    preprocessing: BUILT_IN_PREPROCESSING,
    train: { ...DEFAULT_TRAIN_CONFIG, epochs, limit: images },
  };
  const { train, validation } = splitTraining(builtInTrainingImages(config.data), config.train);
  // The knn memory `alocc train` keeps (src/api/train.ts): a seeded sample of at most memorySize training images.
  const memoryImages = pickRows(train, memoryRows(train.count, config.train.memorySize, config.train.seed));
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-memory-'));
  const nets = createNets(config.model, config.train);
  const run: RunFile = {
    format: 'alocc-run', version: RUN_FILE_VERSION, config, backend: 'wasm', createdAt: '', updatedAt: '',
    trainImages: train.count, validationImages: validation.count,
    memoryImages: { count: memoryImages.count, sha256: sha256(memoryImages.pixels) }, folder: null,
    epochs: [], batches: [], bestEpoch: null,
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
      config, runDir, nets, run, train, validation, memoryImages,
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
