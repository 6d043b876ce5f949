import { createCanvas } from '@napi-rs/canvas';
import { Chart, ChartConfiguration, ChartItem, ChartType, Plugin, registerables } from 'chart.js';
import { AloccError } from '../errors';
import { chartFontFamily } from './fonts';

Chart.register(...registerables);

const MIN_SIDE = 200;
const MAX_SIDE = 8000;

/** A chart side in pixels: `value` if given, else `fallback`; an AloccError naming the side when out of range. */
export function checkSide(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < MIN_SIDE || v > MAX_SIDE) {
    throw new AloccError(`chart ${name} ${value} is not a whole number of pixels between ${MIN_SIDE} and ${MAX_SIDE}`);
  }
  return v;
}

/** PNGs get an opaque white background; Chart.js leaves the canvas transparent, which viewers show as black or checks. */
export const whiteBackground: Plugin = {
  id: 'aloccWhiteBackground',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/**
 * Draws a Chart.js configuration on a width × height canvas and returns it as PNG bytes. `build` gets the font family
 * that really draws text (see fonts.ts), for plugins that write their own labels.
 */
export function renderChartPng<T extends ChartType, D>(
  width: number, height: number, build: (fontFamily: string) => ChartConfiguration<T, D>,
): Buffer {
  const fontFamily = chartFontFamily();
  Chart.defaults.font.family = `"${fontFamily}"`;
  const canvas = createCanvas(width, height);
  // Chart.js's typings expect a DOM canvas; @napi-rs/canvas implements the parts it uses.
  const chart = new Chart(canvas as unknown as ChartItem, build(fontFamily));
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}

/** Text with a white backing so it stays legible over lines; (x, y) is its top-left corner. */
export function drawBackedLabel(ctx: Chart['ctx'], text: string, x: number, y: number, colour: string): void {
  const textWidth = ctx.measureText(text).width;
  ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
  ctx.fillRect(x - 3, y - 2, textWidth + 6, 19);
  ctx.fillStyle = colour;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(text, x, y);
}

/** A dashed vertical line across the plot area at pixel column `x`: the loss chart's chosen epoch, a threshold. */
export function drawDashedVertical(chart: Chart, x: number, colour: string): void {
  const { ctx, chartArea } = chart;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.setLineDash([6, 4]);
  ctx.beginPath();
  ctx.moveTo(x, chartArea.top);
  ctx.lineTo(x, chartArea.bottom);
  ctx.stroke();
  ctx.restore();
}
