import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { Preprocessing, decodeImage, decodeMany } from '../src/data/decode';
import { flatten } from '../src/data/pixels';
import { buildPng } from './helpers/png-builder';

const PHOTO: Preprocessing = { size: 8, channels: 3, resize: 'fill', invert: 'never', fit: 'none' };

function solid(width: number, height: number, rgb: [number, number, number]) {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
}

function assertAll(pixels: Float32Array, want: number[], tolerance: number, label: string): void {
  for (let p = 0; p < pixels.length; p++) {
    const w = want[p % want.length];
    assert.ok(Math.abs(pixels[p] - w) <= tolerance, `${label}: value ${p} = ${pixels[p]}, want ${w}`);
  }
}

test('a solid colour reads back as that colour in every format; grey is Rec. 601 luma', async () => {
  const rgb: [number, number, number] = [200, 30, 90];
  const luma = (0.299 * 200 + 0.587 * 30 + 0.114 * 90) / 255; // 87.67 / 255, by hand
  const encoders: [string, (s: Sharp) => Sharp, number][] = [
    ['png', (s) => s.png(), 0.5 / 255],
    ['webp-lossless', (s) => s.webp({ lossless: true }), 0.5 / 255],
    ['tiff', (s) => s.tiff({ compression: 'lzw' }), 0.5 / 255],
    ['gif', (s) => s.gif(), 4 / 255], // palette quantisation
    ['jpeg', (s) => s.jpeg({ quality: 95 }), 4 / 255],
    ['avif', (s) => s.avif({ quality: 90 }), 6 / 255],
  ];
  for (const [format, encode, tolerance] of encoders) {
    const buf = await encode(solid(20, 12, rgb)).toBuffer();
    const colour = await decodeImage(buf, `solid.${format}`, PHOTO);
    assert.deepEqual([colour.width, colour.height, colour.colour, colour.inverted], [20, 12, true, false], format);
    assert.equal(colour.pixels.length, 8 * 8 * 3);
    assertAll(colour.pixels, rgb.map((v) => v / 255), tolerance, format);
    const grey = await decodeImage(buf, `solid.${format}`, { ...PHOTO, channels: 1 });
    assert.equal(grey.pixels.length, 8 * 8);
    assertAll(grey.pixels, [luma], tolerance, `${format} as grey`);
  }
});

test('grey pictures: not colour even as a colour JPEG; replicated in a colour run', async () => {
  const ramp = Buffer.alloc(32 * 32);
  for (let i = 0; i < ramp.length; i++) ramp[i] = (i % 32) * 8;
  const greyAsColourJpeg = await sharp(ramp, { raw: { width: 32, height: 32, channels: 1 } }).toColourspace('srgb').jpeg({ quality: 80 }).toBuffer();
  const image = await decodeImage(greyAsColourJpeg, 'grey.jpg', { ...PHOTO, size: 32 });
  assert.equal(image.colour, false);
  for (let p = 0; p < 32 * 32; p++) {
    assert.equal(image.pixels[3 * p], image.pixels[3 * p + 1]);
    assert.equal(image.pixels[3 * p], image.pixels[3 * p + 2]);
  }
  assert.ok(Math.abs(image.pixels[3 * 31] - 248 / 255) < 6 / 255, `ramp end ${image.pixels[3 * 31] * 255}`);
});

test('a 2×2 black and white checker averages to mid grey; a 1-pixel red dot makes a picture colour', async () => {
  const checker = buildPng({ width: 2, height: 2, colorType: 0, bitDepth: 8, pixel: (x, y) => [(x + y) % 2 ? 255 : 0] });
  const one = await decodeImage(checker, 'checker.png', { ...PHOTO, size: 1, channels: 1 });
  assert.ok(Math.abs(one.pixels[0] - 0.5) <= 0.5 / 255 + 1e-6, `${one.pixels[0]}`);
  const dot = buildPng({ width: 64, height: 64, colorType: 2, bitDepth: 8, pixel: (x, y) => (x === 9 && y === 40 ? [255, 0, 0] : [90, 90, 90]) });
  assert.equal((await decodeImage(dot, 'dot.png', PHOTO)).colour, true);
});

test('EXIF orientation is applied; transparency in photos is flattened on white', async () => {
  // Stored 8×4, left half red, right half blue; orientation 6 (rotate 90° clockwise to display): displayed 4×8,
  // red above blue.
  const halves = buildPng({ width: 8, height: 4, colorType: 2, bitDepth: 8, pixel: (x) => (x < 4 ? [255, 0, 0] : [0, 0, 255]) });
  const stored = await sharp(halves).withMetadata({ orientation: 6 }).jpeg({ quality: 100 }).toBuffer();
  assert.equal((await sharp(stored).metadata()).orientation, 6);
  const upright = await decodeImage(stored, 'phone.jpg', PHOTO);
  assert.deepEqual([upright.width, upright.height], [4, 8]);
  assertAll(upright.pixels.subarray(0, 8 * 3), [1, 0, 0], 0.1, 'top row red');
  assertAll(upright.pixels.subarray(7 * 8 * 3), [0, 0, 1], 0.1, 'bottom row blue');
  const halfClear = buildPng({ width: 4, height: 4, colorType: 6, bitDepth: 8, pixel: () => [10, 20, 200, 102] });
  const flat = await decodeImage(halfClear, 'logo.png', { ...PHOTO, size: 4 });
  const a = 102 / 255;
  assertAll(flat.pixels, [10, 20, 200].map((c) => (a * c + (1 - a) * 255) / 255), 0.5 / 255 + 1e-6, 'over white');
});

test('resize: fill stretches, cover crops the centre, contain letterboxes with the border colour', async () => {
  // 8×4: left half red, right half blue, on a... no border of its own: the border mean is half red, half blue.
  const halves = buildPng({ width: 8, height: 4, colorType: 2, bitDepth: 8, pixel: (x) => (x < 4 ? [255, 0, 0] : [0, 0, 255]) });
  const fill = await decodeImage(halves, 'h.png', { ...PHOTO, size: 4, resize: 'fill' });
  assertAll(fill.pixels.subarray(0, 3), [1, 0, 0], 1e-6, 'fill: top-left red');
  assertAll(fill.pixels.subarray(9, 12), [0, 0, 1], 1e-6, 'fill: top-right blue');
  const cover = await decodeImage(halves, 'h.png', { ...PHOTO, size: 4, resize: 'cover' });
  assertAll(cover.pixels.subarray(0, 3), [1, 0, 0], 1e-6, 'cover: columns 2..5 kept, left edge red');
  assertAll(cover.pixels.subarray(9, 12), [0, 0, 1], 1e-6, 'cover: right edge blue');
  const contain = await decodeImage(halves, 'h.png', { ...PHOTO, size: 8, resize: 'contain' });
  // Rows 0-1 and 6-7 are padding in the border colour: the ring of the 8×4 picture is 10 red and 10 blue pixels.
  assertAll(contain.pixels.subarray(0, 3), [128 / 255, 0, 128 / 255], 1e-6, 'contain: padding');
  assertAll(contain.pixels.subarray(2 * 8 * 3, 2 * 8 * 3 + 3), [1, 0, 0], 1e-6, 'contain: picture starts at row 2');
});

test('decodeMany keeps input order with many decodes in flight, errors in their place', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-many-'));
  try {
    const files: string[] = [];
    for (let i = 0; i < 40; i++) {
      const file = path.join(dir, `${i}.png`);
      // Sizes differ so decodes finish out of order.
      const side = i % 3 === 0 ? 300 : 4;
      fs.writeFileSync(file, buildPng({ width: side, height: side, colorType: 0, bitDepth: 8, pixel: () => [i * 6] }));
      files.push(file);
    }
    fs.writeFileSync(files[7], 'not a picture');
    for (const concurrency of [1, 16]) {
      const outcomes = [];
      for await (const o of decodeMany(files, { ...PHOTO, channels: 1 }, { concurrency })) outcomes.push(o);
      assert.deepEqual(outcomes.map((o) => o.file), files);
      outcomes.forEach((o, i) => {
        if (i === 7) assert.match(o.error?.message ?? '', /not a supported image/);
        else assert.ok(Math.abs((o.image?.pixels[0] ?? -1) - (i * 6) / 255) < 1e-6, `${concurrency}: file ${i}`);
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('flatten composites every alpha and value on a grey exactly as round(a/255·v + (1 − a/255)·background)', () => {
  // Every (alpha, value) pair at once: pixel i has alpha ⌊i/256⌋ and value i mod 256 in all three channels.
  const data = new Uint8Array(256 * 256 * 4);
  for (let i = 0; i < 256 * 256; i++) data.set([i % 256, i % 256, i % 256, i >> 8], 4 * i);
  for (const background of [0, 37, 128, 255]) {
    const { data: out, channels } = flatten({ data, width: 256, height: 256, channels: 4 }, background);
    assert.equal(channels, 3);
    for (let i = 0; i < 256 * 256; i++) {
      const a = (i >> 8) / 255;
      const want = Math.round(a * (i % 256) + (1 - a) * background);
      for (let c = 0; c < 3; c++) assert.equal(out[3 * i + c], want, `background ${background}, alpha ${i >> 8}, value ${i % 256}`);
    }
  }
});
