import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { AloccError } from '../src/errors';
import { Preprocessing, decodeImage, readImage } from '../src/data/decode';
import { encodeGreyPng } from './helpers/grey-png';
import { PngSpec, buildPng } from './helpers/png-builder';

const SIDE = 28;
/** How a drawing of a digit is read for an MNIST run (score's defaults). */
const DIGIT: Preprocessing = { size: SIDE, channels: 1, resize: 'contain', invert: 'auto', fit: 'none' };

function decodeDigit(buf: Buffer, name: string, opts: { invert?: boolean; fit?: Preprocessing['fit'] } = {}) {
  return decodeImage(buf, name, { ...DIGIT, fit: opts.fit ?? 'none' }, { invert: opts.invert });
}

/** A 28×28 image whose square rows/cols 8..19 is ink: the expected digit is exactly 1 there, 0 elsewhere. */
const inSquare = (x: number, y: number) => x >= 8 && x < 20 && y >= 8 && y < 20;

function assertSquareDigit(pixels: Float32Array, label: string): void {
  assert.equal(pixels.length, SIDE * SIDE, label);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const want = inSquare(x, y) ? 1 : 0;
      assert.ok(Math.abs(pixels[y * SIDE + x] - want) < 1e-6, `${label}: pixel (${x},${y}) = ${pixels[y * SIDE + x]}, want ${want}`);
    }
  }
}

/** White-on-black square in every colour type × bit depth × interlacing the PNG spec allows. */
function squareSpecs(): [string, PngSpec][] {
  const specs: [string, PngSpec][] = [];
  const add = (colorType: PngSpec['colorType'], depths: PngSpec['bitDepth'][], pixel: (ink: boolean, max: number) => number[], extra: Partial<PngSpec> = {}) => {
    for (const bitDepth of depths) {
      for (const interlaced of [false, true]) {
        const max = 2 ** bitDepth - 1;
        const spec = { width: SIDE, height: SIDE, colorType, bitDepth, interlaced, pixel: (x: number, y: number) => pixel(inSquare(x, y), max), ...extra };
        specs.push([`colour type ${colorType}, ${bitDepth}-bit${interlaced ? ', interlaced' : ''}`, spec]);
      }
    }
  };
  add(0, [1, 2, 4, 8, 16], (ink, max) => [ink ? max : 0]);
  add(2, [8, 16], (ink, max) => (ink ? [max, max, max] : [0, 0, 0]));
  add(3, [1, 2, 4, 8], (ink, max) => [ink ? max : 0], {});
  add(4, [8, 16], (ink, max) => [ink ? max : 0, max]);
  add(6, [8, 16], (ink, max) => (ink ? [max, max, max, max] : [0, 0, 0, max]));
  // Palette: index 0 black, the highest index white, anything between a distracting colour.
  for (const [, spec] of specs) {
    const entries = 2 ** spec.bitDepth;
    if (spec.colorType === 3) spec.palette = Array.from({ length: entries }, (_, i) => (i === 0 ? [0, 0, 0] : i === entries - 1 ? [255, 255, 255] : [200, 10, 10]));
  }
  return specs;
}

test('decodes every colour type, bit depth and interlacing to the same digit', async () => {
  const specs = squareSpecs();
  assert.equal(specs.length, 30);
  for (const [label, spec] of specs) {
    const buf = buildPng(spec);
    // The hand-built file is a valid PNG by an independent decoder's account.
    const reference = PNG.sync.read(buf);
    assert.equal(reference.data[(10 * SIDE + 10) * 4], 255, `${label}: reference decoder sees ink`);
    const digit = await decodeDigit(buf, `${label}.png`);
    assert.equal(digit.inverted, false, label);
    assert.deepEqual([digit.width, digit.height], [SIDE, SIDE], label);
    assertSquareDigit(digit.pixels, label);
  }
});

test('interlaced images of awkward sizes (empty Adam7 passes) decode', async () => {
  for (const [width, height] of [[1, 1], [3, 5], [9, 2]]) {
    const buf = buildPng({ width, height, colorType: 0, bitDepth: 8, interlaced: true, pixel: (x, y) => [(x + y) % 2 ? 255 : 0] });
    const digit = await decodeDigit(buf, 'small.png', { invert: false });
    // The same picture stored without interlacing is the reference: Adam7 must change no pixel.
    const plain = buildPng({ width, height, colorType: 0, bitDepth: 8, interlaced: false, pixel: (x, y) => [(x + y) % 2 ? 255 : 0] });
    assert.deepEqual(Array.from(digit.pixels), Array.from((await decodeDigit(plain, 'plain.png', { invert: false })).pixels), `${width}×${height}`);
    assert.equal(digit.pixels.length, SIDE * SIDE);
    // A checkerboard with ink in it is not all one grey (1×1 is a single black pixel).
    const distinct = new Set(Array.from(digit.pixels, (v) => v.toFixed(3))).size;
    assert.ok(width * height === 1 ? distinct === 1 && digit.pixels[0] === 0 : distinct > 1, `${width}×${height}: ${distinct} levels`);
  }
});

test('black pen on white paper is detected and inverted; invert can be forced either way', async () => {
  const spec: PngSpec = { width: SIDE, height: SIDE, colorType: 2, bitDepth: 8, pixel: (x, y) => (inSquare(x, y) ? [0, 0, 0] : [255, 255, 255]) };
  const auto = await decodeDigit(buildPng(spec), 'pen.png');
  assert.equal(auto.inverted, true);
  assertSquareDigit(auto.pixels, 'auto');
  const kept = await decodeDigit(buildPng(spec), 'pen.png', { invert: false });
  assert.equal(kept.inverted, false);
  assert.equal(kept.pixels[0], 1);
  assert.equal(kept.pixels[10 * SIDE + 10], 0);
  const whiteOnBlack = buildPng({ ...spec, pixel: (x, y) => (inSquare(x, y) ? [255, 255, 255] : [0, 0, 0]) });
  const forced = await decodeDigit(whiteOnBlack, 'forced.png', { invert: true });
  assert.equal(forced.inverted, true);
  assert.equal(forced.pixels[0], 1);
});

test('transparent pixels are background: dark or light strokes on transparency both give a light digit', async () => {
  const blackInk: PngSpec = { width: SIDE, height: SIDE, colorType: 6, bitDepth: 8, pixel: (x, y) => (inSquare(x, y) ? [0, 0, 0, 255] : [0, 0, 0, 0]) };
  const fromBlack = await decodeDigit(buildPng(blackInk), 'black-ink.png');
  assert.equal(fromBlack.inverted, true);
  assertSquareDigit(fromBlack.pixels, 'black ink on transparent');
  const whiteInk: PngSpec = { ...blackInk, colorType: 4, pixel: (x, y) => (inSquare(x, y) ? [255, 255] : [0, 0]) };
  const fromWhite = await decodeDigit(buildPng(whiteInk), 'white-ink.png');
  assert.equal(fromWhite.inverted, false);
  assertSquareDigit(fromWhite.pixels, 'white ink on transparent');
  // Palette with a transparent entry (tRNS), dark ink: as above.
  const paletted: PngSpec = {
    width: SIDE, height: SIDE, colorType: 3, bitDepth: 2, pixel: (x, y) => [inSquare(x, y) ? 1 : 0],
    palette: [[255, 255, 255], [20, 20, 20]], transparency: Uint8Array.from([0, 255]),
  };
  const fromPalette = await decodeDigit(buildPng(paletted), 'palette.png');
  assert.equal(fromPalette.inverted, true);
  for (let p = 0; p < SIDE * SIDE; p++) {
    const want = inSquare(p % SIDE, Math.floor(p / SIDE)) ? 1 - 20 / 255 : 0;
    assert.ok(Math.abs(fromPalette.pixels[p] - want) < 1e-3, `palette pixel ${p}`);
  }
});

/**
 * Checks a downscaled image against the exact area average `want` (the reference, computed by hand). libvips'
 * triangle filter is a little wider than a box, so it matches the area average exactly away from edges, spreads an
 * edge over its neighbouring pixel by at most EDGE_SPREAD per axis, and keeps the total ink.
 */
const EDGE_SPREAD = 0.13;
function assertNearAreaAverage(pixels: Float32Array, want: (x: number, y: number) => number, label: string): void {
  let got = 0;
  let expected = 0;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const w = want(x, y);
      const v = pixels[y * SIDE + x];
      got += v;
      expected += w;
      const differs = (dx: number, dy: number) => want(x + dx, y + dy) !== w;
      const edges = Number(differs(-1, 0) || differs(1, 0)) + Number(differs(0, -1) || differs(0, 1));
      const corner = [[-1, -1], [1, 1], [-1, 1], [1, -1]].some(([dx, dy]) => differs(dx, dy));
      // Exact where nothing differs nearby; an edge spreads along each axis it crosses (a corner: both).
      const tolerance = edges === 0 && !corner ? 0.5 / 255 + 1e-6 : EDGE_SPREAD * Math.max(1, edges);
      assert.ok(Math.abs(v - w) <= tolerance, `${label}: (${x},${y}) = ${v}, area average ${w}`);
    }
  }
  assert.ok(Math.abs(got - expected) < 0.005 * expected, `${label}: total ink ${got}, area average ${expected}`);
}

test('a 280×280 drawing is area-averaged down to 28×28, within the filter edge spread', async () => {
  // Ink over x in [85, 195), y in [80, 200): output columns 8 and 19 are half covered.
  const spec: PngSpec = { width: 280, height: 280, colorType: 0, bitDepth: 8, pixel: (x, y) => [x >= 85 && x < 195 && y >= 80 && y < 200 ? 255 : 0] };
  const digit = await decodeDigit(buildPng(spec), 'big.png');
  assert.deepEqual([digit.width, digit.height], [280, 280]);
  const want = (x: number, y: number) => (y < 8 || y >= 20 || x < 8 || x >= 20 ? 0 : x === 8 || x === 19 ? 0.5 : 1);
  assertNearAreaAverage(digit.pixels, want, 'big');
  // A half-covered column is exactly half, as a box would give (the filter is symmetric about it).
  for (let y = 9; y < 19; y++) assert.ok(Math.abs(digit.pixels[y * SIDE + 8] - 0.5) <= 0.5 / 255 + 1e-6, `(8,${y})`);
});

test('a non-square image is padded to a square with its background, keeping its aspect ratio', async () => {
  // 56×28, ink at x in [20, 36), y in [6, 22): padded to 56×56 (image at rows 14..41), halved.
  const wide: PngSpec = { width: 56, height: 28, colorType: 0, bitDepth: 8, pixel: (x, y) => [x >= 20 && x < 36 && y >= 6 && y < 22 ? 255 : 0] };
  const digit = await decodeDigit(buildPng(wide), 'wide.png');
  assert.deepEqual([digit.width, digit.height], [56, 28]);
  assertNearAreaAverage(digit.pixels, (x, y) => (x >= 10 && x < 18 && y >= 10 && y < 18 ? 1 : 0), 'wide');
  // Dark pen on a tall white page: the padding must be white too, so after inversion there are no bright bars.
  const tall: PngSpec = { width: 28, height: 84, colorType: 0, bitDepth: 8, pixel: (x, y) => [x >= 10 && x < 18 && y >= 30 && y < 54 ? 0 : 255] };
  const tallDigit = await decodeDigit(buildPng(tall), 'tall.png');
  assert.equal(tallDigit.inverted, true);
  assert.ok(tallDigit.pixels[0] < 1e-6 && tallDigit.pixels[14 * SIDE + 0] < 1e-6);
  assert.ok(tallDigit.pixels[14 * SIDE + 14] > 0.6);
});

test('a tiny image is enlarged smoothly (bilinear), its dot kept whole near the centre', async () => {
  const tiny: PngSpec = { width: 7, height: 7, colorType: 0, bitDepth: 8, pixel: (x, y) => [x === 3 && y === 3 ? 255 : 0] };
  const { pixels } = await decodeDigit(buildPng(tiny), 'tiny.png');
  // Bilinear enlargement ×4 of one lit pixel is a tent: its values sum to 16 (the pixel's new area), and it falls
  // off by 1/4 a pixel. libvips puts the peak at (14, 14): its enlargement is half an output pixel (1/8 of a source
  // pixel) off the exact centre 13.5, which a point-symmetry check would catch; here it is measured instead.
  let sum = 0;
  let peak = 0;
  for (let p = 0; p < pixels.length; p++) {
    sum += pixels[p];
    if (pixels[p] > pixels[peak]) peak = p;
  }
  assert.ok(Math.abs(sum - 16) < 0.1, `total ${sum}`);
  assert.deepEqual([peak % SIDE, Math.floor(peak / SIDE)], [14, 14]);
  assert.ok(Math.abs(pixels[peak] - 1) < 1e-6);
  for (const [dx, dy, want] of [[1, 0, 0.75], [0, -2, 0.5], [-3, 0, 0.25], [1, 1, 0.5625], [4, 0, 0]] as const) {
    assert.ok(Math.abs(pixels[peak + dy * SIDE + dx] - want) <= 1 / 255, `(${dx},${dy}) from the peak: ${pixels[peak + dy * SIDE + dx]}, want ${want}`);
  }
  assert.equal(pixels[0], 0);
});

test('encodeGreyPng round-trips through the reader, floats and bytes alike', async () => {
  const pixels = new Float32Array(SIDE * SIDE).map((_, i) => (i % 29) / 28);
  const buf = encodeGreyPng(pixels, SIDE, SIDE);
  const back = await decodeDigit(buf, 'round.png', { invert: false });
  for (let i = 0; i < pixels.length; i++) assert.ok(Math.abs(back.pixels[i] - pixels[i]) <= 0.5 / 255 + 1e-6);
  const bytes = encodeGreyPng(Uint8Array.from({ length: 6 }, (_, i) => i * 50), 3, 2);
  const decoded = PNG.sync.read(bytes);
  assert.deepEqual([decoded.width, decoded.height, decoded.data[4 * 5]], [3, 2, 250]);
  assert.throws(() => encodeGreyPng(new Float32Array(5), 2, 2), AloccError);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-png-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.png'), buf);
    const fromFile = await readImage(path.join(dir, 'a.png'), DIGIT, { invert: false });
    assert.deepEqual(fromFile.pixels, back.pixels);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes after IEND are ignored, as other viewers do', async () => {
  const spec: PngSpec = { width: SIDE, height: SIDE, colorType: 0, bitDepth: 8, pixel: (x, y) => [inSquare(x, y) ? 255 : 0] };
  const digit = await decodeDigit(Buffer.concat([buildPng(spec), Buffer.from('trailing junk')]), 'junk.png');
  assertSquareDigit(digit.pixels, 'trailing junk');
});
