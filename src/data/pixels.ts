/**
 * The pixel rules alocc applies itself around sharp's decoding and resizing: colour to grey, telling colour from
 * grey, flattening transparency, and the border colour that decides inversion and letterbox padding. Pure functions
 * over 8-bit interleaved pixels, one pass each.
 */

// Rec. 601 luma, the usual weights for colour to grey (the same as MNIST-era tools and PIL's 'L').
const R_WEIGHT = 0.299;
const G_WEIGHT = 0.587;
const B_WEIGHT = 0.114;

/**
 * The one colour → grey conversion: every grey image alocc makes from a colour one, in training and scoring alike,
 * goes through here. Values in any unit (0-1 or 0-255); the result is in the same unit.
 */
export function rgbToGrey(r: number, g: number, b: number): number {
  return R_WEIGHT * r + G_WEIGHT * g + B_WEIGHT * b;
}

/**
 * A picture counts as colour when some pixel's R, G and B differ by more than this (in 0-255 levels): grey pictures
 * saved as colour JPEG carry a few levels of chroma noise, which must not make them colour.
 */
export const COLOUR_TOLERANCE = 8;

/** 8-bit interleaved pixels straight from the decoder: 3 (RGB) or 4 (RGBA) channels. */
export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Whether any pixel's channels differ by more than COLOUR_TOLERANCE (transparent pixels included: they are data). */
export function hasColour(img: RawPixels): boolean {
  const { data, channels } = img;
  for (let k = 0; k < data.length; k += channels) {
    const r = data[k], g = data[k + 1], b = data[k + 2];
    if (Math.abs(r - g) > COLOUR_TOLERANCE || Math.abs(g - b) > COLOUR_TOLERANCE || Math.abs(r - b) > COLOUR_TOLERANCE) return true;
  }
  return false;
}

/**
 * The grey (0 or 255) that fully transparent pixels of a drawing become. Sparse opaque strokes are ink, so the
 * background must contrast with them (black pen on transparent → white paper); a mostly opaque image is a card with
 * transparent corners, so the background matches the card. Undefined for an image with no transparency.
 */
export function drawingBackground(img: RawPixels): number | undefined {
  if (img.channels !== 4) return undefined;
  const { data } = img;
  let alphaSum = 0;
  let alphaLumaSum = 0;
  let opaque = true;
  for (let k = 0; k < data.length; k += 4) {
    const a = data[k + 3] / 255;
    if (a < 1) opaque = false;
    alphaSum += a;
    alphaLumaSum += a * rgbToGrey(data[k], data[k + 1], data[k + 2]);
  }
  if (opaque) return undefined;
  const coverage = alphaSum / (img.width * img.height);
  const contentIsLight = (alphaSum > 0 ? alphaLumaSum / alphaSum : 0) >= 127.5;
  const light = coverage < 0.5 ? !contentIsLight : contentIsLight;
  return light ? 255 : 0;
}

/**
 * RGBA → RGB over a uniform `background` grey (a whole number 0-255): alpha-weighted, rounded to 8 bits. RGB input is returned
 * as it is.
 */
export function flatten(img: RawPixels, background: number): RawPixels {
  if (img.channels === 3) return img;
  const { data, width, height } = img;
  const out = new Uint8Array(width * height * 3);
  // In integers: round((a·v + (255 − a)·background) / 255) = ⌊(2·(a·v + (255 − a)·background) + 255) / 510⌋, the same
  // bytes (the numerator's remainder is never half of 255), several times faster; opaque and clear pixels, most of a
  // drawing's, need no arithmetic (0.2 s of a 3.4 s profile of scoring a folder of emoji went here, docs/performance.md).
  for (let k = 0, o = 0; k < data.length; k += 4, o += 3) {
    const a = data[k + 3];
    if (a === 255) {
      out[o] = data[k];
      out[o + 1] = data[k + 1];
      out[o + 2] = data[k + 2];
    } else if (a === 0) {
      out[o] = out[o + 1] = out[o + 2] = background;
    } else {
      const under = 2 * (255 - a) * background + 255;
      out[o] = ((2 * a * data[k] + under) / 510) | 0;
      out[o + 1] = ((2 * a * data[k + 1] + under) / 510) | 0;
      out[o + 2] = ((2 * a * data[k + 2] + under) / 510) | 0;
    }
  }
  return { data: out, width, height, channels: 3 };
}

/** Mean colour (0-255 per channel) of the outermost ring of pixels of an RGB image: the paper, sky or wall. */
export function borderColour(img: RawPixels): [number, number, number] {
  const { data, width, height, channels } = img;
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = 0; y < height; y++) {
    const edgeRow = y === 0 || y === height - 1;
    const step = edgeRow ? 1 : Math.max(1, width - 1);
    for (let x = 0; x < width; x += step) {
      const k = (y * width + x) * channels;
      sum[0] += data[k];
      sum[1] += data[k + 1];
      sum[2] += data[k + 2];
      n++;
    }
  }
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}
