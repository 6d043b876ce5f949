// Streamed pictures keep their floats deferred (src/data/decode.ts DeferredImage) and write them straight into the
// chunk's buffer (src/api/verdicts.ts pixelsOf): the same floats as decodeImage's, and for plain RGB pictures the
// same as v / 255 of libvips' own bytes. Also the PNG path's two speed-ups: PNG's CRC from zlib (the standard check
// value) and the image data split over many IDAT chunks, inflated into one buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { pixelsOf } from '../src/api/verdicts';
import { decodeDeferred, decodeImage, decodeMany, Preprocessing } from '../src/data/decode';
import { crc32 } from '../src/data/image-format';
import { decodePlainPng } from '../src/data/plain-png';
import { buildIhdr, buildPngChunk, PNG_SIGNATURE, rawImageData } from './helpers/png-builder';

const COLOUR: Preprocessing = { size: 16, channels: 3, resize: 'fill', invert: 'auto', fit: 'none' };

function noise(count: number, seed: number): Buffer {
  let s = seed;
  return Buffer.from(Array.from({ length: count }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24)));
}

/** An RGBA PNG of random pixels, a quarter of them clear and a quarter opaque (flatten's three cases). */
function rgbaPng(side: number, seed: number): Promise<Buffer> {
  const data = noise(side * side * 4, seed);
  for (let p = 0; p < side * side; p++) if (p % 4 === 0) data[4 * p + 3] = 0; else if (p % 4 === 1) data[4 * p + 3] = 255;
  return sharp(data, { raw: { width: side, height: side, channels: 4 } }).png().toBuffer();
}

/** Bits of `a` and `b` equal (NaN and −0 included), with the first difference named. */
function assertSameFloats(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) assert.equal(ua[i], ub[i], `${what}: value ${i} is ${a[i]}, want ${b[i]}`);
}

test('a deferred picture writes decodeImage\'s floats at any offset, and nothing around them', async () => {
  const pictures: [string, Buffer, Preprocessing][] = [
    ['RGBA, colour run', await rgbaPng(16, 1), COLOUR],
    ['RGBA, grey run', await rgbaPng(16, 2), { ...COLOUR, channels: 1 }],
    ['RGBA, resized', await rgbaPng(24, 3), COLOUR],
    ['light drawing, inverted', await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 250, g: 240, b: 20 } } }).png().toBuffer(), COLOUR],
    ['photo, never inverted', await rgbaPng(16, 4), { ...COLOUR, invert: 'never' }],
    ['grey digit, framed', await sharp(noise(40 * 40, 5), { raw: { width: 40, height: 40, channels: 1 } }).png().toBuffer(), { size: 28, channels: 1, resize: 'fill', invert: 'auto', fit: 'auto' }],
  ];
  for (const [what, bytes, pre] of pictures) {
    const want = (await decodeImage(bytes, what, pre)).pixels;
    const per = pre.size * pre.size * pre.channels;
    assert.equal(want.length, per, what);
    const deferred = await decodeDeferred(bytes, what, pre);
    const target = new Float32Array(per + 7).fill(-5);
    deferred.writePixels(target, 3);
    assertSameFloats(target.subarray(3, 3 + per), want, what);
    assert.deepEqual([...target.subarray(0, 3), ...target.subarray(3 + per)], [-5, -5, -5, -5, -5, -5, -5], `${what}: outside its place`);
    // Read first, then written: the floats read are the ones written.
    const read = (await decodeDeferred(bytes, what, pre)).pixels;
    assertSameFloats(read, want, `${what}, read`);
    const again = await decodeDeferred(bytes, what, pre);
    const first = again.pixels;
    const into = new Float32Array(per);
    again.writePixels(into, 0);
    assertSameFloats(into, first, `${what}, written after reading`);
  }
});

test('an opaque RGB picture at the run\'s size becomes v / 255 of libvips\' bytes; a chunk holds each picture in turn', async () => {
  const files: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-deferred-'));
  const expected: number[] = [];
  for (let i = 0; i < 3; i++) {
    const rgb = noise(16 * 16 * 3, 10 + i);
    // A dark border keeps the picture from being inverted; the noise inside keeps it colour.
    for (let p = 0; p < 16 * 16; p++) if (p < 16 || p % 16 === 0) rgb.fill(0, 3 * p, 3 * p + 3);
    const file = path.join(dir, `${i}.png`);
    fs.writeFileSync(file, await sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer());
    files.push(file);
    const { data } = await sharp(fs.readFileSync(file)).raw().toBuffer({ resolveWithObject: true });
    for (const v of data) expected.push(Math.fround(v / 255));
  }
  try {
    const items = [];
    for await (const o of decodeMany(files, COLOUR, { deferred: true })) {
      assert.ok(o.image, `${o.file}: ${o.error?.message}`);
      assert.equal(o.image.inverted, false);
      items.push({ name: o.file, image: o.image });
    }
    const reuse = new Float32Array(4 * 16 * 16 * 3).fill(9);
    const chunk = pixelsOf(items, 16 * 16 * 3, reuse);
    assert.equal(chunk.buffer, reuse.buffer, 'the chunk reuses the buffer given');
    assertSameFloats(chunk, Float32Array.from(expected), 'the chunk');
    // decodeMany without `deferred` gives the same floats as arrays of their own.
    const plain = [];
    for await (const o of decodeMany(files, COLOUR)) plain.push({ name: o.file, image: o.image! });
    assertSameFloats(pixelsOf(plain, 16 * 16 * 3), Float32Array.from(expected), 'the chunk of plain pictures');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('PNG\'s CRC-32 gives the standard check value and a table\'s CRC over random lengths', () => {
  assert.equal(crc32(Buffer.from('123456789', 'latin1')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  for (const n of [1, 13, 300, 4097]) {
    const bytes = noise(n, n);
    let c = 0xffffffff;
    for (const b of bytes) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    assert.equal(crc32(bytes), (c ^ 0xffffffff) >>> 0, `${n} bytes`);
  }
});

test('a 64×64 RGBA PNG with its data in many IDAT chunks decodes to libvips\' bytes', async () => {
  const rgba = noise(64 * 64 * 4, 7);
  const spec = { width: 64, height: 64, colorType: 6 as const, bitDepth: 8 as const, pixel: (x: number, y: number) => [...rgba.subarray(4 * (y * 64 + x), 4 * (y * 64 + x) + 4)] };
  const stream = zlib.deflateSync(rawImageData(spec));
  const parts = [];
  for (let at = 0; at < stream.length; at += 1000) parts.push(buildPngChunk('IDAT', stream.subarray(at, at + 1000)));
  const png = Buffer.concat([PNG_SIGNATURE, buildIhdr({ ...spec, interlaced: false }), ...parts, buildPngChunk('IEND')]);
  assert.ok(parts.length > 10);
  const fast = decodePlainPng(png);
  assert.ok(fast, 'taken by the JavaScript path');
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([fast.width, fast.height, fast.channels], [info.width, info.height, info.channels]);
  assert.ok(Buffer.from(fast.data).equals(data));
  assert.ok(Buffer.from(fast.data).equals(rgba));
});
