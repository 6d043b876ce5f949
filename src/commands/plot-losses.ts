import * as path from 'path';
import { writeFileAtomic } from '../fsutil';
import { renderLossChart } from '../plot/loss-chart';
import { runDirFor } from '../run/checkpoint';
import { readRunFile } from '../run/runfile-io';

export interface PlotLossesOptions {
  /** MNIST digit of the run, 0-9. */
  digit: number;
  /** Folder holding digit-<d>/run.json, e.g. 'checkpoints'. */
  checkpointDir: string;
  /** PNG to write; default <checkpointDir>/digit-<d>/losses.png. */
  out?: string;
  /** Chart size in pixels; defaults in loss-chart.ts. */
  width?: number;
  height?: number;
}

/** Renders the loss chart of checkpoints/digit-<d>/run.json to a PNG and returns the PNG's path. Prints nothing. */
export async function plotLosses(opts: PlotLossesOptions): Promise<string> {
  const runDir = runDirFor(opts.checkpointDir, opts.digit);
  const run = readRunFile(runDir);
  const out = opts.out ?? path.join(runDir, 'losses.png');
  writeFileAtomic(out, renderLossChart(run, { width: opts.width, height: opts.height }));
  return out;
}
