import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { AloccError } from '../src/errors';
import { MAX_IMAGE_PIXELS, Preprocessing, decodeImage, readImage } from '../src/data/decode';
import { PNG_SIGNATURE, buildIhdr, buildPngChunk, buildPng, pngWithStream, zerosZlibStream } from './helpers/png-builder';

const DIGIT: Preprocessing = { size: 28, channels: 1, resize: 'contain', invert: 'auto', fit: 'auto' };
const decodePngBufferAsDigit = (buf: Buffer, name: string) => decodeImage(buf, name, DIGIT);
const readPngAsDigit = (file: string) => readImage(file, DIGIT);
const SUPPORTED = /alocc reads PNG, JPEG, WebP, GIF, TIFF, AVIF and HEIF/;

const validPng = buildPng({ width: 28, height: 28, colorType: 0, bitDepth: 8, pixel: (x, y) => [(x * y) % 256] });

/** Asserts the failure is an AloccError with a single-line message naming the file and matching `why`. */
async function assertRefused(attempt: () => unknown, name: string, why: RegExp): Promise<void> {
  await assert.rejects(
    async () => attempt(),
    (err: unknown) => {
      assert.ok(err instanceof AloccError, `expected AloccError, got ${String(err)}`);
      assert.ok(err.message.startsWith(`${name}: `), err.message);
      assert.ok(!err.message.includes('\n'), err.message);
      assert.match(err.message, why);
      return true;
    },
  );
}

function withTempDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-hostile-'));
    try {
      await body(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('files that are not pictures at all are refused by name', withTempDir(async (dir) => {
  const missing = path.join(dir, 'missing.png');
  await assertRefused(() => readPngAsDigit(missing), missing, /no such file/);
  const directory = path.join(dir, 'x.png');
  fs.mkdirSync(directory);
  await assertRefused(() => readPngAsDigit(directory), directory, /is a directory, not an image file/);
  const empty = path.join(dir, 'empty.png');
  fs.writeFileSync(empty, '');
  await assertRefused(() => readPngAsDigit(empty), empty, /empty \(0 bytes\)/);
  const jpegStub = path.join(dir, 'photo.png');
  fs.writeFileSync(jpegStub, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]));
  await assertRefused(() => readPngAsDigit(jpegStub), jpegStub, /truncated JPEG \(no end-of-image marker\)/);
  const bmp = path.join(dir, 'scan.png');
  fs.writeFileSync(bmp, Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]));
  await assertRefused(() => readPngAsDigit(bmp), bmp, /not a supported image \(looks like a BMP\)/);
  const svg = path.join(dir, 'drawing.png');
  fs.writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"/>');
  await assertRefused(() => readPngAsDigit(svg), svg, /looks like an SVG/);
  await assertRefused(() => readPngAsDigit(svg), svg, SUPPORTED);
  const loop = path.join(dir, 'loop.png');
  fs.symlinkSync(loop, loop);
  await assertRefused(() => readPngAsDigit(loop), loop, /symbolic link loop/);
  const dangling = path.join(dir, 'gone.png');
  fs.symlinkSync(path.join(dir, 'nowhere.png'), dangling);
  await assertRefused(() => readPngAsDigit(dangling), dangling, /broken symbolic link/);
}));

test('damaged PNG bytes are refused with the reason', async () => {
  await assertRefused(() => decodePngBufferAsDigit(Buffer.from('hello, world'), 'text.png'), 'text.png', SUPPORTED);
  await assertRefused(() => decodePngBufferAsDigit(Buffer.from('GIF89a......'), 'a.png'), 'a.png', /truncated GIF/);
  await assertRefused(() => decodePngBufferAsDigit(PNG_SIGNATURE.subarray(0, 5), 'sig.png'), 'sig.png', /truncated PNG signature/);
  for (const cut of [20, 40, validPng.length - 30, validPng.length - 13]) {
    await assertRefused(() => decodePngBufferAsDigit(validPng.subarray(0, cut), 'cut.png'), 'cut.png', /truncated PNG \(the file ends before its IEND chunk\)/);
  }
  // Cut inside the final IEND chunk, the whole image is there: it decodes, as viewers show it.
  assert.equal((await decodePngBufferAsDigit(validPng.subarray(0, validPng.length - 1), 'iend.png')).pixels.length, 784);
  const badHeaderCrc = Buffer.from(validPng);
  badHeaderCrc[17] ^= 1; // width
  await assertRefused(() => decodePngBufferAsDigit(badHeaderCrc, 'ihdr.png'), 'ihdr.png', /corrupt PNG \(IHDR: CRC error\)/);
  const badDataCrc = Buffer.from(validPng);
  badDataCrc[45] ^= 0x40; // inside IDAT
  await assertRefused(() => decodePngBufferAsDigit(badDataCrc, 'idat.png'), 'idat.png', /corrupt PNG/);
  const textMode = Buffer.from(validPng);
  textMode[4] = 0x0a; // CRLF became LF
  await assertRefused(() => decodePngBufferAsDigit(textMode, 'ftp.png'), 'ftp.png', /text-mode transfer/);
  const zeroWidth = pngWithStream(0, 10, zlib.deflateSync(Buffer.alloc(10)));
  await assertRefused(() => decodePngBufferAsDigit(zeroWidth, 'zero.png'), 'zero.png', /corrupt PNG \(unreadable header\)/);
  const garbageStream = pngWithStream(28, 28, Buffer.from('definitely not zlib data'));
  await assertRefused(() => decodePngBufferAsDigit(garbageStream, 'zlib.png'), 'zlib.png', /corrupt PNG \(unreadable image data\)/);
  const shortData = pngWithStream(28, 28, zlib.deflateSync(Buffer.alloc(28 * 29 - 1)));
  await assertRefused(() => decodePngBufferAsDigit(shortData, 'short.png'), 'short.png', /corrupt PNG/);
  const noData = Buffer.concat([PNG_SIGNATURE, buildIhdr({ width: 2, height: 2, bitDepth: 8, colorType: 0, interlaced: false }), buildPngChunk('IEND')]);
  await assertRefused(() => decodePngBufferAsDigit(noData, 'nodata.png'), 'nodata.png', /corrupt PNG/);
});

test('absurd declared sizes are refused from the header alone', async () => {
  const huge = pngWithStream(2 ** 31, 2 ** 31, zlib.deflateSync(Buffer.alloc(16)));
  await assertRefused(() => decodePngBufferAsDigit(huge, 'huge.png'), 'huge.png', /corrupt PNG \(unreadable header\)/);
  const justOver = pngWithStream(MAX_IMAGE_PIXELS + 1, 1, zlib.deflateSync(Buffer.alloc(16)));
  await assertRefused(() => decodePngBufferAsDigit(justOver, 'over.png'), 'over.png', /image too large \(50000001x1 = 50.000001 megapixels; the limit is 50\)/);
  const squareOver = pngWithStream(10_000, 5_001, zlib.deflateSync(Buffer.alloc(16)));
  await assertRefused(() => decodePngBufferAsDigit(squareOver, 'over.png'), 'over.png', /image too large \(10000x5001 = 50.01 megapixels/);
});

test('a tiny PNG declaring millions of pixels its data cannot hold is refused at once, not after seconds of decoding', async () => {
  // 5,505,033 × 7 pixels of 16-bit grey (38.5 megapixels, under the limit) from 40 bytes of data: deflate cannot
  // expand 40 bytes to the 77 MB the rows need (its largest ratio is 1032:1). libvips took 2.4 s to refuse this.
  const declared = pngWithStream(84 * 65536 + 9, 7, zlib.deflateSync(Buffer.alloc(64)));
  declared[24] = 16; // bit depth 16
  declared.writeUInt32BE(zlib.crc32(declared.subarray(12, 29)) >>> 0, 29);
  const started = performance.now();
  await assertRefused(() => decodeImage(declared, 'short.png', DIGIT), 'short.png', /corrupt PNG \(its \d+ bytes of image data cannot hold a 5505033×7 picture\)/);
  assert.ok(performance.now() - started < 200, `took ${performance.now() - started} ms`);
  // The same header with enough data for its rows is decoded, not refused by this rule.
  const fits = pngWithStream(300, 7, zlib.deflateSync(Buffer.alloc(7 * 301)));
  assert.equal((await decodeImage(fits, 'fits.png', DIGIT)).pixels.length, 28 * 28);
});

/** Decodes `file` in a fresh process; returns what happened, how long it took and that process's peak RSS. */
function decodeInChildProcess(file: string): { ok: boolean; message: string; ms: number; peakRssMb: number } {
  const helper = path.join(__dirname, 'helpers', 'measure-decode.ts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', helper, file], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

test('a real 30,000×30,000 decompression bomb under 1 MB is refused fast, in little memory', withTempDir(async (dir) => {
  const rawBytes = 30_000 * (30_000 + 1);
  const stream = zerosZlibStream(rawBytes);
  // It is real: the stream inflates to exactly the image data its header promises.
  let inflated = 0;
  await new Promise<void>((resolve, reject) => {
    const inflate = zlib.createInflate({ chunkSize: 8 << 20 });
    inflate.on('data', (chunk: Buffer) => (inflated += chunk.length)).on('end', resolve).on('error', reject);
    inflate.end(stream);
  });
  assert.equal(inflated, rawBytes);
  const bomb = pngWithStream(30_000, 30_000, stream);
  assert.ok(bomb.length < 1_000_000, `bomb is ${bomb.length} bytes`);
  const file = path.join(dir, 'bomb.png');
  fs.writeFileSync(file, bomb);
  const result = decodeInChildProcess(file);
  assert.equal(result.ok, false);
  assert.match(result.message, /^AloccError: .*bomb\.png: image too large \(30000x30000 = 900 megapixels; the limit is 50\)/);
  assert.ok(result.ms < 1000, `took ${result.ms} ms`);
  assert.ok(result.peakRssMb < 300, `peak RSS ${result.peakRssMb} MB`);
}));

test('a small declared size with a huge data stream is bounded, interlaced or not', withTempDir(async (dir) => {
  // libpng inflates only the rows the header declares and stops: the excess is never inflated, so the picture
  // decodes (all black) in bounded time and memory. (The old decoder inflated it once to refuse it.)
  const stream = zerosZlibStream(600_000_000);
  for (const interlaced of [true, false]) {
    const file = path.join(dir, `${interlaced ? 'interlaced' : 'plain'}.png`);
    fs.writeFileSync(file, pngWithStream(1000, 1000, stream, interlaced));
    const result = decodeInChildProcess(file);
    assert.ok(result.ok, result.message);
    assert.ok(result.ms < 2000, `${file}: took ${result.ms} ms`);
    assert.ok(result.peakRssMb < 300, `${file}: peak RSS ${result.peakRssMb} MB`);
  }
}));
