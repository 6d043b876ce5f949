// Scoring many files from folders (streamed, no tensor left behind) and a mix of hostile files through the CLI.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { score } from '../../src/commands/score';
import { loadMnist } from '../helpers/mnist';
import { encodeGreyPng } from '../helpers/grey-png';
import { runDirFor } from '../../src/run/paths';
import { readRunFile } from '../../src/run/runfile-io';
import { alocc, CLI, STACK_TRACE } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir, useTestBackend } from '../helpers/fixtures';
import { pngWithStream, zerosZlibStream } from '../helpers/png-builder';

const work = tempDir('alocc-many-');
const ckpt = path.join(work, 'ckpt');
const images = path.join(work, 'images');
const COUNT = 1000;

/** A stream that hands each complete line to `onLine`. */
function lineSink(onLine: (line: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk, _enc, done) {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      parts.forEach(onLine);
      done();
    },
  });
}

before(async () => {
  await useTestBackend();
  await makeFakeRun(ckpt, 1, { model: SMALL_MODEL });
  // The first 1000 MNIST test digits, filed by label in nested folders: images/<label>/<index>.png.
  const mnist = loadMnist('test');
  for (let i = 0; i < COUNT; i++) {
    const dir = path.join(images, String(mnist.labels[i]));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}.png`), encodeGreyPng(mnist.images.subarray(i * 784, (i + 1) * 784), 28, 28));
  }
});

test('a folder of 1000 PNGs: one JSON line each, results streamed while the folder is still being read, no tensor left', async () => {
  const rows: any[] = [];
  const late = path.join(images, '9', 'zzzz-late.png');
  const tensorsBefore = tf.memory().numTensors;
  const result = await score({
    paths: [images],
    digit: 1,
    checkpointDir: ckpt,
    invert: 'auto',
    fit: 'auto',
    json: true,
    details: true,
    backend: 'wasm',
    // A file added when the first result comes out is still found: the walk had not finished, results were not
    // held back until every file was listed and decoded.
    out: lineSink((line) => {
      if (rows.length === 0) fs.copyFileSync(path.join(images, '1', '0002.png'), late);
      rows.push(JSON.parse(line));
    }),
    log: lineSink((line) => assert.fail(`unexpected log line: ${line}`)),
  });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'every tensor made while scoring was disposed');
  assert.deepEqual(result, { scored: COUNT + 1, failed: 0 });
  assert.equal(rows.length, COUNT + 1);
  assert.equal(new Set(rows.map((r) => r.file)).size, COUNT + 1, 'each file once');
  assert.equal(rows[rows.length - 1].file, late);
  // Each verdict against the threshold in run.json; the 1s (the run's digit, in images/1/) mostly pass, the others not.
  const threshold = readRunFile(runDirFor(ckpt, 'digit-1')).epochs[0].threshold;
  const tally = { ones: 0, normalOnes: 0, others: 0, novelOthers: 0 };
  for (const r of rows) {
    assert.ok(Number.isFinite(r.reconstructionLoss), JSON.stringify(r));
    assert.equal(r.threshold, threshold);
    assert.equal(r.verdict, r.novelty > threshold ? 'novel' : 'normal', JSON.stringify(r));
    if (r.file === late || path.basename(path.dirname(r.file)) === '1') {
      tally.ones++;
      if (r.verdict === 'normal') tally.normalOnes++;
    } else {
      tally.others++;
      if (r.verdict === 'novel') tally.novelOthers++;
    }
  }
  // The late copy is scored in the last chunk (in memory the earlier chunks used), its original in the first: the
  // same picture gets the same scores whatever chunk it is in and whatever the chunk before held.
  const original = rows.find((r) => r.file === path.join(images, '1', '0002.png'));
  for (const k of ['novelty', 'reconstructionLoss', 'dOfInput']) assert.ok(Math.abs(rows[rows.length - 1][k] - original[k]) < 1e-6, `${k}: ${rows[rows.length - 1][k]} vs ${original[k]}`);
  // Measured: 98 of 127 1s normal, 874 of 874 others novel (the knn separates them even with untrained networks).
  assert.ok(tally.normalOnes >= 0.6 * tally.ones, `${tally.normalOnes} of ${tally.ones} 1s normal`);
  assert.ok(tally.novelOthers >= 0.95 * tally.others, `${tally.novelOthers} of ${tally.others} other digits novel`);
});

test('through the CLI: a bomb, an empty file, a folder named .png and a broken JPEG get a line each; the good PNGs are scored; exit 1', () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const dir = path.join(work, 'hostile');
  fs.mkdirSync(path.join(dir, 'x.png'), { recursive: true });
  const files = {
    huge: path.join(dir, 'huge.png'),
    inflating: path.join(dir, 'inflating.png'),
    empty: path.join(dir, 'empty.png'),
    jpeg: path.join(dir, 'photo.png'),
    folder: path.join(dir, 'x.png'),
  };
  fs.writeFileSync(files.huge, pngWithStream(30_000, 30_000, zerosZlibStream(30_000 * 30_001)));
  fs.writeFileSync(files.inflating, pngWithStream(28, 28, zerosZlibStream(600_000_000)));
  fs.writeFileSync(files.empty, '');
  fs.writeFileSync(files.jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]));
  const good = path.join(images, '1', '0002.png');
  assert.ok(fs.existsSync(good));
  const r = alocc('score', '--checkpoint-dir', ckpt, '--backend', 'cpu', ...Object.values(files), good);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.seconds < 30, `took ${r.seconds} s`);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('alocc:'));
  assert.equal(errors.length, 4, r.stderr);
  [files.huge, files.empty, files.jpeg, files.folder].forEach((f, i) => assert.ok(errors[i].startsWith(`alocc: ${f}: `), `${f}: ${errors[i]}`));
  assert.match(errors[0], /image too large/);
  assert.match(errors[1], /empty \(0 bytes\)/);
  assert.match(errors[2], /truncated JPEG/);
  assert.match(errors[3], /folder with no pictures/);
  // A 28×28 PNG followed by 600 MB of compressed zeros: libpng inflates only the rows it needs, so it is read (as
  // a black picture) in bounded time and memory and scored.
  const scoredFiles = r.stdout.trim().split('\n').map((line) => line.slice(0, line.indexOf(': ')));
  assert.deepEqual(scoredFiles, [files.inflating, good]);
  assert.match(r.stdout.trim().split('\n')[1], new RegExp(`^${good}: (novel|normal) \\((reconstruction loss|KL error|mean squared error|ink-normalised error|nearest-neighbour distance in R's features) \\d`));
});
