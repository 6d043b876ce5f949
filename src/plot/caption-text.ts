/**
 * One line of text drawn straight into raw RGB pixels from glyphs rendered once by Skia: the overlays' captions. Skia
 * drew a caption in 0.7 ms (a canvas, the text, reading its pixels back), more than the rest of a 28×28 map; a
 * caption of cached glyphs costs a few microseconds. Glyphs are placed at their rounded advances (no kerning), which
 * changes nothing visible in a caption of digits and a few words.
 */
import { createCanvas } from '@napi-rs/canvas';
import { chartFontFamily } from './fonts';

interface Glyph {
  /** Coverage 0..255, width × height, row-major. */
  alpha: Uint8Array;
  width: number;
  advance: number;
}

/** Pixels left of the pen a glyph's bitmap starts at, for strokes that reach left of their origin. */
const BEARING = 2;
const glyphs = new Map<string, Glyph>();

function glyph(ch: string, px: number, height: number): Glyph {
  const key = `${px}/${height}/${ch}`;
  let g = glyphs.get(key);
  if (g) return g;
  const measure = createCanvas(1, 1).getContext('2d');
  const font = `${px}px "${chartFontFamily()}"`;
  measure.font = font;
  const advance = measure.measureText(ch).width;
  const width = Math.ceil(advance) + 2 * BEARING;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.font = font;
  ctx.textBaseline = 'middle';
  ctx.fillText(ch, BEARING, height / 2);
  const data = ctx.getImageData(0, 0, width, height).data;
  const alpha = new Uint8Array(width * height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = data[4 * i];
  g = { alpha, width, advance };
  glyphs.set(key, g);
  return g;
}

/**
 * Draws `text` in colour `rgb` over the band of rows [top, top + height) of an RGB image `width` wide, starting `x`
 * pixels from the left, clipped at `right`.
 */
export function drawText(image: Uint8Array, width: number, top: number, height: number, x: number, right: number, text: string, px: number, rgb: readonly [number, number, number]): void {
  let pen = x;
  for (const ch of text) {
    const g = glyph(ch, px, height);
    const left = Math.round(pen) - BEARING;
    for (let gy = 0; gy < height; gy++) {
      const row = (top + gy) * width;
      for (let gx = 0; gx < g.width; gx++) {
        const a = g.alpha[gy * g.width + gx];
        const ix = left + gx;
        if (a === 0 || ix < 0 || ix >= right) continue;
        const at = 3 * (row + ix);
        for (let c = 0; c < 3; c++) image[at + c] = Math.round(image[at + c] + ((rgb[c] - image[at + c]) * a) / 255);
      }
    }
    pen += g.advance;
  }
}
