/**
 * A picture with its anomaly map laid over it (issue 23): the map in a fixed colour ramp at half opacity, the outline
 * of the cells whose distance passes the run's cell threshold, and a caption with the score and the verdict.
 *
 * The ramp's ends are the run's, never the picture's: a per-picture min-max would paint the most ordinary cell of a
 * normal picture as hot as a defect. MapScale comes from the training side (validation cells' distances) with the
 * cell threshold at mid-ramp, so equal distances get equal colours in every picture of the run.
 */
import { AloccError } from '../errors';
import type { AnomalyMap } from '../score/map-geometry';
import { MapScale, mapScaleFrom } from '../score/cell-scale';
import { drawText } from './caption-text';
import { encodeRgbPng } from './png-encode';

/** The scale is computed where training can reach it (src/score/cell-scale.ts); drawing it is here. */
export type { MapScale };
export { mapScaleFrom };

/** Viridis at five stops, dark (normal) to yellow (far from every memory cell); readable in grey and by most colour-blind readers. */
const RAMP: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37],
];

/** Overlay opacity: the picture stays readable under the map. */
export const MAP_OPACITY = 0.5;

/** The ramp's colour for a distance: clamped at both ends, linear between the stops. */
export function rampColour(value: number, scale: MapScale): [number, number, number] {
  const out = new Uint8Array(3);
  rampInto(value, scale, out, 0);
  return [out[0], out[1], out[2]];
}

/** rampColour written into out[at..at+3), without an array per pixel. */
function rampInto(value: number, scale: MapScale, out: Uint8Array, at: number): void {
  const t = Math.min(1, Math.max(0, (value - scale.low) / (scale.high - scale.low))) * (RAMP.length - 1);
  const i = Math.min(Math.floor(t), RAMP.length - 2);
  const f = t - i;
  const [from, to] = [RAMP[i], RAMP[i + 1]];
  for (let c = 0; c < 3; c++) out[at + c] = Math.round(from[c] + (to[c] - from[c]) * f);
}

/** What the caption says. */
export interface OverlayCaption {
  score: number;
  threshold: number;
  novel: boolean;
}

/** The picture as the network saw it: size·size·channels values in [0, 1], HWC. */
export interface OverlayPicture {
  pixels: Float32Array;
  size: number;
  channels: number;
}

const CAPTION_HEIGHT = 28;

/** Zoom so that the picture is drawn about 256 pixels wide, at least once. */
export function overlayZoom(size: number): number {
  return Math.max(1, Math.round(256 / size));
}

/** The outline's colour and width in pixels. */
const OUTLINE: readonly [number, number, number] = [255, 45, 45];
const CAPTION_COLOUR = { novel: [176, 0, 32], normal: [27, 94, 32] } as const;

/**
 * The overlay as PNG bytes: (size·zoom) wide, the caption below the picture. Drawn straight into RGB bytes and
 * encoded by png-encode.ts: one is written per scored picture, and through Skia it cost 12 ms at 28×28
 * (docs/performance.md).
 */
export function renderOverlayPng(picture: OverlayPicture, anomaly: AnomalyMap, scale: MapScale, caption: OverlayCaption): Buffer {
  const { size, channels, pixels } = picture;
  if (anomaly.size !== size || pixels.length !== size * size * channels) {
    throw new AloccError(`overlay: a ${size}x${size}x${channels} picture and a ${anomaly.size}x${anomaly.size} map do not match`);
  }
  const zoom = overlayZoom(size);
  const side = size * zoom;
  const image = new Uint8Array(side * (side + CAPTION_HEIGHT) * 3);
  // Each picture pixel once: the ramp's colour at half opacity over the picture (grey pictures in all three).
  const blended = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    rampInto(anomaly.map[p], scale, blended, 3 * p);
    for (let c = 0; c < 3; c++) {
      const base = 255 * pixels[p * channels + (channels === 3 ? c : 0)];
      blended[3 * p + c] = Math.round((1 - MAP_OPACITY) * base + MAP_OPACITY * blended[3 * p + c]);
    }
  }
  // Zoomed: each source row spread over one output row, which the next zoom − 1 rows copy.
  for (let y = 0; y < size; y++) {
    const first = 3 * y * zoom * side;
    for (let x = 0; x < size; x++) {
      const from = 3 * (y * size + x);
      for (let k = 0, at = first + 3 * x * zoom; k < zoom; k++, at += 3) {
        image[at] = blended[from];
        image[at + 1] = blended[from + 1];
        image[at + 2] = blended[from + 2];
      }
    }
    for (let k = 1; k < zoom; k++) image.copyWithin(first + 3 * k * side, first, first + 3 * side);
  }
  drawCellOutline(image, anomaly, scale.cellThreshold, side);
  image.fill(255, 3 * side * side);
  const verdict = caption.novel ? 'novel' : 'normal';
  const text = `${verdict} ${caption.score.toFixed(4)} (threshold ${caption.threshold.toFixed(4)})`;
  drawText(image, side, side, CAPTION_HEIGHT, 4, side - 4, text, side < 200 ? 9 : 11, CAPTION_COLOUR[verdict]);
  return encodeRgbPng(image, side, side + CAPTION_HEIGHT);
}

/**
 * The cells at or above the threshold, outlined: a line two pixels wide on every cell edge between a passing and a
 * not passing cell, centred on the edge (as a 2-pixel canvas stroke), clipped at the picture's border.
 */
function drawCellOutline(image: Uint8Array, anomaly: AnomalyMap, threshold: number, side: number): void {
  const { rows, cols, cells } = anomaly;
  const hot = (r: number, c: number) => r >= 0 && r < rows && c >= 0 && c < cols && cells[r * cols + c] >= threshold;
  const edgeY = (r: number) => Math.round((r * side) / rows);
  const edgeX = (c: number) => Math.round((c * side) / cols);
  const paint = (x0: number, x1: number, y0: number, y1: number) => {
    for (let y = Math.max(0, y0); y < Math.min(side, y1); y++) {
      for (let x = Math.max(0, x0), at = 3 * (y * side + x); x < Math.min(side, x1); x++, at += 3) {
        image[at] = OUTLINE[0];
        image[at + 1] = OUTLINE[1];
        image[at + 2] = OUTLINE[2];
      }
    }
  };
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!hot(r, c)) continue;
      const [x0, y0, x1, y1] = [edgeX(c), edgeY(r), edgeX(c + 1), edgeY(r + 1)];
      if (!hot(r - 1, c)) paint(x0, x1, y0 - 1, y0 + 1);
      if (!hot(r + 1, c)) paint(x0, x1, y1 - 1, y1 + 1);
      if (!hot(r, c - 1)) paint(x0 - 1, x0 + 1, y0, y1);
      if (!hot(r, c + 1)) paint(x1 - 1, x1 + 1, y0, y1);
    }
  }
}
