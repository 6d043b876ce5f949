import * as tf from '@tensorflow/tfjs';
import { SingleBar } from 'cli-progress';
import { AloccError, UsageError } from '../errors';
import { firstImages, MnistLoader, MnistSplit, defaultMnistLoader, validationReference } from '../eval/dataset';
import { evaluate, EvalReport } from '../eval/evaluate';
import { renderSummary, reportJson, ReportFiles, writeEvalReport } from '../eval/report';
import { ReferenceImages } from '../eval/scores';
import { loadEpochModels, runDirFor } from '../run/checkpoint';
import { RunFile } from '../run/runfile';
import { readRunFileIfExists } from '../run/runfile-io';
import { disposeFeatureMemory, FeatureMemory } from '../score/feature-memory';
import { loadRunMemory } from './resolve-run';

export interface EvalOptions {
  /** The run's target digit, 0-9. */
  digit: number;
  checkpointDir: string;
  /** Epoch to evaluate; default the run's best epoch. */
  epoch?: number;
  /** Print the report as JSON instead of the summary. */
  json: boolean;
  /** Random draws per novel share (the paper's protocol). */
  draws: number;
  /** Seed of those draws and of the reference images' choice. */
  seed: number;
  /** Evaluate on the first N test images only (0 or unset: all 10 000); for quick checks and tests. */
  limit?: number;
  /** Held-out validation images of the run that normalise the combined scores; 0: no combined scores. Default 1000. */
  referenceImages?: number;
  /** Backend label for the report, as selectBackend described it; default tf.getBackend(). */
  backend?: string;
}

export interface EvalDeps {
  /** Default: src/data/mnist.ts's loadMnist. */
  loadMnist?: MnistLoader;
  /** Where the summary or JSON goes; default process.stdout. */
  print?: (text: string) => void;
  /** Where the progress bar goes; it is drawn only when this is a TTY. Default process.stderr. */
  progressStream?: NodeJS.WriteStream;
}

export const DEFAULT_REFERENCE_IMAGES = 1000;

export function checkEvalOptions(opts: EvalOptions): void {
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (!isInt(opts.digit) || opts.digit < 0 || opts.digit > 9) throw new UsageError(`--digit must be 0-9, not ${opts.digit}`);
  if (!isInt(opts.draws) || opts.draws < 1) throw new UsageError(`--draws must be a whole number ≥ 1, not ${opts.draws}`);
  if (!isInt(opts.seed)) throw new UsageError(`--seed must be a whole number, not ${opts.seed}`);
  if (opts.epoch !== undefined && (!isInt(opts.epoch) || opts.epoch < 1)) throw new UsageError(`--epoch must be a whole number ≥ 1, not ${opts.epoch}`);
  if (opts.limit !== undefined && (!isInt(opts.limit) || opts.limit < 0)) throw new UsageError(`--limit must be a whole number ≥ 0, not ${opts.limit}`);
  const ref = opts.referenceImages;
  if (ref !== undefined && (!isInt(ref) || ref < 0)) throw new UsageError(`--reference-images must be a whole number ≥ 0, not ${ref}`);
}

/** The run of one digit, or the one-line error that says how to make it. */
export function requireRun(checkpointDir: string, digit: number): { runDir: string; run: RunFile } {
  const runDir = runDirFor(checkpointDir, digit);
  const run = readRunFileIfExists(runDir);
  if (!run || run.epochs.length === 0) {
    throw new AloccError(`no trained model for digit ${digit} in ${checkpointDir}; train one with: alocc train --digit ${digit}`);
  }
  if (run.config.train.digit !== digit) {
    throw new AloccError(`${runDir}/run.json is a run of digit ${run.config.train.digit}, not ${digit}; delete the folder and retrain`);
  }
  return { runDir, run };
}

/** A cli-progress bar on a TTY; otherwise nothing, so logs and pipes stay clean. */
export function progressBar(stream: NodeJS.WriteStream, what: string): { update: (done: number, total: number) => void; stop: () => void } {
  if (!stream.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    stream,
    format: `${what} |{bar}| {value}/{total} images | {eta_formatted} left`,
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0), (started = true);
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

export interface LoadedData {
  test: MnistSplit;
}

export async function loadEvalData(opts: EvalOptions, loader: MnistLoader): Promise<LoadedData> {
  return { test: firstImages(await loader('test'), opts.limit) };
}

/** Evaluates one run on already-loaded data and writes its report files; prints nothing. */
export function evaluateRun(
  opts: EvalOptions, data: LoadedData, progressStream: NodeJS.WriteStream,
): { report: EvalReport; files: ReportFiles } {
  checkEvalOptions(opts);
  const { runDir, run } = requireRun(opts.checkpointDir, opts.digit);
  const epoch = opts.epoch ?? run.bestEpoch ?? run.epochs[run.epochs.length - 1].epoch;
  const reference: ReferenceImages | undefined = validationReference(run, opts.referenceImages ?? DEFAULT_REFERENCE_IMAGES);
  const loaded = loadEpochModels(runDir, run, epoch);
  const nets = { ...loaded, memory: undefined as FeatureMemory | undefined };
  const bar = progressBar(progressStream, `scoring digit ${opts.digit}`);
  try {
    nets.memory = loadRunMemory(run, nets.r);
    const result = evaluate(nets, run, epoch, data.test.images, data.test.labels, data.test.count, {
      seed: opts.seed,
      draws: opts.draws,
      reference,
      backend: opts.backend ?? tf.getBackend(),
      onProgress: bar.update,
    });
    bar.stop(); // before writing, so the bar's last redraw does not land after our output
    return { report: result.report, files: writeEvalReport(runDir, result) };
  } finally {
    bar.stop();
    nets.r.dispose();
    nets.d.dispose();
    disposeFeatureMemory(nets.memory);
  }
}

/**
 * `alocc eval`: scores the MNIST test set with one digit's run (its best epoch unless --epoch), writes
 * <runDir>/eval/report.json, report.md and examples.png, prints a summary (or the JSON) and returns the report.
 */
export async function evalCommand(opts: EvalOptions, deps: EvalDeps = {}): Promise<EvalReport> {
  checkEvalOptions(opts);
  // Before loading MNIST, so the common mistakes fail fast.
  const { runDir, run } = requireRun(opts.checkpointDir, opts.digit);
  if (opts.epoch !== undefined && !run.epochs.some((e) => e.epoch === opts.epoch)) {
    throw new AloccError(`epoch ${opts.epoch} has no checkpoint in ${runDir} (completed epochs: ${run.epochs.map((e) => e.epoch).join(', ')})`);
  }
  const print = deps.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const data = await loadEvalData(opts, deps.loadMnist ?? defaultMnistLoader);
  const { report, files } = evaluateRun(opts, data, deps.progressStream ?? process.stderr);
  print(opts.json ? reportJson(report).trimEnd() : renderSummary(report, files));
  return report;
}
