// The overlays' PNG encoder against pngjs's decoder: every pixel back, rows that repeat (filter Up), rows that do not
// (filter Sub, including bytes that wrap below 0), a single row and a single column.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { mulberry32 } from '../src/data/random';
import { encodeRgbPng } from '../src/plot/png-encode';

function roundTrip(rgb: Uint8Array, width: number, height: number): void {
  const png = PNG.sync.read(encodeRgbPng(rgb, width, height));
  assert.deepEqual([png.width, png.height], [width, height]);
  for (let p = 0; p < width * height; p++) {
    assert.deepEqual([...png.data.subarray(4 * p, 4 * p + 3)], [...rgb.subarray(3 * p, 3 * p + 3)], `pixel ${p}`);
    assert.equal(png.data[4 * p + 3], 255);
  }
}

test('encodeRgbPng: pngjs reads back every pixel, repeated rows and random ones alike', () => {
  const rand = mulberry32(3);
  const [w, h] = [7, 9];
  const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rand() * 256));
  rgb.copyWithin(3 * w * 2, 3 * w, 3 * w * 2); // row 2 repeats row 1
  rgb.copyWithin(3 * w * 3, 3 * w, 3 * w * 2); // and row 3
  roundTrip(rgb, w, h);
  roundTrip(Uint8Array.of(250, 3, 9, 1, 255, 0), 2, 1);
  roundTrip(Uint8Array.of(250, 3, 9, 250, 3, 9, 0, 0, 0), 1, 3);
  assert.throws(() => encodeRgbPng(new Uint8Array(5), 1, 2), /5 bytes for 1x2 RGB/);
});
