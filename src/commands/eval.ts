import { SingleBar } from 'cli-progress';
import { BackendChoice, describeBackend, selectBackend } from '../backend';
import { loadImageFolder } from '../data/folder';
import { builtInTestSet, LabelledSet } from '../data/source';
import { UsageError } from '../errors';
import { evaluate, EvalReport } from '../eval/evaluate';
import { renderSummary, reportJson, ReportFiles, writeEvalReport } from '../eval/report';
import { OpenedRun, openRun, resolveRunDir, RunSelector } from '../run/open';

export interface EvalOptions extends RunSelector {
  /** Epoch to evaluate; default the run's best epoch. */
  epoch?: number;
  /** Print the report as JSON instead of the summary. */
  json: boolean;
  /** Random draws per novel share (the paper's protocol). */
  draws: number;
  /** Seed of those draws. */
  seed: number;
  /** Evaluate on the first N test images only (0 or unset: all); built-in sets. */
  limit?: number;
  /** Folders of the user's own labelled pictures: every picture below `normal` is normal, below `novel` novel. */
  normal?: string;
  novel?: string;
  /** The tfjs backend to score with (see src/backend.ts); default 'auto'. */
  backend?: BackendChoice;
  /** Where the backend line goes; default process.stderr. */
  log?: NodeJS.WritableStream;
  /** Called as test images are scored (the library's evaluate passes its callback here). */
  onProgress?: (done: number, total: number) => void;
}

export interface EvalDeps {
  /** Where the summary or JSON goes; default process.stdout. */
  print?: (text: string) => void;
  /** Where the progress bar goes; it is drawn only when this is a TTY. Default process.stderr. */
  progressStream?: NodeJS.WriteStream;
}

export function checkEvalOptions(opts: EvalOptions): void {
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (!isInt(opts.draws) || opts.draws < 1) throw new UsageError(`--draws must be a whole number ≥ 1, not ${opts.draws}`);
  if (!isInt(opts.seed)) throw new UsageError(`--seed must be a whole number, not ${opts.seed}`);
  if (opts.epoch !== undefined && (!isInt(opts.epoch) || opts.epoch < 1)) throw new UsageError(`--epoch must be a whole number ≥ 1, not ${opts.epoch}`);
  if (opts.limit !== undefined && (!isInt(opts.limit) || opts.limit < 0)) throw new UsageError(`--limit must be a whole number ≥ 0, not ${opts.limit}`);
  if ((opts.normal === undefined) !== (opts.novel === undefined)) throw new UsageError('--normal and --novel go together: give a folder of each');
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

/** The first `limit` images of a labelled set (all when limit is 0 or undefined). */
function firstImages(set: LabelledSet, limit: number | undefined): LabelledSet {
  if (!limit || limit >= set.count) return set;
  const per = set.size * set.size * set.channels;
  return {
    ...set,
    pixels: set.pixels.subarray(0, limit * per),
    count: limit,
    isNovel: set.isNovel.subarray(0, limit),
    labels: set.labels?.subarray(0, limit) ?? null,
    files: set.files?.slice(0, limit) ?? null,
  };
}

/** The user's labelled folders, prepared as the run prepares pictures. */
async function folderTestSet(opened: OpenedRun, normalDir: string, novelDir: string): Promise<LabelledSet> {
  const { size, channels, resize } = opened.preprocessing;
  const load = (dir: string) => loadImageFolder(dir, { size, channels: channels as 1 | 3, resize, skipBad: false });
  const [normal, novel] = [await load(normalDir), await load(novelDir)];
  const pixels = new Uint8Array(normal.pixels.length + novel.pixels.length);
  pixels.set(normal.pixels, 0);
  pixels.set(novel.pixels, normal.pixels.length);
  const isNovel = new Uint8Array(normal.count + novel.count).fill(1, normal.count);
  return { pixels, count: normal.count + novel.count, size, channels, isNovel, labels: null, classNames: null, files: [...normal.files, ...novel.files] };
}

/** Evaluates one run folder and writes its report files; prints nothing. */
export async function evaluateRunDir(
  runDir: string, opts: EvalOptions, progressStream: NodeJS.WriteStream, backendLabel?: string,
): Promise<{ report: EvalReport; files: ReportFiles }> {
  checkEvalOptions(opts);
  const opened = openRun(runDir, { epoch: opts.epoch });
  const bar = progressBar(progressStream, `scoring with ${runDir}`);
  try {
    let test: LabelledSet;
    let testSource: string;
    if (opts.normal !== undefined) {
      test = await folderTestSet(opened, opts.normal, opts.novel!);
      testSource = `the pictures below ${opts.normal} (normal) and ${opts.novel} (novel)`;
    } else if (opened.config.data.source === 'folder') {
      throw new UsageError(`${runDir} was trained on a folder; evaluate it on labelled pictures with --normal DIR --novel DIR`);
    } else {
      test = firstImages(builtInTestSet(opened.config.data), opts.limit);
      testSource = opened.config.data.source === 'mnist' ? 'the MNIST test set' : "Fashion-MNIST's held-out images (each class's images after its first 6,000)";
    }
    const result = evaluate(opened, test, { seed: opts.seed, draws: opts.draws, backend: backendLabel, testSource, onProgress: (done, total) => (bar.update(done, total), opts.onProgress?.(done, total)) });
    bar.stop(); // before writing, so the bar's last redraw does not land after our output
    return { report: result.report, files: writeEvalReport(runDir, result) };
  } finally {
    bar.stop();
    opened.dispose();
  }
}

/**
 * `alocc eval`: scores a run's test images (a built-in set's, or the user's --normal and --novel folders) at its best
 * epoch unless --epoch, writes <run>/eval/report.json, report.md, examples.png, roc.png and scores.png, prints a
 * summary (or the JSON) and returns the report.
 */
export async function evalCommand(opts: EvalOptions, deps: EvalDeps = {}): Promise<EvalReport> {
  checkEvalOptions(opts);
  const runDir = resolveRunDir(opts);
  const info = await selectBackend(opts.backend ?? 'auto');
  (opts.log ?? process.stderr).write(describeBackend(info) + '\n');
  const print = deps.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const { report, files } = await evaluateRunDir(runDir, opts, deps.progressStream ?? process.stderr, info.label);
  print(opts.json ? reportJson(report).trimEnd() : renderSummary(report, files));
  return report;
}

