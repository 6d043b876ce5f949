import * as path from 'path';
import { scoreTitle } from '../score/registry';
import { writeFileAtomic } from '../fsutil';
import { EvalReport, EvaluateResult } from './evaluate';
import { drawExamples } from './examples-png';
import { MeanSd, rocCurve, rocPointAt } from './metrics';
import { renderRocChart } from '../plot/roc-chart';
import { renderScoreHistogram } from '../plot/score-histogram';

/** A number for people: 'n/a' for NaN (a diverged model), fixed digits otherwise. */
export function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

/** Four significant digits: raw score means can be anywhere from 1e-4 to 1. */
function sig(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(4))) : 'n/a';
}

export function fmtMeanSd(m: MeanSd, digits = 3): string {
  return m.n > 1 ? `${fmt(m.mean, digits)} ± ${fmt(m.sd, digits)}` : fmt(m.mean, digits);
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10} %`;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** report.md: the report as readable tables. */
export function renderMarkdown(report: EvalReport): string {
  const t = report.testImages;
  const th = report.threshold;
  const lines: string[] = [
    `# ALOCC evaluation: ${report.normalClass}, epoch ${report.epoch}`,
    '',
    `- Run: ${report.run}`,
    `- Test images: ${t.scored} from ${report.testSource}; normal (${report.normalClass}): ${t.normal}; novel: ${t.novel}`,
    `- Epoch ${report.epoch}${report.epoch === report.bestEpoch ? ` (the best: lowest validation reconstruction loss)` : ` (best: ${report.bestEpoch})`}; ` +
      `backend ${report.backend} (trained on ${report.runBackend})`,
    `- ${report.startedAt} to ${report.finishedAt} (${fmt(report.seconds, 1)} s); seed ${report.seed}, ${report.draws} draws per share`,
    '',
    '## Every score on the whole test set',
    '',
    'Novel images are the positives; AUROC 0.5 is chance. Recall at 1 % / 5 % false alarms: the share of novel images a ' +
      'threshold catches when it flags at most that share of normal ones. The baseline row uses no network at all.',
    '',
    ...table(
      ['score', 'AUROC', 'AUPRC', 'recall @1 % FA', 'recall @5 % FA', 'normal mean ± sd', 'novel mean ± sd', 'novel when', 'what it is'],
      report.scores.map((s) => [
        s.label, fmt(s.auroc, 4), fmt(s.auprc, 4), fmt(s.recallAt1PercentFalseAlarms), fmt(s.recallAt5PercentFalseAlarms),
        `${sig(s.normal.mean)} ± ${sig(s.normal.sd)}`, `${sig(s.novel.mean)} ± ${sig(s.novel.sd)}`, s.novelWhen, s.description,
      ]),
    ),
    '',
    `## Calibrated threshold: ${scoreTitle(th.score)} > ${fmt(th.value, 5)} → novel`,
    '',
    `Threshold from the ${th.source} (no test images). On the whole test set, novel as the positive class:`,
    '',
    ...table(
      ['precision', 'recall', 'F1', 'TP', 'FP', 'TN', 'FN'],
      [[fmt(th.precision), fmt(th.recall), fmt(th.f1), `${th.tp}`, `${th.fp}`, `${th.tn}`, `${th.fn}`]],
    ),
    '',
    ...localThresholdLines(report),
    ...localisationLines(report),
    "## The paper's protocol: novel shares",
    '',
    `Every normal test image plus novel ones drawn at random (seed ${report.seed}) to make the given share; mean ± sd over ${report.draws} draws. F1, precision and recall take the normal class as positive, as the paper does.`,
    '',
    ...table(
      ['novel share', 'normal', 'novel', 'F1 (threshold)', 'precision', 'recall', ...report.scores.map((s) => `AUROC ${s.label}`)],
      report.shares.map((s) => [
        s.capped ? `${pct(s.actualShare)} (asked ${pct(s.targetShare)}; too few novel images)` : pct(s.targetShare),
        `${s.normal}`,
        `${s.novel}`,
        fmtMeanSd(s.threshold.f1),
        fmtMeanSd(s.threshold.precision),
        fmtMeanSd(s.threshold.recall),
        ...report.scores.map((sc) => fmtMeanSd(s.auroc[sc.name])),
      ]),
    ),
    '',
  ];
  lines.push('![ROC curve](roc.png)', '', '![score histograms](scores.png)', '', '![examples](examples.png)', '');
  return lines.join('\n');
}

/** The local score's own calibrated threshold on the test set (the verdict stays the run's score). */
function localThresholdLines(report: EvalReport): string[] {
  const l = report.localThreshold;
  if (!l) return []; // reports written before the local score
  return [
    `## Local score: mean of the ${l.topK} largest cell distances > ${fmt(l.value, 5)} → novel`,
    '',
    `Its own threshold, from the ${l.source}; cells compared by ${l.neighbourhood}. Not the verdict: on the whole test set, novel as the positive class:`,
    '',
    ...table(['precision', 'recall', 'F1', 'TP', 'FP', 'TN', 'FN'], [[fmt(l.precision), fmt(l.recall), fmt(l.f1), `${l.tp}`, `${l.fp}`, `${l.tn}`, `${l.fn}`]]),
    '',
  ];
}

/** With --masks: the maps graded against the masks, beside the same cell search on raw pixels. */
function localisationLines(report: EvalReport): string[] {
  const loc = report.localisation;
  if (!loc) return [];
  const row = (what: string, r: { imageAuroc: number; pixelAuroc: number; pro: number }) => [what, fmt(r.imageAuroc, 4), fmt(r.pixelAuroc, 4), fmt(r.pro, 4)];
  return [
    '## Where it is novel: the maps against the masks',
    '',
    `${loc.masks} defective pictures with a mask and the intact ones (${loc.pixelPictures} pictures in the pixel numbers); cells compared by ${loc.neighbourhood}. ` +
      `Image AUROC ranks defective against intact pictures by the mean of their ${loc.topK} largest cell distances; PRO integrates per-region overlap to 30 % false-positive rate. ` +
      'The baseline row is the same cell search on raw pixel cells: no network at all.' + (loc.problems.length ? ` ${loc.problems.length} masks were left out: ${loc.problems.join('; ')}` : ''),
    '',
    ...table(['cells of', 'image AUROC', 'pixel AUROC', 'PRO @30 % FPR'], [row("R's first block", loc), ...(loc.baseline ? [row('raw pixels (baseline)', loc.baseline)] : [])]),
    '',
  ];
}

export interface ReportFiles {
  json: string;
  markdown: string;
  png: string;
  roc: string;
  histogram: string;
}

/** The JSON text of a report: NaN becomes null, which is what JSON can hold. */
export function reportJson(report: EvalReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** Writes <runDir>/eval/report.json, report.md and examples.png, each atomically. */
export function writeEvalReport(runDir: string, result: EvaluateResult): ReportFiles {
  const dir = path.join(runDir, 'eval');
  const files: ReportFiles = {
    json: path.join(dir, 'report.json'),
    markdown: path.join(dir, 'report.md'),
    png: path.join(dir, 'examples.png'),
    roc: path.join(dir, 'roc.png'),
    histogram: path.join(dir, 'scores.png'),
  };
  writeFileAtomic(files.png, drawExamples(result));
  const { report } = result;
  const verdict = report.scores.find((s) => s.name === report.threshold.score)!;
  const values = result.values[verdict.name];
  // The charts show the raw score the threshold applies to (the five verdict scores all point "higher = novel").
  const normal: number[] = [], novel: number[] = [];
  values.forEach((v, i) => (result.isNovel[i] ? novel : normal).push(v));
  const th = report.threshold;
  writeFileAtomic(files.roc, renderRocChart(rocCurve(values, result.isNovel), rocPointAt(values, result.isNovel, th.value), {
    auroc: verdict.auroc,
    scoreLabel: verdict.label,
    title: `ROC of ${verdict.label}: ${report.normalClass} normal`,
  }));
  writeFileAtomic(files.histogram, renderScoreHistogram(normal, novel, th.value, { title: `${verdict.label}: normal and novel test images`, scoreLabel: verdict.label }));
  writeFileAtomic(files.markdown, renderMarkdown(result.report));
  // The JSON last: a reader that finds it finds the other two written.
  writeFileAtomic(files.json, reportJson(result.report));
  return files;
}

/** The few lines `alocc eval` prints. */
export function renderSummary(report: EvalReport, files?: ReportFiles): string {
  const t = report.testImages;
  const lines = [
    `${report.normalClass}, epoch ${report.epoch}: ${t.scored} test images (${t.normal} normal, ${t.novel} novel), backend ${report.backend}, ${fmt(report.seconds, 1)} s`,
    `AUROC (whole test set): ${report.scores.map((s) => `${s.label} ${fmt(s.auroc, 4)}`).join(', ')}`,
    `threshold ${fmt(report.threshold.value, 5)} on the ${scoreTitle(report.threshold.score)}, novel positive: precision ${fmt(report.threshold.precision)}, recall ${fmt(report.threshold.recall)}, F1 ${fmt(report.threshold.f1)}`,
    `paper protocol, F1 with normal positive (mean ± sd over ${report.draws} draws):`,
    ...report.shares.map((s) => `  ${pct(s.capped ? s.actualShare : s.targetShare).padStart(6)}  F1 ${fmtMeanSd(s.threshold.f1)}  AUROC ` +
      report.scores.map((sc) => `${sc.label} ${fmtMeanSd(s.auroc[sc.name])}`).join(', ')),
  ];
  const loc = report.localisation;
  if (loc) {
    lines.push(`localisation (${loc.masks} masks, cells by ${loc.neighbourhood}): image AUROC of the ${loc.topK} largest cell distances ${fmt(loc.imageAuroc, 4)}, pixel AUROC ${fmt(loc.pixelAuroc, 4)}, PRO to 30 % FPR ${fmt(loc.pro, 4)}` +
      (loc.problems.length ? `; ${loc.problems.length} masks left out (see above)` : ''));
    if (loc.baseline) lines.push(`  raw-pixel cells (baseline): image AUROC ${fmt(loc.baseline.imageAuroc, 4)}, pixel AUROC ${fmt(loc.baseline.pixelAuroc, 4)}, PRO ${fmt(loc.baseline.pro, 4)}`);
  }
  if (files) lines.push(`report: ${files.markdown} (also report.json, examples.png, roc.png, scores.png)`);
  return lines.join('\n');
}
