// Numerical and disk faults during training: the run stops with one line and the last complete epoch stays loadable.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { BUILT_IN_PREPROCESSING, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, RunConfig } from '../../src/config';
import { AloccError } from '../../src/errors';
import { writeDirAtomic } from '../../src/fsutil';
import { loadEpochModels } from '../../src/run/checkpoint';
import { createNets, AloccNets } from '../../src/train/nets';
import { RunFile } from '../../src/run/runfile';
import { readRunFile } from '../../src/run/runfile-io';
import { runTraining, TrainingEvents } from '../../src/train/trainer';
import { alocc, CLI, STACK_TRACE } from '../helpers/cli';
import { SMALL_MODEL } from '../helpers/fake-run';
import { strokeImages, tempDir, useTestBackend } from '../helpers/fixtures';
import { runFileFixture } from '../helpers/run-file';

const work = tempDir('alocc-faults-');
let runs = 0;

// Narrow nets and 24 training images, in 6 batches of 4 per epoch (too few for four batches of 8: stepBatchSize): a
// few hundred milliseconds per epoch.
const config: RunConfig = {
  data: { source: 'mnist', class: 1, folder: null },
  model: { ...DEFAULT_MODEL_CONFIG, ...SMALL_MODEL },
  preprocessing: { ...BUILT_IN_PREPROCESSING },
  train: { ...DEFAULT_TRAIN_CONFIG, epochs: 3, batchSize: 8, seed: 3 },
};

function emptyRun(): RunFile {
  const now = new Date().toISOString();
  return runFileFixture(config.train, { config, backend: 'test', createdAt: now, updatedAt: now, trainImages: 24, validationImages: 8, memoryImages: { count: 24, sha256: 'a'.repeat(64) } });
}

/** Images as the data sources give them: bytes, 28×28 grey. */
function asBytes(images: Float32Array, count: number) {
  return { pixels: Uint8Array.from(images, (v) => Math.round(v * 255)), count, size: 28, channels: 1 };
}

/** Trains a fresh run in its own folder; `events` get the nets, to sabotage them. */
async function train(events: (nets: AloccNets) => TrainingEvents, epochs = 3, settings: Partial<RunConfig['train']> = {}) {
  const runDir = path.join(work, `run-${++runs}`, 'digit-1');
  const nets = createNets(config.model, config.train);
  const job = {
    config: { ...config, train: { ...config.train, epochs, ...settings } },
    runDir,
    nets,
    run: emptyRun(),
    train: asBytes(strokeImages(24, 1), 24),
    validation: asBytes(strokeImages(8, 2), 8),
    memoryImages: asBytes(strokeImages(24, 1), 24),
    events: events(nets),
  };
  const result = runTraining(job).finally(() => [nets.r, nets.d, nets.rOptimizer, nets.dOptimizer].forEach((n) => n.dispose()));
  return { runDir, result };
}

function fillWith(weights: tf.LayerVariable[], value: number) {
  tf.tidy(() => weights.forEach((w) => w.write(tf.fill(w.shape as number[], value))));
}

/** The run stopped after `epochs` complete epochs: run.json is valid and lists them, each loads, nothing more is there. */
function assertKept(runDir: string, epochs: number, extraFolders: string[] = []) {
  const run = readRunFile(runDir);
  assert.equal(run.epochs.length, epochs);
  for (let e = 1; e <= epochs; e++) {
    const nets = loadEpochModels(runDir, run, e);
    nets.r.dispose();
    nets.d.dispose();
  }
  const expected = ['run.json', ...Array.from({ length: epochs }, (_, i) => `epoch-${i + 1}`), ...extraFolders].sort();
  assert.deepEqual(fs.readdirSync(runDir).sort(), expected, 'no half-written or temporary folders left');
}

function oneLine(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AloccError, `expected AloccError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(!err.message.includes('\n'), err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

// The fs module object itself: an `import * as` namespace is a copy, and patching it would not reach src/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs: typeof fs = require('fs');

/** Replaces fs[name] while `body` runs. */
async function patched<K extends keyof typeof fs>(name: K, replacement: (typeof fs)[K], body: () => Promise<unknown>) {
  const original = nodeFs[name];
  (nodeFs as any)[name] = replacement;
  try {
    return await body();
  } finally {
    (nodeFs as any)[name] = original;
  }
}

const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}`), { code });

before(useTestBackend);

test('no tensor leaks from batch to batch or epoch to epoch, checkpoints and validation included', async () => {
  const counts: number[] = [];
  const epochEnds: number[] = [];
  const { result } = await train(() => ({
    batchEnd: () => counts.push(tf.memory().numTensors),
    epochEnd: () => epochEnds.push(tf.memory().numTensors),
  }));
  await result;
  // The optimisers make their slots on the first batch; from then on the count is flat.
  assert.deepEqual(counts.slice(1), counts.slice(1).map(() => counts[1]), `tensors after each batch: ${counts}`);
  assert.deepEqual(epochEnds, epochEnds.map(() => counts[1]), `tensors after each epoch: ${epochEnds}`);
});

test('a NaN loss stops training naming the epoch and batch, keeping the last complete epoch', async () => {
  const { runDir, result } = await train((nets) => ({ epochEnd: (r) => r.epoch === 1 && fillWith(nets.r.trainableWeights, NaN) }));
  await assert.rejects(result, oneLine(/^training diverged: dLossFake is NaN at epoch 2, batch 1; the checkpoint of epoch 1 is kept\. Try a lower --lr$/));
  assertKept(runDir, 1);
});

test('an infinite loss stops training in epoch 1 and says there is no checkpoint', async () => {
  const { result } = await train((nets) => ({ epochStart: () => fillWith(nets.d.trainableWeights, Infinity) }));
  await assert.rejects(result, oneLine(/training diverged: \w+ is (NaN|Infinity) at epoch 1, batch 1; no epoch had completed/));
});

test('a NaN validation loss stops training before it reaches run.json (where it would be saved as null)', async () => {
  // R's moving statistics made NaN after epoch 2's last batch: with 'moving' they reach validation as they are (with
  // the default 'pictures' the epoch's end sets them afresh from the training pictures).
  const { runDir, result } = await train((nets) => ({
    batchEnd: (epoch, batch) => epoch === 2 && batch === 5 && fillWith(nets.r.nonTrainableWeights, NaN),
  }), 3, { batchNormStatistics: 'moving' });
  await assert.rejects(result, oneLine(/validation reconstruction loss is NaN after epoch 2; the checkpoint of epoch 1 is kept/));
  assertKept(runDir, 1);
});

test('a full disk while saving epoch 2 is one line; epoch 1 stays intact and nothing half-written is left', async () => {
  let runDir = '';
  const full = (() => {
    throw errno('ENOSPC', 'no space left on device, write');
  }) as typeof fs.writeFileSync;
  await patched('writeFileSync', fs.writeFileSync, async () => {
    const t = await train(() => ({ epochEnd: (r) => r.epoch === 1 && ((nodeFs as any).writeFileSync = full) }));
    runDir = t.runDir;
    await assert.rejects(t.result, oneLine(new RegExp(`^cannot write ${runDir}/epoch-2: the disk is full; free some space$`)));
  });
  assertKept(runDir, 1);
});

test('a failed run.json update after epoch 2 leaves run.json at epoch 1, and the unlisted epoch-2 is not loaded', async () => {
  let runDir = '';
  const rename = fs.renameSync;
  const failing = ((from: fs.PathLike, to: fs.PathLike) => {
    if (String(to).endsWith('run.json')) throw errno('EIO', 'i/o error, rename');
    rename(from, to);
  }) as typeof fs.renameSync;
  await patched('renameSync', rename, async () => {
    const t = await train(() => ({ epochEnd: (r) => r.epoch === 1 && ((nodeFs as any).renameSync = failing) }));
    runDir = t.runDir;
    await assert.rejects(t.result, oneLine(/^cannot write .*run\.json: EIO: i\/o error, rename$/));
  });
  assertKept(runDir, 1, ['epoch-2']);
  assert.throws(() => loadEpochModels(runDir, readRunFile(runDir), 2), oneLine(/epoch 2 has no checkpoint in .* \(completed epochs: 1\)/));
});

test('writeDirAtomic: a failure part-way leaves no folder, or the previous one untouched', async () => {
  const dir = path.join(work, 'atomic', 'epoch-1');
  const files = { 'r/model.json': '{}', 'r/weights.bin': new Uint8Array(100), 'd/model.json': '{}' };
  const failOnThird = () => {
    let calls = 0;
    const write = fs.writeFileSync;
    return ((...args: Parameters<typeof fs.writeFileSync>) => {
      if (++calls === 3) throw errno('ENOSPC', 'no space left on device, write');
      write(...args);
    }) as typeof fs.writeFileSync;
  };
  await patched('writeFileSync', failOnThird(), async () => assert.throws(() => writeDirAtomic(dir, files), oneLine(/disk is full/)));
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), [], 'no folder, no temporary folder');

  writeDirAtomic(dir, { 'old.txt': 'old' });
  await patched('writeFileSync', failOnThird(), async () => assert.throws(() => writeDirAtomic(dir, files)));
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['epoch-1']);
  assert.deepEqual(fs.readdirSync(dir), ['old.txt'], 'the previous folder is still there, whole');

  // Fails at the last step, moving the new folder into place: the previous one is put back.
  const rename = fs.renameSync;
  const failing = ((from: fs.PathLike, to: fs.PathLike) => {
    if (String(from).includes('.tmp-')) throw errno('EXDEV', 'cross-device link not permitted, rename');
    rename(from, to);
  }) as typeof fs.renameSync;
  await patched('renameSync', failing, async () => assert.throws(() => writeDirAtomic(dir, files), oneLine(/EXDEV/)));
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['epoch-1']);
  assert.equal(fs.readFileSync(path.join(dir, 'old.txt'), 'utf8'), 'old');
});

test('train into a checkpoint folder that cannot be made: one line, exit 1, before any training', () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const file = path.join(work, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  const r = alocc('train', '--limit', '40', '--epochs', '1', '--checkpoint-dir', path.join(file, 'ckpt'), '--backend', 'cpu');
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.stderr.trim().split('\n'), [`alocc: cannot write ${path.join(file, 'ckpt', 'digit-1')}: a parent of it is a file, not a folder`]);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder');
});

test("run.json's epoch seconds and images/s cover the whole epoch: batches, then the knn memory, validation and the checkpoint", async () => {
  // The checkpoint's last step (the epoch folder renamed into place) made 150 ms slower: a figure that timed the
  // batches alone would miss it.
  const delay = 150;
  const rename = nodeFs.renameSync;
  let started = 0;
  let lastBatch = 0;
  const run = (await patched(
    'renameSync',
    ((from: fs.PathLike, to: fs.PathLike) => {
      if (/epoch-\d+$/.test(String(to))) for (const until = performance.now() + delay; performance.now() < until; );
      return rename(from, to);
    }) as typeof fs.renameSync,
    async () => (await train(() => ({ epochStart: () => (started = performance.now()), batchEnd: () => (lastBatch = performance.now()) }), 1)).result,
  )) as RunFile;
  const [epoch] = run.epochs;
  const batches = (lastBatch - started) / 1000;
  assert.ok(epoch.wallSeconds >= batches + delay / 1000, `epoch ${epoch.wallSeconds} s, its batches alone ${batches.toFixed(3)} s`);
  assert.ok(Math.abs(epoch.imagesPerSecond - 24 / epoch.wallSeconds) < 1e-9 * epoch.imagesPerSecond, `${epoch.imagesPerSecond} images/s for 24 images in ${epoch.wallSeconds} s`);
});
