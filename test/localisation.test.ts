import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelRegions, LocalisedPicture, pixelAuroc, proAuc, proCurve } from '../src/eval/localisation';
import { mulberry32 } from '../src/data/random';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

/**
 * Height 2, width 4. Mask
 *   1 0 0 0
 *   0 1 0 1
 * 8-connected: region A = {(0,0), (1,1)} (diagonal neighbours), region B = {(1,3)}. 4-connected it would be three.
 * Map
 *   0.9 0.7 0.1 0.05
 *   0.0 0.2 0.6 0.8
 */
const diagonal: LocalisedPicture = {
  width: 4, height: 2,
  mask: [1, 0, 0, 0, 0, 1, 0, 1],
  map: [0.9, 0.7, 0.1, 0.05, 0.0, 0.2, 0.6, 0.8],
};

test('labelRegions: diagonal neighbours join (8-connectivity, as MVTec AD and anomalib label)', () => {
  const { labels, sizes } = labelRegions(diagonal.mask, 4, 2);
  assert.deepEqual(sizes, [0, 2, 1]);
  assert.deepEqual([...labels], [1, 0, 0, 0, 0, 1, 0, 2]);
});

test('pixelAuroc: hand-computed', () => {
  // Defect pixels {0.9, 0.2, 0.8} vs normal {0.7, 0.1, 0.05, 0.0, 0.6}: 0.9 and 0.8 beat all 5 (10 pairs); 0.2 beats
  // 0.1, 0.05, 0.0 (3 pairs) → 13 of 15.
  close(pixelAuroc([diagonal]), 13 / 15, 'diagonal');
  // Two pictures pool their pixels: 1×2 pictures [0.9 | 0.1] (mask 1 0) and [0.3 | 0.5] (mask 0 1):
  // defect {0.9, 0.5} vs normal {0.1, 0.3}: 4 of 4.
  close(pixelAuroc([{ width: 2, height: 1, map: [0.9, 0.1], mask: [1, 0] }, { width: 2, height: 1, map: [0.3, 0.5], mask: [0, 1] }]), 1, 'pooled');
});

test('proAuc: hand-computed, regions weigh equally, normalised by the 0.3 limit', () => {
  // Two regions: each pixel of A (size 2) adds 1/(2·2) = 0.25 to PRO, B's pixel 1/(1·2) = 0.5; 5 normal pixels, 0.2
  // of FPR each. Highest first: 0.9 (A) → (0, 0.25); 0.8 (B) → (0, 0.75); 0.7 (normal) → (0.2, 0.75);
  // 0.6 (normal) → (0.4, 0.75). Area to 0.3: 0.2·0.75 + 0.1·0.75 = 0.225; / 0.3 = 0.75.
  // (4-connectivity would give three regions of 1/3: 0.3·2/3 / 0.3 = 0.667; no normalisation 0.225.)
  close(proAuc([diagonal]), 0.75, 'diagonal');
  const { fpr, pro } = proCurve([diagonal]);
  assert.deepEqual([...fpr].slice(0, 5), [0, 0, 0, 0.2, 0.4]);
  assert.deepEqual([...pro].slice(0, 5), [0, 0.25, 0.75, 0.75, 0.75]);
});

test('proAuc: a tie between normal and defect pixels is one sloped step, interpolated at the limit', () => {
  // Picture 1 (1×4): map 0.5 0.5 0.1 0.1, mask 1 0 1 0 (two regions of one pixel, 0.5 of PRO each).
  // Picture 2 (1×3), all normal: 0.5 0.3 0.0. Normals: 0.5, 0.1, 0.5, 0.3, 0.0 (0.2 of FPR each).
  // Threshold 0.5 flags region 1 and two normals at once: (0, 0) → (0.4, 0.5). At FPR 0.3 the line is at
  // 0.5·0.3/0.4 = 0.375; area 0.3·0.375/2 = 0.05625; / 0.3 = 0.1875.
  // Then 0.3 → (0.6, 0.5), 0.1 → (0.8, 1), 0.0 → (1, 1); to FPR 1: 0.1 + 0.1 + 0.15 + 0.2 = 0.55.
  const pictures: LocalisedPicture[] = [
    { width: 4, height: 1, map: [0.5, 0.5, 0.1, 0.1], mask: [1, 0, 1, 0] },
    { width: 3, height: 1, map: [0.5, 0.3, 0.0], mask: [0, 0, 0] },
  ];
  close(proAuc(pictures), 0.1875, 'to 0.3');
  close(proAuc(pictures, 1), 0.55, 'to 1');
});

test('proAuc and pixelAuroc: NaN without defect pixels or without normal pixels', () => {
  assert.ok(Number.isNaN(proAuc([{ width: 2, height: 1, map: [1, 0], mask: [0, 0] }])));
  assert.ok(Number.isNaN(proAuc([{ width: 2, height: 1, map: [1, 0], mask: [1, 1] }])));
  assert.ok(Number.isNaN(pixelAuroc([{ width: 2, height: 1, map: [1, 0], mask: [0, 0] }])));
});

/** Regions by union-find over 8-neighbours: an implementation independent of labelRegions' flood fill. */
function bruteRegions(p: LocalisedPicture): number[] {
  const parent = Array.from({ length: p.mask.length }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let y = 0; y < p.height; y++) for (let x = 0; x < p.width; x++) {
    const i = y * p.width + x;
    if (!p.mask[i]) continue;
    for (const [dy, dx] of [[0, 1], [1, -1], [1, 0], [1, 1]]) {
      const yy = y + dy, xx = x + dx;
      if (yy < p.height && xx >= 0 && xx < p.width && p.mask[yy * p.width + xx]) parent[find(i)] = find(yy * p.width + xx);
    }
  }
  return parent.map((_, i) => (p.mask[i] ? find(i) : -1));
}

/** PRO by its definition: per distinct threshold, FPR and the mean over regions of the share flagged, then trapezoids. */
function bruteProAuc(pictures: LocalisedPicture[], limit: number): number {
  const roots = pictures.map(bruteRegions);
  const thresholds = [...new Set(pictures.flatMap((p) => Array.from(p.map)))].sort((a, b) => b - a);
  const points: [number, number][] = [[0, 0]];
  for (const t of thresholds) {
    let fp = 0, normals = 0;
    const shares: number[] = [];
    pictures.forEach((p, k) => {
      const regions = new Map<number, [number, number]>();
      for (let i = 0; i < p.map.length; i++) {
        if (roots[k][i] < 0) {
          normals++;
          if (p.map[i] >= t) fp++;
        } else {
          const r = regions.get(roots[k][i]) ?? [0, 0];
          r[0] += p.map[i] >= t ? 1 : 0;
          r[1]++;
          regions.set(roots[k][i], r);
        }
      }
      for (const [hit, size] of regions.values()) shares.push(hit / size);
    });
    points.push([fp / normals, shares.reduce((a, b) => a + b, 0) / shares.length]);
  }
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const [[x0, y0], [x1, y1]] = [points[i - 1], points[i]];
    if (x0 >= limit) break;
    const x = Math.min(x1, limit);
    const y = x1 === x0 ? y1 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    area += ((x - x0) * (y0 + y)) / 2;
  }
  return area / limit;
}

function bruteAuroc(pictures: LocalisedPicture[]): number {
  const pos: number[] = [], neg: number[] = [];
  for (const p of pictures) for (let i = 0; i < p.map.length; i++) (p.mask[i] ? pos : neg).push(p.map[i]);
  let wins = 0;
  for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

test('proAuc and pixelAuroc agree with brute-force references on random blobby masks with ties', () => {
  const rand = mulberry32(23);
  for (let trial = 0; trial < 40; trial++) {
    const pictures: (LocalisedPicture & { map: number[]; mask: number[] })[] = [];
    for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
      const width = 3 + Math.floor(rand() * 6), height = 3 + Math.floor(rand() * 6);
      // Scores on a coarse grid so ties occur; the mask sparse enough to form several regions, some diagonal.
      const mask = Array.from({ length: width * height }, () => (rand() < 0.25 ? 1 : 0));
      const map = mask.map((m) => Math.round((rand() + 0.4 * m) * 8) / 8);
      pictures.push({ width, height, map, mask });
    }
    if (!pictures.some((p) => p.mask.some(Boolean))) pictures[0].mask[0] = 1;
    for (const limit of [0.3, 0.05, 1]) {
      const [got, want] = [proAuc(pictures, limit), bruteProAuc(pictures, limit)];
      assert.ok(Math.abs(got - want) < 1e-9, `trial ${trial}, limit ${limit}: PRO ${got}, brute force ${want}`);
    }
    const [got, want] = [pixelAuroc(pictures), bruteAuroc(pictures)];
    assert.ok(Math.abs(got - want) < 1e-12, `trial ${trial}: pixel AUROC ${got}, brute force ${want}`);
  }
});

test('localisationReport: intact pictures count as all normal, a defective picture without a mask only in the image AUROC', async () => {
  const { localisationReport } = await import('../src/eval/localisation');
  // Intact 1×2 [0.1 0.6] score 0.6; defective [0.9 0.2] mask [1 0] score 0.9; defective, mask refused, score 0.5.
  // Image AUROC: defective {0.9, 0.5} vs intact {0.6}: 1 of 2 pairs = 0.5.
  // Pixels: defect {0.9} vs normal {0.1, 0.6, 0.2}: 1. PRO: the one region is flagged at FPR 0 → 1.
  const report = localisationReport([
    { width: 2, height: 1, map: [0.1, 0.6], score: 0.6, defective: false },
    { width: 2, height: 1, map: [0.9, 0.2], score: 0.9, defective: true, mask: [1, 0] },
    { width: 2, height: 1, map: [0.95, 0.95], score: 0.5, defective: true },
  ]);
  assert.deepEqual(report, { imageAuroc: 0.5, pixelAuroc: 1, pro: 1, pixelPictures: 2 });
});
