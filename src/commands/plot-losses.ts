import * as fs from 'fs';
import * as path from 'path';
import { AloccError, UsageError, firstLine } from '../errors';
import { renderLossChart } from '../plot/loss-chart';
import { RunFile } from '../train/runfile';

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

export function runFilePath(checkpointDir: string, digit: number): string {
  return path.join(checkpointDir, `digit-${digit}`, 'run.json');
}

/** Reads and sanity-checks a run file, with errors that name the file and what to do. */
export function readRunFile(file: string, digit: number): RunFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AloccError(`no training run found at ${file}; create one with: alocc train --digit ${digit}`);
    }
    throw new AloccError(`cannot read ${file}: ${firstLine(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AloccError(`${file} is not valid JSON (${firstLine(err)}); retrain with: alocc train --digit ${digit}`);
  }
  const run = parsed as Partial<RunFile> | null;
  if (!run || run.format !== 'alocc-run' || !Array.isArray(run.batches) || !Array.isArray(run.epochs) || !run.config) {
    throw new AloccError(`${file} is not an alocc run file (format 'alocc-run' with epochs and batches expected)`);
  }
  return run as RunFile;
}

/** Writes to a temporary file beside `file`, then renames: a reader never sees half a PNG. */
export function writeFileAtomic(file: string, data: Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new AloccError(`cannot write ${file}: ${firstLine(err)}`);
  }
}

/** Renders the loss chart of checkpoints/digit-<d>/run.json to a PNG and returns the PNG's path. Prints nothing. */
export async function plotLosses(opts: PlotLossesOptions): Promise<string> {
  if (!Number.isInteger(opts.digit) || opts.digit < 0 || opts.digit > 9) {
    throw new UsageError(`--digit ${opts.digit} is not a digit 0-9`);
  }
  const runFile = runFilePath(opts.checkpointDir, opts.digit);
  const run = readRunFile(runFile, opts.digit);
  const out = opts.out ?? path.join(path.dirname(runFile), 'losses.png');
  const png = renderLossChart(run, { width: opts.width, height: opts.height });
  writeFileAtomic(out, png);
  return out;
}
