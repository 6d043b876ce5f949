import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { AloccError } from '../src/errors';
import { decodeImage } from '../src/data/decode';
import { parseIdxImages, parseIdxLabels } from '../src/data/mnist';
import { PNG_SIGNATURE, PngSpec, buildIhdr, buildPng, buildPngChunk, crc32, inflatedSize } from './helpers/png-builder';

const DIGIT_SIDE = 28;

/** The longest one decode of these small inputs may take; far above normal, far below a hang. */
const MAX_DECODE_MS = 2000;
// Generous: 1,500 sharp decodes take about 15 s on a quiet 2-core machine and timed out at 60 s with four jobs on it.
const FUZZ_TIMEOUT_MS = 180_000;

/** Runs `attempt`: it must return normally or throw an AloccError with a one-line message, and do so quickly. */
async function onlyAloccErrors<T>(attempt: () => T | Promise<T>, check: (result: T) => void = () => undefined): Promise<void> {
  const start = performance.now();
  let result: T | undefined;
  let threw = false;
  try {
    result = await attempt();
  } catch (err) {
    threw = true;
    if (!(err instanceof AloccError)) throw new Error(`threw a non-AloccError: ${String(err)}`);
    if (err.message.includes('\n')) throw new Error(`multi-line message: ${err.message}`);
  }
  const ms = performance.now() - start;
  assert.ok(ms < MAX_DECODE_MS, `took ${ms} ms`);
  if (!threw) check(result as T);
}

function assertDigit(digit: { pixels: Float32Array }): void {
  assert.equal(digit.pixels.length, DIGIT_SIDE * DIGIT_SIDE);
  for (const v of digit.pixels) assert.ok(v >= 0 && v <= 1, `pixel ${v}`);
}

const decode = (buf: Uint8Array, fit: 'none' | 'mnist' = 'none') => () =>
  decodeImage(Buffer.from(buf), 'fuzz.png', { size: DIGIT_SIDE, channels: 1, resize: 'contain', invert: 'auto', fit });
const fitMode = fc.constantFrom('none' as const, 'mnist' as const);

/** Seeds for mutation: small valid PNGs covering the decoder's branches. */
const seeds: Buffer[] = (
  [
    { width: 9, height: 7, colorType: 0, bitDepth: 1, pixel: (x, y) => [(x ^ y) & 1] },
    { width: 9, height: 7, colorType: 0, bitDepth: 16, interlaced: true, pixel: (x) => [x * 7000] },
    { width: 5, height: 6, colorType: 2, bitDepth: 8, pixel: (x, y) => [x * 50, y * 40, 9] },
    { width: 6, height: 5, colorType: 3, bitDepth: 4, pixel: (x) => [x % 3], palette: [[0, 0, 0], [255, 0, 0], [9, 9, 9]], transparency: Uint8Array.from([0, 128]) },
    { width: 4, height: 4, colorType: 4, bitDepth: 8, interlaced: true, pixel: (x, y) => [x * 60, y * 60] },
    { width: 30, height: 3, colorType: 6, bitDepth: 16, pixel: (x) => [x * 2000, 0, 65535, 40000] },
  ] as PngSpec[]
).map(buildPng);

/** Recomputes every chunk's CRC that lies within the buffer, so mutations get past the CRC check into decoding. */
function fixCrcs(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  let offset = 8;
  while (offset + 12 <= out.length) {
    const end = offset + 8 + out.readUInt32BE(offset);
    if (end + 4 > out.length) break;
    out.writeUInt32BE(crc32(out.subarray(offset + 4, end)), end);
    offset = end + 4;
  }
  return out;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(seed: Buffer, mutations: Mutation[]): Buffer {
  let buf = Buffer.from(seed);
  for (const m of mutations) {
    const at = m.at % (buf.length + 1);
    if (m.kind === 'flip' && at < buf.length) buf[at] = m.value;
    if (m.kind === 'cut') buf = buf.subarray(0, at);
    if (m.kind === 'insert') buf = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
  }
  return buf;
}

test('random bytes, with or without a PNG signature, only ever raise AloccError', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), (bytes) => onlyAloccErrors(decode(bytes))), { numRuns: 500 });
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), (bytes) => onlyAloccErrors(decode(Buffer.concat([PNG_SIGNATURE, bytes])))),
    { numRuns: 500 },
  );
});

test('mutated PNGs only ever raise AloccError, with CRCs broken or repaired', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const seedIndex = fc.integer({ min: 0, max: seeds.length - 1 });
  const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });
  await fc.assert(
    fc.asyncProperty(seedIndex, mutations, fc.boolean(), fitMode, (i, ms, repair, fit) => {
      const mutated = mutate(seeds[i], ms);
      return onlyAloccErrors(decode(repair ? fixCrcs(mutated) : mutated, fit), assertDigit);
    }),
    { numRuns: 1500 },
  );
});

test('any IHDR with arbitrary image data only ever raises AloccError', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const header = fc.record({
    width: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 40 }), weight: 8 }, fc.constant(0), fc.constant(2 ** 32 - 1)),
    height: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 40 }), weight: 8 }, fc.constant(0), fc.constant(2 ** 31)),
    bitDepth: fc.constantFrom(0, 1, 2, 4, 8, 16, 3),
    colorType: fc.constantFrom(0, 1, 2, 3, 4, 6, 7),
    interlaced: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(header, fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 48 }), fitMode, (ihdr, seedBytes, palette, fit) => {
      // Raw data of exactly the declared size (when small), so decoding gets as far as filters and palette lookups.
      let rawLength = 100;
      try {
        rawLength = Math.min(inflatedSize(ihdr), 100_000);
      } catch {
        /* invalid colour type: any length */
      }
      const raw = Buffer.alloc(Number.isFinite(rawLength) ? rawLength : 100);
      for (let k = 0; k < raw.length; k++) raw[k] = seedBytes.length ? seedBytes[k % seedBytes.length] : 0;
      const chunks = [PNG_SIGNATURE, buildIhdr(ihdr)];
      if (palette.length) chunks.push(buildPngChunk('PLTE', palette));
      chunks.push(buildPngChunk('IDAT', zlib.deflateSync(raw)), buildPngChunk('IEND'));
      return onlyAloccErrors(decode(Buffer.concat(chunks), fit), assertDigit);
    }),
    { numRuns: 1500 },
  );
});

test('random and mutated IDX bytes only ever raise AloccError', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const images = Buffer.alloc(16 + 2 * 784);
  [2051, 2, 28, 28].forEach((v, i) => images.writeUInt32BE(v, 4 * i));
  const labels = Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 9]);
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { maxLength: 4 }), fc.uint8Array({ maxLength: 64 }), async (ms, random) => {
      await onlyAloccErrors(() => parseIdxImages(mutate(images, ms), 'imgs'));
      await onlyAloccErrors(() => parseIdxLabels(mutate(labels, ms), 'lbls'));
      await onlyAloccErrors(() => parseIdxImages(Buffer.from(random), 'imgs'));
      await onlyAloccErrors(() => parseIdxLabels(Buffer.from(random), 'lbls'));
    }),
    { numRuns: 1000 },
  );
});
