/**
 * `alocc eval --all-digits --seeds 42,1,2` (or `--dataset X --all-classes --seeds …`): the whole ten-class sweep once
 * per training seed, each seed's runs in <checkpoint-dir>/seed-<s>/, then every score's AUROC per class as mean ± sd
 * over the seeds, and the ten-class mean of each seed with its sd over seeds: how much of a difference between two
 * settings is the seed's.
 */
import * as path from 'path';
import { DatasetName } from '../config';
import { meanSd, MeanSd } from '../eval/metrics';
import { fmt, fmtMeanSd } from '../eval/report';
import { writeFileAtomic } from '../fsutil';
import { EvalAllOptions, EvalAllSummary, evalAllClasses, TrainFn } from './eval-all';
import { EvalDeps } from './eval';

/** The folder of one seed's runs. */
export function seedDir(checkpointDir: string, seed: number): string {
  return path.join(checkpointDir, `seed-${seed}`);
}

export interface SeedsSummary {
  format: 'alocc-eval-seeds';
  version: 1;
  dataset: string;
  seeds: number[];
  epochs: number;
  testImages: number;
  /** The verdict's score (the same in every run of the sweep) and the network-free baseline. */
  verdict: string;
  baseline: string;
  scores: { name: string; label: string }[];
  /** AUROC of each score over the seeds, per class. */
  classes: { class: number; auroc: Record<string, MeanSd>; epochs: number[] }[];
  /** Each seed's ten-class mean AUROC of each score, and their mean ± sd over seeds. */
  seedMeans: Record<string, number[]>;
  mean: Record<string, MeanSd>;
  /** Classes whose mean verdict AUROC over seeds is above the baseline's. */
  classesAboveBaseline: number;
  /** Each seed's own eval-all summary file. */
  sweeps: string[];
}

/** Mean ± sd over seeds of every score, per class and for the ten-class means. */
export function summariseSeeds(dataset: string, seeds: number[], sweeps: EvalAllSummary[], files: string[]): SeedsSummary {
  const scores = sweeps[0].scores;
  const verdict = sweeps[0].digits[0]?.score ?? 'knn';
  const classes = sweeps[0].digits.map((row, i) => ({
    class: row.digit,
    auroc: Object.fromEntries(scores.map((s) => [s.name, meanSd(sweeps.map((sw) => sw.digits[i].auroc[s.name]))])),
    epochs: sweeps.map((sw) => sw.digits[i].epoch),
  }));
  const seedMeans = Object.fromEntries(scores.map((s) => [s.name, sweeps.map((sw) => sw.mean.auroc[s.name].mean)]));
  return {
    format: 'alocc-eval-seeds',
    version: 1,
    dataset,
    seeds,
    epochs: sweeps[0].epochs,
    testImages: sweeps[0].testImages,
    verdict,
    baseline: 'pixelKnn',
    scores,
    classes,
    seedMeans,
    mean: Object.fromEntries(scores.map((s) => [s.name, meanSd(seedMeans[s.name])])),
    classesAboveBaseline: classes.filter((c) => c.auroc[verdict].mean > c.auroc.pixelKnn.mean).length,
    sweeps: files,
  };
}

/** The table: one row per class (mean ± sd over seeds), the verdict and the baseline first, then the ten-class means. */
export function renderSeedsTable(s: SeedsSummary): string {
  const order = [s.verdict, s.baseline, ...s.scores.map((x) => x.name).filter((n) => n !== s.verdict && n !== s.baseline)];
  const label = (n: string) => s.scores.find((x) => x.name === n)?.label ?? n;
  const header = ['class', 'epochs', ...order.map((n) => (n === s.verdict ? `${label(n)} (verdict)` : label(n))), 'verdict − baseline'];
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = [row(header), `|${header.map(() => '---').join('|')}|`];
  for (const c of s.classes) {
    lines.push(row([String(c.class), c.epochs.join(' '), ...order.map((n) => fmtMeanSd(c.auroc[n], 4)), fmt(c.auroc[s.verdict].mean - c.auroc[s.baseline].mean, 4)]));
  }
  lines.push(row(['mean', '', ...order.map((n) => `**${fmtMeanSd(s.mean[n], 4)}**`), fmt(s.mean[s.verdict].mean - s.mean[s.baseline].mean, 4)]));
  return lines.join('\n');
}

function renderSeedsMarkdown(s: SeedsSummary): string {
  return [
    `# ALOCC evaluation, all classes of ${s.dataset}, ${s.seeds.length} training seeds`,
    '',
    `Seeds ${s.seeds.join(', ')}; each class's run trained ${s.epochs} epochs, evaluated at its best epoch (listed per seed) on ` +
      `${s.testImages} test images. Class rows: AUROC mean ± sd over the seeds. Mean row: the ten-class mean AUROC of each seed, ` +
      `mean ± sd over the seeds. The verdict beats the network-free baseline on ${s.classesAboveBaseline} of ${s.classes.length} classes.`,
    '',
    renderSeedsTable(s),
    '',
    `Ten-class mean of the verdict by seed: ${s.seedMeans[s.verdict].map((v, i) => `${s.seeds[i]}: ${fmt(v, 4)}`).join(', ')}.`,
    '',
    ...s.sweeps.map((f) => `- ${f}`),
    '',
  ].join('\n');
}

/** Runs (or resumes) the sweep for every seed in turn, then writes <checkpointDir>/<stem>-seeds.json and .md. */
export async function evalAllSeeds(
  opts: EvalAllOptions,
  seeds: number[],
  trainFn: (seed: number) => TrainFn,
  deps: EvalDeps = {},
): Promise<SeedsSummary> {
  const print = deps.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const sweeps: EvalAllSummary[] = [];
  const files: string[] = [];
  const stem = opts.dataset === 'mnist' ? 'eval-all' : `eval-all-${opts.dataset}`;
  for (const seed of seeds) {
    const dir = seedDir(opts.checkpointDir, seed);
    if (!opts.json) print(`\nseed ${seed}: ${dir}`);
    sweeps.push(await evalAllClasses({ ...opts, checkpointDir: dir }, trainFn(seed), deps));
    files.push(path.join(dir, `${stem}.md`));
  }
  const summary = summariseSeeds(opts.dataset as DatasetName, seeds, sweeps, files);
  const md = path.join(opts.checkpointDir, `${stem}-seeds.md`);
  const json = path.join(opts.checkpointDir, `${stem}-seeds.json`);
  writeFileAtomic(md, renderSeedsMarkdown(summary));
  writeFileAtomic(json, JSON.stringify(summary, null, 2) + '\n');
  print(opts.json ? JSON.stringify(summary, null, 2) : `\nover seeds ${seeds.join(', ')}:\n${renderSeedsTable(summary)}\nwritten: ${md}, ${json}`);
  return summary;
}
