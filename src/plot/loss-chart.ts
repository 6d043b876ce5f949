import { Chart, ChartConfiguration, Plugin } from 'chart.js';
import { stepBatchSize } from '../config';
import { describeData } from '../data/source';
import { RunFile } from '../run/runfile';
import { checkSide, drawBackedLabel, drawDashedVertical, renderChartPng, whiteBackground } from './chart-canvas';

export interface LossChartOptions {
  /** PNG width in pixels; default 1200. */
  width?: number;
  /** PNG height in pixels; default 700. */
  height?: number;
  /** Replaces the default title "ALOCC losses: digit <d> (<backend>)". */
  title?: string;
}

export const DEFAULT_CHART_WIDTH = 1200;
export const DEFAULT_CHART_HEIGHT = 700;
/** Above this many batches, per-batch markers would merge into a smear, so only the lines are drawn. */
const MAX_BATCHES_WITH_MARKERS = 60;

const COLOURS = { recon: '#1f77b4', val: '#ff7f0e', d: '#d62728', adv: '#2ca02c', best: '#6a3d9a' };
/** D's and the adversarial loss are noisy; drawn half-transparent they do not bury the reconstruction curves. */
const NOISY_ALPHA_HEX = '80';
/** Pixels a dataset may draw beyond the plot area, so markers at the last epoch are not cut in half. */
const EDGE_CLIP_PX = 8;

type Point = { x: number; y: number | null };

/** JSON turns NaN/Infinity into null; a gap in the line says so more honestly than a clamped value would. */
function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Dashed vertical line at the selected epoch, labelled, so the reader sees which checkpoint score/eval use. */
function bestEpochMarker(bestEpoch: number | null, fontFamily: string): Plugin<'line'> {
  const markerX = (chart: Chart<'line'>): number | null => {
    if (bestEpoch === null) return null;
    const x = chart.scales.x.getPixelForValue(bestEpoch);
    const { left, right } = chart.chartArea;
    return Number.isFinite(x) && x >= left - 0.5 && x <= right + 0.5 ? x : null;
  };
  return {
    id: 'aloccBestEpoch',
    // The line goes under the data so the points at the best epoch stay visible; the label goes on top.
    beforeDatasetsDraw(chart) {
      const x = markerX(chart);
      if (x !== null) drawDashedVertical(chart as never, x, COLOURS.best);
    },
    afterDatasetsDraw(chart) {
      const x = markerX(chart);
      if (x === null) return;
      const { ctx, chartArea } = chart;
      ctx.save();
      const label = `best epoch ${bestEpoch}: lowest validation reconstruction loss`;
      ctx.font = `bold 13px "${fontFamily}"`;
      // Keep the label inside the plot area: to the left of the line when the line is near the right edge.
      const textWidth = ctx.measureText(label).width;
      const fitsRight = x + 6 + textWidth <= chartArea.right;
      const textX = fitsRight ? x + 6 : x - 6 - textWidth;
      // A white backing keeps the label legible over dense per-batch lines.
      drawBackedLabel(ctx, label, textX, chartArea.top + 6, COLOURS.best);
      ctx.restore();
    },
  };
}

function defaultTitle(run: RunFile): string {
  return `ALOCC losses: ${describeData(run.config.data)} (${run.backend} backend)`;
}

function subtitle(run: RunFile): string {
  const t = run.config.train;
  const epochs = run.epochs.length;
  return (
    `${run.trainImages} training images, batch ${stepBatchSize(run.trainImages, t.batchSize)}, rAlpha ${t.rAlpha}, ` +
    `${epochs} epoch${epochs === 1 ? '' : 's'} completed, ${run.batches.length} batches`
  );
}

function buildConfig(run: RunFile, title: string, fontFamily: string): ChartConfiguration<'line', Point[]> {
  const batches = run.batches;
  const fewBatches = batches.length <= MAX_BATCHES_WITH_MARKERS;
  const pointRadius = fewBatches ? 3 : 0;
  const lastEpoch = Math.max(
    1,
    ...run.epochs.map((e) => e.epoch),
    ...batches.map((b) => (Number.isFinite(b.fractionalEpoch) ? b.fractionalEpoch : 0)),
  );
  const perBatch = (pick: (b: RunFile['batches'][number]) => number | null) =>
    batches.map((b) => ({ x: b.fractionalEpoch, y: finiteOrNull(pick(b)) }));
  const bestEpoch = run.bestEpoch;
  const batchLine = { borderWidth: 1, pointRadius, pointHoverRadius: 0, tension: 0, spanGaps: false, clip: EDGE_CLIP_PX } as const;

  return {
    type: 'line',
    data: {
      datasets: [
        {
          ...batchLine,
          label: 'reconstruction loss (per batch)',
          data: perBatch((b) => b.reconLoss),
          borderColor: COLOURS.recon,
          backgroundColor: COLOURS.recon,
          yAxisID: 'y',
          order: 2,
        },
        {
          label: 'validation reconstruction loss (per epoch)',
          data: run.epochs.map((e) => ({ x: e.epoch, y: finiteOrNull(e.valReconLoss) })),
          borderColor: COLOURS.val,
          backgroundColor: COLOURS.val,
          borderWidth: 2.5,
          clip: EDGE_CLIP_PX,
          pointRadius: run.epochs.map((e) => (e.epoch === bestEpoch ? 7 : 4)),
          pointStyle: run.epochs.map((e) => (e.epoch === bestEpoch ? 'rectRot' : 'circle')),
          yAxisID: 'y',
          order: 0,
        },
        {
          ...batchLine,
          label: 'D loss, real + fake (per batch, right axis)',
          data: perBatch((b) => b.dLossReal + b.dLossFake),
          borderColor: COLOURS.d + NOISY_ALPHA_HEX,
          backgroundColor: COLOURS.d + NOISY_ALPHA_HEX,
          yAxisID: 'yAdversarial',
          order: 3,
        },
        {
          ...batchLine,
          label: "R's adversarial loss (per batch, right axis)",
          data: perBatch((b) => b.advLoss),
          borderColor: COLOURS.adv + NOISY_ALPHA_HEX,
          backgroundColor: COLOURS.adv + NOISY_ALPHA_HEX,
          // Dashes only read as dashes when consecutive points are far apart.
          borderDash: fewBatches ? [4, 3] : [],
          yAxisID: 'yAdversarial',
          order: 4,
        },
      ],
    },
    options: {
      animation: false,
      responsive: false,
      devicePixelRatio: 1,
      parsing: false,
      normalized: true,
      layout: { padding: 12 },
      plugins: {
        title: { display: true, text: title, color: '#111', font: { size: 20, weight: 'bold' } },
        subtitle: { display: true, text: subtitle(run), color: '#444', font: { size: 13 }, padding: { bottom: 8 } },
        legend: {
          position: 'top',
          labels: { color: '#222', boxWidth: 24, font: { size: 13 }, sort: (a, b) => (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0) },
        },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          max: lastEpoch,
          title: { display: true, text: 'epoch', color: '#222', font: { size: 14 } },
          // Whole-epoch ticks once there are a few epochs; fractions are useful within the first ones.
          ticks: { color: '#333', precision: lastEpoch >= 4 ? 0 : undefined },
          grid: { color: '#e3e3e3' },
        },
        y: {
          type: 'linear',
          position: 'left',
          beginAtZero: true,
          title: { display: true, text: 'reconstruction loss (BCE per pixel)', color: '#222', font: { size: 14 } },
          ticks: { color: '#333' },
          grid: { color: '#e3e3e3' },
        },
        yAdversarial: {
          type: 'linear',
          position: 'right',
          beginAtZero: true,
          title: { display: true, text: 'D and adversarial loss (BCE)', color: '#222', font: { size: 14 } },
          ticks: { color: '#333' },
          // One grid is enough; a second set of lines on the right axis's ticks would only clutter the plot.
          grid: { drawOnChartArea: false },
        },
      },
    },
    plugins: [whiteBackground as Plugin<'line'>, bestEpochMarker(bestEpoch, fontFamily)],
  };
}

/**
 * The loss chart of a run as PNG bytes: R's per-batch reconstruction loss against fractional epochs (as in the
 * ALOCC Keras reference's plot), the per-epoch validation reconstruction loss, D's loss and R's adversarial loss on
 * a second axis, and the selected (best) epoch marked.
 */
export function renderLossChart(run: RunFile, opts: LossChartOptions = {}): Buffer {
  const width = checkSide('width', opts.width, DEFAULT_CHART_WIDTH);
  const height = checkSide('height', opts.height, DEFAULT_CHART_HEIGHT);
  return renderChartPng(width, height, (fontFamily) => buildConfig(run, opts.title ?? defaultTitle(run), fontFamily));
}
