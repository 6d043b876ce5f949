import { Canvas, createCanvas, SKRSContext2D } from '@napi-rs/canvas';
import { chartFontFamily } from '../plot/fonts';
import { NoveltyScore } from '../config';
import { EvalReport, ExampleRecord } from './evaluate';

const SHORT: Record<NoveltyScore, string> = { bce: 'recon loss', kl: 'KL error', mse: 'MSE', ink: 'ink-normalised error', knn: 'kNN distance' };

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
}

/** What the grid draws; an EvaluateResult is one. */
export interface ExamplesGridInput {
  report: Pick<EvalReport, 'normalClass' | 'epoch' | 'examples'> & { threshold: Pick<EvalReport['threshold'], 'value' | 'score'> };
  examplePixels: ExamplePixels;
}

const toByte = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

/** One image (HWC, values 0-1) as a canvas, so it can be scaled up without smoothing; grey stays grey. */
function imageCanvas(pixels: Float32Array, size: number, channels: number): Canvas {
  const c = createCanvas(size, size);
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const p = i * channels;
    const r = toByte(pixels[p]);
    img.data.set(channels === 3 ? [r, toByte(pixels[p + 1]), toByte(pixels[p + 2]), 255] : [r, r, r, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/**
 * examples.png: for normal and novel test images, a row of inputs above a row of R's reconstructions, each labelled
 * with its reconstruction loss and the threshold's verdict (green when right, red when wrong).
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
  const cell = size * SCALE;
  const groups = (['normal', 'novel'] as const).map((g) => ({
    group: g,
    items: report.examples.map((e, k) => ({ e, k })).filter(({ e }) => e.group === g),
  }));
  const cols = Math.max(1, ...groups.map((g) => g.items.length));
  const groupHeight = GROUP_HEADER + 2 * cell + PAIR_GAP + GAP + LABEL_LINES * LINE + GAP;
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
    items.forEach(({ e, k }, col) => drawExample(ctx, family, e, col, top, cell, examplePixels.inputs.subarray(k * per, (k + 1) * per),
      examplePixels.reconstructions.subarray(k * per, (k + 1) * per), size, channels));
  });
  return canvas.toBuffer('image/png');
}

function drawExample(
  ctx: SKRSContext2D, family: string, e: ExampleRecord, col: number, top: number, cell: number,
  input: Float32Array, reconstruction: Float32Array, size: number, channels: number,
): void {
  const x = LEFT + col * (cell + GAP);
  const y = top + GROUP_HEADER;
  ctx.drawImage(imageCanvas(input, size, channels), x, y, cell, cell);
  ctx.drawImage(imageCanvas(reconstruction, size, channels), x, y + cell + PAIR_GAP, cell, cell);
  const textTop = y + 2 * cell + PAIR_GAP + 4;
  const right = e.verdict === e.group;
  ctx.font = `11px "${family}"`;
  ctx.fillStyle = '#333333';
  ctx.fillText(`${e.label} · ${e.score.toFixed(4)}`, x, textTop);
  ctx.fillStyle = right ? '#1a7f37' : '#cf222e';
  ctx.font = `bold 11px "${family}"`;
  ctx.fillText(e.verdict === 'novel' ? 'NOVEL' : 'normal', x, textTop + LINE);
}
