import { ChartConfiguration, Plugin } from 'chart.js';
import { checkSide, drawBackedLabel, renderChartPng, whiteBackground } from './chart-canvas';

/** A point of the ROC plane: false-alarm rate (share of normal images flagged) and recall (share of novel ones). */
export interface RocChartPoint {
  fpr: number;
  tpr: number;
}

/** The operating point to mark, e.g. the run's calibrated threshold. */
export interface RocMarker extends RocChartPoint {
  threshold: number;
  /** Words before the rates in the marker's label; default "threshold <value>". */
  label?: string;
}

export interface RocChartOptions {
  /** The area under the curve, for the title (the caller's exact Mann-Whitney value; NaN reads "n/a"). */
  auroc: number;
  /** What the score is, e.g. "kNN distance"; named in the title. */
  scoreLabel?: string;
  /** Replaces the default title "ROC curve of the <score>: AUROC <value>". */
  title?: string;
  /** A line under the title, e.g. the image counts. */
  subtitle?: string;
  /** PNG width in pixels; default 760. */
  width?: number;
  /** PNG height in pixels; default 700. */
  height?: number;
}

export const DEFAULT_ROC_WIDTH = 760;
export const DEFAULT_ROC_HEIGHT = 700;
export const ROC_COLOURS = { curve: '#1f77b4', chance: '#9e9e9e', marker: '#d62728', label: '#222222' } as const;

type XY = { x: number; y: number };

/** Threshold values span many magnitudes (BCE ~0.1, kNN distances ~10): four significant digits read well for all. */
export function formatThreshold(value: number): string {
  return Number.isFinite(value) ? Number(value.toPrecision(4)).toString() : String(value);
}

function markerPlugin(marker: RocMarker | null, fontFamily: string): Plugin<'line'> {
  return {
    id: 'aloccRocMarker',
    afterDatasetsDraw(chart) {
      if (!marker || !Number.isFinite(marker.fpr) || !Number.isFinite(marker.tpr)) return;
      const { ctx, chartArea } = chart;
      const x = chart.scales.x.getPixelForValue(marker.fpr);
      const y = chart.scales.y.getPixelForValue(marker.tpr);
      ctx.save();
      ctx.fillStyle = ROC_COLOURS.marker;
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      const text = `${marker.label ?? `threshold ${formatThreshold(marker.threshold)}`}: FPR ${marker.fpr.toFixed(3)}, TPR ${marker.tpr.toFixed(3)}`;
      ctx.font = `bold 13px "${fontFamily}"`;
      const width = ctx.measureText(text).width;
      // Below and to the right of the point, where a ROC curve (above the diagonal) leaves room; flipped at the edges.
      const textX = x + 12 + width <= chartArea.right ? x + 12 : Math.max(chartArea.left + 4, x - 12 - width);
      const textY = y + 10 + 17 <= chartArea.bottom ? y + 10 : y - 27;
      drawBackedLabel(ctx, text, textX, textY, ROC_COLOURS.label);
      ctx.restore();
    },
  };
}

function buildConfig(points: readonly RocChartPoint[], marker: RocMarker | null, opts: RocChartOptions, fontFamily: string): ChartConfiguration<'line', XY[]> {
  const aurocText = Number.isFinite(opts.auroc) ? opts.auroc.toFixed(4) : 'n/a';
  const title = opts.title ?? `ROC curve of the ${opts.scoreLabel ?? 'novelty score'}: AUROC ${aurocText}`;
  const axis = (text: string) => ({
    type: 'linear' as const, min: 0, max: 1,
    title: { display: true, text, color: '#222', font: { size: 14 } },
    ticks: { color: '#333', stepSize: 0.1 },
    grid: { color: '#e3e3e3' },
  });
  return {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'ROC curve',
          data: points.map((p) => ({ x: p.fpr, y: p.tpr })),
          borderColor: ROC_COLOURS.curve,
          backgroundColor: ROC_COLOURS.curve,
          borderWidth: 2.5,
          pointRadius: 0,
          tension: 0,
          order: 0,
        },
        {
          label: 'chance',
          data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
          borderColor: ROC_COLOURS.chance,
          borderWidth: 1.5,
          borderDash: [6, 5],
          pointRadius: 0,
          order: 1,
        },
      ],
    },
    options: {
      animation: false,
      responsive: false,
      devicePixelRatio: 1,
      parsing: false,
      layout: { padding: 16 },
      plugins: {
        title: { display: true, text: title, color: '#111', font: { size: 18, weight: 'bold' } },
        subtitle: { display: !!opts.subtitle, text: opts.subtitle ?? '', color: '#444', font: { size: 13 }, padding: { bottom: 8 } },
        // Two lines and a labelled dot need no legend; leaving it out keeps the plot square-ish.
        legend: { display: false },
        tooltip: { enabled: false },
      },
      scales: {
        x: axis('false-alarm rate (FPR): share of normal images flagged novel'),
        y: axis('recall (TPR): share of novel images flagged novel'),
      },
    },
    plugins: [whiteBackground as Plugin<'line'>, markerPlugin(marker, fontFamily)],
  };
}

/**
 * roc.png: the ROC curve (points from metrics.rocCurve, drawn as straight segments, which is what the AUROC
 * integrates), the chance diagonal, and the operating point of `marker` as a dot labelled with its FPR and TPR.
 */
export function renderRocChart(points: readonly RocChartPoint[], marker: RocMarker | null, opts: RocChartOptions): Buffer {
  const width = checkSide('width', opts.width, DEFAULT_ROC_WIDTH);
  const height = checkSide('height', opts.height, DEFAULT_ROC_HEIGHT);
  return renderChartPng(width, height, (fontFamily) => buildConfig(points, marker, opts, fontFamily));
}
