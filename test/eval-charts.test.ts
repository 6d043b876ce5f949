import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { AloccError } from '../src/errors';
import { renderRocChart } from '../src/plot/roc-chart';
import { renderScoreHistogram, scoreHistogramBins } from '../src/plot/score-histogram';

type Rgb = [number, number, number];
const hex = (h: string): Rgb => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
/** Colours as the tests know them, written out here rather than imported from the product. */
const CURVE = hex('#1f77b4'), MARKER = hex('#d62728'), CHANCE = hex('#9e9e9e');
const NORMAL = hex('#1f77b4'), NOVEL = hex('#ff7f0e'), THRESHOLD = hex('#6a3d9a');

interface Image { width: number; height: number; at(x: number, y: number): Rgb }
function decode(png: Buffer): Image {
  const img = PNG.sync.read(png);
  return {
    width: img.width, height: img.height,
    at: (x, y) => { const i = (y * img.width + x) * 4; return [img.data[i], img.data[i + 1], img.data[i + 2]]; },
  };
}
const near = (c: Rgb, ref: Rgb, tol = 14) => c.every((v, k) => Math.abs(v - ref[k]) <= tol);
function pixelsWhere(img: Image, pred: (c: Rgb) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (pred(img.at(x, y))) out.push([x, y]);
  return out;
}

/** Distance from (px, py) to the polyline through `pts`. */
function distanceToPolyline(px: number, py: number, pts: Array<[number, number]>): number {
  let best = Infinity;
  for (let k = 1; k < pts.length; k++) {
    const [ax, ay] = pts[k - 1], [bx, by] = pts[k];
    const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2));
    best = Math.min(best, Math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay))));
  }
  return best;
}

test('roc.png: the curve runs where its points say, the chance diagonal is drawn, the marker sits at its FPR/TPR', () => {
  const curve = [{ fpr: 0, tpr: 0 }, { fpr: 0.2, tpr: 0.6 }, { fpr: 0.5, tpr: 0.9 }, { fpr: 1, tpr: 1 }];
  const img = decode(renderRocChart(curve, { fpr: 0.2, tpr: 0.6, threshold: 0.123 }, { auroc: 0.78, width: 600, height: 560 }));
  assert.deepEqual([img.width, img.height], [600, 560]);

  // The curve spans (0,0) to (1,1), so its pixels' bounding box is the plot frame: that gives the axes' scale.
  const curvePx = pixelsWhere(img, (c) => near(c, CURVE));
  assert.ok(curvePx.length > 400, `only ${curvePx.length} pixels of the curve`);
  const left = Math.min(...curvePx.map((p) => p[0])), right = Math.max(...curvePx.map((p) => p[0]));
  const top = Math.min(...curvePx.map((p) => p[1])), bottom = Math.max(...curvePx.map((p) => p[1]));
  assert.ok(right - left > 300 && bottom - top > 300, `plot frame ${left}..${right} × ${top}..${bottom} is too small`);
  const px = (fpr: number, tpr: number): [number, number] => [left + fpr * (right - left), bottom - tpr * (bottom - top)];

  // Every curve pixel lies on the polyline through the points (a swapped axis or a stepped curve would not).
  const polyline = curve.map((p) => px(p.fpr, p.tpr));
  const off = curvePx.filter(([x, y]) => distanceToPolyline(x, y, polyline) > 3);
  assert.ok(off.length < 0.02 * curvePx.length, `${off.length} curve pixels off the expected line`);
  // And it is drawn all along: at fpr 0.1 (tpr 0.3) and 0.35 (tpr 0.75) the column holds curve pixels at that height.
  for (const [fpr, tpr] of [[0.1, 0.3], [0.35, 0.75], [0.75, 0.95]]) {
    const [x, y] = px(fpr, tpr);
    const hit = curvePx.some(([cx, cy]) => Math.abs(cx - Math.round(x)) <= 1 && Math.abs(cy - y) <= 3);
    assert.ok(hit, `no curve pixel near fpr ${fpr}, tpr ${tpr} (${x.toFixed(0)}, ${y.toFixed(0)})`);
  }

  const [cx, cy] = px(0.5, 0.5); // the chance diagonal, under the curve here
  assert.ok(pixelsWhere(img, (c) => near(c, CHANCE, 20)).some(([x, y]) => Math.hypot(x - cx, y - cy) < 12), 'no chance diagonal near (0.5, 0.5)');

  const markerPx = pixelsWhere(img, (c) => near(c, MARKER, 20));
  assert.ok(markerPx.length > 60, `only ${markerPx.length} marker pixels`);
  const [mx, my] = [markerPx.reduce((a, p) => a + p[0], 0) / markerPx.length, markerPx.reduce((a, p) => a + p[1], 0) / markerPx.length];
  const [ex, ey] = px(0.2, 0.6);
  assert.ok(Math.hypot(mx - ex, my - ey) < 3, `marker centre (${mx.toFixed(1)}, ${my.toFixed(1)}), expected (${ex.toFixed(1)}, ${ey.toFixed(1)})`);
  // Its label (dark text) is written beside it; the title is dark text across the top.
  const dark = pixelsWhere(img, (c) => c[0] < 90 && c[1] < 90 && c[2] < 90);
  assert.ok(dark.filter(([x, y]) => x > ex && x < ex + 320 && Math.abs(y - ey) < 40).length > 150, 'no label beside the marker');
  assert.ok(dark.filter(([, y]) => y < top - 10).length > 200, 'no title above the plot');
});

test('roc.png: no marker when there is none or its rates are NaN; sizes outside 200..8000 are refused', () => {
  const curve = [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }];
  for (const marker of [null, { fpr: NaN, tpr: 0.5, threshold: 1 }]) {
    const img = decode(renderRocChart(curve, marker, { auroc: 0.5 }));
    assert.deepEqual([img.width, img.height], [760, 700]);
    assert.equal(pixelsWhere(img, (c) => near(c, MARKER, 20)).length, 0);
    assert.ok(pixelsWhere(img, (c) => near(c, CURVE)).length > 300);
  }
  assert.throws(() => renderRocChart(curve, null, { auroc: 0.5, width: 100 }), AloccError);
});

test('scoreHistogramBins: shared edges over both groups and the threshold, shares per group, hand-counted', () => {
  // Range [0, 1] (threshold 0.3 inside), 2 bins [0, 0.5) and [0.5, 1]: normal 3 + 1, novel 0 + 2 (0.5 and the max).
  const b = scoreHistogramBins([0, 0.1, 0.2, 0.9], [0.5, 1.0], 0.3, 2);
  assert.deepEqual(b.edges, [0, 0.5, 1]);
  assert.deepEqual(b.normal, [0.75, 0.25]);
  assert.deepEqual(b.novel, [0, 1]);
  assert.deepEqual([b.normalCount, b.novelCount, b.nonFinite], [4, 2, 0]);
  // The threshold widens the range; NaN and Infinity are counted, not binned.
  const w = scoreHistogramBins([1, 2, NaN], [3, Infinity], 5, 4);
  assert.deepEqual(w.edges, [1, 2, 3, 4, 5]);
  assert.deepEqual(w.normal, [0.5, 0.5, 0, 0]);
  assert.deepEqual(w.novel, [0, 0, 1, 0]);
  assert.equal(w.nonFinite, 2);
  // All equal: a unit range around the value. Default bins: √(images), at least 10.
  assert.deepEqual(scoreHistogramBins([2, 2], [2], 2, 1).edges, [1.5, 2.5]);
  assert.equal(scoreHistogramBins([1, 2, 3], [4], 2).edges.length, 11);
  assert.throws(() => scoreHistogramBins([1], [2], 1, 0), RangeError);
});

test('scores.png: both groups in their colours, on one scale, and the threshold line at its value', () => {
  // Normal scores fill [0, 1), novel ones [2, 3); 30 bins of 0.1 over [0, 3], threshold 1.5 halfway between the groups.
  const normal = Array.from({ length: 200 }, (_, i) => 0.0025 + i * 0.005);
  const novel = Array.from({ length: 100 }, (_, i) => 2.005 + i * 0.0099);
  const img = decode(renderScoreHistogram(normal, novel, 1.5, { bins: 30, width: 900, height: 500 }));
  assert.deepEqual([img.width, img.height], [900, 500]);

  // Columns where a group's fill or outline is tall (the legend's swatches are short, so they do not count).
  const tallColumns = (isGroup: (c: Rgb) => boolean): number[] => {
    const perColumn = new Array<number>(img.width).fill(0);
    for (const [x] of pixelsWhere(img, isGroup)) perColumn[x]++;
    return perColumn.flatMap((n, x) => (n > 40 ? [x] : []));
  };
  const bluish = (c: Rgb) => near(c, NORMAL) || (c[2] - c[0] > 30 && c[2] > 200); // outline, or fill over white
  const orangish = (c: Rgb) => near(c, NOVEL) || (c[0] > 240 && c[0] - c[2] > 50);
  const blue = tallColumns(bluish), orange = tallColumns(orangish);
  assert.ok(blue.length > 100 && orange.length > 100, `normal in ${blue.length} columns, novel in ${orange.length}`);
  assert.ok(pixelsWhere(img, (c) => near(c, NORMAL)).length > 100 && pixelsWhere(img, (c) => near(c, NOVEL)).length > 100);
  const [b0, b1, o0, o1] = [Math.min(...blue), Math.max(...blue), Math.min(...orange), Math.max(...orange)];
  assert.ok(b1 < o0, `normal (${b0}..${b1}) and novel (${o0}..${o1}) overlap`);
  // Shared bins: both groups span one unit of score, so the same width in pixels; the gap between them is one unit too.
  assert.ok(Math.abs((b1 - b0) - (o1 - o0)) <= 3, `widths ${b1 - b0} and ${o1 - o0} differ`);
  assert.ok(Math.abs((o0 - b1) - (b1 - b0)) <= 4, `gap ${o0 - b1} is not one unit (${b1 - b0} px)`);

  const lineColumns = new Array<number>(img.width).fill(0);
  for (const [x] of pixelsWhere(img, (c) => near(c, THRESHOLD, 20))) lineColumns[x]++;
  const lineX = lineColumns.indexOf(Math.max(...lineColumns));
  assert.ok(lineColumns[lineX] > 150, `the threshold line is only ${lineColumns[lineX]} pixels tall`);
  const expected = b0 + 1.5 * ((o1 - b0) / 3);
  assert.ok(Math.abs(lineX - expected) <= 3, `threshold line at column ${lineX}, expected ${expected.toFixed(1)}`);
});

test('scores.png: a group with no images draws only the other; a threshold outside the scores widens the axis', () => {
  const img = decode(renderScoreHistogram([0.2, 0.4, 0.5, 0.7], [], 2, { width: 700, height: 400 }));
  assert.equal(pixelsWhere(img, (c) => near(c, NOVEL)).length, 0);
  assert.ok(pixelsWhere(img, (c) => near(c, NORMAL)).length > 50);
  const lineColumns = new Array<number>(img.width).fill(0);
  for (const [x] of pixelsWhere(img, (c) => near(c, THRESHOLD, 20))) lineColumns[x]++;
  const lineX = lineColumns.indexOf(Math.max(...lineColumns));
  const normalRight = Math.max(...pixelsWhere(img, (c) => near(c, NORMAL)).map((p) => p[0]));
  // Scores span [0.2, 0.7] and the axis [0.2, 2]: the line is at the right end, well past the data.
  assert.ok(lineX > normalRight + 200 && lineX > 0.8 * img.width, `line at ${lineX}, data ends at ${normalRight}`);
});
