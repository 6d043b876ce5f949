/**
 * Synthetic defects with known masks for the localisation benchmark (issue 23): a patch of another picture pasted at
 * a random place (MNIST: another digit; Fashion-MNIST: another class; emoji: CutPaste from another group), or a thin
 * scar of a random colour. Pictures are bytes, size×size×channels, HWC.
 *
 * The mask is exactly the pixels the defect changed (a pasted patch's background over the picture's background
 * changes nothing, and is no defect), and a defect is drawn again (seeded) until it changes between MIN_COVERAGE and
 * MAX_COVERAGE of the picture.
 */
import { Rng, randomInt } from '../../src/data/random';

export const MIN_COVERAGE = 0.02;
export const MAX_COVERAGE = 0.1;
const TRIES = 200;

export interface Picture {
  pixels: Uint8Array;
  size: number;
  channels: number;
}

export interface Defect {
  pixels: Uint8Array;
  /** size×size, 1 where the defect changed the picture. */
  mask: Uint8Array;
  kind: 'patch' | 'scar';
}

/** The pixels where `after` differs from `before` in any channel. */
export function changedPixels(before: Picture, after: Uint8Array): Uint8Array {
  const { size, channels } = before;
  const mask = new Uint8Array(size * size);
  for (let p = 0; p < mask.length; p++) {
    for (let c = 0; c < channels; c++) if (before.pixels[p * channels + c] !== after[p * channels + c]) mask[p] = 1;
  }
  return mask;
}

function coverage(mask: Uint8Array): number {
  return mask.reduce((s, v) => s + v, 0) / mask.length;
}

/** Draws `make` until its changes cover MIN..MAX_COVERAGE of the picture. */
function withinCoverage(picture: Picture, kind: Defect['kind'], make: () => Uint8Array): Defect {
  for (let t = 0; t < TRIES; t++) {
    const pixels = make();
    const mask = changedPixels(picture, pixels);
    const share = coverage(mask);
    if (share >= MIN_COVERAGE && share <= MAX_COVERAGE) return { pixels, mask, kind };
  }
  throw new Error(`no ${kind} covering ${MIN_COVERAGE * 100}-${MAX_COVERAGE * 100} % of the picture in ${TRIES} tries`);
}

/**
 * A rectangle of `source` (another class's picture, same shape), of 3-12 % of the picture's area, pasted at a random
 * place of `picture`, replacing what was there.
 */
export function pastePatch(picture: Picture, source: Picture, rng: Rng): Defect {
  const { size, channels } = picture;
  if (source.size !== size || source.channels !== channels) throw new Error('pastePatch: the source is not the picture\'s shape');
  return withinCoverage(picture, 'patch', () => {
    const area = (0.03 + 0.09 * rng()) * size * size;
    const aspect = 0.5 + rng(); // width / height in [0.5, 1.5)
    const h = Math.max(2, Math.min(size, Math.round(Math.sqrt(area / aspect))));
    const w = Math.max(2, Math.min(size, Math.round(area / h)));
    const [sx, sy, tx, ty] = [randomInt(rng, size - w + 1), randomInt(rng, size - h + 1), randomInt(rng, size - w + 1), randomInt(rng, size - h + 1)];
    const out = picture.pixels.slice();
    for (let y = 0; y < h; y++) {
      const from = ((sy + y) * size + sx) * channels;
      out.set(source.pixels.subarray(from, from + w * channels), ((ty + y) * size + tx) * channels);
    }
    return out;
  });
}

/**
 * A thin scar: a straight stroke 1-2 pixels wide per 32 pixels of side (64×64: 2-4), half to nearly all the side long
 * (so that it reaches 2 % of the picture), at a random angle, of one random colour (a grey level for grey pictures).
 */
export function drawScar(picture: Picture, rng: Rng): Defect {
  const { size, channels } = picture;
  return withinCoverage(picture, 'scar', () => {
    const colour = Array.from({ length: channels }, () => randomInt(rng, 256));
    const length = size * (0.5 + 0.45 * rng());
    const width = Math.max(1, size / 32) * (1 + rng());
    const angle = rng() * Math.PI;
    const [cx, cy] = [size * (0.2 + 0.6 * rng()), size * (0.2 + 0.6 * rng())];
    const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
    const out = picture.pixels.slice();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const [px, py] = [x + 0.5 - cx, y + 0.5 - cy];
        const along = px * dx + py * dy;
        const across = Math.abs(-px * dy + py * dx);
        if (Math.abs(along) <= length / 2 && across <= width / 2) out.set(colour, (y * size + x) * channels);
      }
    }
    return out;
  });
}
