/**
 * Detection metrics. Convention throughout: a larger score means "more novel", and the positive class is the novel
 * images (the digits the model was not trained on).
 */

/** A yes/no per image: true or 1 is yes; any typed array of 0/1 works (non-zero counts as yes). */
export type Flag = boolean | number;

/**
 * Area under the ROC curve, exactly: the Mann-Whitney U statistic over (positives × negatives), a tie between a
 * positive and a negative counting 1/2. O(n log n) via mid-ranks. NaN when either class is empty or a score is NaN,
 * so a diverged model reads as "no number", never as a plausible one.
 */
export function auroc(scores: ArrayLike<number>, isPositive: ArrayLike<Flag>): number {
  const n = scores.length;
  if (isPositive.length !== n) throw new RangeError(`auroc: ${n} scores but ${isPositive.length} labels`);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) return NaN;
    if (isPositive[i]) positives++;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;

  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);

  // Sum of the positives' 1-based mid-ranks: a run of equal scores shares the mean of the ranks it spans.
  let positiveRankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    const midRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (isPositive[order[k]]) positiveRankSum += midRank;
    start = end;
  }
  const u = positiveRankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

export interface Confusion {
  /** Novel images flagged novel. */
  tp: number;
  /** Normal images flagged novel. */
  fp: number;
  tn: number;
  /** Novel images passed as normal. */
  fn: number;
  /** tp / (tp + fp); 0 when nothing is flagged (scikit-learn's zero_division=0). */
  precision: number;
  /** tp / (tp + fn); 0 when there are no novel images. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
}

/** Confusion counts and precision/recall/F1 of "novel" verdicts against the truth. */
export function precisionRecallF1(predNovel: ArrayLike<Flag>, isNovel: ArrayLike<Flag>): Confusion {
  const n = predNovel.length;
  if (isNovel.length !== n) throw new RangeError(`precisionRecallF1: ${n} verdicts but ${isNovel.length} labels`);
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < n; i++) {
    if (predNovel[i]) {
      if (isNovel[i]) tp++;
      else fp++;
    } else if (isNovel[i]) fn++;
    else tn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, tn, fn, precision, recall, f1 };
}

/** Which way a raw score points: 'higher' when larger raw values are more novel (reconstruction loss). */
export type NovelDirection = 'higher' | 'lower';

/**
 * Raw scores turned into novelty scores (larger = more novel). D's outputs say "how much like the target class", so
 * they are negated.
 */
export function toNoveltyScores(raw: ArrayLike<number>, direction: NovelDirection): Float64Array {
  const out = Float64Array.from(raw);
  if (direction === 'lower') for (let i = 0; i < out.length; i++) out[i] = -out[i];
  return out;
}

/** Verdicts "novel" for every score strictly above the threshold. */
export function flagAbove(scores: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] > threshold ? 1 : 0;
  return out;
}

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single value. */
  sd: number;
  n: number;
}

export function meanSd(values: ArrayLike<number>): MeanSd {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, n };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i] - mean) ** 2;
  return { mean, sd: n > 1 ? Math.sqrt(sq / (n - 1)) : 0, n };
}
