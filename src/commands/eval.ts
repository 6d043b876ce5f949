/**
 * `alocc eval`: the library's evaluate (src/api/evaluate.ts) with its events drawn as the CLI's output: the backend
 * line and a progress bar on stderr, the summary or the JSON report on stdout.
 */
import { BackendInfo, describeBackend } from '../backend-choice';
import { SingleBar } from 'cli-progress';
import { checkEvaluateOptions, evaluate, EvaluateOptions } from '../api/evaluate';
import { EvalReport } from '../eval/evaluate';
import { renderSummary, reportJson, ReportFiles } from '../eval/report';
import { resolveRunDir, RunSelector } from '../run/select';

export interface EvalOptions extends RunSelector, Omit<EvaluateOptions, 'on' | 'onProgress'> {
  /** Print the report as JSON instead of the summary. */
  json: boolean;
  /** Random draws per novel share (the paper's protocol), and their seed. */
  draws: number;
  seed: number;
  /** Where the backend line goes; default process.stderr. */
  log?: NodeJS.WritableStream;
}

export interface EvalDeps {
  /** Where the summary or JSON goes; default process.stdout. */
  print?: (text: string) => void;
  /** Where the progress bar goes; it is drawn only when this is a TTY. Default process.stderr. */
  progressStream?: NodeJS.WriteStream;
}

/** A cli-progress bar on a TTY; otherwise nothing, so logs and pipes stay clean. */
export function progressBar(stream: NodeJS.WriteStream, what: string): { update: (done: number, total: number) => void; stop: () => void } {
  if (!stream.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({ stream, format: `${what} |{bar}| {value}/{total} images | {eta_formatted} left`, hideCursor: true, clearOnComplete: true });
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

/**
 * Evaluates one run folder with a progress bar on `progressStream`; `onBackend` hears which backend scores. The bar is
 * gone before this resolves, so its last redraw does not land after what the caller prints next.
 */
export async function evaluateWithBar(
  runDir: string, opts: EvaluateOptions, progressStream: NodeJS.WriteStream, onBackend?: (info: BackendInfo) => void,
): Promise<{ report: EvalReport; files: ReportFiles }> {
  const bar = progressBar(progressStream, `scoring with ${runDir}`);
  try {
    const { epoch, normal, novel, masks, limit, draws, seed, backend } = opts;
    const warning = (line: string) => (bar.stop(), progressStream.write(`warning: ${line}\n`));
    return await evaluate(runDir, { epoch, normal, novel, masks, limit, draws, seed, backend, on: { backend: onBackend, progress: bar.update, warning } });
  } finally {
    bar.stop();
  }
}

/**
 * `alocc eval`: scores a run's test images (a built-in set's, or the user's --normal and --novel folders) at its best
 * epoch unless --epoch, writes <run>/eval/report.json, report.md, examples.png, roc.png and scores.png, prints a
 * summary (or the JSON) and returns the report.
 */
export async function evalCommand(opts: EvalOptions, deps: EvalDeps = {}): Promise<EvalReport> {
  checkEvaluateOptions(opts);
  const runDir = resolveRunDir(opts);
  const print = deps.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const backendLine = (info: BackendInfo) => (opts.log ?? process.stderr).write(describeBackend(info) + '\n');
  const { report, files } = await evaluateWithBar(runDir, opts, deps.progressStream ?? process.stderr, backendLine);
  print(opts.json ? reportJson(report).trimEnd() : renderSummary(report, files));
  return report;
}
