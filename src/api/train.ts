/**
 * Training and evaluation for programs: the same work as `alocc train` and `alocc eval`, with progress as callbacks
 * and nothing printed or exited.
 */
import { Writable } from 'stream';
import { BackendChoice, selectBackend } from '../backend';
import { evaluateRunDir } from '../commands/eval';
import { train as trainCommand, TrainOptions as CommandTrainOptions } from '../commands/train';
import { EvalReport } from '../eval/evaluate';
import { ReportFiles } from '../eval/report';
import { defaultRunName, runDirFor } from '../run/paths';
import { EpochRecord, RunFile } from '../run/runfile';
import { BatchLosses } from '../train/step';

/** Progress callbacks; each is optional. */
export interface TrainProgress {
  /** An epoch begins, with this many batches. */
  epochStart?(epoch: number, batches: number): void;
  /** A batch ended: its losses and the images per second so far this epoch. */
  batch?(epoch: number, batch: number, losses: BatchLosses, imagesPerSecond: number): void;
  /** An epoch ended and its checkpoint is saved: its losses, validation scores and threshold. */
  epoch?(record: EpochRecord): void;
  /** A line the CLI would print (data read, backend, resuming, the summary). */
  log?(line: string): void;
}

export interface TrainOptions extends Omit<CommandTrainOptions, 'log' | 'out' | 'events' | 'shouldStop' | 'checkpointDir' | 'backend'> {
  /** Where run folders go; default 'checkpoints'. */
  checkpointDir?: string;
  backend?: BackendChoice;
  /** Aborting stops training at the next batch; completed epochs are kept and the promise rejects. */
  signal?: AbortSignal;
  on?: TrainProgress;
}

/** A stream that hands each complete line to `line` (nothing is printed). */
function lineStream(line: (text: string) => void): NodeJS.WriteStream {
  let partial = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      const lines = (partial + String(chunk)).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) line(l);
      done();
    },
  });
  return Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream;
}

/** Trains (or with `resume`, continues) a run; resolves with its folder and run file. */
export async function train(opts: TrainOptions): Promise<{ runDir: string; run: RunFile }> {
  const { on = {}, signal, ...rest } = opts;
  const checkpointDir = opts.checkpointDir ?? 'checkpoints';
  const log = lineStream((l) => on.log?.(l));
  const run = await trainCommand({
    ...rest,
    checkpointDir,
    backend: opts.backend ?? 'auto',
    log,
    out: log,
    events: { epochStart: on.epochStart?.bind(on), batchEnd: on.batch?.bind(on), epochEnd: on.epoch ? (record) => on.epoch!(record) : undefined },
    shouldStop: () => signal?.aborted ?? false,
  });
  return { runDir: runDirFor(checkpointDir, opts.name ?? defaultRunName(run.config.data)), run };
}

export interface EvaluateOptions {
  /** Epoch to evaluate; default the run's best. */
  epoch?: number;
  /** Folders of your own labelled pictures (both or neither); default the built-in test set of the run's data. */
  normal?: string;
  novel?: string;
  /** First N test images of a built-in set (0: all). */
  limit?: number;
  /** Random draws per novel share in the paper's protocol (default 10) and their seed (42). */
  draws?: number;
  seed?: number;
  backend?: BackendChoice;
  /** Called as test images are scored. */
  onProgress?(done: number, total: number): void;
}

/** Evaluates a run folder as `alocc eval` does, writing <run>/eval/report.json and its charts; resolves with the report. */
export async function evaluate(runDir: string, opts: EvaluateOptions = {}): Promise<{ report: EvalReport; files: ReportFiles }> {
  const backend = await selectBackend(opts.backend ?? 'auto');
  const quiet = lineStream(() => {});
  return evaluateRunDir(
    runDir,
    { ...opts, checkpointDir: '', json: true, draws: opts.draws ?? 10, seed: opts.seed ?? 42, model: runDir },
    quiet,
    backend.label,
  );
}
