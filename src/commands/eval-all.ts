import * as path from 'path';
import { NoveltyScore } from '../config';
import { AloccError, UsageError } from '../errors';
import { defaultMnistLoader } from '../eval/dataset';
import { EvalReport } from '../eval/evaluate';
import { meanSd } from '../eval/metrics';
import { fmt, fmtMeanSd } from '../eval/report';
import { writeFileAtomic } from '../fsutil';
import { runDirFor } from '../run/checkpoint';
import { readRunFileIfExists } from '../run/runfile-io';
import { EvalDeps, EvalOptions, evaluateRun, loadEvalData } from './eval';

export interface EvalAllOptions extends Omit<EvalOptions, 'digit' | 'epoch'> {
  /** Epochs each digit's run must have; runs with fewer are trained (resumed) up to it. */
  epochs: number;
}

/** Trains (or resumes) the run of `digit` until it has `epochs` epochs; the trainer lives elsewhere. */
export type TrainFn = (digit: number, epochs: number) => Promise<unknown>;

export interface DigitRow {
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
  testImages: number;
  /** Score names and labels, in column order. */
  scores: { name: string; label: string }[];
  digits: DigitRow[];
  /** Mean ± sd over the digits evaluated. */
  mean: { scoreAuroc: { mean: number; sd: number }; auroc: Record<string, { mean: number; sd: number }>; f1: { mean: number; sd: number }; f1AtShare: Record<string, { mean: number; sd: number }> };
}

function completedEpochs(checkpointDir: string, digit: number): number {
  const run = readRunFileIfExists(runDirFor(checkpointDir, digit));
  return run ? Math.max(0, ...run.epochs.map((e) => e.epoch)) : 0;
}

/** The report's name for each novelty score's AUROC row. */
const REPORT_NAME: Record<NoveltyScore, string> = { bce: 'reconLoss', kl: 'kl', mse: 'mse', ink: 'inkNorm', knn: 'knn' };

function digitRow(report: EvalReport, reportFile: string): DigitRow {
  const score = report.threshold.score;
  return {
    digit: report.digit,
    epoch: report.epoch,
    score,
    scoreAuroc: report.scores.find((s) => s.name === REPORT_NAME[score])?.auroc ?? NaN,
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
  const header = ['digit', 'epoch', 'score', 'AUROC of its score', ...summary.scores.map((s) => `AUROC ${s.label}`), 'F1 thr', ...shares.map((k) => `F1 @${Math.round(Number(k) * 100)}%`)];
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
    `# ALOCC evaluation, all digits`,
    '',
    `Each digit's run (up to ${summary.epochs} epochs, its best epoch by the validation mean of its novelty score) on ${summary.testImages} MNIST test images; ` +
      `AUROC on the whole test set, F1 of the calibrated threshold on the whole set and at novel shares (mean over ${summary.draws} draws, seed ${summary.seed}).`,
    `${summary.startedAt} to ${summary.finishedAt}.`,
    '',
    renderAllTable(summary),
    '',
    ...summary.digits.map((r) => `- digit ${r.digit}: ${r.report}`),
    '',
  ].join('\n');
}

/**
 * `alocc eval --all-digits`: for digits 0-9 in turn, trains the run up to `epochs` unless it has them already (so an
 * interrupted sweep resumes), evaluates it, and rewrites <checkpointDir>/eval-all.json and .md after each digit.
 */
export async function evalAllDigits(opts: EvalAllOptions, trainFn: TrainFn, deps: EvalDeps = {}): Promise<EvalAllSummary> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new UsageError(`--epochs must be a whole number ≥ 1, not ${opts.epochs}`);
  const print = deps.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const log = (text: string) => (opts.json ? undefined : print(text));
  const startedAt = new Date().toISOString();
  const data = await loadEvalData({ ...opts, digit: 0 }, deps.loadMnist ?? defaultMnistLoader);
  const rows: DigitRow[] = [];
  let scores: { name: string; label: string }[] = [];
  let summary: EvalAllSummary | null = null;
  const jsonFile = path.join(opts.checkpointDir, 'eval-all.json');
  const mdFile = path.join(opts.checkpointDir, 'eval-all.md');

  for (let digit = 0; digit <= 9; digit++) {
    const have = completedEpochs(opts.checkpointDir, digit);
    if (have < opts.epochs) {
      log(`digit ${digit}: training to ${opts.epochs} epochs (has ${have})`);
      await trainFn(digit, opts.epochs);
      const now = completedEpochs(opts.checkpointDir, digit);
      if (now < opts.epochs) {
        throw new AloccError(`training digit ${digit} stopped at epoch ${now} of ${opts.epochs}; run the same command again to resume`);
      }
    }
    const { report, files } = evaluateRun({ ...opts, digit }, data, deps.progressStream ?? process.stderr);
    if (scores.length === 0) scores = report.scores.map((s) => ({ name: s.name, label: s.label }));
    rows.push(digitRow(report, files.markdown));
    log(`digit ${digit}: epoch ${report.epoch}, score ${report.threshold.score}, ${report.scores.map((s) => `AUROC ${s.label} ${fmt(s.auroc, 4)}`).join(', ')}, F1 ${fmt(report.threshold.f1)}`);
    summary = {
      format: 'alocc-eval-all',
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      epochs: opts.epochs,
      seed: opts.seed,
      draws: opts.draws,
      testImages: data.test.count,
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
