import * as path from 'path';
import { selectBackend } from '../backend';
import { describeBackend } from '../backend-choice';
import { DatasetName, FASHION_CLASSES, NoveltyScore } from '../config';
import { AloccError, UsageError } from '../errors';
import { EvalReport } from '../eval/evaluate';
import { meanSd } from '../eval/metrics';
import { fmt, fmtMeanSd } from '../eval/report';
import { writeFileAtomic } from '../fsutil';
import { defaultRunName, runDirFor } from '../run/paths';
import { readRunFileIfExists } from '../run/runfile-io';
import { EvalDeps, EvalOptions, evaluateWithBar } from './eval';

export interface EvalAllOptions extends Omit<EvalOptions, 'epoch' | 'model' | 'name' | 'digit' | 'dataset' | 'cls' | 'normal' | 'novel'> {
  /** The built-in set whose ten classes are evaluated, each in turn the normal class. */
  dataset: Exclude<DatasetName, 'folder'>;
  /** Epochs each class's run must have; runs with fewer are trained (resumed) up to it. */
  epochs: number;
}

/** Trains (or resumes) the run of class `cls` until it has `epochs` epochs; the trainer lives elsewhere. */
export type TrainFn = (cls: number, epochs: number) => Promise<unknown>;

export interface DigitRow {
  /** The normal class. */
  digit: number;
  epoch: number;
  /** The run's novelty score (its verdict's) and that score's AUROC. */
  score: NoveltyScore;
  scoreAuroc: number;
  /** AUROC by score name, whole test set. */
  auroc: Record<string, number>;
  /** F1 of the calibrated threshold on the whole test set. */
  f1: number;
  /** F1 of the threshold at each novel share (mean over draws), keyed like '0.1'. */
  f1AtShare: Record<string, number>;
  report: string;
}

export interface EvalAllSummary {
  format: 'alocc-eval-all';
  version: 1;
  startedAt: string;
  finishedAt: string;
  epochs: number;
  seed: number;
  draws: number;
  dataset: string;
  testImages: number;
  /** Score names and labels, in column order. */
  scores: { name: string; label: string }[];
  digits: DigitRow[];
  /** Mean ± sd over the digits evaluated. */
  mean: { scoreAuroc: { mean: number; sd: number }; auroc: Record<string, { mean: number; sd: number }>; f1: { mean: number; sd: number }; f1AtShare: Record<string, { mean: number; sd: number }> };
}

function completedEpochs(runDir: string): number {
  const run = readRunFileIfExists(runDir);
  return run ? Math.max(0, ...run.epochs.map((e) => e.epoch)) : 0;
}

function digitRow(cls: number, report: EvalReport, reportFile: string): DigitRow {
  const score: NoveltyScore = report.threshold.score;
  return {
    digit: cls,
    epoch: report.epoch,
    score,
    scoreAuroc: report.scores.find((s) => s.name === score)?.auroc ?? NaN,
    auroc: Object.fromEntries(report.scores.map((s) => [s.name, s.auroc])),
    f1: report.threshold.f1,
    f1AtShare: Object.fromEntries(report.shares.map((s) => [String(s.targetShare), s.threshold.f1.mean])),
    report: reportFile,
  };
}

function summarise(rows: DigitRow[], scores: { name: string; label: string }[]) {
  const over = (get: (r: DigitRow) => number) => {
    const m = meanSd(rows.map(get));
    return { mean: m.mean, sd: m.sd };
  };
  const shares = Object.keys(rows[0]?.f1AtShare ?? {});
  return {
    scoreAuroc: over((r) => r.scoreAuroc),
    auroc: Object.fromEntries(scores.map((s) => [s.name, over((r) => r.auroc[s.name] ?? NaN)])),
    f1: over((r) => r.f1),
    f1AtShare: Object.fromEntries(shares.map((k) => [k, over((r) => r.f1AtShare[k])])),
  };
}

/** The per-digit table with a mean row, as Markdown (also what stdout shows). */
export function renderAllTable(summary: EvalAllSummary): string {
  const shares = Object.keys(summary.mean.f1AtShare);
  const header = ['class', 'epoch', 'score', 'AUROC of its score', ...summary.scores.map((s) => `AUROC ${s.label}`), 'F1 thr', ...shares.map((k) => `F1 @${Math.round(Number(k) * 100)}%`)];
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = [row(header), `|${header.map(() => '---').join('|')}|`];
  for (const r of summary.digits) {
    lines.push(row([`${r.digit}`, `${r.epoch}`, r.score, fmt(r.scoreAuroc, 4), ...summary.scores.map((s) => fmt(r.auroc[s.name], 4)), fmt(r.f1), ...shares.map((k) => fmt(r.f1AtShare[k]))]));
  }
  const m = summary.mean;
  lines.push(row(['mean', '', '', fmtMeanSd({ ...m.scoreAuroc, n: summary.digits.length }, 4), ...summary.scores.map((s) => fmtMeanSd({ ...m.auroc[s.name], n: summary.digits.length }, 4)),
    fmtMeanSd({ ...m.f1, n: summary.digits.length }), ...shares.map((k) => fmtMeanSd({ ...m.f1AtShare[k], n: summary.digits.length }))]));
  return lines.join('\n');
}

function renderAllMarkdown(summary: EvalAllSummary): string {
  return [
    `# ALOCC evaluation, all classes of ${summary.dataset}`,
    '',
    `Each class's run (up to ${summary.epochs} epochs, its best epoch: lowest validation reconstruction loss) on ${summary.testImages} test images; ` +
      `AUROC on the whole test set, F1 of the calibrated threshold on the whole set and at novel shares (mean over ${summary.draws} draws, seed ${summary.seed}).`,
    `${summary.startedAt} to ${summary.finishedAt}.`,
    '',
    renderAllTable(summary),
    '',
    ...summary.digits.map((r) => `- class ${r.digit}: ${r.report}`),
    '',
  ].join('\n');
}

/**
 * `alocc eval --all-digits` / `--all-classes`: for classes 0-9 in turn, trains the run up to `epochs` unless it has them
 * already (so an interrupted sweep resumes), evaluates it, and rewrites <checkpointDir>/eval-all[-fashion-mnist].json
 * and .md after each class.
 */
export async function evalAllClasses(opts: EvalAllOptions, trainFn: TrainFn, deps: EvalDeps = {}): Promise<EvalAllSummary> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new UsageError(`--epochs must be a whole number ≥ 1, not ${opts.epochs}`);
  const print = deps.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const log = (text: string) => (opts.json ? undefined : print(text));
  const startedAt = new Date().toISOString();
  const info = await selectBackend(opts.backend ?? 'auto');
  (opts.log ?? process.stderr).write(describeBackend(info) + '\n');
  const rows: DigitRow[] = [];
  let scores: { name: string; label: string }[] = [];
  let summary: EvalAllSummary | null = null;
  const stem = opts.dataset === 'mnist' ? 'eval-all' : `eval-all-${opts.dataset}`;
  const jsonFile = path.join(opts.checkpointDir, `${stem}.json`);
  const mdFile = path.join(opts.checkpointDir, `${stem}.md`);
  let testImages = 0;

  for (let cls = 0; cls <= 9; cls++) {
    const runDir = runDirFor(opts.checkpointDir, defaultRunName({ source: opts.dataset, class: cls, folder: null }));
    const name = opts.dataset === 'mnist' ? `digit ${cls}` : `class ${cls} (${FASHION_CLASSES[cls]})`;
    const have = completedEpochs(runDir);
    if (have < opts.epochs) {
      log(`${name}: training to ${opts.epochs} epochs (has ${have})`);
      await trainFn(cls, opts.epochs);
      const now = completedEpochs(runDir);
      if (now < opts.epochs) {
        throw new AloccError(`training ${name} stopped at epoch ${now} of ${opts.epochs}; run the same command again to resume`);
      }
    }
    // The backend line was printed once, above; each class's evaluation selects the same backend again.
    const { report, files } = await evaluateWithBar(runDir, opts, deps.progressStream ?? process.stderr);
    testImages = report.testImages.scored;
    if (scores.length === 0) scores = report.scores.map((s) => ({ name: s.name, label: s.label }));
    rows.push(digitRow(cls, report, files.markdown));
    log(`${name}: epoch ${report.epoch}, score ${report.threshold.score}, ${report.scores.map((s) => `AUROC ${s.label} ${fmt(s.auroc, 4)}`).join(', ')}, F1 ${fmt(report.threshold.f1)}`);
    summary = {
      format: 'alocc-eval-all',
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      epochs: opts.epochs,
      seed: opts.seed,
      draws: opts.draws,
      dataset: opts.dataset,
      testImages,
      scores,
      digits: rows,
      mean: summarise(rows, scores),
    };
    writeFileAtomic(mdFile, renderAllMarkdown(summary));
    writeFileAtomic(jsonFile, JSON.stringify(summary, null, 2) + '\n');
  }
  print(opts.json ? JSON.stringify(summary, null, 2) : `\n${renderAllTable(summary!)}\nwritten: ${mdFile}, ${jsonFile}`);
  return summary!;
}
