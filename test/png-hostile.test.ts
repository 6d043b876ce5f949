import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { AloccError } from '../src/errors';
import { MAX_PNG_PIXELS, decodePngBufferAsDigit, readPngAsDigit } from '../src/data/png';
import { PNG_SIGNATURE, buildIhdr, buildPngChunk } from '../src/data/png-format';
import { buildPng, pngWithStream, zerosZlibStream } from './helpers/png-builder';

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

test('files that are not PNG files at all are refused by name', withTempDir(async (dir) => {
  const missing = path.join(dir, 'missing.png');
  await assertRefused(() => readPngAsDigit(missing), missing, /no such file/);
  const directory = path.join(dir, 'x.png');
  fs.mkdirSync(directory);
  await assertRefused(() => readPngAsDigit(directory), directory, /is a directory/);
  const empty = path.join(dir, 'empty.png');
  fs.writeFileSync(empty, '');
  await assertRefused(() => readPngAsDigit(empty), empty, /empty \(0 bytes\)/);
  const jpeg = path.join(dir, 'photo.png');
  fs.writeFileSync(jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]));
  await assertRefused(() => readPngAsDigit(jpeg), jpeg, /not a PNG \(looks like a JPEG\)/);
}));

test('damaged PNG bytes are refused with the reason', async () => {
  await assertRefused(() => decodePngBufferAsDigit(Buffer.from('hello, world'), 'text.png'), 'text.png', /wrong signature/);
  await assertRefused(() => decodePngBufferAsDigit(Buffer.from('GIF89a......'), 'a.png'), 'a.png', /looks like a GIF/);
  await assertRefused(() => decodePngBufferAsDigit(PNG_SIGNATURE.subarray(0, 5), 'sig.png'), 'sig.png', /truncated/);
  for (const cut of [20, 40, validPng.length - 30, validPng.length - 1]) {
    await assertRefused(() => decodePngBufferAsDigit(validPng.subarray(0, cut), 'cut.png'), 'cut.png', /truncated/);
  }
  const badHeaderCrc = Buffer.from(validPng);
  badHeaderCrc[17] ^= 1; // width
  await assertRefused(() => decodePngBufferAsDigit(badHeaderCrc, 'ihdr.png'), 'ihdr.png', /bad CRC in the IHDR chunk/);
  const badDataCrc = Buffer.from(validPng);
  badDataCrc[45] ^= 0x40; // inside IDAT
  await assertRefused(() => decodePngBufferAsDigit(badDataCrc, 'idat.png'), 'idat.png', /bad CRC in the IDAT chunk/);
  const textMode = Buffer.from(validPng);
  textMode[4] = 0x0a; // CRLF became LF
  await assertRefused(() => decodePngBufferAsDigit(textMode, 'ftp.png'), 'ftp.png', /text-mode transfer/);
  const zeroWidth = pngWithStream(0, 10, zlib.deflateSync(Buffer.alloc(10)));
  await assertRefused(() => decodePngBufferAsDigit(zeroWidth, 'zero.png'), 'zero.png', /invalid size 0x10/);
  const garbageStream = pngWithStream(28, 28, Buffer.from('definitely not zlib data'));
  await assertRefused(() => decodePngBufferAsDigit(garbageStream, 'zlib.png'), 'zlib.png', /corrupt PNG/);
  const shortData = pngWithStream(28, 28, zlib.deflateSync(Buffer.alloc(28 * 29 - 1)));
  await assertRefused(() => decodePngBufferAsDigit(shortData, 'short.png'), 'short.png', /holds 811 of the 812 bytes/);
  const noData = Buffer.concat([PNG_SIGNATURE, buildIhdr({ width: 2, height: 2, bitDepth: 8, colorType: 0, interlaced: false }), buildPngChunk('IEND')]);
  await assertRefused(() => decodePngBufferAsDigit(noData, 'nodata.png'), 'nodata.png', /no image data/);
});

test('absurd declared sizes are refused from the header alone', async () => {
  const huge = pngWithStream(2 ** 31, 2 ** 31, zlib.deflateSync(Buffer.alloc(16)));
  await assertRefused(() => decodePngBufferAsDigit(huge, 'huge.png'), 'huge.png', /invalid size 2147483648x2147483648/);
  const maxSpec = pngWithStream(2 ** 31 - 1, 2 ** 31 - 1, zlib.deflateSync(Buffer.alloc(16)));
  await assertRefused(() => decodePngBufferAsDigit(maxSpec, 'max.png'), 'max.png', /image too large .* the limit is 50/);
  const justOver = pngWithStream(MAX_PNG_PIXELS + 1, 1, zlib.deflateSync(Buffer.alloc(16)));
  await assertRefused(() => decodePngBufferAsDigit(justOver, 'over.png'), 'over.png', /image too large/);
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
  assert.match(result.message, /^AloccError: .*bomb\.png: image too large \(30000x30000 = 900 megapixels/);
  assert.ok(result.ms < 1000, `took ${result.ms} ms`);
  assert.ok(result.peakRssMb < 300, `peak RSS ${result.peakRssMb} MB`);
}));

test('a small declared size with a huge data stream is bounded, interlaced or not', withTempDir(async (dir) => {
  const stream = zerosZlibStream(600_000_000);
  const interlaced = path.join(dir, 'interlaced.png');
  fs.writeFileSync(interlaced, pngWithStream(1000, 1000, stream, true));
  const interlacedResult = decodeInChildProcess(interlaced);
  assert.match(interlacedResult.message, /inflates past the \d+ bytes its size allows/);
  assert.ok(interlacedResult.peakRssMb < 300, `interlaced: peak RSS ${interlacedResult.peakRssMb} MB`);
  const plain = path.join(dir, 'plain.png');
  fs.writeFileSync(plain, pngWithStream(1000, 1000, stream, false));
  const plainResult = decodeInChildProcess(plain);
  assert.match(plainResult.message, /inflates past the 1001000 bytes its size allows/);
  assert.ok(plainResult.ms < 1000, `plain: took ${plainResult.ms} ms`);
  assert.ok(plainResult.peakRssMb < 300, `plain: peak RSS ${plainResult.peakRssMb} MB`);
}));
