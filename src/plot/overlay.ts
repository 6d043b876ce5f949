/**
 * A picture with its anomaly map laid over it (issue 23): the map in a fixed colour ramp at half opacity, the outline
 * of the cells whose distance passes the run's cell threshold, and a caption with the score and the verdict.
 *
 * The ramp's ends are the run's, never the picture's: a per-picture min-max would paint the most ordinary cell of a
 * normal picture as hot as a defect. MapScale comes from the training side (validation cells' distances) with the
 * cell threshold at mid-ramp, so equal distances get equal colours in every picture of the run.
 */
import { createCanvas } from '@napi-rs/canvas';
import { AloccError } from '../errors';
import { AnomalyMap } from '../score/cell-map';
import { MapScale, mapScaleFrom } from '../score/cell-scale';
import { chartFontFamily } from './fonts';

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
  const t = Math.min(1, Math.max(0, (value - scale.low) / (scale.high - scale.low))) * (RAMP.length - 1);
  const i = Math.min(Math.floor(t), RAMP.length - 2);
  const f = t - i;
  return [0, 1, 2].map((c) => Math.round(RAMP[i][c] + (RAMP[i + 1][c] - RAMP[i][c]) * f)) as [number, number, number];
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

/** The overlay as PNG bytes: (size·zoom) wide, the caption below the picture. */
export function renderOverlayPng(picture: OverlayPicture, anomaly: AnomalyMap, scale: MapScale, caption: OverlayCaption): Buffer {
  const { size, channels, pixels } = picture;
  if (anomaly.size !== size || pixels.length !== size * size * channels) {
    throw new AloccError(`overlay: a ${size}x${size}x${channels} picture and a ${anomaly.size}x${anomaly.size} map do not match`);
  }
  const zoom = overlayZoom(size);
  const side = size * zoom;
  const canvas = createCanvas(side, side + CAPTION_HEIGHT);
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(side, side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const p = Math.floor(y / zoom) * size + Math.floor(x / zoom);
      const colour = rampColour(anomaly.map[p], scale);
      const at = 4 * (y * side + x);
      for (let c = 0; c < 3; c++) {
        const base = 255 * pixels[p * channels + (channels === 3 ? c : 0)];
        image.data[at + c] = Math.round((1 - MAP_OPACITY) * base + MAP_OPACITY * colour[c]);
      }
      image.data[at + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  drawCellOutline(ctx, anomaly, scale.cellThreshold, side);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, side, side, CAPTION_HEIGHT);
  ctx.fillStyle = caption.novel ? '#b00020' : '#1b5e20';
  ctx.font = `${side < 200 ? 9 : 11}px "${chartFontFamily()}"`;
  ctx.textBaseline = 'middle';
  const verdict = caption.novel ? 'novel' : 'normal';
  ctx.fillText(`${verdict} ${caption.score.toFixed(4)} (threshold ${caption.threshold.toFixed(4)})`, 4, side + CAPTION_HEIGHT / 2, side - 8);
  return canvas.toBuffer('image/png');
}

/** The cells at or above the threshold, outlined: a line on every cell edge between a passing and a passing-not cell. */
function drawCellOutline(ctx: ReturnType<ReturnType<typeof createCanvas>['getContext']>, anomaly: AnomalyMap, threshold: number, side: number): void {
  const { rows, cols, cells } = anomaly;
  const hot = (r: number, c: number) => r >= 0 && r < rows && c >= 0 && c < cols && cells[r * cols + c] >= threshold;
  const [ch, cw] = [side / rows, side / cols];
  ctx.strokeStyle = '#ff2d2d';
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!hot(r, c)) continue;
      const [x0, y0, x1, y1] = [c * cw, r * ch, (c + 1) * cw, (r + 1) * ch];
      if (!hot(r - 1, c)) { ctx.moveTo(x0, y0); ctx.lineTo(x1, y0); }
      if (!hot(r + 1, c)) { ctx.moveTo(x0, y1); ctx.lineTo(x1, y1); }
      if (!hot(r, c - 1)) { ctx.moveTo(x0, y0); ctx.lineTo(x0, y1); }
      if (!hot(r, c + 1)) { ctx.moveTo(x1, y0); ctx.lineTo(x1, y1); }
    }
  }
  ctx.stroke();
}
