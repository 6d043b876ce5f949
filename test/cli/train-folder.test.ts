// `alocc train --data DIR` through the built CLI: bad folders and files are refused in one line that names them (or
// skipped and recorded with --skip-bad), mixed sizes and grey/colour are converted and counted, bad values exit 2.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { alocc, CLI, STACK_TRACE } from '../helpers/cli';
import { tempDir } from '../helpers/fixtures';

const work = tempDir('alocc-train-folder-');
const SMALL = ['--size', '16', '--epochs', '1', '--batch-size', '8', '--backend', 'wasm'];


/** `n` small pictures in `dir`: grey gradients, or colour ones when `colour`, sizes 20-40 px, PNG and JPEG in turn. */
async function pictures(dir: string, n: number, colour: boolean, from = 0): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = from; i < from + n; i++) {
    const w = 20 + (i * 7) % 21, h = 20 + (i * 11) % 21;
    const raw = Buffer.alloc(w * h * 3);
    for (let p = 0; p < w * h; p++) {
      const v = ((p % w) * 255) / w;
      raw.set(colour ? [v, 255 - v, (i * 30) % 255] : [v, v, v], p * 3);
    }
    const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    await (i % 2 ? img.jpeg({ quality: 95 }) : img.png()).toFile(path.join(dir, `p${i}.${i % 2 ? 'jpg' : 'png'}`));
  }
}

function oneLine(r: { stderr: string }): string {
  // Before a refusal, training may have said which backend runs and what it found in the folder; one line refuses.
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('alocc:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  return lines[0];
}

before(() => assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`));

test('bad values of --size, --channels and --data exit 2 with one line', () => {
  const dir = path.join(work, 'usage');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'a-file.png'), 'x');
  for (const [args, why] of [
    [['--size', '7'], /--size must be a whole number from 16 to 256/],
    [['--size', '100000'], /--size must be a whole number from 16 to 256/],
    [['--channels', '2'], /--channels must be 1 \(grey\) or 3 \(colour\)/],
    [['--data', path.join(dir, 'missing')], /--data .*missing: no such folder/],
    [['--data', path.join(dir, 'a-file.png')], /--data .*a-file\.png is a file; name the folder/],
    [['--data', dir, '--digit', '3'], /--data trains on a folder; drop --dataset, --digit and --class/],
    [['--dataset', 'mnist', '--size', '64'], /--size and --channels apply to --data folders/],
  ] as [string[], RegExp][]) {
    const r = alocc('train', '--checkpoint-dir', path.join(work, 'c-usage'), ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, why);
  }
});

test('an empty folder, or too few pictures for two batches, is refused in one line naming the folder', async () => {
  const empty = path.join(work, 'empty');
  fs.mkdirSync(empty, { recursive: true });
  fs.writeFileSync(path.join(empty, 'readme.txt'), 'no pictures here');
  let r = alocc('train', '--data', empty, '--checkpoint-dir', path.join(work, 'c1'), ...SMALL);
  assert.equal(r.code, 1);
  assert.match(oneLine(r), new RegExp(`${empty}: no pictures found \\(1 other files ignored\\)`));
  const few = path.join(work, 'few');
  await pictures(few, 8, false);
  r = alocc('train', '--data', few, '--checkpoint-dir', path.join(work, 'c1'), ...SMALL);
  assert.equal(r.code, 1);
  assert.match(oneLine(r), /7 training picture\(s\) \(after 1 held out for validation\) make fewer than two batches of 4; add pictures$/);
});

test('bad files stop training, each named; --skip-bad trains on the rest and records them in the run file', async () => {
  const dir = path.join(work, 'mixed');
  await pictures(dir, 30, false);
  await pictures(dir, 10, true, 30);
  fs.writeFileSync(path.join(dir, 'zero.png'), '');
  fs.writeFileSync(path.join(dir, 'text.jpg'), 'this is not a picture at all');
  fs.writeFileSync(path.join(dir, 'cut.png'), fs.readFileSync(path.join(dir, 'p0.png')).subarray(0, 60));
  fs.mkdirSync(path.join(dir, 'folder.jpg'));
  const ckpt = path.join(work, 'c2');
  let r = alocc('train', '--data', dir, '--checkpoint-dir', ckpt, ...SMALL);
  assert.equal(r.code, 1, r.stderr);
  const line = oneLine(r);
  for (const name of ['zero.png', 'text.jpg', 'cut.png', 'folder.jpg']) assert.ok(line.includes(path.join(dir, name)), `${name} in: ${line}`);
  assert.match(line, /4 files cannot be read: .*pass --skip-bad to train on the other 40/);
  assert.ok(!fs.existsSync(path.join(ckpt, 'mixed', 'run.json')), 'nothing trained');

  r = alocc('train', '--data', dir, '--checkpoint-dir', ckpt, '--skip-bad', ...SMALL);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /40 picture\(s\) at 16×16×3, 40 resized, 30 grey made colour, 4 unreadable skipped/);
  const run = JSON.parse(fs.readFileSync(path.join(ckpt, 'mixed', 'run.json'), 'utf8'));
  assert.equal(run.config.model.channels, 3);
  assert.deepEqual(run.folder.skipped.map((s: { file: string }) => path.basename(s.file)).sort(), ['cut.png', 'folder.jpg', 'text.jpg', 'zero.png']);
  assert.equal(run.folder.greyToColour, 30);
});

test('a grey folder trains grey; --channels 3 makes it colour; a grey run scores a colour picture', async () => {
  const dir = path.join(work, 'grey');
  await pictures(dir, 24, false);
  const ckpt = path.join(work, 'c3');
  let r = alocc('train', '--data', dir, '--checkpoint-dir', ckpt, ...SMALL);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(ckpt, 'grey', 'run.json'), 'utf8')).config.model.channels, 1);
  r = alocc('train', '--data', dir, '--checkpoint-dir', ckpt, '--name', 'grey-as-colour', '--channels', '3', ...SMALL);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(ckpt, 'grey-as-colour', 'run.json'), 'utf8')).config.model.channels, 3);
  const colour = path.join(work, 'colour-one');
  await pictures(colour, 2, true, 100);
  r = alocc('score', '--json', '--model', path.join(ckpt, 'grey'), '--backend', 'wasm', colour);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 2);
  rows.forEach((row) => assert.ok(Number.isFinite(row.novelty) && ['novel', 'normal'].includes(row.verdict)));
});
