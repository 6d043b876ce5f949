import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Preprocessing, decodeImage } from '../src/data/decode';
import { encodeGreyPng } from './helpers/grey-png';

const decodePngBufferAsDigit = (buf: Buffer, name: string, opts: { fit?: Preprocessing['fit'] } = {}) =>
  decodeImage(buf, name, { size: 28, channels: 1, resize: 'contain', invert: 'auto', fit: opts.fit ?? 'none' });
import { MNIST_PIXELS, MNIST_SIDE } from '../src/data/mnist';
import { loadMnist } from './helpers/mnist';

/** An MNIST digit redrawn as dark ink on a light, larger, non-square page, scaled `k`× and off-centre. */
function redrawOnPage(digit: Float32Array, k: number, left: number, top: number): { png: Buffer; width: number } {
  const width = MNIST_SIDE * k + 137;
  const height = MNIST_SIDE * k + 51;
  const page = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.floor((x - left) / k);
      const sy = Math.floor((y - top) / k);
      const ink = sx >= 0 && sx < MNIST_SIDE && sy >= 0 && sy < MNIST_SIDE ? digit[sy * MNIST_SIDE + sx] : 0;
      page[y * width + x] = 0.9 - 0.8 * ink; // grey paper, not-quite-black pen
    }
  }
  return { png: encodeGreyPng(page, width, height), width };
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

test("fit: 'mnist' recovers MNIST's own framing from a digit redrawn large, off-centre, dark on light", async () => {
  const { images } = loadMnist('test');
  const fitted: number[] = [];
  const unfitted: number[] = [];
  let exact = 0;
  for (let n = 0; n < 40; n++) {
    const digit = images.subarray(n * MNIST_PIXELS, (n + 1) * MNIST_PIXELS);
    const { png } = redrawOnPage(digit, 3 + (n % 8), 20 + ((n * 7) % 50), 7 + ((n * 3) % 30));
    const framed = await decodePngBufferAsDigit(png, `digit-${n}.png`, { fit: 'mnist' });
    assert.equal(framed.inverted, true);
    const diff = meanAbsDiff(framed.pixels, digit);
    fitted.push(diff);
    if (diff < 0.03) exact++;
    unfitted.push(meanAbsDiff((await decodePngBufferAsDigit(png, `digit-${n}.png`)).pixels, digit));
  }
  assert.ok(median(fitted) < 0.02, `median difference with fit ${median(fitted)}`);
  assert.ok(exact >= 34, `${exact}/40 framed at their original position`);
  assert.ok(median(unfitted) > 0.08, `without fit the framing differs: ${median(unfitted)}`);
});

test("fit: 'mnist' leaves a blank image blank and keeps every value in [0, 1]", async () => {
  const blank = await decodePngBufferAsDigit(encodeGreyPng(new Float32Array(50 * 40).fill(0.7), 50, 40), 'blank.png', { fit: 'mnist' });
  assert.ok(blank.pixels.every((v) => Math.abs(v - 0.3) < 1e-2), 'uniform page, inverted');
  const speck = new Float32Array(9 * 9);
  speck[4 * 9 + 4] = 1;
  const tiny = await decodePngBufferAsDigit(encodeGreyPng(speck, 9, 9), 'speck.png', { fit: 'mnist' });
  assert.ok(tiny.pixels.every((v) => v >= 0 && v <= 1));
  assert.ok(Math.max(...tiny.pixels) > 0.9, 'the speck is scaled up, not lost');
  const row = Array.from(tiny.pixels.subarray(14 * MNIST_SIDE, 15 * MNIST_SIDE));
  assert.ok(row[14] > 0.5 && row[0] === 0 && row[27] === 0, 'and centred');
});
