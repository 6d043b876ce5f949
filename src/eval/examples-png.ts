import { Canvas, createCanvas, SKRSContext2D } from '@napi-rs/canvas';
import { chartFontFamily } from '../plot/fonts';
import { NoveltyScore } from '../config';
import { MAP_OPACITY, MapScale, rampColour } from '../plot/overlay';
import type { AnomalyMap } from '../score/cell-map';
import { EvalReport, ExampleRecord } from './evaluate';

const SHORT: Record<NoveltyScore, string> = { bce: 'recon loss', kl: 'KL error', mse: 'MSE', ink: 'ink-normalised error', knn: 'kNN distance', rotation: 'rotation score', knnRotation: 'kNN + rotation' };

const SCALE = 3;
const GAP = 8;
const LEFT = 92;
const TITLE = 50;
const GROUP_HEADER = 22;
const LABEL_LINES = 2;
const LINE = 15;
/** Between an input and its reconstruction, so the two read as separate images. */
const PAIR_GAP = 3;

/** The example images of a grid: inputs and R's reconstructions, in `report.examples` order. */
export interface ExamplePixels {
  inputs: Float32Array;
  reconstructions: Float32Array;
  /** Side in pixels. */
  size: number;
  /** 1: grey, 3: RGB. Each image is size × size × channels values in 0-1, channels last (HWC). Default 1. */
  channels?: number;
  /** Each example's anomaly map and the run's colour scale: a third row, the map over the input as `score --maps` draws it. */
  maps?: AnomalyMap[];
  mapScale?: MapScale;
}

/** What the grid draws; an EvaluateResult is one. */
export interface ExamplesGridInput {
  report: Pick<EvalReport, 'normalClass' | 'epoch' | 'examples'> & { threshold: Pick<EvalReport['threshold'], 'value' | 'score'> };
  examplePixels: ExamplePixels;
}

const toByte = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

/**
 * One image (HWC, values 0-1) as a canvas, so it can be scaled up without smoothing; grey stays grey. With `map`, its
 * colours in the run's scale laid over the picture at MAP_OPACITY, as the overlays of `score --maps` are.
 */
function imageCanvas(pixels: Float32Array, size: number, channels: number, map?: { values: Float32Array; scale: MapScale }): Canvas {
  const c = createCanvas(size, size);
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const p = i * channels;
    const rgb = channels === 3 ? [pixels[p], pixels[p + 1], pixels[p + 2]] : [pixels[p], pixels[p], pixels[p]];
    const colour = map ? rampColour(map.values[i], map.scale) : undefined;
    const byte = (k: number) => (colour ? Math.round((1 - MAP_OPACITY) * toByte(rgb[k]) + MAP_OPACITY * colour[k]) : toByte(rgb[k]));
    img.data.set([byte(0), byte(1), byte(2), 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/**
 * examples.png: for normal and novel test images, a row of inputs above a row of R's reconstructions and, when the
 * maps are given, a row of their anomaly maps in the run's fixed colour scale, each labelled with the verdict's score
 * and the threshold's verdict (green when right, red when wrong).
 */
export function drawExamples(result: ExamplesGridInput): Buffer {
  const { report, examplePixels } = result;
  const family = chartFontFamily();
  const { size } = examplePixels;
  const channels = examplePixels.channels ?? 1;
  if (channels !== 1 && channels !== 3) throw new RangeError(`examples grid: ${channels} channels; images are grey (1) or RGB (3)`);
  const per = size * size * channels;
  const needed = report.examples.length * per;
  if (examplePixels.inputs.length !== needed || examplePixels.reconstructions.length !== needed) {
    throw new RangeError(`examples grid: ${report.examples.length} examples of ${size}×${size}×${channels} need ${needed} values each for ` +
      `inputs and reconstructions, got ${examplePixels.inputs.length} and ${examplePixels.reconstructions.length}`);
  }
  const maps = examplePixels.maps && examplePixels.mapScale ? { list: examplePixels.maps, scale: examplePixels.mapScale } : undefined;
  if (maps && (maps.list.length !== report.examples.length || maps.list.some((m) => m.size !== size))) {
    throw new RangeError(`examples grid: ${maps.list.length} maps for ${report.examples.length} examples of side ${size}`);
  }
  const rows = maps ? 3 : 2;
  const cell = size * SCALE;
  const groups = (['normal', 'novel'] as const).map((g) => ({
    group: g,
    items: report.examples.map((e, k) => ({ e, k })).filter(({ e }) => e.group === g),
  }));
  const cols = Math.max(1, ...groups.map((g) => g.items.length));
  const groupHeight = GROUP_HEADER + rows * cell + (rows - 1) * PAIR_GAP + GAP + LABEL_LINES * LINE + GAP;
  const width = LEFT + cols * (cell + GAP) + GAP;
  const height = TITLE + groups.length * groupHeight + GAP;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = false;
  ctx.textBaseline = 'top';

  ctx.fillStyle = '#111111';
  ctx.font = `bold 15px "${family}"`;
  ctx.fillText(`${report.normalClass}, epoch ${report.epoch}: novel when ${SHORT[report.threshold.score]} > ${report.threshold.value.toFixed(4)}`, GAP, 9);
  ctx.font = `12px "${family}"`;
  ctx.fillStyle = '#555555';
  ctx.fillText(`under each: what it is · ${SHORT[report.threshold.score]}, then the verdict (green right, red wrong)`, GAP, 29);

  groups.forEach(({ group, items }, gi) => {
    const top = TITLE + gi * groupHeight;
    ctx.fillStyle = '#111111';
    ctx.font = `bold 13px "${family}"`;
    const what = group === 'normal' ? `normal: ${report.normalClass}` : 'novel';
    ctx.fillText(`${what} (${items.length})`, GAP, top + 3);
    ctx.font = `12px "${family}"`;
    ctx.fillText('input', GAP, top + GROUP_HEADER + cell / 2 - 6);
    ctx.fillText('R(x)', GAP, top + GROUP_HEADER + cell + PAIR_GAP + cell / 2 - 6);
    if (maps) ctx.fillText('map', GAP, top + GROUP_HEADER + 2 * (cell + PAIR_GAP) + cell / 2 - 6);
    items.forEach(({ e, k }, col) => drawExample(ctx, family, e, col, top, cell, examplePixels.inputs.subarray(k * per, (k + 1) * per),
      examplePixels.reconstructions.subarray(k * per, (k + 1) * per), size, channels, maps && { values: maps.list[k].map, scale: maps.scale }));
  });
  return canvas.toBuffer('image/png');
}

function drawExample(
  ctx: SKRSContext2D, family: string, e: ExampleRecord, col: number, top: number, cell: number,
  input: Float32Array, reconstruction: Float32Array, size: number, channels: number, map?: { values: Float32Array; scale: MapScale },
): void {
  const x = LEFT + col * (cell + GAP);
  const y = top + GROUP_HEADER;
  ctx.drawImage(imageCanvas(input, size, channels), x, y, cell, cell);
  ctx.drawImage(imageCanvas(reconstruction, size, channels), x, y + cell + PAIR_GAP, cell, cell);
  if (map) ctx.drawImage(imageCanvas(input, size, channels, map), x, y + 2 * (cell + PAIR_GAP), cell, cell);
  const textTop = y + (map ? 3 : 2) * cell + (map ? 2 : 1) * PAIR_GAP + 4;
  const right = e.verdict === e.group;
  ctx.font = `11px "${family}"`;
  ctx.fillStyle = '#333333';
  ctx.fillText(`${e.label} · ${e.score.toFixed(4)}`, x, textTop, cell); // squeezed to its column: long file names overlapped the next
  ctx.fillStyle = right ? '#1a7f37' : '#cf222e';
  ctx.font = `bold 11px "${family}"`;
  ctx.fillText(e.verdict === 'novel' ? 'NOVEL' : 'normal', x, textTop + LINE);
}
