/**
 * Evaluation for programs, and the work behind `alocc eval`: a run's test images scored, the report and its charts
 * written to <run>/eval/. Nothing here prints or exits; the CLI renders the events (src/commands/eval.ts).
 */
import * as fs from 'node:fs';
import { selectBackend } from '../backend';
import { BackendChoice, BackendInfo } from '../backend-choice';
import { builtInTestImages, labelledFolders } from '../data/test-images';
import { UsageError } from '../errors';
import { evaluate as scoreTestImages, EvalReport } from '../eval/evaluate';
import { localiseTestImages } from '../eval/localise';
import { ReportFiles, writeEvalReport } from '../eval/report';
import { openRun } from '../run/open';

/** Progress callbacks, called in this order: backend, then progress as images are scored. Each is optional. */
export interface EvaluateProgress {
  /** The tfjs backend chosen, and why faster ones were skipped. */
  backend?(info: BackendInfo): void;
  /** `done` of `total` test images scored. */
  progress?(done: number, total: number): void;
  /** One line about input left out (a refused mask), the rest going on. */
  warning?(line: string): void;
}

export interface EvaluateOptions {
  /** Epoch to evaluate; default the run's best. */
  epoch?: number;
  /** Folders of your own labelled pictures (both or neither); default the built-in test set of the run's data. */
  normal?: string;
  novel?: string;
  /** A folder of defect masks for the --novel pictures (one PNG each, named as the picture): adds image AUROC of
   * the largest cell distance, pixel AUROC and PRO. */
  masks?: string;
  /** First N test images of a built-in set (0: all). */
  limit?: number;
  /** Random draws per novel share in the paper's protocol (default 10) and their seed (42). */
  draws?: number;
  seed?: number;
  /** Default 'auto'. */
  backend?: BackendChoice;
  on?: EvaluateProgress;
  /** Called as test images are scored (the same as on.progress). */
  onProgress?(done: number, total: number): void;
}

export const DEFAULT_DRAWS = 10;
export const DEFAULT_DRAW_SEED = 42;

/** Refuses options no evaluation can run with, naming the CLI option: before anything is read. */
export function checkEvaluateOptions(opts: EvaluateOptions): void {
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  const { draws = DEFAULT_DRAWS, seed = DEFAULT_DRAW_SEED } = opts;
  if (!isInt(draws) || draws < 1) throw new UsageError(`--draws must be a whole number ≥ 1, not ${draws}`);
  if (!isInt(seed)) throw new UsageError(`--seed must be a whole number, not ${seed}`);
  if (opts.epoch !== undefined && (!isInt(opts.epoch) || opts.epoch < 1)) throw new UsageError(`--epoch must be a whole number ≥ 1, not ${opts.epoch}`);
  if (opts.limit !== undefined && (!isInt(opts.limit) || opts.limit < 0)) throw new UsageError(`--limit must be a whole number ≥ 0, not ${opts.limit}`);
  if ((opts.normal === undefined) !== (opts.novel === undefined)) throw new UsageError('--normal and --novel go together: give a folder of each');
  if (opts.masks !== undefined && opts.novel === undefined) throw new UsageError('--masks grades your own defective pictures: give --normal DIR --novel DIR with it');
  // Checked before any scoring, which can take minutes.
  if (opts.masks !== undefined && !fs.statSync(opts.masks, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${opts.masks}: no such folder of masks; give --masks a folder holding one PNG per test picture`);
  }
}

/**
 * Evaluates a run folder at its best epoch (or `epoch`) on the built-in test set of its data or on labelled folders,
 * writing <run>/eval/report.json, report.md, examples.png, roc.png and scores.png; resolves with the report and files.
 */
export async function evaluate(runDir: string, opts: EvaluateOptions = {}): Promise<{ report: EvalReport; files: ReportFiles }> {
  checkEvaluateOptions(opts);
  const backend = await selectBackend(opts.backend ?? 'auto');
  opts.on?.backend?.(backend);
  const opened = openRun(runDir, { epoch: opts.epoch });
  try {
    let test;
    if (opts.normal !== undefined) {
      test = await labelledFolders(opts.normal, opts.novel!, opened.preprocessing);
    } else if (opened.config.data.source === 'folder') {
      throw new UsageError(`${runDir} was trained on a folder; evaluate it on labelled pictures with --normal DIR --novel DIR`);
    } else {
      test = builtInTestImages(opened.config.data, opts.limit);
    }
    const result = scoreTestImages(opened, test.test, {
      seed: opts.seed ?? DEFAULT_DRAW_SEED,
      draws: opts.draws ?? DEFAULT_DRAWS,
      backend: backend.label,
      testSource: test.source,
      onProgress: (done, total) => (opts.on?.progress?.(done, total), opts.onProgress?.(done, total)),
    });
    if (opts.masks !== undefined) {
      const localisation = await localiseTestImages(opened, test.test, opts.masks, opts.novel);
      for (const line of localisation.problems) opts.on?.warning?.(line);
      result.report.localisation = localisation;
    }
    return { report: result.report, files: writeEvalReport(runDir, result) };
  } finally {
    opened.dispose();
  }
}
