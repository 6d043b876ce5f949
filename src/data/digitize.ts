/**
 * Turns any decoded RGBA image into a 28×28 MNIST-style digit: grey, light ink on a dark background, values in
 * [0, 1]. Works in one streaming pass over the pixels with no full-size intermediate, so a 50-megapixel photo
 * costs no more memory than its RGBA buffer.
 */

import { fitLikeMnist } from './mnist-fit';

export const DIGIT_SIDE = 28;

export type InvertMode = 'auto' | boolean;

/** 'none': the whole image, as is. 'mnist': crop to the digit, scale it into 20×20, centre it by mass, stretch contrast. */
export type FitMode = 'none' | 'mnist';

export interface DigitResult {
  /** DIGIT_SIDE*DIGIT_SIDE grey values in [0, 1], light digit on dark, row-major. */
  pixels: Float32Array;
  /** Whether the image was inverted to get a light digit on a dark background. */
  inverted: boolean;
}

// Rec. 601 luma, the usual weights for colour to grey, scaled for 0-255 input.
const R_WEIGHT = 0.299 / 255;
const G_WEIGHT = 0.587 / 255;
const B_WEIGHT = 0.114 / 255;

interface Compositing {
  opaque: boolean;
  /** Grey level that fully transparent pixels become. */
  background: number;
}

/**
 * Transparent pixels are background. Which grey that is depends on what the opaque part is: sparse opaque strokes
 * are ink, so the background must contrast with them (black pen on transparent → white paper); a mostly opaque
 * image is a card with transparent corners, so the background matches the card.
 */
function chooseCompositing(rgba: Uint8Array, pixelCount: number): Compositing {
  let alphaSum = 0;
  let alphaLumaSum = 0;
  let opaque = true;
  for (let k = 0; k < pixelCount * 4; k += 4) {
    const alpha = rgba[k + 3];
    if (alpha === 255) {
      alphaSum += 1;
      alphaLumaSum += R_WEIGHT * rgba[k] + G_WEIGHT * rgba[k + 1] + B_WEIGHT * rgba[k + 2];
    } else {
      opaque = false;
      const a = alpha / 255;
      alphaSum += a;
      alphaLumaSum += a * (R_WEIGHT * rgba[k] + G_WEIGHT * rgba[k + 1] + B_WEIGHT * rgba[k + 2]);
    }
  }
  if (opaque) return { opaque, background: 0 };
  const coverage = alphaSum / pixelCount;
  const contentLuma = alphaSum > 0 ? alphaLumaSum / alphaSum : 0;
  const contentIsLight = contentLuma >= 0.5;
  const background = coverage < 0.5 ? (contentIsLight ? 0 : 1) : contentIsLight ? 1 : 0;
  return { opaque, background };
}

function greyAt(rgba: Uint8Array, k: number, comp: Compositing): number {
  const luma = R_WEIGHT * rgba[k] + G_WEIGHT * rgba[k + 1] + B_WEIGHT * rgba[k + 2];
  if (comp.opaque) return luma;
  const a = rgba[k + 3] / 255;
  return a * luma + (1 - a) * comp.background;
}

/** Mean grey of the outermost ring of pixels: what the paper (or the screen behind the digit) looks like. */
function borderMean(rgba: Uint8Array, width: number, height: number, comp: Compositing): number {
  let sum = 0;
  let n = 0;
  for (let y = 0; y < height; y++) {
    const edgeRow = y === 0 || y === height - 1;
    const step = edgeRow ? 1 : Math.max(1, width - 1);
    for (let x = 0; x < width; x += step) {
      sum += greyAt(rgba, (y * width + x) * 4, comp);
      n++;
    }
  }
  return sum / n;
}

function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
}

/**
 * Area averaging of the image padded (centred, with `pad`) to a side×side square, side ≥ outSide: each output
 * pixel is the mean of the square region it covers, partially covered source pixels weighted by the covered part.
 * Since a source pixel is at most one output pixel wide, it touches at most two output columns and two rows.
 */
function areaDownsample(rgba: Uint8Array, width: number, height: number, comp: Compositing, pad: number, outSide: number): Float64Array {
  const side = Math.max(width, height);
  const scale = side / outSide;
  const offX = Math.floor((side - width) / 2);
  const offY = Math.floor((side - height) / 2);
  const sums = new Float64Array(outSide * outSide);
  const rowSums = new Float64Array(outSide + 1);
  let j = Math.floor(offY / scale);
  let rowBoundary = (j + 1) * scale;
  for (let y = 0; y < height; y++) {
    rowSums.fill(0);
    let i = Math.floor(offX / scale);
    let colBoundary = (i + 1) * scale;
    while (offX >= colBoundary) colBoundary = (++i + 1) * scale;
    let k = y * width * 4;
    for (let x = 0; x < width; x++, k += 4) {
      const p = offX + x;
      const v = greyAt(rgba, k, comp);
      if (p + 1 <= colBoundary) {
        rowSums[i] += v;
      } else {
        const f = colBoundary - p;
        rowSums[i] += v * f;
        rowSums[i + 1] += v * (1 - f);
        colBoundary = (++i + 1) * scale;
      }
    }
    const q = offY + y;
    while (q >= rowBoundary) rowBoundary = (++j + 1) * scale;
    const fy = q + 1 <= rowBoundary ? 1 : rowBoundary - q;
    for (let c = 0; c < outSide; c++) {
      if (j < outSide) sums[j * outSide + c] += rowSums[c] * fy;
      if (fy < 1 && j + 1 < outSide) sums[(j + 1) * outSide + c] += rowSums[c] * (1 - fy);
    }
  }
  const area = scale * scale;
  const out = new Float64Array(outSide * outSide);
  for (let r = 0; r < outSide; r++) {
    const rowCover = overlap(offY, offY + height, r * scale, (r + 1) * scale);
    for (let c = 0; c < outSide; c++) {
      const imageArea = rowCover * overlap(offX, offX + width, c * scale, (c + 1) * scale);
      out[r * outSide + c] = (sums[r * outSide + c] + pad * Math.max(0, area - imageArea)) / area;
    }
  }
  return out;
}

/** Bilinear (half-pixel centres) enlargement of an image smaller than outSide, padded to a square first. */
function bilinearUpsample(rgba: Uint8Array, width: number, height: number, comp: Compositing, pad: number, outSide: number): Float64Array {
  const side = Math.max(width, height);
  const offX = Math.floor((side - width) / 2);
  const offY = Math.floor((side - height) / 2);
  const square = new Float64Array(side * side).fill(pad);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) square[(offY + y) * side + offX + x] = greyAt(rgba, (y * width + x) * 4, comp);
  }
  const coord = (o: number) => Math.min(side - 1, Math.max(0, ((o + 0.5) * side) / outSide - 0.5));
  const out = new Float64Array(outSide * outSide);
  for (let r = 0; r < outSide; r++) {
    const sy = coord(r);
    const y0 = Math.floor(sy);
    const y1 = Math.min(side - 1, y0 + 1);
    const fy = sy - y0;
    for (let c = 0; c < outSide; c++) {
      const sx = coord(c);
      const x0 = Math.floor(sx);
      const x1 = Math.min(side - 1, x0 + 1);
      const fx = sx - x0;
      const top = square[y0 * side + x0] * (1 - fx) + square[y0 * side + x1] * fx;
      const bottom = square[y1 * side + x0] * (1 - fx) + square[y1 * side + x1] * fx;
      out[r * outSide + c] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Resolution at which 'mnist' fitting finds the digit's box; beyond it, extra detail would be averaged away. */
const FIT_WORKING_SIDE = 8 * DIGIT_SIDE;

/**
 * RGBA bytes (width*height*4) → 28×28 grey in [0, 1], light on dark. A non-square image is padded to a square
 * with its border colour so its aspect ratio is kept. `invert: 'auto'` inverts when the border is bright
 * (dark-on-light drawings and scans). `fit: 'mnist'` then normalises it the way MNIST itself was made.
 */
export function rgbaToDigit(rgba: Uint8Array, width: number, height: number, invert: InvertMode = 'auto', fit: FitMode = 'none'): DigitResult {
  const comp = chooseCompositing(rgba, width * height);
  const background = borderMean(rgba, width, height, comp);
  const inverted = invert === 'auto' ? background > 0.5 : invert;
  const side = Math.max(width, height);
  const outSide = fit === 'mnist' ? Math.min(Math.max(side, DIGIT_SIDE), FIT_WORKING_SIDE) : DIGIT_SIDE;
  const grey =
    side >= outSide
      ? areaDownsample(rgba, width, height, comp, background, outSide)
      : bilinearUpsample(rgba, width, height, comp, background, outSide);
  const pixels = new Float32Array(outSide * outSide);
  for (let p = 0; p < pixels.length; p++) {
    const v = Math.min(1, Math.max(0, grey[p]));
    pixels[p] = inverted ? 1 - v : v;
  }
  return { pixels: fit === 'mnist' ? fitLikeMnist(pixels, outSide) : pixels, inverted };
}
