import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { drawExamples, ExamplesGridInput } from '../src/eval/examples-png';
import { ExampleRecord } from '../src/eval/evaluate';

const SIZE = 8;
/** The grid draws each image at 3× (SCALE in examples-png.ts), without smoothing. */
const CELL = SIZE * 3;

function example(group: 'normal' | 'novel', index: number): ExampleRecord {
  return { index, label: group === 'normal' ? '3' : '5', group, score: 0.1, verdict: 'normal' };
}

/** size × size × 3, channels last: each pixel's colour from its column. */
function rgbImage(colourAt: (col: number) => [number, number, number]): Float32Array {
  const out = new Float32Array(SIZE * SIZE * 3);
  for (let row = 0; row < SIZE; row++) for (let col = 0; col < SIZE; col++) out.set(colourAt(col), (row * SIZE + col) * 3);
  return out;
}

function grid(inputs: Float32Array[], reconstructions: Float32Array[], channels?: number): ExamplesGridInput {
  const join = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((offset, p) => (out.set(p, offset), offset + p.length), 0);
    return out;
  };
  return {
    report: { normalClass: 'MNIST digit 3', epoch: 2, threshold: { value: 0.5, score: 'bce' }, examples: [example('normal', 0), example('novel', 1)] },
    examplePixels: { inputs: join(inputs), reconstructions: join(reconstructions), size: SIZE, channels },
  };
}

function pixels(png: Buffer, pred: (r: number, g: number, b: number) => boolean): Array<[number, number]> {
  const img = PNG.sync.read(png);
  const out: Array<[number, number]> = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 4;
      if (pred(img.data[i], img.data[i + 1], img.data[i + 2])) out.push([x, y]);
    }
  }
  return out;
}
// Exact primaries: the verdict text's green (#1a7f37) and red (#cf222e), even antialiased, never reach them.
const pureRed = (r: number, g: number, b: number) => r >= 250 && g <= 5 && b <= 5;
const pureGreen = (r: number, g: number, b: number) => g >= 250 && r <= 5 && b <= 5;
const pureBlue = (r: number, g: number, b: number) => b >= 250 && r <= 5 && g <= 5;

test('examples grid of a colour run: a red input is drawn red, channels read last (HWC)', () => {
  const red = rgbImage(() => [1, 0, 0]);
  const redBlue = rgbImage((col) => (col < SIZE / 2 ? [1, 0, 0] : [0, 0, 1])); // left half red, right half blue
  const green = rgbImage(() => [0, 1, 0]);
  const png = drawExamples(grid([redBlue, red], [green, green], 3));

  // Whole red input (CELL²) and the red half of the other (CELL²/2).
  assert.equal(pixels(png, pureRed).length, CELL * CELL * 1.5);
  assert.equal(pixels(png, pureGreen).length, 2 * CELL * CELL);
  const blue = pixels(png, pureBlue);
  assert.equal(blue.length, CELL * CELL / 2);
  // The blue half is one block CELL/2 wide and CELL tall, with red directly to its left on the same rows.
  const xs = blue.map((p) => p[0]), ys = blue.map((p) => p[1]);
  const [left, top] = [Math.min(...xs), Math.min(...ys)];
  assert.deepEqual([Math.max(...xs) - left + 1, Math.max(...ys) - top + 1], [CELL / 2, CELL]);
  const redSet = new Set(pixels(png, pureRed).map(([x, y]) => `${x},${y}`));
  for (let y = top; y < top + CELL; y++) assert.ok(redSet.has(`${left - 1},${y}`) && redSet.has(`${left - CELL / 2},${y}`), `row ${y}`);
});

test('examples grid of a grey run stays grey', () => {
  const mid = new Float32Array(SIZE * SIZE).fill(0.5);
  const png = drawExamples(grid([mid, mid], [mid, mid]));
  // Four images of CELL² mid-grey pixels (antialiased text may add a few more of that grey).
  const grey = pixels(png, (r, g, b) => r === 128 && g === 128 && b === 128).length;
  assert.ok(grey >= 4 * CELL * CELL && grey < 4 * CELL * CELL + 30, `${grey} mid-grey pixels`);
  assert.equal(pixels(png, pureRed).length + pixels(png, pureGreen).length + pixels(png, pureBlue).length, 0);
});

test('examples grid refuses pixels that do not match the examples and channels', () => {
  const rgb = rgbImage(() => [1, 0, 0]);
  // Colour pixels without channels: 3 (the grey default) would misread them; refused instead.
  assert.throws(() => drawExamples(grid([rgb, rgb], [rgb, rgb])), /2 examples of 8×8×1 need 128 values/);
  assert.throws(() => drawExamples(grid([rgb, rgb], [rgb, rgb], 2)), /2 channels/);
});

test('with maps, a third row: each input under its map at half opacity, in the run\'s scale, not the picture\'s', () => {
  const black = new Float32Array(SIZE * SIZE);
  const input = grid([black, black], [black, black]);
  // One scale for the grid: 0 → the ramp's dark end, 2 → its yellow end. The novel example's map is hot on its
  // left half only; the normal one's is flat at 0, which a per-picture min-max would have stretched over the ramp.
  const scale = { low: 0, high: 2, cellThreshold: 1 };
  const hot = Float32Array.from({ length: SIZE * SIZE }, (_, i) => (i % SIZE < SIZE / 2 ? 2 : 0));
  const map = (values: Float32Array) => ({ cells: new Float32Array(4), rows: 2, cols: 2, map: values, size: SIZE });
  const png = drawExamples({ ...input, examplePixels: { ...input.examplePixels, maps: [map(new Float32Array(SIZE * SIZE)), map(hot)], mapScale: scale } });
  // Black under viridis at half opacity, by hand: dark end (68, 1, 84) → (34, 1, 42); yellow end (253, 231, 37) → (127, 116, 19).
  const dark = pixels(png, (r, g, b) => r === 34 && g === 1 && b === 42).length;
  const yellow = pixels(png, (r, g, b) => r === 127 && g === 116 && b === 19).length;
  assert.equal(yellow, (CELL * CELL) / 2, 'the hot half of the novel example');
  assert.equal(dark, CELL * CELL * 1.5, 'the whole normal map and the cold half of the novel one');
  // Taller by one row of images.
  const without = PNG.sync.read(drawExamples(input));
  assert.equal(PNG.sync.read(png).height - without.height, 2 * (CELL + 3));
  assert.throws(() => drawExamples({ ...input, examplePixels: { ...input.examplePixels, maps: [map(hot)], mapScale: scale } }), /1 maps for 2 examples/);
});
