// `alocc score --maps DIR` through the built CLI: an overlay per picture (same-named pictures in different folders
// kept apart), the map's cells and cell threshold in each --json line equal to the library's, and a bad folder
// refused in one line before anything is scored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { loadDetector } from '../../src/api/detector';
import { aloccWith, STACK_TRACE, writeTestDigits } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';

const work = tempDir('alocc-score-maps-');
const run = path.join('ckpt', 'digit-1');
const inWork = (...args: string[]) => aloccWith({ cwd: work }, ...args);
const pictures = [path.join('img', 'a', 'test-1-0.png'), path.join('img', 'a', 'test-1-1.png'), path.join('img', 'b', 'test-1-0.png')];

before(async () => {
  await makeFakeRun(path.join(work, 'ckpt'), 1, { model: SMALL_MODEL });
  writeTestDigits(path.join(work, 'img', 'a'), 1, 2);
  // The same name in another folder, another picture: a 7.
  const [seven] = writeTestDigits(path.join(work, 'tmp'), 7, 1);
  fs.mkdirSync(path.join(work, 'img', 'b'));
  fs.renameSync(seven, path.join(work, pictures[2]));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('--maps DIR --json: an overlay per picture at its path + .map.png, the cells and cell threshold as the library gives them', async () => {
  const r = inWork('score', '--json', '--maps', 'out', '--model', run, '--backend', 'wasm', 'img');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.file).sort(), [...pictures].sort());
  const det = await loadDetector(path.join(work, run), { backend: 'wasm', maps: true });
  try {
    for (const line of lines) {
      const overlay = path.join('out', `${line.file}.map.png`);
      assert.equal(line.map.overlay, overlay);
      const png = fs.readFileSync(path.join(work, overlay));
      assert.equal(PNG.sync.read(png).width, 252, `${overlay}: 28 pixels zoomed 9 times`);
      assert.equal(line.map.overlayPng, undefined, 'the bytes go to the file, not the line');
      const want = await det.score(path.join(work, line.file), { map: true });
      assert.equal(line.map.cells.length, 7);
      assert.ok(line.map.cells.every((row: number[]) => row.length === 7));
      line.map.cells.flat().forEach((v: number, k: number) => assert.ok(Math.abs(v - want.map!.cells.flat()[k]) < 1e-6, `${line.file} cell ${k}`));
      assert.equal(line.map.cellThreshold, want.map!.cellThreshold);
      assert.ok(png.equals(Buffer.from(want.map!.overlayPng)), `${overlay}: the library's overlay`);
    }
  } finally {
    det.dispose();
  }
  const [a, b] = ['a', 'b'].map((d) => fs.readFileSync(path.join(work, 'out', 'img', d, 'test-1-0.png.map.png')));
  assert.ok(!a.equals(b), 'same-named pictures in two folders: two overlays');
  // Without --maps: no map in the lines.
  const plain = inWork('score', '--json', '--model', run, '--backend', 'wasm', pictures[0]);
  assert.equal(JSON.parse(plain.stdout).map, undefined);
});

test('--maps DIR without --json (default backend): TensorFlow.js, not the compiled kernels; each line names its overlay', () => {
  const r = inWork('score', '--maps', 'text-out', '--model', run, pictures[2]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^backend: /);
  assert.doesNotMatch(r.stderr, /compiled kernels/, 'maps need TensorFlow.js');
  assert.ok(r.stdout.endsWith(`; map ${path.join('text-out', pictures[2])}.map.png\n`), r.stdout);
  assert.ok(fs.existsSync(path.join(work, 'text-out', `${pictures[2]}.map.png`)));
});

test('--maps naming a file, or a folder below a file: one line naming it and what to do, exit 2, the file untouched', () => {
  fs.writeFileSync(path.join(work, 'notes.txt'), 'keep me');
  for (const [dir, why] of [['notes.txt', /^alocc: --maps notes\.txt: a file, not a folder; name a folder for the overlays/], [path.join('notes.txt', 'maps'), /^alocc: --maps notes\.txt\/maps: cannot write overlays there \(a parent of it is a file, not a folder\); choose another folder/]] as const) {
    const r = inWork('score', '--json', '--maps', dir, '--model', run, '--backend', 'wasm', pictures[0]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, STACK_TRACE);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '', 'nothing scored');
  }
  assert.equal(fs.readFileSync(path.join(work, 'notes.txt'), 'utf8'), 'keep me');
});
