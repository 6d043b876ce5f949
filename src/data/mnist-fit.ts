import { MNIST_SIDE } from './mnist';

/**
 * MNIST's digits were size-normalised to fit a 20×20 box (aspect kept, anti-aliased) and then centred in 28×28 by
 * centre of mass (LeCun et al.). A model trained on them expects exactly that framing; a digit filling a whole
 * drawing canvas looks novel to it for the wrong reason.
 */
const MNIST_BOX = 20;
/** After stretching, pixels above this count as ink when finding the digit's bounding box. */
const INK_THRESHOLD = 0.2;
/** If the brightest pixel is within this of the background there is no digit to frame; the image is only scaled. */
const MIN_CONTRAST = 0.1;

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Tap {
  index: number;
  weight: number;
}

/** Weights taking `length` samples to `outLength`: box averaging when shrinking, linear interpolation when enlarging. */
function axisTaps(length: number, outLength: number): Tap[][] {
  const scale = length / outLength;
  const taps: Tap[][] = [];
  for (let o = 0; o < outLength; o++) {
    const row: Tap[] = [];
    if (scale >= 1) {
      const a = o * scale;
      const b = a + scale;
      for (let i = Math.floor(a); i < Math.min(length, Math.ceil(b)); i++) {
        const weight = Math.min(b, i + 1) - Math.max(a, i);
        if (weight > 0) row.push({ index: i, weight: weight / scale });
      }
    } else {
      const c = Math.min(length - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const i0 = Math.floor(c);
      row.push({ index: i0, weight: 1 - (c - i0) });
      if (c > i0) row.push({ index: Math.min(length - 1, i0 + 1), weight: c - i0 });
    }
    taps.push(row);
  }
  return taps;
}

/** Resamples the `rect` part of a row-major image of width `srcWidth` to outWidth×outHeight, separably. */
export function resampleRect(src: Float32Array, srcWidth: number, rect: Rect, outWidth: number, outHeight: number): Float32Array {
  const xTaps = axisTaps(rect.w, outWidth);
  const yTaps = axisTaps(rect.h, outHeight);
  const rows = new Float64Array(rect.h * outWidth);
  for (let r = 0; r < rect.h; r++) {
    const base = (rect.y + r) * srcWidth + rect.x;
    for (let o = 0; o < outWidth; o++) {
      let sum = 0;
      for (const tap of xTaps[o]) sum += src[base + tap.index] * tap.weight;
      rows[r * outWidth + o] = sum;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let o = 0; o < outHeight; o++) {
    for (let c = 0; c < outWidth; c++) {
      let sum = 0;
      for (const tap of yTaps[o]) sum += rows[tap.index * outWidth + c] * tap.weight;
      out[o * outWidth + c] = Math.min(1, Math.max(0, sum));
    }
  }
  return out;
}

function ringMean(grey: Float32Array, side: number): number {
  let sum = 0;
  for (let i = 0; i < side; i++) sum += grey[i] + grey[(side - 1) * side + i] + grey[i * side] + grey[i * side + side - 1];
  return sum / (4 * side);
}

/** Bounding box of the pixels above `threshold`; undefined if there are none. */
function inkBox(grey: Float32Array, side: number, threshold: number): Rect | undefined {
  let x0 = side, y0 = side, x1 = -1, y1 = -1;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (grey[y * side + x] <= threshold) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? undefined : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Centre of mass of a w×h patch, in pixel units from its top-left corner (pixel i spans [i, i+1)). */
function centreOfMass(patch: Float32Array, w: number, h: number): { x: number; y: number } {
  let mass = 0, sx = 0, sy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = patch[y * w + x];
      mass += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return mass > 0 ? { x: sx / mass, y: sy / mass } : { x: w / 2, y: h / 2 };
}

/**
 * Frames a light-on-dark square grey image (side ≥ outSide) like an MNIST digit: contrast stretched so the
 * background is 0 and the brightest ink 1, cropped to the ink, scaled so its longer side is 20/28 of outSide
 * (20 pixels at 28), and placed in outSide×outSide with its centre of mass at the centre (shifted only as far as
 * keeps it whole).
 */
export function fitLikeMnist(grey: Float32Array, side: number, outSide: number = MNIST_SIDE): Float32Array {
  const whole = { x: 0, y: 0, w: side, h: side };
  const background = ringMean(grey, side);
  let peak = 0;
  for (const v of grey) peak = Math.max(peak, v);
  if (peak - background < MIN_CONTRAST) return resampleRect(grey, side, whole, outSide, outSide);
  const stretched = grey.map((v) => Math.min(1, Math.max(0, (v - background) / (peak - background))));
  const box = inkBox(stretched, side, INK_THRESHOLD) ?? whole;
  const scale = Math.round((MNIST_BOX * outSide) / MNIST_SIDE) / Math.max(box.w, box.h);
  const w = Math.max(1, Math.round(box.w * scale));
  const h = Math.max(1, Math.round(box.h * scale));
  const patch = resampleRect(stretched, side, box, w, h);
  // MNIST put the mass centre, measured in pixel indices (pixel i at i, hence the 0.5), on index 14. With this
  // convention, MNIST digits redrawn large, off-centre and inverted come back at their exact original position.
  const centre = centreOfMass(patch, w, h);
  const left = Math.min(outSide - w, Math.max(0, Math.round(outSide / 2 - (centre.x - 0.5))));
  const top = Math.min(outSide - h, Math.max(0, Math.round(outSide / 2 - (centre.y - 0.5))));
  const out = new Float32Array(outSide * outSide);
  for (let y = 0; y < h; y++) out.set(patch.subarray(y * w, (y + 1) * w), (top + y) * outSide + left);
  return out;
}
