// alocc as a library, imported by its package name as a user's program would: the same numbers as the CLI for the
// same run and files, whatever form the picture comes in; train and evaluate report progress without printing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { alocc, writeTestDigits } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';

// By name, through package.json "exports" (Node resolves a package's own name from inside it): the built library.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib: typeof import('../../src/library') = require('alocc');
const ROOT = path.join(__dirname, '..', '..');

const work = tempDir('alocc-library-');
const ckpt = path.join(work, 'ckpt');
const runDir = path.join(ckpt, 'digit-1');
let files: string[] = [];

const FIELDS = ['reconstructionLoss', 'dOfReconstruction', 'dOfInput', 'novelty', 'threshold'] as const;

function assertSameResult(actual: Record<string, unknown>, expected: Record<string, unknown>, what: string, tolerance = 1e-6): void {
  for (const key of ['score', 'verdict', 'inverted']) assert.equal(actual[key], expected[key], `${what}: ${key}`);
  for (const key of FIELDS) {
    assert.equal(key in actual, key in expected, `${what}: ${key} in one result only`);
    if (!(key in expected)) continue;
    const a = actual[key] as number;
    const e = expected[key] as number;
    assert.ok(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)), `${what}: ${key} ${a} vs ${e}`);
  }
}

before(async () => {
  await makeFakeRun(ckpt, 1, { model: SMALL_MODEL });
  files = [...writeTestDigits(path.join(work, 'img'), 1, 3), ...writeTestDigits(path.join(work, 'img'), 7, 3)];
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('the package exports its API to require and to import, with types', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'alocc');
  assert.ok(fs.existsSync(path.join(ROOT, pkg.exports['.'].types)), 'the declaration file is built');
  assert.equal(typeof lib.loadDetector, 'function');
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', "import { loadDetector, train, evaluate } from 'alocc'; console.log([loadDetector, train, evaluate].map((f) => typeof f).join())"], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(esm.stdout.trim(), 'function,function,function', esm.stderr);
});

test('loadDetector scores files exactly as `alocc score --json` does, and a Buffer or raw pixels of the same picture alike', async () => {
  const cli = alocc('score', '--json', '--model', runDir, '--backend', 'wasm', ...files);
  assert.equal(cli.code, 0, cli.stderr);
  const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, files.length);

  const det = await lib.loadDetector(runDir, { backend: 'wasm' });
  try {
    const results = await det.score(files);
    assert.equal(results.length, files.length);
    results.forEach((r, i) => {
      assert.deepEqual(Object.keys(r).sort(), Object.keys(lines[i]).sort(), 'the fields of score --json');
      assert.equal(r.file, files[i]);
      assertSameResult({ ...r }, lines[i], files[i]);
    });
    assert.ok(new Set(results.map((r) => r.verdict)).size >= 1);

    const one = await det.score(fs.readFileSync(files[3]), { name: 'upload.png' });
    assert.equal(one.file, 'upload.png');
    assertSameResult({ ...one }, lines[3], 'Buffer');
    const bytes = new Uint8Array(fs.readFileSync(files[4]));
    assertSameResult({ ...(await det.score(bytes)) }, lines[4], 'Uint8Array');

    // Raw pixels decoded by pngjs (not sharp): grey, and the same picture drawn dark on light as RGBA.
    const png = PNG.sync.read(fs.readFileSync(files[0]));
    const grey = new Uint8Array(png.width * png.height);
    const rgba = new Uint8ClampedArray(png.width * png.height * 4);
    for (let p = 0; p < grey.length; p++) {
      grey[p] = png.data[4 * p];
      rgba.set([255 - grey[p], 255 - grey[p], 255 - grey[p], 255], 4 * p);
    }
    const raw = await det.score({ data: grey, width: png.width, height: png.height, channels: 1 });
    assertSameResult({ ...raw }, lines[0], 'raw grey pixels');
    const inverted = await det.score({ data: rgba, width: png.width, height: png.height, channels: 4 });
    assert.equal(inverted.inverted, true, 'a dark-on-light drawing is inverted by the run\'s rule');
    assertSameResult({ ...inverted, inverted: false }, lines[0], 'inverted RGBA pixels', 1e-4);

    await assert.rejects(det.score(Buffer.from('not a picture'), { name: 'note.txt' }), (err: unknown) => {
      assert.ok(err instanceof lib.AloccError);
      assert.match((err as Error).message, /^note\.txt: not a supported image/);
      return true;
    });
    await assert.rejects(det.score({ data: new Uint8Array(10), width: 28, height: 28, channels: 1 }), /hold 10 bytes, not 28×28×1/);
  } finally {
    det.dispose();
  }
  await assert.rejects(det.score(files[0]), /was disposed/);
});

test('without --details a knn verdict runs on the compiled kernels without TensorFlow.js: the same verdicts, no R/D fields', async () => {
  const lean = alocc('score', '--json', '--model', runDir, ...files);
  const full = alocc('score', '--json', '--details', '--model', runDir, '--backend', 'wasm', ...files);
  assert.equal(lean.code, 0, lean.stderr);
  assert.equal(full.code, 0, full.stderr);
  const parse = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));
  const [a, b] = [parse(lean.stdout), parse(full.stdout)];
  assert.equal(a[0].score, 'knn');
  a.forEach((r, i) => {
    const { reconstructionLoss, dOfReconstruction, dOfInput, ...verdict } = b[i];
    assert.deepEqual(Object.keys(r).sort(), Object.keys(verdict).sort());
    // The same distances to float rounding (the rows' lengths are summed in another order, in double).
    assert.ok(Math.abs(r.novelty - verdict.novelty) <= 2e-6, `${files[i]}: ${r.novelty} vs ${verdict.novelty}`);
    for (const key of ['file', 'score', 'threshold', 'inverted', 'verdict']) assert.equal(r[key], (verdict as Record<string, unknown>)[key], `${files[i]}: ${key}`);
    for (const v of [reconstructionLoss, dOfReconstruction, dOfInput]) assert.ok(Number.isFinite(v), JSON.stringify(b[i]));
  });
  // The library's Detector (TensorFlow.js, R's first block only without details) gives the detailed path's numbers.
  const det = await lib.loadDetector(runDir, { backend: 'wasm' });
  try {
    assert.deepEqual({ ...(await det.score(files[0], { details: true })) }, b[0]);
    const { reconstructionLoss: _r, dOfReconstruction: _d, dOfInput: _x, ...verdict } = b[0];
    assert.deepEqual({ ...(await det.score(files[0])) }, verdict);
  } finally {
    det.dispose();
  }
  // What runs, in the process: the compiled kernels alone, TensorFlow.js never loaded; without them, TensorFlow.js.
  const probe = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['-e', `
      const { score } = require('./dist/src/commands/score');
      const sink = { write: () => true };
      score({ paths: ${JSON.stringify(files.slice(0, 2))}, model: ${JSON.stringify(runDir)}, invert: 'auto', json: true, backend: 'auto', checkpointDir: 'checkpoints', out: sink, log: sink })
        .then(() => console.log(Object.keys(require.cache).some((k) => k.includes('@tensorflow'))));`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  const native = probe({});
  assert.equal(native.stdout.trim(), 'false', native.stderr);
  const fallback = probe({ ALOCC_NATIVE: '0' });
  assert.equal(fallback.stdout.trim(), 'true', fallback.stderr);
});

test('loadDetector chooses its engine: the compiled kernels for a knn verdict on backend auto without details, else TensorFlow.js; both give the same numbers', async () => {
  const compiled = await lib.loadDetector(runDir);
  const tfjs = await lib.loadDetector(runDir, { backend: 'wasm' });
  const detailed = await lib.loadDetector(runDir, { details: true });
  try {
    assert.match(compiled.info.backend, /^compiled kernels \(.+\), no TensorFlow\.js/);
    assert.equal(tfjs.info.backend, tfjs.backend.label);
    assert.doesNotMatch(tfjs.info.backend, /compiled kernels \(/);
    assert.doesNotMatch(detailed.info.backend, /no TensorFlow\.js/, 'details need R and D: TensorFlow.js');
    const [a, b, c] = await Promise.all([compiled, tfjs, detailed].map((det) => det.score(files)));
    a.forEach((r, i) => {
      assertSameResult({ ...r }, { ...b[i] }, `${files[i]} compiled vs tfjs`, 2e-6);
      assertSameResult({ ...r }, { ...c[i] }, `${files[i]} compiled vs a detector loaded for details`, 2e-6);
    });
    assert.ok(Number.isFinite((await detailed.score(files[0], { details: true })).dOfInput));
    await assert.rejects(compiled.score(files[0], { details: true }), /compiled kernels, which give the knn verdict only; load it with details: true/);
  } finally {
    [compiled, tfjs, detailed].forEach((det) => det.dispose());
  }
});

test('a version-4 run (cell means, five neighbours) scores as before, on the compiled kernels and on TensorFlow.js alike', async () => {
  const oldCkpt = path.join(work, 'v4');
  await makeFakeRun(oldCkpt, 1, { model: SMALL_MODEL, settings: { cellPooling: 'mean', neighbours: 5, batchNormStatistics: 'moving' } });
  const oldDir = path.join(oldCkpt, 'digit-1');
  // As alocc before --cell-pooling wrote it: version 4, no cellPooling, batchNormStatistics nor the maps' settings.
  const file = path.join(oldDir, 'run.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete json.config.train.cellPooling;
  delete json.config.train.batchNormStatistics;
  delete json.config.train.cellNeighbourhood;
  delete json.config.train.localTopK;
  for (const k of ['rotationPasses', 'rotationBatchSize', 'rotationLearningRate', 'rotationFilters', 'rotationAugment', 'rotationCap', 'cellRotationWeight', 'cellPixelWeight']) delete json.config.train[k];
  delete json.validationPictures;
  fs.writeFileSync(file, JSON.stringify({ ...json, version: 4 }));
  const record = json.epochs.find((e: { epoch: number }) => e.epoch === json.bestEpoch);
  assert.equal(record.memory.features, 7 * 7 * 4, 'the memory holds cell means only (R\'s narrow first block: 4 filters)');
  const lean = alocc('score', '--json', '--model', oldDir, ...files);
  const full = alocc('score', '--json', '--details', '--model', oldDir, '--backend', 'wasm', ...files);
  assert.equal(lean.code, 0, lean.stderr);
  assert.equal(full.code, 0, full.stderr);
  const [a, b] = [lean, full].map((r) => r.stdout.trim().split('\n').map((l) => JSON.parse(l)));
  a.forEach((r, i) => assert.ok(Math.abs(r.novelty - b[i].novelty) <= 2e-6, `${files[i]}: ${r.novelty} vs ${b[i].novelty}`));
  // Its verdicts are the ones the library gives for it, and its k is still 5.
  const det = await lib.loadDetector(oldDir, { backend: 'wasm' });
  try {
    const got = await det.score(files[0]);
    assert.ok(Math.abs(got.novelty - a[0].novelty) <= 2e-6, `${got.novelty} vs ${a[0].novelty}`);
  } finally {
    det.dispose();
  }
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).version, 4, 'reading an old run does not rewrite it');
});

test('det.info: the run\'s preprocessing, epoch, threshold and score, and its validation metrics, read from the run folder', async () => {
  const run = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  const tensors = tf.memory().numTensors;
  const det = await lib.loadDetector(runDir, { backend: 'wasm' });
  const record = run.epochs.find((e: { epoch: number }) => e.epoch === run.bestEpoch);
  assert.equal(det.info.epoch, run.bestEpoch);
  assert.equal(det.info.threshold, record.threshold);
  assert.equal(det.info.score, run.config.train.noveltyScore);
  assert.deepEqual(det.info.metrics.validation, record.validation);
  assert.equal(det.info.metrics.eval, null, 'no eval report yet');
  assert.equal(det.info.preprocessing.size, 28);
  assert.equal(det.info.preprocessing.channels, 1);
  det.dispose();
  assert.equal(tf.memory().numTensors, tensors, 'dispose frees every tensor the detector made');
});

/**
 * Trains (2 epochs), resumes (nothing left to do) and evaluates through the library in a fresh process whose
 * process.stdout.write and process.stderr.write are replaced during the calls, so anything the library writes to
 * either is caught; it reports every event in order, and what was written, as one JSON line.
 */
const TRAIN_AND_EVALUATE = `
const lib = require('alocc');
const seen = { events: [], logs: [], resumed: [], evaluation: [], progress: [], written: [] };
const writes = { out: process.stdout.write, err: process.stderr.write };
process.stdout.write = (chunk) => (seen.written.push(['stdout', String(chunk)]), true);
process.stderr.write = (chunk) => (seen.written.push(['stderr', String(chunk)]), true);
const copy = (v) => JSON.parse(JSON.stringify(v));
const data = { source: 'mnist', class: 1 };
(async () => {
  let trained, evaluated, evalInfo;
  try {
    trained = await lib.train({
      data, limit: 300, batchSize: 64, epochs: 2, checkpointDir: process.argv[1], backend: 'wasm',
      on: {
        info: (info) => seen.events.push(['info', copy(info)]),
        epochStart: (epoch, batches) => seen.events.push(['epochStart', epoch, batches]),
        batch: (epoch, batch, losses, ips) => seen.events.push(['batch', epoch, batch, copy(losses), ips]),
        epoch: (record) => seen.events.push(['epoch', copy(record)]),
        log: (line) => seen.logs.push(line),
      },
    });
    await lib.train({ data, limit: 300, batchSize: 64, epochs: 2, checkpointDir: process.argv[1], backend: 'wasm', resume: true, on: { info: (info) => seen.resumed.push(info.kind) } });
    evaluated = await lib.evaluate(trained.runDir, {
      limit: 200, draws: 2, backend: 'wasm',
      on: { backend: (b) => seen.evaluation.push(['backend', b.label]), progress: (d, t) => seen.evaluation.push(['progress', d, t]) },
      onProgress: (d, t) => seen.progress.push([d, t]),
    });
    const det = await lib.loadDetector(trained.runDir, { backend: 'wasm' });
    evalInfo = det.info.metrics.eval;
    det.dispose();
  } finally {
    Object.assign(process.stdout, { write: writes.out });
    Object.assign(process.stderr, { write: writes.err });
  }
  process.stdout.write(JSON.stringify({ seen, runDir: trained.runDir, bestEpoch: trained.run.bestEpoch, scored: evaluated.report.testImages.scored,
    json: evaluated.files.json, evalInfo: { epoch: evalInfo.epoch, scored: evalInfo.testImages.scored } }));
})();
`;

test('train and evaluate report progress as events in order, with run.json\'s numbers, and write nothing to stdout or stderr', () => {
  const dir = path.join(work, 'trained');
  const child = spawnSync(process.execPath, ['-e', TRAIN_AND_EVALUATE, dir], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, '', 'nothing on stderr');
  const out = JSON.parse(child.stdout); // nothing on stdout but the child's own report
  assert.deepEqual(out.seen.written, [], 'nothing through process.stdout.write or process.stderr.write');
  // Read from disk independently of the library: the numbers the events carried must be the run's.
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'digit-1', 'run.json'), 'utf8'));
  const events: unknown[][] = out.seen.events;
  const kind = (e: unknown[]) => (e[0] === 'info' ? `info:${(e[1] as { kind: string }).kind}` : (e[0] as string));
  // 300 images, 10 % (30) held out: 270 train, 4 whole batches of 64 per epoch.
  const perEpoch = (n: number) => ['epochStart', 'batch', 'batch', 'batch', 'batch', 'epoch'].map((k) => (k === 'epochStart' ? `${k} ${n}` : k));
  assert.deepEqual(events.map((e) => (e[0] === 'epochStart' ? `epochStart ${e[1]}` : kind(e))), ['info:backend', 'info:start', ...perEpoch(1), ...perEpoch(2), 'info:done']);
  assert.deepEqual(events.filter((e) => e[0] === 'epochStart'), [['epochStart', 1, 4], ['epochStart', 2, 4]]);
  const batches = events.filter((e) => e[0] === 'batch');
  assert.deepEqual(batches.map((e) => [e[1], e[2]]), [[1, 0], [1, 1], [1, 2], [1, 3], [2, 0], [2, 1], [2, 2], [2, 3]]);
  assert.equal(run.batches.length, 8);
  batches.forEach((e, i) => {
    const { epoch, batch, fractionalEpoch: _f, ...losses } = run.batches[i];
    assert.deepEqual([e[1], e[2], e[3]], [epoch, batch, losses], `batch ${i}: its losses as run.json records them`);
    assert.ok((e[4] as number) > 0 && Number.isFinite(e[4]), `images per second ${e[4]}`);
  });
  assert.deepEqual(events.filter((e) => e[0] === 'epoch').map((e) => e[1]), run.epochs, 'each epoch event carries run.json\'s record of it');

  const start = events[1][1] as Record<string, unknown>;
  assert.deepEqual(start, { kind: 'start', runDir: path.join(dir, 'digit-1'), config: run.config, trainImages: 270, validationImages: 30, memoryImages: run.memoryImages.count });
  assert.equal(run.trainImages, 270);
  const best = run.epochs[run.bestEpoch - 1];
  const score = run.config.train.noveltyScore;
  assert.deepEqual(events.at(-1)![1], { kind: 'done', runDir: path.join(dir, 'digit-1'), bestEpoch: run.bestEpoch, valReconLoss: best.valReconLoss, score, threshold: best.threshold });
  // The reference's rule: the epoch whose R reconstructs the validation images best.
  assert.equal(best.valReconLoss, Math.min(...run.epochs.map((e: { valReconLoss: number }) => e.valReconLoss)));
  assert.equal(out.seen.logs.length, 3, 'a line for each info event');
  assert.match(out.seen.logs[1], /^training on MNIST digit 1: 270 images \(30 held out, \d+ in the knn memory\) for 2 epoch\(s\), batch 64; /);
  assert.match(out.seen.logs[2], new RegExp(`^done: best epoch ${run.bestEpoch} `));
  assert.deepEqual(out.seen.resumed, ['backend', 'nothing-to-do'], 'resuming a run that has its epochs trains nothing');

  assert.equal(out.runDir, path.join(dir, 'digit-1'));
  assert.equal(out.bestEpoch, run.bestEpoch);
  assert.equal(out.seen.evaluation[0][0], 'backend', 'the backend before any progress');
  assert.deepEqual(out.seen.evaluation.slice(1).map((e: unknown[]) => e.slice(1)), out.seen.progress, 'on.progress and onProgress alike');
  assert.deepEqual(out.seen.progress.at(-1), [200, 200]);
  assert.equal(out.scored, 200);
  assert.ok(fs.existsSync(out.json));
  assert.deepEqual(out.evalInfo, { epoch: run.bestEpoch, scored: 200 });
});

test('train stops at the next batch when its AbortSignal is aborted, and says so', async () => {
  const stop = new AbortController();
  await assert.rejects(
    lib.train({ data: { source: 'mnist', class: 7 }, limit: 300, batchSize: 64, epochs: 1, checkpointDir: path.join(work, 'stopped'), backend: 'wasm', signal: stop.signal, on: { batch: () => stop.abort() } }),
    /interrupted; 0 complete epoch\(s\) kept/,
  );
});
