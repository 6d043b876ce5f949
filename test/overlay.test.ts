import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { mapScaleFrom, MAP_OPACITY, overlayZoom, rampColour, renderOverlayPng } from '../src/plot/overlay';
import { AnomalyMap } from '../src/score/cell-map';

test('mapScaleFrom: the validation cells\' median at the low end, the cell threshold mid-ramp', () => {
  // 0, 1, ..., 100: median 50, 99th percentile 99 → low 50, high 99 + 49 = 148.
  const values = Array.from({ length: 101 }, (_, i) => i);
  assert.deepEqual(mapScaleFrom(values), { low: 50, high: 148, cellThreshold: 99 });
  // A given cell threshold: 60 → low 50, high 70.
  assert.deepEqual(mapScaleFrom(values, 60), { low: 50, high: 70, cellThreshold: 60 });
  assert.throws(() => mapScaleFrom([]), /no validation cell distances/);
});

test('rampColour: clamped at both ends, the threshold at the middle stop', () => {
  const scale = { low: 0.1, high: 0.3, cellThreshold: 0.2 };
  assert.deepEqual(rampColour(-5, scale), [68, 1, 84]);
  assert.deepEqual(rampColour(0.1, scale), [68, 1, 84]);
  assert.deepEqual(rampColour(0.2, scale), [33, 145, 140]);
  assert.deepEqual(rampColour(0.3, scale), [253, 231, 37]);
  assert.deepEqual(rampColour(9, scale), [253, 231, 37]);
});

function flatMap(values: (i: number) => number, hotCell = -1): AnomalyMap {
  const cells = new Float32Array(49);
  if (hotCell >= 0) cells[hotCell] = 1;
  return { cells, rows: 7, cols: 7, map: Float32Array.from({ length: 784 }, (_, i) => values(i)), size: 28 };
}

function pixelAt(png: PNG, p: number): number[] {
  const zoom = overlayZoom(28);
  const [x, y] = [(p % 28) * zoom + Math.floor(zoom / 2), Math.floor(p / 28) * zoom + Math.floor(zoom / 2)];
  const at = 4 * (y * png.width + x);
  return [...png.data.subarray(at, at + 3)];
}

test('renderOverlayPng: two pictures with different maps give equal distances equal colours (one scale, no per-picture min-max)', () => {
  const black = { pixels: new Float32Array(784), size: 28, channels: 1 };
  const scale = { low: 0, high: 1, cellThreshold: 0.5 };
  const caption = { score: 0.1, threshold: 0.2, novel: false };
  // Map a spans 0..0.5, map b 0..1: a at pixel 2j equals b at pixel j.
  const a = PNG.sync.read(renderOverlayPng(black, flatMap((i) => (0.5 * i) / 783), scale, caption));
  const b = PNG.sync.read(renderOverlayPng(black, flatMap((i) => i / 783), scale, caption));
  assert.equal(a.width, 28 * overlayZoom(28));
  for (const j of [0, 100, 200, 391]) {
    assert.deepEqual(pixelAt(a, 2 * j), pixelAt(b, j), `distance ${j / 783}`);
    // Over black, the colour is the ramp's at half opacity.
    assert.deepEqual(pixelAt(b, j), rampColour(j / 783, scale).map((v) => Math.round(MAP_OPACITY * v)));
  }
  // Per-picture min-max would paint both maps' last pixels alike; one scale does not.
  assert.notDeepEqual(pixelAt(a, 783), pixelAt(b, 783));
});

test('renderOverlayPng: cells at or above the cell threshold are outlined; a grey picture shows under the map', () => {
  const grey = { pixels: new Float32Array(784).fill(0.6), size: 28, channels: 1 };
  const scale = { low: 0, high: 2, cellThreshold: 1 };
  const png = PNG.sync.read(renderOverlayPng(grey, flatMap(() => 0, 3 * 7 + 3), scale, { score: 0.5, threshold: 0.2, novel: true }));
  const zoom = overlayZoom(28);
  const cell = 4 * zoom; // a cell is 4 pixels of 28
  const at = (x: number, y: number) => [...png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3)];
  // On the hot cell's top edge: red. Inside it, and elsewhere: the picture's 0.6 grey blended with the ramp's low end.
  const [r, g] = at(3 * cell + cell / 2, 3 * cell);
  assert.ok(r > 200 && g < 100, `edge pixel ${r},${g}`);
  const blended = [68, 1, 84].map((v) => Math.round((1 - MAP_OPACITY) * 153 + MAP_OPACITY * v));
  assert.deepEqual(at(3 * cell + cell / 2, 3 * cell + cell / 2), blended);
  assert.deepEqual(at(5, 5), blended);
  assert.equal(png.height, 28 * zoom + 28);
});

test('renderOverlayPng: a map of another size than the picture is refused', () => {
  const map = { ...flatMap(() => 0), size: 64 };
  assert.throws(() => renderOverlayPng({ pixels: new Float32Array(784), size: 28, channels: 1 }, map, { low: 0, high: 1, cellThreshold: 0.5 }, { score: 0, threshold: 0, novel: false }), /do not match/);
});
