// The JavaScript PNG path (src/data/plain-png.ts) against libvips (sharp) on the same files: equal bytes for every
// PNG it takes, and every PNG whose pixels libvips would change (colour management, transparency chunks, EXIF,
// 16-bit, interlacing) or whose bytes are damaged left to libvips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { decodePlainPng, PLAIN_PNG_MAX_PIXELS } from '../src/data/plain-png';

function noise(count: number, seed: number): Buffer {
  let s = seed;
  return Buffer.from(Array.from({ length: count }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24)));
}

/** A PNG of colour type `colorType` (pngjs: 0, 2, 4, 6) from random RGBA pixels. */
function pngjsFile(colorType: 0 | 2 | 4 | 6, width: number, height: number, seed = 1, filterType = -1): Buffer {
  const png = new PNG({ width, height, colorType, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
  noise(width * height * 4, seed).copy(png.data);
  return PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true, bitDepth: 8, filterType });
}

/** A grey PNG around `stream` as its only IDAT chunk. */
function greyPngAround(width: number, height: number, stream: Buffer): Buffer {
  const head = pngjsFile(0, width, height).subarray(0, 33);
  const end = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return withChunk(Buffer.concat([head, end]), 'IDAT', stream);
}

async function vips(buf: Buffer): Promise<{ data: Uint8Array; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(buf, { failOn: 'warning' }).rotate().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

async function assertSameAsVips(buf: Buffer, what: string): Promise<void> {
  const fast = decodePlainPng(buf);
  assert.ok(fast, `${what}: not taken by the JavaScript path`);
  const ref = await vips(buf);
  assert.deepEqual({ ...fast, data: Buffer.from(fast.data) }, { ...ref, data: Buffer.from(ref.data) }, what);
}

/** `buf` with a chunk of `type` and `data` inserted after IHDR, its CRC correct. */
function withChunk(buf: Buffer, type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([buf.subarray(0, 33), length, body, crc, buf.subarray(33)]);
}

test('8-bit grey, RGB, grey + alpha and RGBA PNGs decode to libvips\' exact bytes and channels', async () => {
  for (const colorType of [0, 2, 4, 6] as const) {
    for (const [w, h] of [[28, 28], [1, 1], [64, 17], [256, 256]]) await assertSameAsVips(pngjsFile(colorType, w, h, w + h), `type ${colorType} ${w}×${h}`);
    // Each row filter on its own: None, Sub, Up, Average, Paeth.
    for (const filter of [0, 1, 2, 3, 4]) await assertSameAsVips(pngjsFile(colorType, 13, 9, filter + 3, filter), `type ${colorType} filter ${filter}`);
  }
});

test('palette PNGs and harmless text chunks decode to libvips\' bytes', async () => {
  const palette = await sharp(noise(30 * 20 * 3, 7), { raw: { width: 30, height: 20, channels: 3 } }).png({ palette: true, colours: 256 }).toBuffer();
  assert.deepEqual([palette[24], palette[25]], [8, 3], '8-bit palette');
  await assertSameAsVips(palette, 'palette');
  // Alpha in the palette (tRNS), as emoji sets ship it: some entries transparent, some half, the rest opaque.
  const rgba = noise(30 * 20 * 4, 9).map((v, i) => (i % 4 === 3 ? [0, 128, 255][v % 3] : v));
  const translucent = await sharp(rgba, { raw: { width: 30, height: 20, channels: 4 } }).png({ palette: true, colours: 64 }).toBuffer();
  assert.ok(translucent.includes(Buffer.from('tRNS', 'latin1')), 'the palette carries alpha');
  await assertSameAsVips(translucent, 'palette with alpha');
  await assertSameAsVips(withChunk(pngjsFile(0, 28, 28), 'tEXt', Buffer.from('Comment\0hello', 'latin1')), 'tEXt');
});

test('PNGs whose pixels libvips would change, or that are damaged, large or unusual, are left to libvips', async () => {
  const grey = pngjsFile(0, 28, 28);
  await assertSameAsVips(greyPngAround(28, 28, zlib.deflateSync(Buffer.alloc(28 * 29))), 'the hand-made PNG the damaged ones start from');
  const leftToVips: [string, Buffer][] = [
    ['gamma chunk', withChunk(grey, 'gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))],
    ['sRGB chunk', withChunk(grey, 'sRGB', Buffer.from([0]))],
    ['transparency chunk', withChunk(pngjsFile(2, 28, 28), 'tRNS', Buffer.from([0, 0, 0, 0, 0, 0]))],
    ['EXIF chunk', withChunk(grey, 'eXIf', Buffer.from('MM\0*\0\0\0\x08\0\0', 'latin1'))],
    ['an unknown chunk', withChunk(grey, 'abCd', Buffer.from([1]))],
    ['16-bit', PNG.sync.write(Object.assign(new PNG({ width: 4, height: 4 }), { data: noise(64, 3) }), { colorType: 6, bitDepth: 16 })],
    ['bytes after IEND', Buffer.concat([grey, Buffer.from([0])])],
    ['a bad CRC', Buffer.from(grey).fill(0, grey.length - 4)],
    ['truncated', grey.subarray(0, grey.length - 20)],
    ['a data stream one byte short', greyPngAround(28, 28, zlib.deflateSync(Buffer.alloc(28 * 29 - 1)))],
    ['a data stream one byte long', greyPngAround(28, 28, zlib.deflateSync(Buffer.alloc(28 * 29 + 1)))],
    ['bytes after the data stream', greyPngAround(28, 28, Buffer.concat([zlib.deflateSync(Buffer.alloc(28 * 29)), Buffer.from([1])]))],
    ['an unknown row filter', greyPngAround(2, 1, zlib.deflateSync(Buffer.from([5, 1, 2])))],
    ['too many pixels', pngjsFile(0, PLAIN_PNG_MAX_PIXELS / 128 + 1, 128)],
  ];
  const interlaced = await sharp(noise(28 * 28 * 3, 5), { raw: { width: 28, height: 28, channels: 3 } }).png({ progressive: true }).toBuffer();
  assert.equal(interlaced[28], 1, 'interlaced');
  leftToVips.push(['interlaced', interlaced]);
  for (const [what, buf] of leftToVips) assert.equal(decodePlainPng(buf), undefined, what);
});
