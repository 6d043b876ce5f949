import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { maskFileFor, readMasks, resizeMask } from '../src/data/masks';
import { encodeGreyPng } from './helpers/grey-png';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-masks-'));
}

function rgbaPng(pixels: number[][], width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  pixels.forEach((px, i) => png.data.set(px, 4 * i));
  return PNG.sync.write(png);
}

test('maskFileFor: the picture\'s path below the novel folder with .png, in the masks folder; without the folder its name', () => {
  assert.equal(maskFileFor('/m', '/test/a/cat 1.jpg'), path.join('/m', 'cat 1.png'));
  assert.equal(maskFileFor('/m', 'x.png'), path.join('/m', 'x.png'));
  assert.equal(maskFileFor('/m', '/test/a/cat 1.jpg', '/test'), path.join('/m', 'a', 'cat 1.png'));
  assert.equal(maskFileFor('/m', path.join('novel', 'b', 'c', 'x.tar.jpg'), 'novel'), path.join('/m', 'b', 'c', 'x.tar.png'));
});

test('readMasks: pictures in subfolders get the mask at their own path; a flat mask only where its name is unambiguous', async () => {
  const dir = tempDir();
  try {
    const mask = (bit: number) => {
      const m = new Uint8Array(4);
      m[bit] = 255;
      return encodeGreyPng(m, 2, 2);
    };
    fs.mkdirSync(path.join(dir, 'a'));
    fs.writeFileSync(path.join(dir, 'a', 'x.png'), mask(0)); // a/x's own
    fs.writeFileSync(path.join(dir, 'x.png'), mask(1)); // flat x: two pictures are named x, so neither takes it
    fs.writeFileSync(path.join(dir, 'y.png'), mask(2)); // flat y: one picture named y takes it
    const targets = ['a/x.jpg', 'b/x.png', 'c/y.png', 'd/z.png'].map((f) => ({ file: path.join('/novel', f), width: 2, height: 2 }));
    const out = await readMasks(dir, targets, 2, 'fill', '/novel');
    assert.deepEqual([...out[0].mask!], [1, 0, 0, 0]);
    assert.equal(out[1].problem?.message,
      `${path.join(dir, 'b', 'x.png')}: no mask for /novel/b/x.png; save a black-and-white PNG of that name (255 = defect, 0 = normal) (${path.join(dir, 'x.png')} is not used: 2 pictures are named x); until then the picture is left out of pixel AUROC and PRO`);
    assert.deepEqual([...out[2].mask!], [0, 0, 1, 0]);
    assert.match(out[3].problem!.message, new RegExp(`^${path.join(dir, 'd', 'z.png')}: no mask for /novel/d/z\\.png; save`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resizeMask: nearest neighbour, as fill, cover and contain place the picture', () => {
  // 2×1 mask [1 0] to 4×4. fill: left half set in every row.
  const fill = resizeMask(Uint8Array.of(1, 0), 2, 1, 4, 'fill');
  assert.deepEqual([...fill], [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  // contain: scale min(4/2, 4/1) = 2 → a 4×2 band centred vertically (rows 1, 2), the rest padded normal.
  const contain = resizeMask(Uint8Array.of(1, 0), 2, 1, 4, 'contain');
  assert.deepEqual([...contain], [0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
  // cover: scale max = 4 → 8×4 centred, x offset -2: output x 0..1 from source x 0 (8-wide: 0..3 → 0), 2..3 → 1.
  const cover = resizeMask(Uint8Array.of(1, 0), 2, 1, 4, 'cover');
  assert.deepEqual([...cover], [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  // Downscale 4×4 → 2×2 by fill: output (x, y) takes source (2x+1, 2y+1).
  const src = Uint8Array.from({ length: 16 }, (_, i) => (i === 5 || i === 15 ? 1 : 0));
  assert.deepEqual([...resizeMask(src, 4, 4, 2, 'fill')], [1, 0, 0, 1]);
});

test('readMasks: good masks read as 0/1 at the run size; missing, mis-sized and non-binary ones are one line each, the rest kept', async () => {
  const dir = tempDir();
  try {
    const good = new Uint8Array(16);
    good[5] = 255;
    fs.writeFileSync(path.join(dir, 'good.png'), encodeGreyPng(good, 4, 4));
    fs.writeFileSync(path.join(dir, 'big.png'), encodeGreyPng(new Uint8Array(25), 5, 5));
    const soft = new Uint8Array(16);
    soft[5] = 255;
    soft[6] = 128; // an anti-aliased edge
    fs.writeFileSync(path.join(dir, 'soft.png'), encodeGreyPng(soft, 4, 4));
    // A colour mask of pure white and black is binary; a translucent pixel is not.
    const white = [255, 255, 255, 255], black = [0, 0, 0, 255];
    fs.writeFileSync(path.join(dir, 'rgb.png'), rgbaPng([white, black, black, black], 2, 2));
    fs.writeFileSync(path.join(dir, 'glass.png'), rgbaPng([white, [255, 255, 255, 100], black, black], 2, 2));

    const targets = [
      { file: '/pics/good.jpg', width: 4, height: 4 },
      { file: '/pics/none.png', width: 4, height: 4 },
      { file: '/pics/big.png', width: 4, height: 4 },
      { file: '/pics/soft.png', width: 4, height: 4 },
      { file: '/pics/rgb.png', width: 2, height: 2 },
      { file: '/pics/glass.png', width: 2, height: 2 },
    ];
    const out = await readMasks(dir, targets, 4, 'fill');
    assert.deepEqual(out.map((o) => o.file), targets.map((t) => t.file));
    assert.deepEqual([...out[0].mask!], [...good].map((v) => (v ? 1 : 0)));
    assert.deepEqual([...out[4].mask!], [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const lines = [1, 2, 3, 5].map((i) => out[i].problem?.message ?? '');
    for (const line of lines) assert.ok(!line.includes('\n') && line.includes('left out of pixel AUROC and PRO'), line);
    assert.match(lines[0], /none\.png: no mask for \/pics\/none\.png; save a black-and-white PNG/);
    assert.match(lines[1], /big\.png: mask is 5x5 but its picture \/pics\/big\.png is 4x4; save the mask at the picture's own size/);
    assert.match(lines[2], /soft\.png: mask is not binary \(1 pixels are neither black 0 nor white 255, the first at x=2 y=1: 128,128,128\)/);
    assert.match(lines[3], /glass\.png: mask is not binary \(1 pixels .* x=1 y=0: 255,255,255,100\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('readMasks: a masks folder that is not there is one line', async () => {
  await assert.rejects(readMasks('/no/such/masks', [], 28, 'fill'), /\/no\/such\/masks: no such folder of masks; give --masks a folder/);
});

test('readMasks: an undecodable mask names its file', async () => {
  const dir = tempDir();
  try {
    fs.writeFileSync(path.join(dir, 'junk.png'), 'not a picture');
    const [out] = await readMasks(dir, [{ file: 'junk.png', width: 2, height: 2 }], 2, 'fill');
    assert.match(out.problem!.message, /junk\.png: .*left out of pixel AUROC and PRO$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
