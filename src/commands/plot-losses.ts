import * as path from 'path';
import { writeFileAtomic } from '../fsutil';
import { renderLossChart } from '../plot/loss-chart';
import { readRun, resolveRunDir, RunSelector } from '../run/select';

export interface PlotLossesOptions extends RunSelector {
  /** PNG to write; default <run folder>/losses.png. */
  out?: string;
  /** Chart size in pixels; defaults in loss-chart.ts. */
  width?: number;
  height?: number;
}

/** Renders the loss chart of a run to a PNG and returns the PNG's path. Prints nothing. */
export async function plotLosses(opts: PlotLossesOptions): Promise<string> {
  const runDir = resolveRunDir(opts);
  const run = readRun(runDir);
  const out = opts.out ?? path.join(runDir, 'losses.png');
  writeFileAtomic(out, renderLossChart(run, { width: opts.width, height: opts.height }));
  return out;
}
