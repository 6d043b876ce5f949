import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { AloccError, UsageError } from '../src/errors';
import { decodeImage } from '../src/data/decode';
import { loadImageFolder } from '../src/data/folder';
import { buildPng, pngWithStream, zerosZlibStream } from './helpers/png-builder';

function withFolder(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-folder-'));
    try {
      await body(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

const solid = (width: number, height: number, r: number, g: number, b: number) =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } });

/** Writes the mixed folder: colour JPEG, PNG and WebP of three sizes, two grey pictures, two other files. */
async function writeMixed(dir: string): Promise<void> {
  fs.mkdirSync(path.join(dir, 'more'));
  await solid(40, 30, 200, 30, 90).jpeg({ quality: 95 }).toFile(path.join(dir, 'a-red.jpg'));
  await solid(16, 16, 10, 200, 40).png().toFile(path.join(dir, 'b-green.png'));
  await solid(50, 20, 20, 40, 220).webp({ lossless: true }).toFile(path.join(dir, 'more', 'c-blue.webp'));
  await solid(16, 16, 77, 77, 77).toColourspace('b-w').png().toFile(path.join(dir, 'd-grey.png'));
  await solid(30, 30, 150, 150, 150).jpeg({ quality: 95 }).toFile(path.join(dir, 'more', 'e-grey.jpeg'));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a picture');
  fs.writeFileSync(path.join(dir, 'more', 'scan.bmp'), 'BM');
}

/** Image i's first pixel's channels, as bytes. */
const firstPixel = (pixels: Uint8Array, i: number, per: number, channels: number) => Array.from(pixels.subarray(i * per, i * per + channels));

test('a mixed folder: colour wins with channels auto, everything resized to size×size and counted', withFolder(async (dir) => {
  await writeMixed(dir);
  const folder = await loadImageFolder(dir, { size: 16, channels: 'auto', resize: 'fill' });
  assert.equal(folder.count, 5);
  assert.equal(folder.channels, 3);
  assert.deepEqual(folder.files.map((f) => path.relative(dir, f)), ['a-red.jpg', 'b-green.png', 'd-grey.png', 'more/c-blue.webp', 'more/e-grey.jpeg']);
  assert.equal(folder.ignored, 2);
  assert.deepEqual(folder.skipped, []);
  assert.deepEqual(folder.converted, { resized: 3, colourToGrey: 0, greyToColour: 2 });
  assert.ok(folder.pixels instanceof Uint8Array);
  assert.equal(folder.pixels.length, 5 * 16 * 16 * 3);
  assert.deepEqual(folder.preprocessing, { size: 16, channels: 3, resize: 'fill', invert: 'never', fit: 'none' });
  const per = 16 * 16 * 3;
  assert.deepEqual(firstPixel(folder.pixels, 1, per, 3), [10, 200, 40], 'lossless PNG exactly');
  assert.deepEqual(firstPixel(folder.pixels, 2, per, 3), [77, 77, 77], 'grey replicated');
  assert.deepEqual(firstPixel(folder.pixels, 3, per, 3), [20, 40, 220], 'lossless WebP exactly');
  firstPixel(folder.pixels, 0, per, 3).forEach((v, c) => assert.ok(Math.abs(v - [200, 30, 90][c]) <= 4, `JPEG red channel ${c}: ${v}`));
  firstPixel(folder.pixels, 4, per, 3).forEach((v) => assert.ok(Math.abs(v - 150) <= 2, `grey JPEG ${v}`));
}));

test('grey pictures only: channels auto gives 1, the same bytes a grey decode stores', withFolder(async (dir) => {
  await solid(16, 16, 77, 77, 77).toColourspace('b-w').png().toFile(path.join(dir, 'a.png'));
  await solid(24, 24, 150, 150, 150).jpeg({ quality: 95 }).toFile(path.join(dir, 'b.jpg'));
  const folder = await loadImageFolder(dir, { size: 8, channels: 'auto', resize: 'cover' });
  assert.equal(folder.channels, 1);
  assert.equal(folder.pixels.length, 2 * 8 * 8);
  assert.deepEqual(folder.converted, { resized: 2, colourToGrey: 0, greyToColour: 0 });
  assert.ok(folder.pixels.subarray(0, 64).every((v) => v === 77));
  // Decided after decoding at 3 channels, converted: identical to decoding at 1, as scoring will.
  const direct = await decodeImage(fs.readFileSync(folder.files[1]), 'b.jpg', folder.preprocessing);
  assert.deepEqual(Array.from(folder.pixels.subarray(64)), Array.from(direct.pixels, (v) => Math.round(v * 255)));
}));

test('channels 1 on colour pictures: Rec. 601 luma, exactly what a grey run scores them as', withFolder(async (dir) => {
  await solid(20, 10, 200, 30, 90).png().toFile(path.join(dir, 'red.png'));
  const folder = await loadImageFolder(dir, { size: 4, channels: 1, resize: 'fill' });
  assert.deepEqual(folder.converted, { resized: 1, colourToGrey: 1, greyToColour: 0 });
  // 0.299·200 + 0.587·30 + 0.114·90 = 87.67, by hand.
  assert.ok(folder.pixels.every((v) => v === 88), Array.from(folder.pixels).join(' '));
  const scored = await decodeImage(fs.readFileSync(folder.files[0]), 'red.png', folder.preprocessing);
  assert.deepEqual(Array.from(folder.pixels), Array.from(scored.pixels, (v) => Math.round(v * 255)));
}));

test('bad files: training refuses, naming each (up to maxListed, then "and N more"); skipBad trains on the rest', withFolder(async (dir) => {
  await solid(8, 8, 1, 2, 3).png().toFile(path.join(dir, 'good-1.png'));
  await solid(8, 8, 4, 5, 6).png().toFile(path.join(dir, 'good-2.png'));
  const jpeg = await solid(64, 64, 200, 30, 90).jpeg().toBuffer();
  const bad: Record<string, Buffer | 'dir'> = {
    'bomb.png': pngWithStream(30_000, 30_000, zerosZlibStream(30_000 * 30_001)),
    'corrupt.png': Buffer.concat([buildPng({ width: 4, height: 4, colorType: 0, bitDepth: 8, pixel: () => [1] }).subarray(0, 33), Buffer.alloc(40, 7), Buffer.from('IEND')]),
    'empty.webp': Buffer.alloc(0),
    'folder.jpg': 'dir',
    'truncated.jpg': jpeg.subarray(0, jpeg.length >> 1),
    'unsupported.gif': Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]),
  };
  for (const [name, content] of Object.entries(bad)) {
    if (content === 'dir') fs.mkdirSync(path.join(dir, name));
    else fs.writeFileSync(path.join(dir, name), content);
  }
  const why = {
    'bomb.png': /image too large \(30000x30000 = 900 megapixels/,
    'corrupt.png': /corrupt PNG/,
    'empty.webp': /empty \(0 bytes\)/,
    'folder.jpg': /is a directory, not an image file/,
    'truncated.jpg': /truncated JPEG|corrupt JPEG/,
    'unsupported.gif': /not a supported image \(looks like a BMP\)/,
  };
  const started = performance.now();
  await assert.rejects(loadImageFolder(dir, { size: 8, channels: 'auto', resize: 'fill' }), (err: unknown) => {
    assert.ok(err instanceof AloccError && !(err instanceof UsageError));
    assert.ok(!err.message.includes('\n'), err.message);
    assert.match(err.message, /^.*: 6 files cannot be read: /);
    for (const [name, pattern] of Object.entries(why)) {
      const listed = err.message.split('; ').find((part) => part.includes(path.join(dir, name)));
      assert.ok(listed, `${name} named in: ${err.message}`);
      assert.match(listed, pattern);
    }
    assert.match(err.message, /pass --skip-bad to train on the other 2$/);
    return true;
  });
  assert.ok(performance.now() - started < 5000, 'the bomb is refused from its header');
  await assert.rejects(loadImageFolder(dir, { size: 8, channels: 'auto', resize: 'fill', maxListed: 2 }), (err: unknown) => {
    assert.match((err as Error).message, /bomb\.png: .*corrupt\.png: .*; and 4 more\. Fix or remove them/);
    assert.doesNotMatch((err as Error).message, /empty\.webp/);
    return true;
  });
  const folder = await loadImageFolder(dir, { size: 8, channels: 'auto', resize: 'fill', skipBad: true });
  assert.equal(folder.count, 2);
  assert.deepEqual(folder.files.map((f) => path.basename(f)), ['good-1.png', 'good-2.png']);
  assert.deepEqual(folder.skipped.map((s) => path.basename(s.file)), Object.keys(bad));
  assert.equal(folder.channels, 1, 'near-grey colours (1, 2, 3) and (4, 5, 6) are within the colour tolerance');
  // Their luma by hand: 0.299·1 + 0.587·2 + 0.114·3 = 1.815 and 0.299·4 + 0.587·5 + 0.114·6 = 4.815.
  assert.ok(folder.pixels.subarray(0, 64).every((v) => v === 2) && folder.pixels.subarray(64).every((v) => v === 5));
}));

test('no pictures, a file, or a missing folder: one clear line each', withFolder(async (dir) => {
  await assert.rejects(loadImageFolder(dir, { size: 8, channels: 1, resize: 'fill' }), /no pictures found; alocc reads PNG, JPEG/);
  fs.writeFileSync(path.join(dir, 'a.txt'), '');
  fs.writeFileSync(path.join(dir, 'b.csv'), '');
  await assert.rejects(loadImageFolder(dir, { size: 8, channels: 1, resize: 'fill' }), /no pictures found \(2 other files ignored\)/);
  const usage = (pattern: RegExp) => (err: unknown) => err instanceof UsageError && err.exitCode === 2 && pattern.test(err.message);
  await assert.rejects(loadImageFolder(path.join(dir, 'a.txt'), { size: 8, channels: 1, resize: 'fill' }), usage(/a\.txt: not a folder/));
  await assert.rejects(loadImageFolder(path.join(dir, 'nope'), { size: 8, channels: 1, resize: 'fill' }), usage(/nope: no such folder/));
}));
