/**
 * Localisation metrics: how well an anomaly map (a score per pixel, larger = more anomalous) covers the defects of a
 * ground-truth mask. Pixel AUROC over every pixel of every picture, and PRO (per-region overlap) as the MVTec AD
 * evaluation code and anomalib report it, so that numbers are comparable with theirs.
 */
import { auroc } from './metrics';

/** One picture's map and its ground-truth mask, both width×height, row-major. */
export interface LocalisedPicture {
  /** Anomaly score per pixel, larger = more anomalous. */
  map: ArrayLike<number>;
  /** Non-zero on defect pixels. */
  mask: ArrayLike<number>;
  width: number;
  height: number;
}

/** PRO's default integration limit: the false-positive rate MVTec AD and anomalib integrate to. */
export const PRO_FPR_LIMIT = 0.3;

function checkShapes(pictures: readonly LocalisedPicture[]): void {
  for (const [i, p] of pictures.entries()) {
    const n = p.width * p.height;
    if (p.map.length !== n || p.mask.length !== n) {
      throw new RangeError(`picture ${i}: map ${p.map.length} and mask ${p.mask.length} values for ${p.width}x${p.height}`);
    }
  }
}

/** AUROC of the pixels' scores against their mask, all pixels of all pictures pooled; NaN if either class is empty. */
export function pixelAuroc(pictures: readonly LocalisedPicture[]): number {
  checkShapes(pictures);
  const total = pictures.reduce((s, p) => s + p.map.length, 0);
  const scores = new Float64Array(total);
  const positive = new Uint8Array(total);
  let at = 0;
  for (const p of pictures) {
    for (let i = 0; i < p.map.length; i++, at++) {
      scores[at] = p.map[i];
      positive[at] = p.mask[i] ? 1 : 0;
    }
  }
  return auroc(scores, positive);
}

/**
 * The connected regions of a mask: a label per pixel (0 off the mask, 1..count on it) and each region's size.
 * 8-connectivity (diagonal neighbours join): MVTec AD's evaluation labels with scipy.ndimage.label and a full 3×3
 * structure, anomalib with OpenCV's connectedComponents at connectivity 8.
 */
export function labelRegions(mask: ArrayLike<number>, width: number, height: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(width * height);
  const sizes = [0];
  const stack: number[] = [];
  for (let start = 0; start < labels.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = sizes.length;
    let size = 0;
    labels[start] = label;
    stack.push(start);
    while (stack.length) {
      const at = stack.pop()!;
      size++;
      const y = Math.floor(at / width), x = at - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
          const next = yy * width + xx;
          if (mask[next] && !labels[next]) {
            labels[next] = label;
            stack.push(next);
          }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** The PRO curve: at each distinct threshold (highest first), the normal pixels' FPR and the mean region overlap. */
export function proCurve(pictures: readonly LocalisedPicture[]): { fpr: Float64Array; pro: Float64Array } {
  checkShapes(pictures);
  // Every pixel's weight towards the curve: a normal pixel adds 1/normals to the FPR; a defect pixel adds
  // 1/(its region's size × regions) to the PRO, so that each region counts equally whatever its size.
  const scores: number[] = [];
  const regionOf: number[] = []; // 0: normal pixel; else the region's size
  let regions = 0, normals = 0;
  for (const p of pictures) {
    const { labels, sizes } = labelRegions(p.mask, p.width, p.height);
    regions += sizes.length - 1;
    for (let i = 0; i < labels.length; i++) {
      scores.push(p.map[i]);
      regionOf.push(labels[i] ? sizes[labels[i]] : 0);
      if (!labels[i]) normals++;
    }
  }
  if (regions === 0 || normals === 0 || scores.some(Number.isNaN)) return { fpr: Float64Array.of(NaN), pro: Float64Array.of(NaN) };
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
  const fpr = [0], pro = [0];
  let falsePositives = 0, overlap = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    // A threshold at this score flags every pixel scoring at least as high, ties included.
    while (end < order.length && scores[order[end]] === scores[order[start]]) {
      const size = regionOf[order[end]];
      if (size) overlap += 1 / (size * regions);
      else falsePositives++;
      end++;
    }
    fpr.push(falsePositives / normals);
    pro.push(Math.min(1, overlap));
    start = end;
  }
  return { fpr: Float64Array.from(fpr), pro: Float64Array.from(pro) };
}

/**
 * Area under the PRO curve up to FPR `limit` (trapezoids, the curve interpolated linearly at the limit), divided by
 * `limit` so that a perfect map scores 1 (MVTec AD's and anomalib's normalisation). NaN without defect or normal pixels.
 */
export function proAuc(pictures: readonly LocalisedPicture[], limit = PRO_FPR_LIMIT): number {
  if (!(limit > 0 && limit <= 1)) throw new RangeError(`proAuc: limit must be in (0, 1], got ${limit}`);
  const { fpr, pro } = proCurve(pictures);
  if (Number.isNaN(fpr[0])) return NaN;
  let area = 0;
  for (let i = 1; i < fpr.length; i++) {
    const [x0, x1, y0, y1] = [fpr[i - 1], fpr[i], pro[i - 1], pro[i]];
    if (x0 >= limit) break;
    if (x1 <= limit) {
      area += ((x1 - x0) * (y0 + y1)) / 2;
    } else {
      const yAtLimit = y0 + ((y1 - y0) * (limit - x0)) / (x1 - x0);
      area += ((limit - x0) * (y0 + yAtLimit)) / 2;
    }
  }
  return area / limit;
}

/** A scored picture for localisationReport: its map, its image score, and its mask (absent: intact, all normal). */
export interface ScoredPicture {
  map: ArrayLike<number>;
  width: number;
  height: number;
  score: number;
  defective: boolean;
  mask?: ArrayLike<number>;
}

export interface LocalisationReport {
  /** Defective vs intact pictures by their image score. */
  imageAuroc: number;
  pixelAuroc: number;
  /** PRO to FPR PRO_FPR_LIMIT, normalised. */
  pro: number;
  /** Pictures counted in the pixel numbers: intact ones, and defective ones with a mask. */
  pixelPictures: number;
}

/**
 * The three numbers `eval --masks` reports. An intact picture's truth is all normal (its pixels count towards
 * PRO's false positives, as MVTec AD's good test pictures do); a defective picture without a mask (one whose mask was
 * refused) counts in the image AUROC only.
 */
export function localisationReport(pictures: readonly ScoredPicture[]): LocalisationReport {
  const located: LocalisedPicture[] = [];
  for (const p of pictures) {
    if (p.defective && !p.mask) continue;
    located.push({ map: p.map, mask: p.mask ?? new Uint8Array(p.width * p.height), width: p.width, height: p.height });
  }
  return {
    imageAuroc: auroc(pictures.map((p) => p.score), pictures.map((p) => p.defective)),
    pixelAuroc: pixelAuroc(located),
    pro: proAuc(located),
    pixelPictures: located.length,
  };
}
