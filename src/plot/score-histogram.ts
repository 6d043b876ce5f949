import { ChartConfiguration, Plugin } from 'chart.js';
import { checkSide, drawDashedVertical, drawBackedLabel, renderChartPng, whiteBackground } from './chart-canvas';
import { formatThreshold } from './roc-chart';

export interface ScoreHistogramOptions {
  /** Number of bins shared by both groups; default √(images), between 10 and 80. */
  bins?: number;
  /** What the score is, e.g. "kNN distance"; the x axis's title. */
  scoreLabel?: string;
  /** Replaces the default title "Scores of normal and novel images". */
  title?: string;
  /** PNG width in pixels; default 1000. */
  width?: number;
  /** PNG height in pixels; default 600. */
  height?: number;
}

export const DEFAULT_HISTOGRAM_WIDTH = 1000;
export const DEFAULT_HISTOGRAM_HEIGHT = 600;
export const HISTOGRAM_COLOURS = { normal: '#1f77b4', novel: '#ff7f0e', threshold: '#6a3d9a' } as const;
/** Fills half-transparent, so where the groups overlap both stay visible. */
const FILL_ALPHA_HEX = '4d';
const MIN_BINS = 10;
const MAX_BINS = 80;

export interface ScoreBins {
  /** bins + 1 increasing edges; bin k is [edges[k], edges[k+1]), the last one closed. */
  edges: number[];
  /** Share of each group's finite scores in each bin (counts / group size), so groups of unequal size compare. */
  normal: number[];
  novel: number[];
  /** Finite scores per group; NaN and ±Infinity are left out and counted in `nonFinite`. */
  normalCount: number;
  novelCount: number;
  nonFinite: number;
}

/**
 * Bins shared by both groups, spanning every finite score and the threshold (so its line is always on the chart).
 * All values equal: one unit-wide range around them.
 */
export function scoreHistogramBins(
  normal: ArrayLike<number>, novel: ArrayLike<number>, threshold: number, bins?: number,
): ScoreBins {
  let lo = Infinity, hi = -Infinity, finite = 0;
  for (const group of [normal, novel]) {
    for (let i = 0; i < group.length; i++) {
      const v = group[i];
      if (!Number.isFinite(v)) continue;
      finite++;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (Number.isFinite(threshold)) lo = Math.min(lo, threshold), hi = Math.max(hi, threshold);
  if (lo === Infinity) lo = 0, hi = 1;
  if (lo === hi) lo -= 0.5, hi += 0.5;
  const count = bins ?? Math.min(MAX_BINS, Math.max(MIN_BINS, Math.ceil(Math.sqrt(finite))));
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`histogram bins ${bins} is not a positive whole number`);
  const width = (hi - lo) / count;
  const edges = Array.from({ length: count + 1 }, (_, k) => (k === count ? hi : lo + k * width));
  const share = (group: ArrayLike<number>): { shares: number[]; n: number } => {
    const counts = new Array<number>(count).fill(0);
    let n = 0;
    for (let i = 0; i < group.length; i++) {
      const v = group[i];
      if (!Number.isFinite(v)) continue;
      n++;
      counts[Math.min(count - 1, Math.floor((v - lo) / width))]++;
    }
    return { shares: counts.map((c) => (n > 0 ? c / n : 0)), n };
  };
  const a = share(normal), b = share(novel);
  return { edges, normal: a.shares, novel: b.shares, normalCount: a.n, novelCount: b.n, nonFinite: normal.length + novel.length - finite };
}

type XY = { x: number; y: number };

/**
 * A histogram as a stepped outline: up from 0 at its first non-empty bin, one step per bin, down to 0 after its last
 * non-empty bin. Empty bins at either end are left out, so a group's outline does not run along the axis under the
 * other group.
 */
function outline(edges: number[], shares: number[]): XY[] {
  const first = shares.findIndex((s) => s > 0);
  if (first < 0) return [];
  let last = shares.length - 1;
  while (shares[last] === 0) last--;
  const points: XY[] = [{ x: edges[first], y: 0 }];
  for (let k = first; k <= last; k++) points.push({ x: edges[k], y: shares[k] });
  points.push({ x: edges[last + 1], y: 0 });
  return points;
}

function thresholdLine(threshold: number, fontFamily: string): Plugin<'line'> {
  return {
    id: 'aloccThresholdLine',
    afterDatasetsDraw(chart) {
      if (!Number.isFinite(threshold)) return;
      const { ctx, chartArea } = chart;
      const x = chart.scales.x.getPixelForValue(threshold);
      drawDashedVertical(chart as never, x, HISTOGRAM_COLOURS.threshold);
      ctx.save();
      const text = `threshold ${formatThreshold(threshold)}: novel above`;
      ctx.font = `bold 13px "${fontFamily}"`;
      const width = ctx.measureText(text).width;
      const textX = x + 6 + width <= chartArea.right ? x + 6 : x - 6 - width;
      drawBackedLabel(ctx, text, textX, chartArea.top + 6, HISTOGRAM_COLOURS.threshold);
      ctx.restore();
    },
  };
}

function buildConfig(
  bins: ScoreBins, threshold: number, opts: ScoreHistogramOptions, fontFamily: string,
): ChartConfiguration<'line', XY[]> {
  const group = (label: string, shares: number[], colour: string) => ({
    label,
    data: outline(bins.edges, shares),
    stepped: 'before' as const,
    borderColor: colour,
    backgroundColor: colour + FILL_ALPHA_HEX,
    borderWidth: 2,
    fill: 'origin' as const,
    pointRadius: 0,
  });
  const datasets = [];
  if (bins.normalCount > 0) datasets.push(group(`normal images (${bins.normalCount})`, bins.normal, HISTOGRAM_COLOURS.normal));
  if (bins.novelCount > 0) datasets.push(group(`novel images (${bins.novelCount})`, bins.novel, HISTOGRAM_COLOURS.novel));
  const binWidth = bins.edges[1] - bins.edges[0];
  const subtitle = `${bins.edges.length - 1} shared bins of width ${formatThreshold(binWidth)}` +
    (bins.nonFinite > 0 ? `; ${bins.nonFinite} scores that are not finite numbers left out` : '');
  return {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      responsive: false,
      devicePixelRatio: 1,
      parsing: false,
      layout: { padding: 16 },
      plugins: {
        title: { display: true, text: opts.title ?? 'Scores of normal and novel images', color: '#111', font: { size: 18, weight: 'bold' } },
        subtitle: { display: true, text: subtitle, color: '#444', font: { size: 13 }, padding: { bottom: 8 } },
        legend: { position: 'top', labels: { color: '#222', boxWidth: 24, font: { size: 13 } } },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          type: 'linear',
          min: bins.edges[0],
          max: bins.edges[bins.edges.length - 1],
          title: { display: true, text: opts.scoreLabel ?? 'novelty score', color: '#222', font: { size: 14 } },
          ticks: { color: '#333' },
          grid: { color: '#e3e3e3' },
        },
        y: {
          type: 'linear',
          beginAtZero: true,
          // Headroom above the tallest bin for the threshold's label.
          grace: '12%',
          title: { display: true, text: "share of the group's images", color: '#222', font: { size: 14 } },
          ticks: { color: '#333' },
          grid: { color: '#e3e3e3' },
        },
      },
    },
    plugins: [whiteBackground as Plugin<'line'>, thresholdLine(threshold, fontFamily)],
  };
}

/**
 * scores.png: histograms of the normal and the novel images' scores over shared bins (each as a share of its own
 * group, so a small group is not flattened), with the threshold as a labelled vertical line.
 */
export function renderScoreHistogram(
  normal: ArrayLike<number>, novel: ArrayLike<number>, threshold: number, opts: ScoreHistogramOptions = {},
): Buffer {
  const width = checkSide('width', opts.width, DEFAULT_HISTOGRAM_WIDTH);
  const height = checkSide('height', opts.height, DEFAULT_HISTOGRAM_HEIGHT);
  const bins = scoreHistogramBins(normal, novel, threshold, opts.bins);
  return renderChartPng(width, height, (fontFamily) => buildConfig(bins, threshold, opts, fontFamily));
}
