// Damaged, swapped and hostile checkpoints are refused with one line naming the file; an intact one loads.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_TRAIN_CONFIG } from '../../src/config';
import { AloccError } from '../../src/errors';
import { sha256 } from '../../src/fsutil';
import { loadEpochModels } from '../../src/run/checkpoint';
import { createNets, loadTrainingState, saveEpochCheckpoint } from '../../src/train/nets';
import { EPOCH_MEMORY_FILE, epochDirFor, runDirFor } from '../../src/run/paths';
import { trainBatch } from '../../src/train/step';
import { RunFile } from '../../src/run/runfile';
import { readRunFile, writeRunFile } from '../../src/run/runfile-io';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { strokeImages, tempDir, useTestBackend } from '../helpers/fixtures';
import { alocc, CLI, STACK_TRACE, writeTestDigits } from '../helpers/cli';

const work = tempDir('alocc-integrity-');
const base = path.join(work, 'base');
let copies = 0;

/** A fresh copy of the two-epoch base run; returns its run folder (digit-3) and epoch-1 folder. */
function copyRun(): { ckpt: string; runDir: string; e1: string } {
  const ckpt = path.join(work, `copy-${++copies}`);
  fs.cpSync(base, ckpt, { recursive: true });
  const runDir = runDirFor(ckpt, 'digit-3');
  return { ckpt, runDir, e1: path.join(runDir, 'epoch-1') };
}

/** Rewrites a checkpoint file and records its new checksum, as if whoever damaged it also fixed up run.json. */
function replaceVerified(runDir: string, rel: string, data: string | Buffer) {
  fs.writeFileSync(path.join(runDir, 'epoch-1', rel), data);
  const run = readRunFile(runDir);
  run.epochs[0].checksums[rel] = sha256(Buffer.from(data));
  writeRunFile(runDir, run);
}

function editModelJson(runDir: string, sub: 'r' | 'd', edit: (manifest: any) => void) {
  const file = path.join(runDir, 'epoch-1', sub, 'model.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(manifest);
  replaceVerified(runDir, `${sub}/model.json`, JSON.stringify(manifest));
}

/** The load fails with an AloccError whose single line names `file` and matches `why`. */
async function assertRefused(load: () => unknown, file: string, why: RegExp) {
  await assert.rejects(
    async () => load(),
    (err: unknown) => {
      assert.ok(err instanceof AloccError, `expected AloccError, got ${(err as Error)?.stack ?? String(err)}`);
      assert.ok(!err.message.includes('\n'), err.message);
      assert.ok(err.message.includes(file), `'${err.message}' names ${file}`);
      assert.match(err.message, why);
      return true;
    },
  );
}

const loadEpoch1 = (runDir: string) => () => {
  const nets = loadEpochModels(runDir, readRunFile(runDir), 1);
  nets.r.dispose();
  nets.d.dispose();
};

before(async () => {
  await useTestBackend();
  await makeFakeRun(base, 3, { epochs: 2, model: SMALL_MODEL });
});

/** Each optimiser weight's name and values, as plain arrays. */
async function optimizerState(o: tf.Optimizer): Promise<[string, number[]][]> {
  const weights = await o.getWeights();
  const state = weights.map((w): [string, number[]] => [w.name, Array.from(w.tensor.dataSync())]);
  tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  return state;
}

test('an intact copy loads, optimiser state included, and leaves no tensor behind once disposed', async () => {
  const { runDir } = copyRun();
  loadEpoch1(runDir)();
  // A trained batch gives both optimisers state (RMSprop's running squares) worth comparing.
  const run = readRunFile(runDir);
  const trained = createNets(run.config.model, run.config.train);
  const x = tf.tensor4d(strokeImages(8), [8, 28, 28, 1]);
  trainBatch(trained, x, run.config.train, 1);
  x.dispose();
  const saved = { r: await optimizerState(trained.rOptimizer), d: await optimizerState(trained.dOptimizer) };
  const savedD = trained.d.getWeights().map((w) => Array.from(w.dataSync()));
  // Epoch 2 rewritten with the trained nets, its knn memory kept as it was.
  const memory = fs.readFileSync(path.join(epochDirFor(runDir, 2), EPOCH_MEMORY_FILE));
  run.epochs[1].checksums = await saveEpochCheckpoint(runDir, 2, trained, { [EPOCH_MEMORY_FILE]: memory });
  writeRunFile(runDir, run);
  [trained.r, trained.d, trained.rOptimizer, trained.dOptimizer].forEach((n) => n.dispose());
  assert.ok(saved.r.length > 1 && saved.d.length > 1, 'both optimisers hold more than the step count');

  const before = tf.memory().numTensors;
  const nets = await loadTrainingState(runDir, run, 2, { ...DEFAULT_TRAIN_CONFIG });
  assert.deepEqual(await optimizerState(nets.rOptimizer), saved.r, "R's optimiser state as saved");
  assert.deepEqual(await optimizerState(nets.dOptimizer), saved.d, "D's optimiser state as saved");
  assert.deepEqual(nets.d.getWeights().map((w) => Array.from(w.dataSync())), savedD, "D's weights as saved");
  [nets.r, nets.d, nets.rOptimizer, nets.dOptimizer].forEach((n) => n.dispose());
  assert.equal(tf.memory().numTensors, before);
});

test("a byte changed in r/model.json or d/model.json, run.json untouched, is refused", async () => {
  for (const sub of ['r', 'd']) {
    const { runDir, e1 } = copyRun();
    const file = path.join(e1, sub, 'model.json');
    const text = fs.readFileSync(file);
    // Still valid JSON and still the same network: only the checksum can tell.
    const at = text.indexOf('TensorFlow.js');
    assert.ok(at > 0);
    text[at] ^= 0x20;
    fs.writeFileSync(file, text);
    await assertRefused(loadEpoch1(runDir), file, /corrupt \(checksum mismatch\)/);
  }
});

test('a truncated, altered or missing weights file is refused by name', async () => {
  let c = copyRun();
  const rBin = path.join(c.e1, 'r', 'weights.bin');
  fs.truncateSync(rBin, fs.statSync(rBin).size - 100);
  await assertRefused(loadEpoch1(c.runDir), rBin, /corrupt \(checksum mismatch\)/);

  c = copyRun();
  const dBin = path.join(c.e1, 'd', 'weights.bin');
  const bytes = fs.readFileSync(dBin);
  bytes[bytes.length >> 1] ^= 0x01;
  fs.writeFileSync(dBin, bytes);
  await assertRefused(loadEpoch1(c.runDir), dBin, /corrupt/);

  c = copyRun();
  fs.rmSync(path.join(c.e1, 'r', 'weights.bin'));
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'r', 'weights.bin'), /missing/);

  c = copyRun();
  const opt = path.join(c.runDir, 'epoch-2', 'optimizers.bin');
  fs.appendFileSync(opt, Buffer.alloc(4));
  const run = readRunFile(c.runDir);
  const tensors = tf.memory().numTensors;
  await assertRefused(() => loadTrainingState(c.runDir, run, 2, run.config.train), opt, /corrupt/);
  assert.equal(tf.memory().numTensors, tensors, 'the networks built before the refusal are disposed');
});

test('a file without a checksum in run.json is not trusted', async () => {
  const { runDir, e1 } = copyRun();
  const run = readRunFile(runDir);
  delete run.epochs[0].checksums['d/weights.bin'];
  writeRunFile(runDir, run);
  await assertRefused(loadEpoch1(runDir), path.join(e1, 'd', 'weights.bin'), /no checksum/);
});

test("a model.json that does not parse, or does not match R or D, is refused by name", async () => {
  let c = copyRun();
  replaceVerified(c.runDir, 'r/model.json', '{"weightsManifest": [');
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'r', 'model.json'), /not valid JSON/);

  c = copyRun();
  // D's files where R's belong (checksums fixed up too): the weight names do not fit R.
  for (const f of ['model.json', 'weights.bin']) replaceVerified(c.runDir, `r/${f}`, fs.readFileSync(path.join(c.e1, 'd', f)));
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'r', 'model.json'), /does not match the .* network/);

  c = copyRun();
  editModelJson(c.runDir, 'd', (m) => (m.weightsManifest[0].weights[0].shape = [3, 3, 1, 999]));
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'd', 'model.json'), /does not match/);

  c = copyRun();
  editModelJson(c.runDir, 'r', (m) => delete m.weightsManifest);
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'r', 'model.json'), /no weightsManifest/);
});

test('weight paths that lead outside the checkpoint folder are refused, symlinks included', async () => {
  const outside = path.join(work, 'outside.bin');
  fs.copyFileSync(path.join(base, 'digit-3', 'epoch-1', 'r', 'weights.bin'), outside);
  for (const p of [outside, '../../../outside.bin', '../d/weights.bin', 'https://example.com/weights.bin', 'file:///etc/passwd', 'C:\\weights.bin']) {
    const { runDir, e1 } = copyRun();
    editModelJson(runDir, 'r', (m) => (m.weightsManifest[0].paths = [p]));
    await assertRefused(loadEpoch1(runDir), e1, /outside its folder; refusing/);
  }
  // A link to a byte-identical file passes the checksum; it must still be refused.
  let c = copyRun();
  fs.rmSync(path.join(c.e1, 'r', 'weights.bin'));
  fs.symlinkSync(outside, path.join(c.e1, 'r', 'weights.bin'));
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'r', 'weights.bin'), /leads outside .* \(symlink\)/);
  c = copyRun();
  const elsewhere = path.join(work, `r-elsewhere-${copies}`);
  fs.renameSync(path.join(c.e1, 'r'), elsewhere);
  fs.symlinkSync(elsewhere, path.join(c.e1, 'r'));
  await assertRefused(loadEpoch1(c.runDir), path.join(c.e1, 'r', 'model.json'), /leads outside/);
});

test('a run file that is not JSON, is cut short or fails validation is refused by name', async () => {
  const runFile = (runDir: string) => path.join(runDir, 'run.json');
  const damage: [string, (text: string) => string, RegExp][] = [
    ['cut short', (t) => t.slice(0, t.length >> 1), /not valid JSON/],
    ['empty', () => '', /not valid JSON/],
    ['binary', () => '\u0000\u00ff\u0001', /not valid JSON/],
    ['no epochs list', (t) => JSON.stringify({ ...JSON.parse(t), epochs: undefined }), /not an alocc run file \(version 11\): .*'epochs'/],
    ['epochs out of order', (t) => { const r: RunFile = JSON.parse(t); r.epochs.reverse(); return JSON.stringify(r); }, /out of order/],
    ['bad checksum', (t) => { const r: RunFile = JSON.parse(t); r.epochs[1].checksums['r/weights.bin'] = 'abc'; return JSON.stringify(r); }, /checksums/],
    ['absurd width', (t) => { const r: RunFile = JSON.parse(t); r.config.model.dfDim = 4096; return JSON.stringify(r); }, /dfDim is not a width from 1 to 256/],
    ['image size out of range', (t) => { const r: RunFile = JSON.parse(t); r.config.model.inputSize = 100000; return JSON.stringify(r); }, /inputSize is not a side from 16 to 256/],
    ['two channels', (t) => { const r: RunFile = JSON.parse(t); r.config.model.channels = 2; return JSON.stringify(r); }, /channels is not 1 or 3/],
    ['unknown data source', (t) => { const r: RunFile = JSON.parse(t); (r.config.data as { source: string }).source = 'cifar'; return JSON.stringify(r); }, /data.source "cifar" is not one of mnist, fashion-mnist, folder/],
  ];
  for (const [what, edit, why] of damage) {
    const { runDir } = copyRun();
    fs.writeFileSync(runFile(runDir), edit(fs.readFileSync(runFile(runDir), 'utf8')));
    await assertRefused(() => readRunFile(runDir), runFile(runDir), why).catch((err) => assert.fail(`${what}: ${err.message}`));
  }
});

test('through the CLI: a damaged checkpoint is one line naming the file, exit 1, no stack trace', () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const { ckpt, runDir } = copyRun();
  const bin = path.join(runDir, 'epoch-2', 'd', 'weights.bin');
  fs.truncateSync(bin, 10);
  const png = writeTestDigits(work, 3, 1)[0];
  const s = alocc('score', '--checkpoint-dir', ckpt, '--backend', 'cpu', png);
  assert.equal(s.code, 1, s.stderr);
  assert.deepEqual(s.stderr.split('\n').filter((l) => l.startsWith('alocc:')), [`alocc: checkpoint file ${bin} is corrupt (checksum mismatch); retrain or pick another epoch with --epoch`]);
  assert.doesNotMatch(s.stderr, STACK_TRACE);
});

test('a damaged knn memory (an epoch\'s memory.bin or the run\'s memory-images.bin) is refused by name', async () => {
  const { openRun } = await import('../../src/run/open');
  let c = copyRun();
  const bank = path.join(c.runDir, 'epoch-2', 'memory.bin');
  const bytes = fs.readFileSync(bank);
  bytes[8] ^= 0x40;
  fs.writeFileSync(bank, bytes);
  await assertRefused(() => openRun(c.runDir), bank, /corrupt \(checksum mismatch\)/);

  c = copyRun();
  const images = path.join(c.runDir, 'memory-images.bin');
  fs.appendFileSync(images, Buffer.alloc(1));
  const opened = openRun(c.runDir);
  try {
    await assertRefused(() => opened.memoryImages(), images, /corrupt/);
  } finally {
    opened.dispose();
  }
});
