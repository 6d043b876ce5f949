import type { LocalisationResult } from './localise';
import * as tf from '@tensorflow/tfjs';
import { NoveltyScore, ROTATION_SCORES } from '../config';
import { scoreTitle, RATED_SCORES, ScoreDefinition } from '../score/registry';
import { describeData, floatsOf, LabelledSet } from '../data/source';
import { AloccError } from '../errors';
import { OpenedRun } from '../run/open';
import { buildFeatureMemory, disposeFeatureMemory, memoryDistances, pixelSpace } from '../score/feature-memory';
import { emptyScores, ImageScores, scoreImages } from '../score/scorer';
import { auprc, auroc, Confusion, flagAbove, meanSd, MeanSd, precisionRecallF1, recallAtFalseAlarmRate, toNoveltyScores } from './metrics';
import { UntrainedControl, untrainedControl } from './untrained-control';
import { CellScorer, cellScorer } from './cell-scores';
import type { AnomalyMap } from '../score/cell-map';
import type { MapScale } from '../score/cell-calibration';
import { PAPER_NOVEL_SHARES, runSharesProtocol, ShareResult } from './protocol';

export interface EvaluateOptions {
  /** Seed of the random draws of novel images. */
  seed: number;
  /** Draws per novel share. */
  draws: number;
  /** Novel shares of the paper's protocol; default 0.1-0.5. */
  shares?: readonly number[];
  /** Example images per group (normal, novel) in the picture. */
  examplesPerGroup?: number;
  /** Label of the backend for the report; default tf.getBackend(). */
  backend?: string;
  batchSize?: number;
  /** What the test images are, for the report (e.g. "the MNIST test set"). */
  testSource: string;
  /** Called as images are scored: done and total. */
  onProgress?: (done: number, total: number) => void;
}

/** False-alarm rates at which the report gives each score's recall. */
export const FALSE_ALARM_RATES = [0.01, 0.05] as const;

export interface ScoreSummary extends Omit<ScoreDefinition, 'values'> {
  /** Novel images positive; NaN (null in JSON) when a score is NaN. */
  auroc: number;
  /** Average precision, novel images positive. */
  auprc: number;
  /** Share of novel images flagged at a threshold flagging at most 1 % (5 %) of normal ones. */
  recallAt1PercentFalseAlarms: number;
  recallAt5PercentFalseAlarms: number;
  /** Raw values on the normal and novel test images. */
  normal: MeanSd;
  novel: MeanSd;
}

export interface ExampleRecord {
  index: number;
  /** What the image is: its class name, or its file's name. */
  label: string;
  group: 'normal' | 'novel';
  /** The run's novelty score (the verdict's). */
  score: number;
  verdict: 'normal' | 'novel';
}

export interface EvalReport {
  format: 'alocc-eval';
  version: 2;
  /** The run folder evaluated. */
  run: string;
  /** What is normal, e.g. "MNIST digit 1". */
  normalClass: string;
  testSource: string;
  epoch: number;
  bestEpoch: number | null;
  backend: string;
  runBackend: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  seed: number;
  draws: number;
  testImages: { scored: number; normal: number; novel: number; perClass: Record<string, number> | null };
  /** The verdict "score > threshold → novel" on the test images; the threshold comes from the run file. */
  threshold: { value: number; score: NoveltyScore; percentile: number; source: string } & Confusion;
  /** The local score's own calibrated threshold (from the run, as the verdict's) on the test images. */
  localThreshold: { value: number; topK: number; neighbourhood: string; source: string } & Confusion;
  scores: ScoreSummary[];
  shares: ShareResult[];
  examples: ExampleRecord[];
  /** With --masks: the anomaly maps graded against the masks (src/eval/localise.ts). */
  localisation?: LocalisationResult;
}

export interface EvaluateResult {
  report: EvalReport;
  /** Novelty-oriented values (larger = more novel) of every rated score, and the truth: for the charts. */
  values: Record<string, Float64Array>;
  isNovel: Uint8Array;
  /**
   * The example images, R's reconstructions of them and their anomaly maps (size×size each) in the run's colour
   * scale, in `report.examples` order, HWC in [0, 1].
   */
  examplePixels: { inputs: Float32Array; reconstructions: Float32Array; size: number; channels: number; maps: AnomalyMap[]; mapScale: MapScale };
}

/** Evenly spaced normal images, and novel ones taking each class (or evenly spaced when unlabelled) in turn. */
function pickExamples(test: LabelledSet, perGroup: number): number[] {
  const normal: number[] = [];
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < test.count; i++) {
    if (!test.isNovel[i]) normal.push(i);
    else {
      const c = test.labels ? test.labels[i] : 0;
      if (!byClass.has(c)) byClass.set(c, []);
      byClass.get(c)!.push(i);
    }
  }
  const spread = (list: number[], n: number) => Array.from({ length: Math.min(n, list.length) }, (_, k) => list[Math.floor((k * list.length) / Math.min(n, list.length))]);
  if (!test.labels) return [...spread(normal, perGroup), ...spread(byClass.get(0) ?? [], perGroup)];
  const picked = spread(normal, perGroup);
  const others = [...byClass.values()];
  for (let round = 0, taken = 0; taken < perGroup && others.some((l) => l.length > round); round++) {
    for (const list of others) if (taken < perGroup && round < list.length) picked.push(list[round]), taken++;
  }
  return picked;
}

function labelOf(test: LabelledSet, i: number): string {
  if (test.files) return test.files[i].split(/[\\/]/).pop()!;
  if (test.labels && test.classNames) return test.classNames[test.labels[i]];
  return test.isNovel[i] ? 'novel' : 'normal';
}

/**
 * Rates a run on labelled test images: AUROC, AUPRC and recall at 1 % and 5 % false alarms of every score (the
 * network-free raw-pixel kNN among them), the calibrated threshold's precision/recall/F1, and the paper's protocol of
 * novel shares 10-50 %. Test labels are used only to grade, never to choose a threshold or a setting.
 */
export function evaluate(opened: OpenedRun, test: LabelledSet, opts: EvaluateOptions): EvaluateResult {
  const startedAt = new Date();
  const { size, channels } = opened.preprocessing;
  if (test.size !== size || test.channels !== channels) {
    throw new Error(`evaluate: test images are ${test.size}×${test.size}×${test.channels}, the run takes ${size}×${size}×${channels}`);
  }
  let normalCount = 0;
  for (let i = 0; i < test.count; i++) if (!test.isNovel[i]) normalCount++;
  if (normalCount === 0 || normalCount === test.count) {
    throw new AloccError(`the ${test.count} test images hold ${normalCount} normal and ${test.count - normalCount} novel; need both (raise --limit, or give both --normal and --novel)`);
  }
  const per = size * size * channels;
  const exampleIdx = pickExamples(test, opts.examplesPerGroup ?? 9);
  const inputs = new Float32Array(exampleIdx.length * per);
  const reconstructions = new Float32Array(exampleIdx.length * per);
  // Small batches run faster on wasm (cache-sized activations): 64 measured ~2.3 ms/image vs ~3.9 at 256.
  const batchSize = opts.batchSize ?? 64;
  const raw = emptyScores(test.count);
  const controls = { pixelKnn: new Float32Array(test.count), untrainedKnn: new Float32Array(test.count), local: new Float32Array(test.count) };
  const pixelMemory = buildFeatureMemory(pixelSpace, opened.memoryImages(), opened.config.train.neighbours);
  let untrained: UntrainedControl | undefined;
  let cells: CellScorer | undefined;
  let maps: AnomalyMap[];
  try {
    untrained = untrainedControl(opened);
    cells = cellScorer(opened);
    const chunk = batchSize * 8;
    for (let start = 0; start < test.count; start += chunk) {
      const n = Math.min(chunk, test.count - start);
      const x = floatsOf(test, start, n);
      const rec = new Float32Array(n * per);
      const part = scoreImages(opened, x, n, opened.preprocessing, batchSize, rec);
      raw.reconLoss.set(part.reconLoss, start);
      raw.dOfR.set(part.dOfR, start);
      raw.dOfX.set(part.dOfX, start);
      for (const name of ['kl', 'mse', 'ink', 'knn', 'rotation', 'knnRotation'] as const) raw.novelty[name].set(part.novelty[name], start);
      const d = tf.tidy(() => memoryDistances(pixelMemory, tf.tensor4d(x, [n, size, size, channels])));
      controls.pixelKnn.set(d.dataSync(), start);
      d.dispose();
      controls.untrainedKnn.set(untrained.distances(x, n), start);
      controls.local.set(cells.localScores(x, n), start);
      exampleIdx.forEach((img, k) => {
        if (img < start || img >= start + n) return;
        inputs.set(x.subarray((img - start) * per, (img - start + 1) * per), k * per);
        reconstructions.set(rec.subarray((img - start) * per, (img - start + 1) * per), k * per);
      });
      opts.onProgress?.(start + n, test.count);
    }
    maps = cells.maps(inputs, exampleIdx.length);
  } finally {
    disposeFeatureMemory(pixelMemory);
    untrained?.dispose();
    cells?.dispose();
  }
  const { calibration } = cells;
  const localThreshold = {
    value: calibration.local.threshold,
    topK: calibration.topK,
    neighbourhood: calibration.neighbourhood,
    source: calibration.source === 'validation'
      ? `run file, epoch ${opened.epoch}: percentile ${opened.config.train.thresholdPercentile} of ${calibration.pictures} validation images' local score`
      : `this run stores no cell calibration (trained by an older alocc): percentile ${opened.config.train.thresholdPercentile} of ${calibration.pictures} memory images' local score, each against the others`,
    ...precisionRecallF1(flagAbove(controls.local, calibration.local.threshold), test.isNovel),
  };
  const pixels = { inputs, reconstructions, size, channels, maps, mapScale: calibration.scale };
  return report(opened, test, raw, controls, exampleIdx, pixels, localThreshold, opts, startedAt);
}

function report(
  opened: OpenedRun, test: LabelledSet, raw: ImageScores, controls: Record<string, Float32Array>, exampleIdx: number[],
  examplePixels: EvaluateResult['examplePixels'], localThreshold: EvalReport['localThreshold'], opts: EvaluateOptions, startedAt: Date,
): EvaluateResult {
  const { isNovel, count } = test;
  const values: Record<string, Float64Array> = {};
  // The rotation scores only for a run that trains the rotation net (others would report rows of NaN).
  const rated = RATED_SCORES.filter((d) => opened.rotationNet || !(ROTATION_SCORES as readonly string[]).includes(d.name));
  const scores: ScoreSummary[] = rated.map(({ values: of, ...def }) => {
    const rawValues = of ? of(raw) : controls[def.name];
    const v = (values[def.name] = toNoveltyScores(rawValues, def.novelWhen));
    const normal: number[] = [], novel: number[] = [];
    for (let i = 0; i < count; i++) (isNovel[i] ? novel : normal).push(rawValues[i]);
    return {
      ...def,
      auroc: auroc(v, isNovel),
      auprc: auprc(v, isNovel),
      recallAt1PercentFalseAlarms: recallAtFalseAlarmRate(v, isNovel, FALSE_ALARM_RATES[0]),
      recallAt5PercentFalseAlarms: recallAtFalseAlarmRate(v, isNovel, FALSE_ALARM_RATES[1]),
      normal: meanSd(normal),
      novel: meanSd(novel),
    };
  });
  const { run, record, epoch } = opened;
  const scoreName = opened.score;
  const verdict = flagAbove(raw.novelty[scoreName], opened.threshold);
  const pct = run.config.train.thresholdPercentile;
  const threshold = {
    value: opened.threshold,
    score: scoreName,
    percentile: pct,
    source: `run file, epoch ${epoch}: percentile ${pct} of ${run.validationImages} validation images' ${scoreTitle(scoreName)}`,
    ...precisionRecallF1(verdict, isNovel),
  };
  const shares = runSharesProtocol({ isNovel, verdict, scores: values }, opts.shares ?? PAPER_NOVEL_SHARES, opts.draws, opts.seed);
  let perClass: Record<string, number> | null = null;
  if (test.labels && test.classNames) {
    perClass = {};
    for (let i = 0; i < count; i++) perClass[test.classNames[test.labels[i]]] = (perClass[test.classNames[test.labels[i]]] ?? 0) + 1;
  }
  const novelCount = isNovel.reduce((a, b) => a + b, 0);
  const finishedAt = new Date();
  return {
    report: {
      format: 'alocc-eval',
      version: 2,
      run: opened.dir,
      normalClass: describeData(run.config.data),
      testSource: opts.testSource,
      epoch: record.epoch,
      bestEpoch: run.bestEpoch,
      backend: opts.backend ?? tf.getBackend(),
      runBackend: run.backend,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      seed: opts.seed,
      draws: opts.draws,
      testImages: { scored: count, normal: count - novelCount, novel: novelCount, perClass },
      threshold,
      localThreshold,
      scores,
      shares,
      examples: exampleIdx.map((img) => ({
        index: img,
        label: labelOf(test, img),
        group: isNovel[img] ? 'novel' : 'normal',
        score: raw.novelty[scoreName][img],
        verdict: verdict[img] ? 'novel' : 'normal',
      })),
    },
    values,
    isNovel,
    examplePixels,
  };
}
