// `alocc score --maps DIR` through the built CLI: an overlay per picture (same-named pictures in different folders
// kept apart), the map's cells and cell threshold in each --json line equal to the library's, and a bad folder
// refused in one line before anything is scored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { loadDetector } from '../../src/api/detector';
import { spawnSync } from 'node:child_process';
import { aloccWith, CLI, STACK_TRACE, writeTestDigits } from '../helpers/cli';
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

test('--maps DIR without --json (default backend): the compiled kernels, no TensorFlow.js; each line names its overlay', () => {
  const r = inWork('score', '--maps', 'text-out', '--model', run, pictures[2]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^backend: compiled kernels/);
  assert.ok(r.stdout.endsWith(`; map ${path.join('text-out', pictures[2])}.map.png\n`), r.stdout);
  assert.ok(fs.existsSync(path.join(work, 'text-out', `${pictures[2]}.map.png`)));
});

test('an overlay that cannot be written: one line naming it, exit 1, that picture still scored with its cells, the others mapped', () => {
  // Where img/b's overlays would go is a file: only that folder's overlay fails.
  fs.mkdirSync(path.join(work, 'blocked', 'img'), { recursive: true });
  fs.writeFileSync(path.join(work, 'blocked', 'img', 'b'), 'in the way');
  const r = inWork('score', '--json', '--maps', 'blocked', '--model', run, '--backend', 'wasm', 'img');
  assert.equal(r.code, 1, r.stderr);
  const problem = r.stderr.trim().split('\n');
  assert.equal(problem.length, 1, r.stderr);
  assert.match(problem[0], /^alocc: img\/b\/test-1-0\.png: cannot write its overlay blocked\/img\/b\/test-1-0\.png\.map\.png \(a parent of it is a file, not a folder\); its score and cells are still reported$/);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.file).sort(), [...pictures].sort(), 'every picture scored');
  for (const line of lines) {
    assert.equal(line.map.cells.length, 7, `${line.file}: its cells`);
    if (line.file === pictures[2]) {
      assert.equal(line.map.overlay, undefined);
      assert.match(line.map.error, /cannot write its overlay/);
    } else {
      assert.ok(fs.existsSync(path.join(work, line.map.overlay)), `${line.file}: overlay written`);
    }
  }
});

/**
 * How to run the CLI where it may not write to a folder it does not own: as this user when it is not root (chmod
 * then stops writes), as nobody through setpriv when it is root (root writes whatever the mode), else a reason to skip.
 */
function unprivileged(): { run: (...args: string[]) => ReturnType<typeof inWork> } | string {
  if (process.platform === 'win32') return 'folder modes do not stop writes on Windows';
  if (process.getuid?.() !== 0) return { run: inWork };
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
  if (!setpriv) return 'running as root without setpriv (util-linux): no way to be refused a write';
  const as = ['--reuid=65534', '--regid=65534', '--clear-groups'];
  const spawn = (...args: string[]) => {
    const started = Date.now();
    const r = spawnSync(setpriv, [...as, process.execPath, CLI, ...args], { cwd: work, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
  };
  const probe = spawn('--version');
  return probe.code === 0 ? { run: spawn } : `nobody cannot run the built CLI here (${probe.stderr.trim().split('\n')[0]})`;
}

test('--maps a folder it may not write to: one line naming it and what to do, exit 2, nothing scored', (t) => {
  fs.chmodSync(work, 0o755); // nobody (below) must reach the working folder; the run and pictures it never reads
  const locked = path.join(work, 'locked');
  fs.mkdirSync(locked);
  fs.chmodSync(locked, 0o555);
  const how = unprivileged();
  if (typeof how === 'string') return t.skip(how);
  const r = how.run('score', '--json', '--maps', 'locked', '--model', run, pictures[0]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, 'alocc: --maps locked: cannot write overlays there (not writable); choose another folder or fix its permissions\n');
  assert.equal(r.stdout, '');
  assert.deepEqual(fs.readdirSync(locked), [], 'no probe left behind');
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
