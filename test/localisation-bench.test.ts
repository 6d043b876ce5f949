import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { BenchSource, mnistSource, writeBench } from '../bench/localisation/build';
import { drawScar, MAX_COVERAGE, MIN_COVERAGE, pastePatch, Picture } from '../bench/localisation/defects';
import { mulberry32 } from '../src/data/random';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-locbench-'));
}

/** Each picture's normal and defective PNGs differ exactly on its mask, which is binary and covers 2-10 %. */
function checkBench(out: string, names: string[], channels: number): void {
  for (const name of names) {
    const [normal, defective, mask] = ['normal', 'defective', 'masks'].map((sub) => PNG.sync.read(fs.readFileSync(path.join(out, sub, `${name}.png`))));
    const pixels = normal.width * normal.height;
    let covered = 0;
    for (let p = 0; p < pixels; p++) {
      const changed = [0, 1, 2].slice(0, channels === 1 ? 1 : 3).some((c) => normal.data[4 * p + c] !== defective.data[4 * p + c]);
      const m = mask.data[4 * p];
      assert.ok(m === 0 || m === 255, `${name}: mask value ${m}`);
      assert.equal(m === 255, changed, `${name}: pixel ${p} changed ${changed} but mask ${m}`);
      covered += m === 255 ? 1 : 0;
    }
    assert.ok(covered / pixels >= MIN_COVERAGE && covered / pixels <= MAX_COVERAGE, `${name}: coverage ${covered / pixels}`);
  }
}

test('localisation bench (MNIST): masks are exactly the changed pixels, 2-10 % of each picture, seeded', () => {
  const source = mnistSource(3);
  const [a, b, c] = [tempDir(), tempDir(), tempDir()];
  try {
    const built = writeBench(source, a, 20, 0);
    assert.equal(built.length, 20);
    assert.ok(built.every((p) => p.kind === 'patch' && p.name.startsWith('mnist-3-test')));
    checkBench(a, built.map((p) => p.name), 1);
    // The same seed writes the same bytes; another seed other defects.
    writeBench(source, b, 20, 0);
    writeBench(source, c, 20, 1);
    const read = (dir: string, sub: string, name: string) => fs.readFileSync(path.join(dir, sub, `${name}.png`));
    for (const { name } of built) assert.deepEqual(read(a, 'defective', name), read(b, 'defective', name));
    const other = fs.readdirSync(path.join(c, 'defective'));
    const shared = built.filter((p) => other.includes(`${p.name}.png`));
    assert.ok(shared.length === 0 || shared.some(({ name }) => !read(a, 'defective', name).equals(read(c, 'defective', name))));
  } finally {
    for (const d of [a, b, c]) fs.rmSync(d, { recursive: true, force: true });
  }
});

/** 16×16 colour pictures: a flat background of one colour with a disc of another (an emoji-like stand-in). */
function discs(count: number, seed: number): Picture[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const [bg, fg] = [0, 1].map(() => [0, 1, 2].map(() => Math.floor(rand() * 256)));
    const pixels = new Uint8Array(16 * 16 * 3);
    for (let p = 0; p < 256; p++) pixels.set(Math.hypot((p % 16) - 8, Math.floor(p / 16) - 8) < 5 ? fg : bg, 3 * p);
    return { pixels, size: 16, channels: 3 };
  });
}

test('localisation bench (colour): CutPaste patches and scars, both within 2-10 %, masks the changed pixels', () => {
  const source: BenchSource = { normal: discs(30, 1), normalNames: Array.from({ length: 30 }, (_, i) => `e${i}`), others: discs(10, 2), scars: true };
  const out = tempDir();
  try {
    const built = writeBench(source, out, 30, 0);
    const kinds = new Set(built.map((p) => p.kind));
    assert.deepEqual([...kinds].sort(), ['patch', 'scar']);
    checkBench(out, built.map((p) => p.name), 3);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('defects: a scar is thin (no 3×3 block fully covered), a patch comes from the source picture', () => {
  const [picture] = discs(1, 5);
  for (let seed = 1; seed < 20; seed++) {
    const scar = drawScar(picture, mulberry32(seed));
    for (let y = 1; y < 15; y++) for (let x = 1; x < 15; x++) {
      let full = true;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) full &&= scar.mask[(y + dy) * 16 + x + dx] === 1;
      assert.ok(!full, `seed ${seed}: a 3×3 block at ${x},${y} is all scar`);
    }
  }
  const white: Picture = { pixels: new Uint8Array(768).fill(255), size: 16, channels: 3 };
  const red: Picture = { pixels: Uint8Array.from({ length: 768 }, (_, i) => (i % 3 === 0 ? 255 : 0)), size: 16, channels: 3 };
  const patch = pastePatch(white, red, mulberry32(3));
  for (let p = 0; p < 256; p++) {
    if (patch.mask[p]) assert.deepEqual([...patch.pixels.subarray(3 * p, 3 * p + 3)], [255, 0, 0]);
  }
});
