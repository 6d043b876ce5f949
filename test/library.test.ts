// alocc as a library, imported by its package name as a user's program would: the same numbers as the CLI for the
// same run and files, whatever form the picture comes in; train and evaluate report progress without printing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { alocc } from './helpers/cli';
import { writeTestDigits } from './helpers/cli';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';
import { tempDir } from './helpers/fixtures';

// By name, through package.json "exports" (Node resolves a package's own name from inside it): the built library.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib: typeof import('../src/library') = require('alocc');
const ROOT = path.join(__dirname, '..');

const work = tempDir('alocc-library-');
const ckpt = path.join(work, 'ckpt');
const runDir = path.join(ckpt, 'digit-1');
let files: string[] = [];

const FIELDS = ['reconstructionLoss', 'dOfReconstruction', 'dOfInput', 'novelty', 'threshold'] as const;

function assertSameResult(actual: Record<string, unknown>, expected: Record<string, unknown>, what: string, tolerance = 1e-6): void {
  for (const key of ['score', 'verdict', 'inverted']) assert.equal(actual[key], expected[key], `${what}: ${key}`);
  for (const key of FIELDS) {
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

/** Trains and evaluates through the library in a fresh process, which reports what it saw as one JSON line. */
const TRAIN_AND_EVALUATE = `
const lib = require('alocc');
const seen = { starts: [], batches: 0, epochs: [], logs: [], progress: [] };
(async () => {
  const trained = await lib.train({
    data: { source: 'mnist', class: 1 }, limit: 300, batchSize: 64, epochs: 1, checkpointDir: process.argv[1], backend: 'wasm',
    on: {
      epochStart: (epoch, batches) => seen.starts.push([epoch, batches]),
      batch: () => void seen.batches++,
      epoch: (record) => seen.epochs.push(record.epoch),
      log: (line) => seen.logs.push(line),
    },
  });
  const evaluated = await lib.evaluate(trained.runDir, { limit: 200, draws: 2, backend: 'wasm', onProgress: (d, t) => seen.progress.push([d, t]) });
  const det = await lib.loadDetector(trained.runDir, { backend: 'wasm' });
  const evalInfo = det.info.metrics.eval;
  det.dispose();
  process.stdout.write(JSON.stringify({ seen, runDir: trained.runDir, bestEpoch: trained.run.bestEpoch, scored: evaluated.report.testImages.scored,
    json: evaluated.files.json, evalInfo: { epoch: evalInfo.epoch, scored: evalInfo.testImages.scored } }));
})();
`;

test('train and evaluate report progress through callbacks and print nothing; the detector then shows the eval report', () => {
  const dir = path.join(work, 'trained');
  const child = spawnSync(process.execPath, ['-e', TRAIN_AND_EVALUATE, dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, '', 'nothing on stderr');
  const out = JSON.parse(child.stdout); // nothing on stdout but the child's own report
  // 300 images, 10 % (30) held out: 270 train, 4 whole batches of 64.
  assert.deepEqual(out.seen.starts, [[1, 4]]);
  assert.equal(out.seen.batches, 4);
  assert.deepEqual(out.seen.epochs, [1]);
  assert.ok(out.seen.logs.some((l: string) => /^training on MNIST digit 1: 270 images/.test(l)), out.seen.logs.join('\n'));
  assert.equal(out.runDir, path.join(dir, 'digit-1'));
  assert.equal(out.bestEpoch, 1);
  assert.deepEqual(out.seen.progress.at(-1), [200, 200]);
  assert.equal(out.scored, 200);
  assert.ok(fs.existsSync(out.json));
  assert.deepEqual(out.evalInfo, { epoch: 1, scored: 200 });
});

test('train stops at the next batch when its AbortSignal is aborted, and says so', async () => {
  const stop = new AbortController();
  await assert.rejects(
    lib.train({ data: { source: 'mnist', class: 7 }, limit: 300, batchSize: 64, epochs: 1, checkpointDir: path.join(work, 'stopped'), backend: 'wasm', signal: stop.signal, on: { batch: () => stop.abort() } }),
    /interrupted; 0 complete epoch\(s\) kept/,
  );
});
